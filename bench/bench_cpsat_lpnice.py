"""The LP beside the search: who gets the cores (issue 16 part 3, session 11, step 1).

A 60 s ``--workers 2`` solve of a big model runs HiGHS's LP in a thread beside CP-SAT and, until the
LP ends, the LNS one step at a time. Arms, run one after the other on the same instance (the order
alternates by instance, so that neither arm always runs first under the load of the moment):

* ``base``: as shipped (``tuning.LP_NICE`` 0);
* ``open``: the LNS on every step thread from the start, beside the LP at the same priority;
* ``niceN``: the same with the LP's thread at OS niceness +N;
* ``wholeS``: as ``base``, with whole-GPU LNS steps at share S % (step 2).

One JSON line per (instance, arm): objective, bound, the LP's bound, when it ended and its thread's
CPU seconds, LNS steps and improvements (and how many improvements came before / after the LP
ended), process CPU seconds, the load before and after, the checker's verdict.

    nice -n 5 python bench/bench_cpsat_lpnice.py --families inference,sharing --seeds 0 1 --arms base,open
"""

from __future__ import annotations

import argparse
import json
import os
import time

from packer.progress import Progress


class Recorder(Progress):
    """Keeps (seconds, best) for every improvement reported; prints nothing."""

    def __init__(self) -> None:
        super().__init__(enabled=False)
        self.points: list[tuple[float, float]] = []

    def update(self, *, best: float | None = None, bound: float | None = None, done: float | None = None,
               total: float | None = None, note: str = "", force: bool = False) -> None:
        if best is not None and (not self.points or best > self.points[-1][1]):
            self.points.append((time.perf_counter() - self.start, float(best)))


def arm_settings(arm: str) -> tuple[int, bool, float]:
    """(tuning.LP_NICE, tuning.LP_GATE, lns.WHOLE_SHARE) of an arm: ``base`` (0, gate, 0), ``open`` (0, no
    gate: every LNS thread from the start beside the LP at the same priority, 0), ``niceN`` (N, no gate,
    0), ``wholeS`` (0, gate, S/100: whole-GPU steps, see packer.cpsat.lns.WHOLE_SHARE)."""
    if arm == "base":
        return 0, True, 0.0
    if arm == "open":
        return 0, False, 0.0
    if arm.startswith("nice") and arm[4:].isdigit():
        return int(arm[4:]), False, 0.0
    if arm.startswith("whole") and arm[5:].isdigit():
        return 0, True, int(arm[5:]) / 100
    raise ValueError(f"unknown arm {arm!r}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="inference,sharing,hetero,tenants,adversarial")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--arms", default="base,open")
    ap.add_argument("--out", default=None, help="also append the lines to this file")
    args = ap.parse_args()
    from packer.check import check
    from packer.cpsat import lns as lns_mod
    from packer.cpsat import solve, tuning
    from packer.generate import generate

    arms = args.arms.split(",")
    k = 0
    for seed in args.seeds:
        for fam in args.families.split(","):
            inst = generate(fam, seed=seed, nodes=args.nodes)
            order = arms if k % 2 == 0 else arms[::-1]
            k += 1
            for arm in order:
                tuning.LP_NICE, tuning.LP_GATE, lns_mod.WHOLE_SHARE = arm_settings(arm)
                load0 = os.getloadavg()[0]
                cpu0 = time.process_time()
                rec = Recorder()
                plan = solve(inst, time_limit=args.limit, seed=0, workers=args.workers, progress=rec)
                cpu = time.process_time() - cpu0
                load1 = os.getloadavg()[0]
                ok = check(inst, plan).ok
                info = plan.solver.model_extra or {}
                lns = info.get("lns") or {}
                lp_s = info.get("lp_s")
                before = sum(1 for t, _ in rec.points if lp_s is not None and t <= lp_s)
                bound = plan.bound
                row = {"family": fam, "seed": seed, "arm": arm, "objective": round(plan.objective, 4),
                       "bound": None if bound is None else round(bound, 4), "lp_bound": info.get("lp_bound"),
                       "lp_s": lp_s, "lp_cpu_s": info.get("lp_cpu_s"), "lp_nice": info.get("lp_nice"), "lp_gate": info.get("lp_gate"), "hint": info.get("hint"),
                       "model_s": info.get("model_s"),
                       "solve_start_s": info.get("solve_start_s"), "solve_end_s": info.get("solve_end_s"),
                       "gap_pct": None if not bound else round(100 * (bound - plan.objective) / bound, 3),
                       "lns_steps": lns.get("steps"), "lns_improved": lns.get("improved"),
                       "whole_steps": lns.get("whole_steps"),
                       "improvements_before_lp_end": before, "improvements_after_lp_end": len(rec.points) - before,
                       "process_cpu_s": round(cpu, 2), "wall_s": round(plan.solver.wall_s, 2) if plan.solver.wall_s else None,
                       "checked": ok, "load": [round(load0, 2), round(load1, 2)],
                       "utc": time.strftime("%H:%M:%S", time.gmtime())}
                line = json.dumps(row)
                print(line, flush=True)
                if args.out:
                    with open(args.out, "a") as fh:
                        fh.write(line + "\n")
            tuning.LP_NICE, tuning.LP_GATE, lns_mod.WHOLE_SHARE = 0, True, 0.0


if __name__ == "__main__":
    main()
