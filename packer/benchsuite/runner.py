"""One benchmark run: (family, nodes, seed, entry, options) → a JSON-able result dict.

:func:`run_one` is a plain function of its arguments (it generates the instance itself), so a caller
may send runs to other processes or machines (e.g. as Ray tasks) and collect the dicts. Every plan
goes through the independent checker; a plan that fails it, a solver that raises, or a plan whose
objective is not what the checker recomputes is a failed result (``ok`` false), never a figure.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from packer.model import Instance

#: Version of the result dicts (and of the JSON file that holds them).
RESULT_FORMAT = "packer.bench/v1"


@dataclass(frozen=True)
class Entry:
    """A column of the benchmark: a back end with fixed options, or ``lp`` (a bound only)."""

    name: str
    solver: str
    fixed: Mapping[str, object] = field(default_factory=dict)
    #: Options of the run (time limit, workers) this entry takes, in the order they key a result.
    takes: tuple[str, ...] = ()
    what: str = ""


#: The entries ``packer bench --solvers`` knows, in table order.
ENTRIES: dict[str, Entry] = {e.name: e for e in (
    Entry("greedy", "greedy", what="the greedy placer"),
    Entry("online", "online", what="the online placer, default policy, file order"),
    Entry("first-fit", "online", {"policy": "first-fit"}, what="plain first-fit in file order (the baseline)"),
    Entry("best-fit", "online", {"policy": "best-fit"}, what="online best-fit in file order"),
    Entry("fgd", "online", {"policy": "fgd"}, what="online FGD in file order"),
    Entry("cpsat", "cpsat", takes=("time_limit", "workers"), what="the CP-SAT batch optimizer"),
    Entry("lp", "lp", takes=("time_limit",), what="no plan: the LP bound of the CP-SAT model (HiGHS)"),
)}


@lru_cache(maxsize=2)
def instance_of(family: str, nodes: int, seed: int) -> Instance:
    """The suite instance (cached: the runs of one instance follow each other)."""
    from packer.generate import generate

    return generate(family, seed, nodes=nodes)


def key_of(family: str, nodes: int, seed: int, entry: str, options: Mapping[str, object]) -> str:
    """The key that identifies a run in the result file (what resuming skips)."""
    e = ENTRIES[entry]
    opts = ",".join(f"{k}={options.get(k)}" for k in e.takes)
    return f"{family}/{nodes}/{seed}/{entry}" + (f"/{opts}" if opts else "")


def label_of(entry: str, options: Mapping[str, object]) -> str:
    """The column name of a run in the tables: the entry, with the options it takes (``cpsat 60s 2w``)."""
    e = ENTRIES[entry]
    parts = [entry]
    if "time_limit" in e.takes and options.get("time_limit") is not None:
        parts.append(f"{float(options['time_limit']):g}s")  # type: ignore[arg-type]
    if "workers" in e.takes and options.get("workers") is not None:
        parts.append(f"{options['workers']}w")
    return " ".join(parts)


def _lp_bound(inst: Instance, time_limit: float | None) -> float | None:
    """The LP bound of the CP-SAT model of ``inst`` (padded upward for HiGHS's tolerances)."""
    from packer.cpsat.model import CpsatModel
    from packer.cpsat.proof import lp_bound

    return lp_bound(CpsatModel(inst), time_limit)


def is_failure(result: Mapping[str, Any]) -> bool:
    """True for a failed run: a solver error or a plan the checker rejects. An ``lp`` run whose LP did
    not finish in its time limit (status ``unknown``) gave no bound, which is no failure of a plan."""
    if result.get("entry") == "lp" and result.get("status") == "unknown":
        return False
    return not result.get("ok")


_warm: set[str] = set()


def warm_up(entry: str) -> None:
    """Runs ``entry`` once, untimed, on a one-node instance, so its JIT compilation (the online
    placer's Numba kernels, per policy) is not counted in the first timed run of this process."""
    e = ENTRIES[entry]
    if entry in _warm or e.solver not in ("online",):
        return
    from packer.dispatch import get_solver
    from packer.generate import generate

    for family in ("training", "sharing"):
        get_solver(e.solver)(generate(family, 0, nodes=1), **e.fixed)
    _warm.add(entry)


def run_one(family: str, nodes: int, seed: int, entry: str, options: Mapping[str, object] | None = None,
            *, instance: Callable[[str, int, int], Instance] = instance_of) -> dict[str, Any]:
    """Runs ``entry`` (a name of :data:`ENTRIES`) on the suite instance and checks its plan.

    ``options``: ``time_limit`` (seconds) and ``workers`` for the entries that take them, ``seed``
    (the solver's, default 0). Returns the result dict (see the module docstring); never raises for
    a solver's failure, which it records in ``error``.
    """
    from packer.check import check
    from packer.dispatch import get_solver

    options = dict(options or {})
    e = ENTRIES[entry]
    inst = instance(family, nodes, seed)
    out: dict[str, Any] = {
        "key": key_of(family, nodes, seed, entry, options), "family": family, "nodes": nodes,
        "gpus": inst.num_gpus, "seed": seed, "entry": entry, "label": label_of(entry, options),
        "options": {k: options.get(k) for k in e.takes}, "instance": inst.name,
        "requests": len(inst.requests), "objective": None, "bound": None, "status": None, "wall_s": None,
        "ok": False, "error": None, "violations": [], "utilization": None, "placed": None, "unplaced": None,
        "load": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
    }
    try:
        warm_up(entry)
    except Exception:  # noqa: S110 - a warm-up failure shows up again, recorded, in the timed run
        pass
    t0 = time.perf_counter()
    try:
        if e.solver == "lp":
            out["bound"] = _lp_bound(inst, options.get("time_limit"))  # type: ignore[arg-type]
            out["wall_s"] = round(time.perf_counter() - t0, 3)
            out["status"] = "bound" if out["bound"] is not None else "unknown"
            out["ok"] = out["bound"] is not None
            if not out["ok"]:
                out["error"] = "the LP did not finish in the time limit"
            return out
        kwargs: dict[str, Any] = {"seed": int(options.get("seed", 0) or 0), **e.fixed}  # type: ignore[call-overload]
        for k in e.takes:
            if options.get(k) is not None:
                kwargs[k] = options[k]
        plan = get_solver(e.solver)(inst, **kwargs)
        out["wall_s"] = round(time.perf_counter() - t0, 3)
    except Exception as exc:  # a solver that crashes is a failed run, recorded, not a crashed suite
        out["wall_s"] = round(time.perf_counter() - t0, 3)
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc(limit=8)
        return out
    report = check(inst, plan)
    out.update(objective=plan.objective, bound=plan.bound, status=plan.status,
               utilization=round(report.utilization, 6), placed=len(plan.assignments), unplaced=len(plan.unplaced),
               check_objective=report.objective)
    out["violations"] = [str(v) for v in report.violations[:10]]
    problems = []
    if not report.ok:
        problems.append(f"{len(report.violations)} violation(s) of kinds {sorted(report.kinds())}")
    if abs(report.objective - plan.objective) > 1e-6 * max(1.0, abs(plan.objective)):
        problems.append(f"plan says objective {plan.objective}, the checker {report.objective}")
    if plan.bound is not None and plan.objective > plan.bound + 1e-6 * max(1.0, abs(plan.bound)):
        problems.append(f"objective {plan.objective} above its own bound {plan.bound}")
    out["ok"] = not problems
    out["error"] = "; ".join(problems) or None
    return out


__all__ = ["ENTRIES", "RESULT_FORMAT", "Entry", "instance_of", "is_failure", "key_of", "label_of", "run_one", "warm_up"]
