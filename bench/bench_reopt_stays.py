"""The repack LP with migration costs (packer.cpsat.reopt_stays) against the plain repack LP and the
relaxed LP, per budget (issue 17 part 2, session 6).

For each state: the plain repack LP (``BudgetBound.repack_lp``), the stays LP of no limit and of each
``--budgets`` (its budget row), the moves the no-limit stays solution makes (Σ 1 − stay), seconds of
each (the repack model's build is counted in the plain LP's; the stays LPs reuse the model), and with
``--relaxed`` the relaxed LP of no limit (slow: 6-152 s at 1,024 GPUs). With ``--exact S`` (small
clusters) the exact model's plan and proven bound for each budget (``cpsat.solve``, ``aggregate=False``,
S seconds), to check validity (stays LP ≥ the proven optimum) and tightness.

    python bench/bench_reopt_stays.py fragmented --seeds 0 1 2 100 101 102 103 104 --relaxed
    python bench/bench_reopt_stays.py issue --seeds 0 5
    python bench/bench_reopt_stays.py fragmented --nodes 8 --seeds 100 101 102 --exact 20
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_reopt import state, state_parser

    ap = state_parser(__doc__)
    ap.add_argument("--budgets", default="8,32")
    ap.add_argument("--relaxed", action="store_true", help="also the relaxed LP of no limit")
    ap.add_argument("--exact", type=float, default=0.0, help="seconds for the exact model per budget (0: skip)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()


    from packer.cpsat import solve
    from packer.cpsat.reopt import BudgetBound, movable_ids, repack_model
    from packer.cpsat.reopt_stays import stays_lp

    budgets = [int(b) for b in args.budgets.split(",") if b]
    rows = []
    f = (lambda v: "-" if v is None else f"{v:.2f}")
    print("| state | GPUs | movable | repack LP (s) | stays LP (s) | LP moves | " +
          " | ".join(f"stays {b} (s)" for b in budgets) + " | relaxed LP (s) | exact (budget: plan/bound) | load |")
    print("|---|---|---|---|---|---|" + "---|" * len(budgets) + "---|---|---|")
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes)
        bb = BudgetBound(inst)
        t = time.perf_counter()
        rep = bb.repack_lp()
        t_rep = time.perf_counter() - t
        model = repack_model(inst)
        got = {}
        secs = {}
        for b in [None, *budgets]:
            t = time.perf_counter()
            got[b] = stays_lp(inst, model, budget=b)
            secs[b] = time.perf_counter() - t
        nolim = got[None]
        lp_moves = None if nolim is None else sum(1 - v for v in nolim.stays.values())
        row: dict[str, object] = {"state": inst.name, "seed": seed, "gpus": inst.num_gpus,
                                  "movable": len(movable_ids(inst)), "repack_lp": rep, "repack_s": round(t_rep, 1),
                                  "stays": {str(b): None if g is None else g.bound for b, g in got.items()},
                                  "stays_s": {str(b): round(s, 1) for b, s in secs.items()},
                                  "lp_moves": None if lp_moves is None else round(lp_moves, 2)}
        rel = "-"
        if args.relaxed:
            t = time.perf_counter()
            rv = bb.lp(None)
            row.update(relaxed_lp=rv, relaxed_s=round(time.perf_counter() - t, 1))
            rel = f"{f(rv)} ({row['relaxed_s']})"
        ex = "-"
        if args.exact > 0:
            from tests.running_states import capped

            parts = []
            for b in [*budgets, None]:
                plan = solve(capped(inst, b), time_limit=args.exact, workers=2, aggregate=False)
                g = got[b]
                assert g is None or g.bound >= plan.objective - 1e-6, (inst.name, b, g.bound, plan.objective)
                row.setdefault("exact", {})[str(b)] = {"objective": plan.objective, "bound": plan.bound,
                                                       "status": plan.status}
                parts.append(f"{'all' if b is None else b}: {plan.objective:.2f}/{f(plan.bound)}")
            ex = ", ".join(parts)
        row["load"] = round(os.getloadavg()[0], 2)
        rows.append(row)
        sb = " | ".join(f"{f(None if got[b] is None else got[b].bound)} ({secs[b]:.1f})" for b in budgets)
        print(f"| {inst.name} | {inst.num_gpus} | {row['movable']} | {f(rep)} ({t_rep:.1f}) | "
              f"{f(None if nolim is None else nolim.bound)} ({secs[None]:.1f}) | {f(lp_moves)} | {sb} | {rel} | {ex} "
              f"| {row['load']} |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
