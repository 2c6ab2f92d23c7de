"""A/B at 60 s, --workers 2, 1,024 GPUs (session 15): the model's LP cut once the relaxation answered.

Arms (``packer.cpsat.tuning``): ``rel`` (session 14 as shipped: the cluster relaxation's LP, then the
model's LP in the rest of the LP's limit; the LNS runs one step thread until it ends), ``cutF`` (the
model's LP stopped after F times the relaxation's wall seconds, LP_MODEL_CUT_FACTOR = F, which opens
the gate), ``skip`` (the model's LP not run once the relaxation answered: factor 0, no floor); and, with
the LP as ``rel``, the parallel steps' growth arms ``grow`` / ``alone`` / ``tenantall`` (lns.TENANT_GROWS_ALL,
lns.ALONE_GROWS_ALL: removed in session 27, run them at git tag flags-s26); and, with the LP as ``rel``,
session 16's host-resource room rule: ``hoston`` (data.HOST_FIT, shipped) and ``hostoff`` (without it);
and, with the LP as ``rel``, session 17's greedy exchanges in the hint: ``exon`` (greedy.EXCHANGE) and
``exoff`` (without them; each row then also has the hint's objective, ``hint_obj``).
Both arms' bounds are valid, so each row also has its gap to the pair's tighter bound (``gap_pair_pct``).

Usage: python bench/bench_cpsat_lpcut.py FAMILY[,...] SEED[,...] [ARM,...] [--out FILE.jsonl]

Per instance the arms run back to back in this process, their order rotating with the instance; one
JSON line an arm: objective, bound, gap %, the relaxation's bound and seconds, the model LP's bound, end
and cut, LNS steps / improved / threads, process CPU seconds of the solve, the objective at the pair's
common CPU (``obj_at_cpu``: the best the arm had when its process had used the smaller of the arms'
CPU seconds, from the LNS's progress updates), load before and after, and whether ``packer check``
passes. The equal-CPU figure takes the machine's share out of the comparison: the LP thread's CPU
counts against its arm as much as a step thread's does.
"""

from __future__ import annotations

import json
import os
import sys
import time

import packer.cpsat.solver as cpsat
from packer.check import check
from packer.cpsat import data as data_mod
from packer.cpsat import tuning
from packer.generate import generate
from packer.greedy import solver as greedy_mod
from packer.progress import Progress


class Trace(Progress):
    """Records (process CPU s, wall s, best objective) at every progress update with a best."""

    def __init__(self) -> None:
        super().__init__(enabled=False)
        self.c0, self.t0 = time.process_time(), time.perf_counter()
        self.points: list[tuple[float, float, float]] = []

    def update(self, *, best=None, bound=None, done=None, total=None, note="", force=False):  # type: ignore[no-untyped-def]
        if best is not None:
            self.points.append((time.process_time() - self.c0, time.perf_counter() - self.t0, float(best)))

    def best_at(self, cpu: float, start: float) -> float:
        got = start
        for c, _, b in self.points:
            if c <= cpu + 1e-9:
                got = max(got, b)
        return got




def arm_setting(arm: str) -> tuple[float | None, float]:
    data_mod.HOST_FIT = arm != "hostoff"
    greedy_mod.EXCHANGE = arm != "exoff"
    if arm in ("rel", "hoston", "hostoff", "exon", "exoff"):
        return None, tuning.LP_MODEL_CUT_MIN_S
    if arm == "skip":
        return 0.0, 0.0
    if arm.startswith("cut"):
        return float(arm[3:]), 2.0
    raise ValueError(arm)


def main(families: list[str], seeds: list[int], arms: list[str], out: str | None) -> None:
    shipped = (tuning.LP_MODEL_CUT_FACTOR, tuning.LP_MODEL_CUT_MIN_S)
    host_fit = data_mod.HOST_FIT
    exchange = greedy_mod.EXCHANGE
    sink = open(out, "a") if out else None  # noqa: SIM115
    k = 0
    for seed in seeds:
        for fam in families:
            inst = generate(fam, seed=seed, nodes=128)
            order = arms[k % len(arms):] + arms[:k % len(arms)]
            k += 1
            rows = []
            for arm in order:
                tuning.LP_MODEL_CUT_FACTOR, tuning.LP_MODEL_CUT_MIN_S = arm_setting(arm)
                load = os.getloadavg()[0]
                trace = Trace()
                c0 = time.process_time()
                plan = cpsat.solve(inst, time_limit=60, workers=2, progress=trace)
                cpu = time.process_time() - c0
                info = plan.solver.model_extra or {}  # type: ignore[union-attr]
                st = info.get("lns") or {}
                rel = info.get("relaxed_first") or {}
                gap = None if not plan.bound else 100 * (plan.bound - plan.objective) / plan.bound
                rows.append(({
                    "family": fam, "seed": seed, "arm": arm, "objective": round(plan.objective, 3),
                    "bound": None if plan.bound is None else round(plan.bound, 3),
                    "gap_pct": None if gap is None else round(gap, 3),
                    "relaxed_bound": rel.get("bound"), "relaxed_s": rel.get("s"),
                    "model_lp_cut_s": rel.get("model_lp_cut_s"),
                    "lp_bound": info.get("lp_bound"), "lp_s": info.get("lp_s"), "lp_cpu_s": info.get("lp_cpu_s"),
                    "solve_start_s": info.get("solve_start_s"), "steps": st.get("steps"),
                    "improved": st.get("improved"), "threads": st.get("threads"), "kinds": st.get("kinds"),
                    "cpu_s": round(cpu, 1),
                    "load": round(load, 2), "load_end": round(os.getloadavg()[0], 2),
                    "ok": check(inst, plan).ok}, trace))
            common = min(r["cpu_s"] for r, _ in rows)
            start = min((t.points[0][2] for _, t in rows if t.points), default=0.0)
            pair = min((r["bound"] for r, _ in rows if r["bound"] is not None), default=None)
            for r, t in rows:
                r["common_cpu_s"] = common
                r["gap_pair_pct"] = None if not pair else round(100 * (pair - r["objective"]) / pair, 3)
                r["obj_at_cpu"] = round(t.best_at(common, start), 3)
                r["hint_obj"] = round(t.points[0][2], 3) if t.points else None
                line = json.dumps(r)
                print(line, flush=True)
                if sink:
                    sink.write(line + "\n")
                    sink.flush()
    tuning.LP_MODEL_CUT_FACTOR, tuning.LP_MODEL_CUT_MIN_S = shipped
    data_mod.HOST_FIT = host_fit
    greedy_mod.EXCHANGE = exchange


if __name__ == "__main__":
    from benchargs import pop_option

    argv = sys.argv[1:]
    dest = pop_option(argv, "--out")
    main(argv[0].split(","), [int(s) for s in argv[1].split(",")],
         argv[2].split(",") if len(argv) > 2 else ["rel", "cut25"], dest)
