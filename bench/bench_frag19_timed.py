"""Timed A/B of the re-optimizer's flags at the issue recipe (session 19 on): per state
``reopt.curve(inst, [None], time_limit, workers=2)`` (what ``packer solve --solver cpsat`` and ``packer
bench`` run on a running cluster with no migration cap) once per arm, the arms one after the other,
their order turning per state. Every plan is checked. Prints objective, bound, gap, moves, the gang steps'
record and the load beside each run; appends every run to ``--json``.

Sessions 19-21's arms (``on``, ``s19``, ``order``: clear steps, reopt_clear; ``priced``, ``fallback``:
reopt_gang.PRICED / PRICED_FALLBACK; ``portfolio``: reopt.PORTFOLIO) were removed with their flags in
session 27 (``off`` is what they were compared with); they run at git tag flags-s26.
    python bench/bench_frag19_timed.py fragmented --seeds 100 101 102 103 104 --arms noinc off   # session 22
    (arm ``noinc``: as ``off`` with reopt_spread.INCREMENTAL and reopt_base.SHARED off: a placer loaded per
    placer step, every unit read back; every other arm has them as they are)
    python bench/bench_frag19_timed.py fragmented --seeds 100 101 102 103 104 --arms cuts off   # session 23
    (arm ``cuts``: as ``off`` with reopt_stays.ROOM_CUTS on: the stays LP with the rounded room rows of
    whole-GPU gangs, in the LP child too; every other arm has it off)
    python bench/bench_frag19_timed.py fragmented --seeds 100 101 102 103 104 --arms s22 off   # session 23
    (arm ``s22``: as ``off`` with reopt_valid.DIFF, reopt_base.SIZES and reopt_gang.LAZY off: every kept result
    checked whole, unit sizes worked out each time, gang tries each doing all their work)
    python bench/bench_frag19_timed.py fragmented --seeds 100 101 102 103 104 --arms s23 off   # session 24
    python bench/bench_frag19_timed.py fragmented --seeds 100 101 102 103 104 105 --arms fit off   # session 26
    python bench/bench_frag19_timed.py fragmented --seeds 100 101 102 103 104 --arms fitnb off   # session 27
    (arm ``fitnb``: the fit offer without its variables budget, reopt_offer.OFFER_FIT on and OFFER_BUDGET off:
    the step's offer keeps reopt.OFFER requests, only those that cannot fit replaced; ``fit`` keeps the budget)
    python bench/bench_frag19_timed.py issue --seeds 5 100 101 --arms xstall off   # session 27
    python bench/bench_frag19_timed.py fragmented --seeds 100 101 102 103 104 --arms gang50 off   # session 27 (lead)
    (arm ``gang50``: reopt_gang.GANG_SHARE 0.5 instead of 0.25, the share of steps that are gang steps while a gang waits)
    (arm ``xstall``: exchange-rack steps, reopt_xrack.XRACK, drawn only once the other steps stall,
    reopt_xrack.AFTER_STALL)
    (arm ``s23``: as ``off`` with variables.MEMO off: the CP-SAT build computing each cap / bound / coefficient
    where it reads it. Since session 24 every arm but ``cuts`` / ``nocuts`` leaves reopt_stays.ROOM_CUTS as it is
    (on); before, only ``cuts`` had it on. The LP child's record (``late_lp``: when its last LP ended) is kept per
    run. ``nowarm`` and ``s24``: MEMO on; ``nomemo``: MEMO off (``s23``). Session 24's arms also set
    reopt_stays.WARM_ROWS (on in ``nomemo`` / ``s24``), removed in session 27: they ran at git tag flags-s26.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_reopt import state, state_parser, timed_run

    ap = state_parser(__doc__)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--arms", nargs="+", default=["off"])
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from packer.cpsat import (
        reopt_base,
        reopt_gang,
        reopt_offer,
        reopt_spread,
        reopt_stays,
        reopt_valid,
        reopt_xrack,
    )

    inc = reopt_spread.INCREMENTAL, reopt_base.SHARED
    s23 = reopt_valid.DIFF, reopt_base.SIZES, reopt_gang.LAZY
    from packer.cpsat import variables

    s24 = variables.MEMO, reopt_stays.ROOM_CUTS
    s26 = reopt_offer.OFFER_FIT, reopt_xrack.XRACK, reopt_offer.OFFER_BUDGET, reopt_xrack.AFTER_STALL
    gang_share = reopt_gang.GANG_SHARE
    out = json.loads(Path(args.json).read_text()) if args.json and Path(args.json).exists() else []
    print("| state | arm | objective | bound | gap | moves (cost) | load |")
    print("|---|---|---|---|---|---|---|")
    for i, seed in enumerate(args.seeds):
        inst = state(args.family, seed, args.nodes or (128 if args.family == "fragmented" else None))
        arms = list(args.arms) if i % 2 == 0 else list(reversed(args.arms))
        for arm in arms:
            reopt_spread.INCREMENTAL, reopt_base.SHARED = inc if arm != "noinc" else (False, False)
            reopt_stays.ROOM_CUTS = True if arm == "cuts" else False if arm == "nocuts" else s24[1]
            variables.MEMO = False if arm in ("s23", "nomemo") else True if arm in ("nowarm", "s24") else s24[0]
            reopt_valid.DIFF, reopt_base.SIZES, reopt_gang.LAZY = s23 if arm != "s22" else (False, False, False)
            # session 26: fit = the move steps' fit offer (reopt_offer.OFFER_FIT), xrack = exchange-rack steps
            reopt_offer.OFFER_FIT = True if arm in ("fit", "fitnb") else s26[0]
            reopt_xrack.XRACK = True if arm in ("xrack", "xstall") else s26[1]
            reopt_offer.OFFER_BUDGET = False if arm == "fitnb" else s26[2]  # session 27: the fit offer at 20 a step
            # session 27: xstall = exchange-rack steps only once the other steps stall (reopt_xrack.AFTER_STALL)
            reopt_xrack.AFTER_STALL = True if arm == "xstall" else s26[3]
            # session 27 (lead): gang50 = twice the gang steps' share while a whole-GPU gang waits (0.25 -> 0.5)
            reopt_gang.GANG_SHARE = 0.5 if arm == "gang50" else gang_share
            pt, row, cost, load = timed_run(inst, args.time_limit, args.workers, arm)
            steps = pt.info.get("steps") or {}
            rec = {"state": inst.name, "seed": seed, "arm": arm, "objective": row["objective"], "bound": row["bound"],
                   "gap": row["gap"], "moves": pt.moves, "migration_cost": round(cost, 3),
                   "no_move": pt.info.get("no_move_objective"),
                   "steps": steps.get("steps") if isinstance(steps, dict) else None,
                   "load": load, "time_limit": args.time_limit, "late_lp": pt.info.get("late_lp"),
                   "bound_s": pt.info.get("bound_s")}
            gk = (steps.get("by_kind") or {}).get("gang", {}) if isinstance(steps, dict) else {}
            rec["gang"] = {"steps": gk.get("steps", 0), "improved": gk.get("improved", 0), "gain": gk.get("gain", 0.0)}
            if isinstance(steps, dict):  # steps by kind: (steps, improved, gain, seconds)
                rec["by_kind"] = {k: (v.get("steps", 0), v.get("improved", 0), round(v.get("gain", 0.0), 2),
                                      round(v.get("solve_s", 0.0) + v.get("build_s", 0.0) + v.get("check_s", 0.0), 1))
                                  for k, v in (steps.get("by_kind") or {}).items()}
            if isinstance(steps, dict) and steps.get("offer"):  # session 27: the fit offer's record (fit_s: its cost)
                rec["offer"] = steps["offer"]
            out.append(rec)
            print(f"| {inst.name} | {arm} | {row['objective']:.2f} | {row['bound']:.2f} | {100 * row['gap']:.2f}% | "
                  f"{pt.moves} ({cost:.2f}) | "
                  f"{rec['load'][0]}-{rec['load'][1]} | gang {rec['gang']} | "
                  f"steps {rec['steps']} by kind {rec.get('by_kind')} | bound at {rec['bound_s']} s |", flush=True)
            if args.json:
                Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
    reopt_spread.INCREMENTAL, reopt_base.SHARED = inc
    reopt_valid.DIFF, reopt_base.SIZES, reopt_gang.LAZY = s23
    variables.MEMO, reopt_stays.ROOM_CUTS = s24
    reopt_offer.OFFER_FIT, reopt_xrack.XRACK, reopt_offer.OFFER_BUDGET, reopt_xrack.AFTER_STALL = s26
    reopt_gang.GANG_SHARE = gang_share
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
