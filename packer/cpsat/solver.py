"""The CP-SAT back end's entry point: options in, the steps in order, a SPEC plan out.

A running cluster with at least ``reopt.MIN_MOVABLE`` movable running requests goes to the
re-optimizer (:mod:`packer.cpsat.reopt`). Otherwise :func:`solve` shares the time limit
(:mod:`packer.cpsat.timeplan`), takes the better of the greedy and online placers' plans as the hint
(:mod:`packer.cpsat.hints`), and searches (:mod:`packer.cpsat.search`): one CP-SAT model over GPU
classes and request groups, or, on huge instances, LNS by topology domain bounded by a merged
relaxation (:mod:`packer.cpsat.proof`). It never returns a plan worse than the hint. With
``workers=1`` the run is reproducible: CP-SAT stops by deterministic time, the wall clock is a
safety stop. The tuning constants are in :mod:`packer.cpsat.tuning`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from packer.cpsat import tuning
from packer.cpsat.hints import hint_plan as fast_hint
from packer.cpsat.hints import online_ready
from packer.cpsat.proof import relaxed_bound
from packer.cpsat.result import NAME
from packer.cpsat.search import solve_decomposed, solve_monolithic
from packer.cpsat.timeplan import build_s, deterministic_budget, hint_budget, time_left
from packer.model import Instance, Plan
from packer.progress import SILENT, Progress

if TYPE_CHECKING:
    from packer.parallel import TaskPool

#: The options :func:`solve` takes (see :mod:`packer.options`).
OPTIONS = frozenset({"time_limit", "seed", "workers", "hint", "aggregate", "progress", "params", "ray_address"})


def solve(
    inst: Instance,
    *,
    time_limit: float | None = None,
    seed: int = 0,
    workers: int | None = None,
    hint: bool | None = None,
    aggregate: bool | None = None,
    progress: Progress | None = None,
    params: Mapping[str, object] | None = None,
    ray_address: str | None = None,
) -> Plan:
    """Places ``inst``'s requests optimally (or as well as ``time_limit`` allows), with a proven bound.

    ``hint`` (default on) warm-starts from the greedy (and online) placer; ``aggregate=False`` gives every GPU its
    own class (default: classes, exact either way; off anyway when a locality or spread is at level
    ``gpu``); ``params`` pass straight to CP-SAT's parameters; ``progress`` prints progress lines.
    ``ray_address`` (``"local"`` or a cluster's address, see :mod:`packer.parallel`): a decomposed
    solve sends the sub-problems of each round to Ray as tasks, ``workers`` (default 1) cores each.
    """
    start = time.perf_counter()
    options = dict(time_limit=time_limit, seed=seed, workers=workers, hint=hint, aggregate=aggregate,
                   progress=progress, params=params, start=start)
    if ray_address is None:
        return _solve(inst, **options)  # type: ignore[arg-type]
    if len(inst.requests) * len(inst.nodes) <= tuning.DECOMPOSE_ABOVE:
        from packer.parallel import check_address

        check_address(ray_address)
        plan = _solve(inst, **options)  # type: ignore[arg-type]
        return plan.model_copy(update={"solver": plan.solver.model_copy(
            update={"ray": "not used: the instance is solved as one model"})})
    from packer.parallel import TaskPool

    # Ray starts (or the cluster is joined) first, so that an unreachable address fails at once; its
    # start counts in the time limit.
    with TaskPool(ray_address, cpus_per_task=workers or 1, warm=("packer.cpsat",)) as pool:
        return _solve(inst, **options, pool=pool)  # type: ignore[arg-type]


def _solve(inst: Instance, *, time_limit: float | None, seed: int, workers: int | None, hint: bool | None,
           aggregate: bool | None, progress: Progress | None, params: Mapping[str, object] | None,
           start: float, pool: TaskPool | None = None) -> Plan:
    """:func:`solve` after its options are checked (and Ray is started, for ``pool``)."""
    prog = progress or SILENT
    seed = int(seed or 0)
    if reoptimizes(inst) and hint is not False and aggregate is not False and not params:
        # A running cluster with much movable work: the re-optimizer (no-move plan, move steps, budget bound).
        from packer.cpsat.reopt import reoptimize

        return reoptimize(inst, time_limit=time_limit, seed=seed, workers=workers, progress=prog).plan

    left = time_left(inst, time_limit, start)
    # One worker: reproducible; the hint placer may then use the whole limit, so that only the
    # wall-clock safety stops (never reached on the reference machine) depend on timing.
    det = deterministic_budget(inst, time_limit, workers, params)
    hint_plan = None
    pending: list[list[Plan]] = []  # the hint placers' plans, also those that come after their budget
    pairs = len(inst.requests) * len(inst.nodes)
    # A model that cannot be built in the time is not started; the hint placers get the whole limit.
    no_model = (time_limit is not None and pairs <= tuning.DECOMPOSE_ABOVE
                and build_s(inst) > (1 - tuning.HINT_SHARE) * time_limit)
    info_model: dict[str, object] = {"model": "skipped: no time to build it"} if no_model else {}
    if hint is not False:
        # The hint only needs the fixed reserve: returning it re-uses its reasons, which is cheap.
        # On huge instances the budget follows the online placer's estimate (timeplan.hint_budget).
        avail = None if time_limit is None else time_limit - (time.perf_counter() - start) - tuning.RESERVE_S
        budget = avail if avail is None or det is not None or no_model else hint_budget(inst, avail)
        # Reproducible runs use a fixed set of placers: the online one only under a long enough limit.
        # On small clusters CP-SAT closes the gap itself; the online placer's first-use compile
        # would cost more than its hint is worth there. A timed run leaves it out while its kernels
        # are not compiled yet (a first run on a machine; hints.online_ready); reproducible runs
        # keep their fixed set whatever the cache holds.
        use_online = ((det is None or time_limit >= tuning.ONLINE_HINT_MIN_S)  # type: ignore[operator]
                      and inst.num_gpus >= tuning.ONLINE_HINT_MIN_GPUS
                      and (time_limit is None or det is not None or online_ready()))
        hint_plan = fast_hint(inst, seed, budget, online=use_online, pending=pending)
    prog.update(best=None if hint_plan is None else hint_plan.objective, note="hint", force=True)
    info: dict[str, object] = {"workers": workers, "hint": None if hint_plan is None else hint_plan.solver.name,
                               **info_model}
    if pairs > tuning.DECOMPOSE_ABOVE:
        plan = solve_decomposed(inst, hint_plan, seed=seed, workers=workers, start=start, left=left,
                                info=info, params=params, det=det, pool=pool)
    else:
        plan = solve_monolithic(inst, hint_plan, seed=seed, workers=workers, start=start, left=left, info=info,
                                aggregate=aggregate, progress=prog, params=params, det=det)
    return late_hint(inst, plan, pending, seed, start)


def late_hint(inst: Instance, plan: Plan, pending: list[list[Plan]], seed: int, start: float) -> Plan:
    """``plan``, or the best hint placer's plan when one came after the hint's budget and is worth
    more: under load (5 and up on 2 cores) the placers can miss their share of a 60 s limit while
    the model's build takes most of it, and the search then had nothing to start from (inference-0
    came back empty, objective 0; bench/RESULTS_cpsat.md, session 11). Re-issued with ``plan``'s
    bound, which holds for every plan of ``inst``."""
    from packer.cpsat.result import restamp

    finished = [p for done in pending for p in list(done)]  # a snapshot: the thread may still append
    if not finished:
        return plan
    best = max(finished, key=lambda p: p.objective)
    if best.objective <= plan.objective + 1e-9:
        return plan
    info = {**dict(plan.solver.model_extra or {}), "late_hint": best.solver.name}
    return restamp(inst, best, seed, start, info, plan.bound)


def reoptimizes(inst: Instance) -> bool:
    """True when ``inst`` has so much movable running work that :mod:`packer.cpsat.reopt` solves it."""
    from packer.cpsat.reopt import MIN_MOVABLE, movable_ids

    return inst.objective.max_migrations != 0 and len(movable_ids(inst)) >= MIN_MOVABLE


__all__ = ["NAME", "OPTIONS", "relaxed_bound", "solve"]
