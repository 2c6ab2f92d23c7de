"""Whose gap is it on the fragmented family at 1,024 GPUs (session 18, branch frag18): the search's or the bound's?

Per state: one no-move plan (``--start-s`` seconds, two workers: the 60 s recipe's 12 s), the stays LP of
no limit to the end (its bound and guide, deterministic), then ONE long run of move steps
(``reopt.move_steps``, two workers, ``--steps-s`` wall seconds) whose every improvement is recorded
with its time, the step kind that made it and the plan it left. From that one run: the objective after
``--marks`` seconds of steps (48 s ≈ a 60 s run's steps, 240 ≈ 300 s, 480 ≈ 600 s; a 300 / 600 s run
also gives its no-move solve 0.2 of the limit, so these are the steps' seconds, not a run's) and which
kinds of step earn over time; at each mark, the LP's solution against the plan
(``bench_reopt_missed.decompose``: waiting value the LP places and the plan does not, by kind, priority
and tenant; the migration costs of each), and the waiting requests the LP places that the plan does not.

If the objective climbs towards the bound with time, the gap is (at least partly) the search's; if it
stays, the bound is loose where the LP and the plan differ.

    python bench/bench_frag18_horizon.py fragmented --seeds 100 101 --steps-s 540 --marks 48 240 540 \
        --json bench/frag18_horizon_report.json
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


class Recorder:
    """A progress sink for ``move_steps``: every improvement's time, value, the step kind (read from
    the caller's frame: ``kind`` in move_steps, else the helper's name: _gang, _pack, _spread) and a
    copy of the plan it left."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.events: list[tuple[float, float, str, dict]] = []
        self.enabled = True

    def update(self, *, best=None, bound=None, done=None, total=None, note="", force=False) -> None:  # type: ignore[no-untyped-def]
        if best is None:
            return
        f = sys._getframe(1)
        loc = f.f_locals
        kind = loc.get("kind") if f.f_code.co_name in ("move_steps", "_keep") else f.f_code.co_name.lstrip("_")
        cur = loc.get("cur") if f.f_code.co_name == "move_steps" else None
        if cur is None:  # a helper: the plan it keeps is its trial / best
            cur = loc.get("trial") or loc.get("got") or loc.get("cur")
        plan = {k: list(v) for k, v in cur.items()} if isinstance(cur, dict) else None
        self.events.append((time.perf_counter() - self.t0, float(best), str(kind), plan))


def _missed(inst, guide, placed, share_min: float = 0.3) -> list[dict]:  # type: ignore[no-untyped-def]
    import packer.cpsat.reopt as reopt

    rows = []
    for r in inst.requests:
        if r.placement is not None or r.id in placed:
            continue
        share = guide.share.get(r.id, 0.0)
        if share <= share_min:
            continue
        size = reopt._least_size(inst, r) / max(1, r.need_count) * r.count
        spread = None if r.spread is None else f"{r.spread.level}<={r.spread.max_per_domain}"
        loc = None if r.locality is None else f"{r.locality.level}{'!' if r.locality.required else ''}"
        rows.append({"id": r.id, "tenant": r.tenant, "kind": r.kind, "count": r.count, "priority": r.priority,
                     "profile": getattr(r, "profile", None), "gpu_milli": getattr(r, "gpu_milli", None),
                     "spread": spread, "locality": loc, "lp_share": round(share, 3),
                     "lp_value": round(share * r.priority * size, 2), "lp_nodes": len(guide.where(r.id))})
    rows.sort(key=lambda x: -x["lp_value"])
    return rows


def main() -> int:
    from bench_reopt import state, state_parser
    from bench_reopt_missed import decompose

    ap = state_parser(__doc__)
    ap.add_argument("--start-s", type=float, default=12.0)
    ap.add_argument("--steps-s", type=float, default=540.0)
    ap.add_argument("--marks", type=float, nargs="+", default=[48.0, 240.0, 540.0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import packer.cpsat.reopt as reopt
    from packer.plans import objective_value

    out = json.loads(Path(args.json).read_text()) if args.json and Path(args.json).exists() else {}
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes or (128 if args.family == "fragmented" else None))
        key = f"{inst.name}/{inst.num_gpus}"
        if key in out:
            print(f"{key}: in {args.json} already, skipped")
            continue
        load0 = os.getloadavg()[0]
        t = time.perf_counter()
        start = reopt.no_move_plan(inst, time_limit=args.start_s, seed=0, workers=args.workers)
        start_s = time.perf_counter() - t
        placed = {a.request: list(a.units) for a in start.assignments}
        t = time.perf_counter()
        bb = reopt.BudgetBound(inst)
        bb.stays_lp(None)
        lp_s = time.perf_counter() - t
        guide = reopt._guide_of(bb, inst, None)
        bound = bb.best(None)
        nm = objective_value(inst, placed)
        print(f"{key}: no-move {nm:.2f} ({start_s:.1f} s), stays LP {bound:.2f} ({lp_s:.1f} s), load {load0:.2f}",
              flush=True)
        t0 = time.perf_counter()
        rec = Recorder(t0)
        got, stats = reopt.move_steps(inst, placed, cap=None, deadline=t0 + args.steps_s, seed=0,
                                      workers=args.workers, guide=guide, progress=rec)  # type: ignore[arg-type]
        wall = time.perf_counter() - t0
        assert reopt._valid(inst, got)
        final = objective_value(inst, got)
        marks = []
        for m in args.marks:
            before = [e for e in rec.events if e[0] <= m]
            plan = before[-1][3] if before and before[-1][3] is not None else placed
            obj = objective_value(inst, plan)
            dec = decompose(inst, guide, bb, plan)
            gains: dict[str, float] = defaultdict(float)
            prev = nm
            for e in before:
                gains[e[2]] += e[1] - prev
                prev = e[1]
            row = {"steps_s": m, "objective": round(obj, 3), "gap": round((bound - obj) / bound, 5),
                   "improvements": len(before), "gain_by_kind": {k: round(v, 2) for k, v in gains.items()},
                   "decompose": dec, "missed": _missed(inst, guide, plan)[:25],
                   "moves": reopt.moves(inst, plan)}
            marks.append(row)
            print(f"  steps {m:.0f} s: {obj:.2f} gap {100 * row['gap']:.2f}% moves {row['moves']} "
                  f"gain by kind {row['gain_by_kind']}; LP waiting {dec['lp_waiting_value']} plan {dec['plan_waiting_value']}; "
                  f"LP moves {dec['lp_moves']} cost {dec['lp_migration_cost']}, plan moves {dec['plan_moves']} "
                  f"cost {dec['plan_migration_cost']}", flush=True)
            for k in ("kind", "priority", "tenant"):
                print(f"    by {k}: " + ", ".join(f"{a} LP {b[0]:.1f} plan {b[1]:.1f}" for a, b in dec[k].items()))
        load1 = os.getloadavg()[0]
        print(f"  end {final:.2f} after {wall:.0f} s, steps {stats.get('steps')} improved {stats.get('improved')}, "
              f"load {load0:.2f} -> {load1:.2f}", flush=True)
        out[key] = {"seed": seed, "no_move": nm, "start_s": round(start_s, 1), "bound": bound, "lp_s": round(lp_s, 1),
                    "final": final, "wall_s": round(wall, 1), "load": [round(load0, 2), round(load1, 2)],
                    "trajectory": [(round(e[0], 1), round(e[1], 3), e[2]) for e in rec.events], "marks": marks,
                    "stats": {k: v for k, v in stats.items() if k != "by_kind"}, "by_kind": stats.get("by_kind"),
                    "final_missed": _missed(inst, guide, got)}
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
