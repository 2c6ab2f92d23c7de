"""Where a 60 s batch solve's minute goes at 1,024 GPUs (128 nodes, ``--workers 2``), per instance.

    python bench/bench_speed20_where.py FAMILY[,FAMILY...] SEED[,SEED...] [--limit 60] [--out FILE.jsonl]
        [--arms slow,fast]

With ``--arms``: each instance is solved once per arm, one after the other, the order alternating from
instance to instance (``slow``: lns_region.FAST_FOLD and bound.READ_ONCE off, the step builder and the proto reads before
session 20; ``fast``: both on).

One JSON line a solve. Timeline (wall seconds from the solve's start, with the process CPU seconds used
by then): the hint's end, the model's end, the search's start, the first run's end (LNS setup starts),
the LNS's first step, the LP's end, the search's end. Then the LNS's steps and their time split into our
Python (choosing the neighbourhood, building the step model, expanding its answer, accepting it) and
CP-SAT's presolve / search (lns.PROFILE_STEPS), and the CPU the process used in each phase against the
two cores' wall (what idles). Runs already in FILE (family, seed) are skipped, so an interrupted run resumes.
"""

from __future__ import annotations

import json
import os
import sys
import time

from benchargs import emit, pop_option

import packer.cpsat.solver as cpsat
from packer.check import check
from packer.cpsat import bound, lns_region
from packer.cpsat import lns as lns_mod
from packer.cpsat import search as search_mod
from packer.generate import generate


class Marks:
    """Wall and CPU stamps of a solve's phases, and summed seconds of the LNS's Python parts."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.c0 = time.process_time()
        self.at: dict[str, tuple[float, float]] = {}
        self.sums: dict[str, float] = {}
        #: CPU seconds of the calling thread inside each timed part (CP-SAT's step solves with one
        #: worker run in the calling thread): what the part cost, whatever the machine's load.
        self.cpu: dict[str, float] = {}

    def mark(self, name: str) -> None:
        if name not in self.at:
            self.at[name] = (round(time.perf_counter() - self.t0, 3), round(time.process_time() - self.c0, 3))

    def add(self, name: str, seconds: float, cpu: float) -> None:
        self.sums[name] = self.sums.get(name, 0.0) + seconds
        self.cpu[name] = self.cpu.get(name, 0.0) + cpu


M: Marks = Marks()


def _timed(name: str, fn, mark_before: str | None = None, mark_after: str | None = None):  # type: ignore[no-untyped-def]
    def wrapper(*a, **k):  # type: ignore[no-untyped-def]
        if mark_before:
            M.mark(mark_before)
        t, c = time.perf_counter(), time.thread_time()
        try:
            return fn(*a, **k)
        finally:
            M.add(name, time.perf_counter() - t, time.thread_time() - c)
            if mark_after:
                M.mark(mark_after)
    return wrapper


def install() -> None:
    lns_mod.PROFILE_STEPS = True
    cpsat.fast_hint = _timed("hint", cpsat.fast_hint, mark_after="hint_end")
    search_mod.lns_on_model = _timed("lns", search_mod.lns_on_model, mark_before="first_run_end", mark_after="lns_end")
    lns_mod._space = _timed("space", lns_mod._space)
    lns_region.RegionIndex.__init__ = _timed("region_index", lns_region.RegionIndex.__init__)
    lns_mod._Space.choose_kind = _timed("choose", lns_mod._Space.choose_kind)
    lns_mod._Space.sub_model = _timed("sub_model", lns_mod._Space.sub_model)
    lns_region.RegionModel.expand = _timed("expand", lns_region.RegionModel.expand)
    lns_mod._accept = _timed("accept", lns_mod._accept)
    lns_mod._step = _timed("step", lns_mod._step, mark_before="first_step")
    search_mod.CpsatModel = _timed("model", search_mod.CpsatModel, mark_after="model_end")


def run(fam: str, seed: int, limit: float, arm: str | None = None) -> dict[str, object]:
    global M
    inst = generate(fam, seed=seed, nodes=128)
    lns_region.FAST_FOLD = bound.READ_ONCE = arm != "slow"
    load = os.getloadavg()[0]
    M = Marks()
    plan = cpsat.solve(inst, time_limit=limit, workers=2)
    M.mark("end")
    info = plan.solver.model_extra or {}  # type: ignore[union-attr]
    lns = info.get("lns") or {}
    prof = lns.get("profile", [])
    gap = None if not plan.bound else 100 * (plan.bound - plan.objective) / plan.bound
    wall_end, cpu_end = M.at["end"]
    lp_s = info.get("lp_s")
    row: dict[str, object] = {
        "family": fam, "seed": seed, "arm": arm, "limit": limit, "objective": round(plan.objective, 3),
        "bound": None if plan.bound is None else round(plan.bound, 3), "gap_pct": None if gap is None else round(gap, 3),
        "ok": check(inst, plan).ok, "load": round(load, 2), "load_end": round(os.getloadavg()[0], 2),
        "utc": time.strftime("%H:%M:%S", time.gmtime()),
        "marks": M.at, "sums": {k: round(v, 3) for k, v in M.sums.items()},
        "thread_cpu": {k: round(v, 3) for k, v in M.cpu.items()},
        "model_s": info.get("model_s"), "solve_start_s": info.get("solve_start_s"), "lp_s": lp_s,
        "lp_cpu_s": info.get("lp_cpu_s"), "relaxed_first": info.get("relaxed_first"),
        "solve_end_s": info.get("solve_end_s"), "steps": lns.get("steps"), "improved": lns.get("improved"),
        "threads": lns.get("threads"), "cpsat_build_s": round(lns.get("build_s", 0.0), 3),
        "presolve_s": round(lns.get("presolve_s", 0.0), 3), "search_s": round(lns.get("solve_s", 0.0), 3),
        "kinds": lns.get("kinds"),
        "cores_used": round(cpu_end / max(1e-9, wall_end), 2)}
    if prof:
        n = len(prof)
        row["step_wall_mean"] = round(sum(e["build_s"] + e["presolve_s"] + e["solve_s"] for e in prof) / n, 3)
    return row


def main(argv: list[str]) -> None:
    out = pop_option(argv, "--out")
    limit = float(pop_option(argv, "--limit") or 60)
    arms: list[str | None] = list((pop_option(argv, "--arms") or "").split(",")) if "--arms" in argv else [None]
    done: set[tuple[str, int, str | None]] = set()
    if out and os.path.exists(out):
        with open(out) as f:
            done = {(r["family"], r["seed"], r.get("arm")) for r in map(json.loads, f)}
    install()
    k = 0
    for seed in [int(s) for s in argv[1].split(",")]:
        for fam in argv[0].split(","):
            for arm in (arms if k % 2 == 0 else arms[::-1]):
                if (fam, seed, arm) not in done:
                    emit(run(fam, seed, limit, arm), out)
            k += 1


if __name__ == "__main__":
    main(sys.argv[1:])
