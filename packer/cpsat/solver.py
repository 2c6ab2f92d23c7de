"""The CP-SAT back end: an exact batch optimizer with a proven bound.

A running cluster with at least ``reopt.MIN_MOVABLE`` movable running requests goes to the
re-optimizer (:mod:`packer.cpsat.reopt`). Otherwise
``solve(inst, time_limit=..., seed=..., workers=...)`` builds one CP-SAT model over GPU classes
(interchangeable GPUs of a node, counted) and request groups (identical requests, counted), hints it
with the better of the greedy and online placers' plans, solves within the time limit (on big models:
a whole-model run, then LNS by topology domain on the same model), converts the values back to exact
units (a MIG layout per GPU, a slot per instance), and never returns a plan worse than the hint. With
``workers=1`` the run is reproducible: CP-SAT stops by deterministic time, the wall clock is a safety stop.
This package is the only place in packer that imports ortools.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from ortools.sat.python import cp_model

from packer.cpsat.bound import capacity_bound, lp_solve
from packer.cpsat.data import Data, build_data
from packer.cpsat.deadline import BuildAbandoned, Deadline
from packer.cpsat.decompose import SubJob, lns_by_domain, lns_by_domain_parallel
from packer.cpsat.lns import lns as lns_on_model
from packer.cpsat.model import CpsatModel
from packer.cpsat.reasons import unplaced_reasons
from packer.cpsat.relax import (
    Relaxation,
    merge_levels,
    merged_relaxation,
    super_nodes,
    typed_relaxation,
    typed_super_nodes,
)
from packer.model import MODE_OF_KIND, Instance, Plan, Unit
from packer.plans import build_plan, objective_value
from packer.progress import SILENT, Progress

if TYPE_CHECKING:
    from packer.parallel import TaskPool

NAME = "cpsat"
#: Models with at least this many placement variables get LNS on the model after a first run.
LNS_MIN_VARIABLES = 2000
#: Above this many (request, node) pairs the instance is solved by decomposition (LNS by domain).
DECOMPOSE_ABOVE = 400_000
#: Above this many (request, node) pairs the hint comes from the online placer, not the greedy one.
ONLINE_HINT_ABOVE = 1_000_000
#: Below this many GPUs only the greedy placer gives the hint.
ONLINE_HINT_MIN_GPUS = 256
#: With one worker (reproducible runs) the online placer adds a second hint only under at least this limit.
ONLINE_HINT_MIN_S = 10.0
#: Share of the time limit the hint placers may take.
HINT_SHARE = 0.5
#: Share of the time left that the model's LP bound may take. On haein the LP needs 3.5-4.6 s and
#: CP-SAT rarely improves on the hint in a 10 s run anyway, so the bound gets most of a short limit
#: (at 0.4, haein-0/2 at 10 s ended with the capacity bound instead of the LP).
LP_SHARE = 0.8
#: … and when it runs beside the search (big models, several cores), which it then does not hold up.
LP_CONCURRENT_SHARE = 0.95
#: Share of the time left for a decomposed solve's relaxation LP (the rest is the LNS's).
RELAX_SHARE = 0.4
#: Decomposed solves bound by the LP of a merged-node relaxation (relax.py) of at most this many
#: (request, super node) pairs: a cap on the candidates looked at, before anything is built.
RELAX_MAX_PAIRS = DECOMPOSE_ABOVE
#: Seconds per placement option (a (request group, GPU class, profile) triple, one variable of the
#: model) to build a relaxation's model. The options are counted on the relaxation's data, built
#: first for that (about 3 % of the model's cost), so the estimate follows the structure: a super
#: node of many GPUs with running work has many GPU classes, and the options grow with groups x
#: classes, not with (request, super node) pairs (the old per-pair estimate said 15 s for the
#: 131,072-GPU typed-nvlink relaxation whose model took 550 s). Measured 0.8-1.5e-4 s per option on
#: haein at 2,048-8,192 GPUs, merged and typed, load 4-6; the top of that range is used (bench/bench_relax_build.py,
#: bench/RESULTS_ray.md);
#: a higher value picks coarser relaxations (looser bounds) sooner, a lower one risks abandoned builds.
RELAX_S_PER_OPTION = 1.5e-4
#: A relaxation's LP takes about this many times its model's build (xl-0 merged by pod: 14.5 s model,
#: 54 s LP). The LP has a time limit of its own, so this only decides which relaxation is tried.
RELAX_LP_PER_BUILD = 3.7
#: Big models with at least this many seconds left after the LP get LNS by domain on the model itself.
LNS_MIN_S = 4.0
#: Share of that time (at most LNS_FIRST_MAX_S) for the first, whole-model CP-SAT run.
LNS_FIRST_SHARE = 0.2
LNS_FIRST_MAX_S = 5.0
#: … and at least this much (CP-SAT's presolve of a haein-sized model takes about a second).
LNS_FIRST_MIN_S = 2.0
#: Seconds (deterministic units with one worker) per LNS step, at most.
LNS_STEP_S = 2.0
#: LNS runs on the coarsest level with at least this many domains …
LNS_DOMAIN_SHARE = 8
#: … and a step frees this share of them (at least one). On haein (32 racks, 2 threads) two racks a
#: step beat four and one (bench/RESULTS_cpsat.md, sixth session); one after the other it made no difference.
#: With the steps' faster search (lns.STEP_LINEARIZATION, seventh session) four racks a step and a size
#: that grows after proven steps and shrinks after timed-out ones were no better within the noise.
LNS_STEP_SHARE = 16
#: Wall seconds per LNS step beyond its deterministic budget (copying and presolving a haein model).
LNS_STEP_OVERHEAD_S = 0.5
#: Seconds per (request, node) pair to build a model, a generous estimate (haein-0 on the 2-core
#: reference machine: 72 k pairs, 2–4 s); a model that would not be built in the time left is not started.
MODEL_S_PER_PAIR = 6e-5
#: Share of the hint's time the greedy placer may take, the rest is for checking its plan.
HINT_PLACER_SHARE = 0.8
#: Seconds kept back from the time limit for converting the answer and writing the plan.
RESERVE_S = 0.05
#: … plus this much per GPU (the conversion walks every GPU and every unplaced request).
RESERVE_PER_GPU_S = 1e-3
#: With one worker CP-SAT stops by deterministic time, this many units per second of the time limit.
#: On the 2-core reference machine one unit takes 1.0–1.35 s of wall time (haein, small), so with the
#: model, the hint and the LP bound CP-SAT ends well inside the limit; the wall clock stays a safety stop.
DET_PER_SECOND = 0.4

_STATUS = {
    cp_model.OPTIMAL: "optimal",
    cp_model.FEASIBLE: "feasible",
    cp_model.INFEASIBLE: "infeasible",
    cp_model.UNKNOWN: "unknown",
    cp_model.MODEL_INVALID: "unknown",
}


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
    **none_options: object,
) -> Plan:
    """Places ``inst``'s requests optimally (or as well as ``time_limit`` allows), with a proven bound.

    ``hint`` (default on) warm-starts from the greedy (and online) placer; ``aggregate=False`` gives every GPU its
    own class (default: classes, exact either way; off anyway when a locality or spread is at level
    ``gpu``); ``params`` pass straight to CP-SAT's parameters; ``progress`` prints progress lines.
    ``ray_address`` (``"local"`` or a cluster's address, see :mod:`packer.parallel`): a decomposed
    solve sends the sub-problems of each round to Ray as tasks, ``workers`` (default 1) cores each.
    """
    for k, val in none_options.items():
        if val is not None:
            raise TypeError(f"cpsat.solve got an unknown option {k!r}")
    start = time.perf_counter()
    options = dict(time_limit=time_limit, seed=seed, workers=workers, hint=hint, aggregate=aggregate,
                   progress=progress, params=params, start=start)
    if ray_address is None:
        return _solve(inst, **options)  # type: ignore[arg-type]
    if len(inst.requests) * len(inst.nodes) <= DECOMPOSE_ABOVE:
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
    if _reoptimizes(inst) and hint is not False and aggregate is not False and not params:
        # A running cluster with much movable work: the re-optimizer (no-move plan, move steps, budget bound).
        from packer.cpsat.reopt import reoptimize

        return reoptimize(inst, time_limit=time_limit, seed=seed, workers=workers, progress=prog).plan

    def left() -> float | None:
        reserve = RESERVE_S + RESERVE_PER_GPU_S * inst.num_gpus
        return None if time_limit is None else time_limit - (time.perf_counter() - start) - reserve

    # One worker: reproducible. CP-SAT then stops by deterministic time (a budget fixed by the time
    # limit and the instance, not by the clock), and the hint placer may use the whole limit, so that
    # only the wall-clock safety stops (never reached on the reference machine) depend on timing.
    det: float | None = None
    if workers == 1 and time_limit is not None and "max_deterministic_time" not in (params or {}):
        det = DET_PER_SECOND * max(0.0, time_limit - RESERVE_S - RESERVE_PER_GPU_S * inst.num_gpus)
    hint_plan = None
    pairs = len(inst.requests) * len(inst.nodes)
    # A model that cannot be built in the time is not started; the hint placers get the whole limit.
    no_model = (time_limit is not None and pairs <= DECOMPOSE_ABOVE
                and _build_s(inst) > (1 - HINT_SHARE) * time_limit)
    info_model: dict[str, object] = {"model": "skipped: no time to build it"} if no_model else {}
    if hint is not False:
        # The hint only needs the fixed reserve: returning it re-uses its reasons, which is cheap.
        share = 1.0 if det is not None or no_model else HINT_SHARE
        budget = None if time_limit is None else share * (time_limit - (time.perf_counter() - start) - RESERVE_S)
        # Reproducible runs use a fixed set of placers: the online one only under a long enough limit.
        # On small clusters CP-SAT closes the gap itself; the online placer's first-use compile
        # would cost more than its hint is worth there.
        use_online = (det is None or time_limit >= ONLINE_HINT_MIN_S) and inst.num_gpus >= ONLINE_HINT_MIN_GPUS
        hint_plan = _hint_plan(inst, seed, budget, online=use_online)
    prog.update(best=None if hint_plan is None else hint_plan.objective, note="hint", force=True)
    info: dict[str, object] = {"workers": workers, "hint": None if hint_plan is None else hint_plan.solver.name,
                               **info_model}
    if pairs > DECOMPOSE_ABOVE:
        return _solve_decomposed(inst, hint_plan, seed=seed, workers=workers, start=start, left=left,
                                 info=info, params=params, det=det, pool=pool)
    return _solve_monolithic(inst, hint_plan, seed=seed, workers=workers, start=start, left=left, info=info,
                             aggregate=aggregate, progress=prog, params=params, det=det)


def _solve_monolithic(inst: Instance, hint_plan: Plan | None, *, seed: int, workers: int | None, start: float,
                      left, info: dict[str, object], aggregate: bool | None = None,  # type: ignore[no-untyped-def]
                      progress: Progress = SILENT, params: Mapping[str, object] | None = None,
                      lp: bool = True, det: float | None = None, uncounted: frozenset[str] | set[str] = frozenset(),
                      ) -> Plan:
    """One CP-SAT model of the whole instance; ``det``: CP-SAT's deterministic time budget, if any;
    ``uncounted``: movable running requests whose moves max_migrations does not count."""
    prog = progress
    if det is not None:
        params = {**(params or {}), "max_deterministic_time": max(0.01, det)}
        info["deterministic_time"] = round(det, 3)
    rem = left()
    model: CpsatModel | None = None
    if rem is None or rem > _build_s(inst):
        model = CpsatModel(inst, aggregate=aggregate, uncounted=uncounted)
        info["model_s"] = round(time.perf_counter() - start, 3)
        info["classes"] = len(model.data.classes)
        info["groups"] = len(model.data.groups)
        info["variables"] = len(model.model.proto.variables)
        if hint_plan is not None:
            model.hint(hint_plan)
    rem = left()
    if model is None or (rem is not None and rem <= 0):
        return _fallback(inst, hint_plan, seed, start, info, bound=_capacity_bound(inst, lp))

    lp_value: float | None = None
    big = len(model.vars.x) >= LNS_MIN_VARIABLES
    cores = workers if workers is not None else (os.cpu_count() or 1)
    # Big models in parallel runs: HiGHS solves the LP on a core of its own while the search starts
    # with one core fewer (HiGHS releases the GIL); one after the other, the LP held up the search by
    # 3.5-7 s on haein. Sharing a core with the search instead slowed the LP down twofold.
    lp_job: _Background | None = None
    if lp and (rem is None or rem > 2.0):
        if big and det is None and cores > 1:
            model.linear_form  # noqa: B018 - built here, not in the thread, while nothing else reads the model
            lp_limit = None if rem is None else LP_CONCURRENT_SHARE * rem
            lp_job = _Background(lambda: _lp_bound(model, lp_limit))
        else:
            lp_limit = None if rem is None else LP_SHARE * rem
            # CP-SAT's own LP converges late on big models, so HiGHS solves the relaxation first; on
            # small ones it takes milliseconds and is sometimes the tighter bound when no proof comes.
            lp_value = _lp_bound(model, lp_limit)
            info["lp_bound"] = None if lp_value is None else round(lp_value, 6)
            info["lp_s"] = round(time.perf_counter() - start, 3)
            rem = left()
            if lp_value is None:
                lp_value = _capacity_bound(inst, lp)
            if rem is not None and rem <= 0:
                return _fallback(inst, hint_plan, seed, start, info, bound=lp_value)
    info["lp_beside_search"] = lp_job is not None
    search_workers = workers if lp_job is None else cores - 1  # the LP holds a core meanwhile
    info["solve_start_s"] = round(time.perf_counter() - start, 3)
    lns = _lns_plan(inst, rem, det) if lp and big else None
    if lns is None:
        code = model.solve(time_limit=rem, seed=seed, workers=search_workers, progress=prog, params=params)
    else:
        # First a whole-model run (its bound, a first improvement), then LNS by domain on the model.
        level, per_step, first, step, steps, det_step = lns
        first_params = dict(params or {})
        if det is not None:
            first_params["max_deterministic_time"] = max(0.01, LNS_FIRST_SHARE * det)
        code = model.solve(time_limit=first, seed=seed, workers=search_workers, progress=prog, params=first_params)
        if code in (cp_model.FEASIBLE, cp_model.UNKNOWN):  # UNKNOWN: LNS starts from the hint
            rem = left()
            deadline = time.perf_counter() + (rem if rem is not None else 600.0)
            lns_on_model(model, level=level, domains_per_step=per_step, step_s=step, deadline=deadline,
                         seed=seed, workers=workers, steps=steps, det_step=det_step, progress=prog,
                         one_until=None if lp_job is None else lp_job.done)
            info["lns"] = {"level": level, "domains_per_step": per_step, **model.lns_stats}
    info["solve_end_s"] = round(time.perf_counter() - start, 3)
    if lp_job is not None:
        rem = left()
        lp_value = lp_job.result(timeout=None if rem is None else max(0.0, rem))
        info["lp_bound"] = None if lp_value is None else round(lp_value, 6)
        info["lp_s"] = None if lp_job.ended is None else round(lp_job.ended - start, 3)
        if lp_value is None:
            lp_value = _capacity_bound(inst, lp)
    info["cpsat_status"] = model.solver.status_name(code) if model.solver else None
    bound: float | None = model.bound() if code in (cp_model.OPTIMAL, cp_model.FEASIBLE) else None
    if code != cp_model.OPTIMAL:
        extra = lp_value if lp_value is not None else _capacity_bound(inst, lp)
        if extra is not None:
            bound = extra if bound is None else min(bound, extra)
    if code == cp_model.UNKNOWN and model.values is not None:
        code = cp_model.FEASIBLE  # the LNS found a solution after a first run that found none
    if code == cp_model.INFEASIBLE:
        # Cannot happen for a valid instance (placing nothing is feasible) unless running work is stuck.
        return _fallback(inst, hint_plan, seed, start, info, status="infeasible")
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return _fallback(inst, hint_plan, seed, start, info, bound=bound)
    assert bound is not None
    placed, modes, dropped = model.placement()
    info["model_objective"] = round(model.objective(), 9)
    if any(inst.request(rid).placement is not None for rid in dropped):
        # A moved running request whose units did not pack (a share class past its pattern limit) would
        # go back where it ran, which the model gave to other work: this answer cannot be used.
        info["share_packing_dropped"] = sorted(dropped)
        return _fallback(inst, hint_plan, seed, start, info, bound=bound)
    if dropped:
        info["share_packing_dropped"] = sorted(dropped)
    reasons = unplaced_reasons(inst, placed, modes)
    status = "optimal" if code == cp_model.OPTIMAL and not dropped else "feasible"
    if status == "optimal" and any(r.kind == "host" for r in inst.requests):
        # Proven for the objective plus the host tie-break: optimal for SPEC's up to the tie-break.
        status = "optimal" if objective_value(inst, placed) >= bound - 1e-6 else "feasible"
    plan = build_plan(inst, solver=NAME, placed=placed, unplaced=reasons, gpu_modes=modes, seed=seed,
                      wall_s=time.perf_counter() - start, bound=bound, status=status, solver_info=info)
    if hint_plan is not None and hint_plan.objective > plan.objective + 1e-9:
        return _restamp(inst, hint_plan, seed, start, info, bound)
    prog.update(best=plan.objective, bound=bound, note="done", force=True)
    return plan


def _solve_decomposed(inst: Instance, hint_plan: Plan | None, *, seed: int, workers: int | None, start: float,
                      left, info: dict[str, object],  # type: ignore[no-untyped-def]
                      params: Mapping[str, object] | None = None, det: float | None = None,
                      pool: TaskPool | None = None) -> Plan:
    """Large-neighbourhood search over the coarsest topology domains, bounded by an LP.

    The bound is the LP of the finest merged-node relaxation that fits in time (see
    :func:`_relaxation_choice`), else the capacity LP. With a ``pool`` on Ray the domains' sub-problems
    are solved in parallel rounds (:func:`lns_by_domain_parallel`), as tasks of :class:`_SubTask`.
    """
    bound = _capacity_bound(inst, True)
    choice = _relaxation_choice(inst, left())
    if choice is not None:
        level, typed = choice.level, choice.typed
        budget = None if choice.budget is None else choice.budget - choice.prepared_s
        used: dict[str, object] = {"level": level, "typed": typed, "estimate_s": round(choice.estimate_s, 3)}
        relaxed = relaxed_bound(inst, level, time_limit=budget, typed=typed,
                                prepared=(choice.relaxation, choice.data), info=used)
        info["relaxed_bound"] = {**used, "bound": relaxed, "s": round(time.perf_counter() - start, 3)}
        if relaxed is not None and (bound is None or relaxed < bound):
            bound = relaxed
    incumbent: dict[str, list[Unit]] = (
        {a.request: list(a.units) for a in hint_plan.assignments} if hint_plan is not None
        else {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    )
    rem = left()
    stats: dict[str, object] = {}
    if rem is None or rem > 0.5:
        deadline = time.perf_counter() + (rem if rem is not None else 600.0)

        def solve_sub(sub: Instance, sub_hint: Plan | None, budget: float, sub_det: float | None) -> Plan:
            t0 = time.perf_counter()

            def sub_left() -> float:
                return budget - (time.perf_counter() - t0)

            return _solve_monolithic(sub, sub_hint, seed=seed, workers=workers, start=t0, left=sub_left,
                                     info={}, params=params, lp=False, det=sub_det)

        if pool is not None and pool.on_ray:
            task = _SubTask(seed=seed, workers=workers or 1, params=dict(params) if params else None)
            incumbent, counts = lns_by_domain_parallel(
                inst, incumbent, deadline=deadline, parallel=pool.parallel, det=det,
                solve_batch=lambda jobs, timeout: pool.map(task, jobs, timeout=timeout))
        else:
            incumbent, counts = lns_by_domain(inst, incumbent, deadline=deadline, solve_sub=solve_sub, det=det)
        stats = {**counts, "end_s": round(time.perf_counter() - start, 3)}
    info = {**info, "decomposed": stats}
    modes = _modes_of(inst, incumbent)
    reasons = unplaced_reasons(inst, incumbent, modes)
    plan = build_plan(inst, solver=NAME, placed=incumbent, unplaced=reasons, gpu_modes=modes, seed=seed,
                      wall_s=time.perf_counter() - start, bound=bound, status="feasible", solver_info=info)
    if hint_plan is not None and hint_plan.objective > plan.objective + 1e-9:
        return _restamp(inst, hint_plan, seed, start, info, bound)
    return plan


@dataclass(frozen=True)
class _SubTask:
    """Solves one :class:`SubJob` with the monolithic model: a pure function of picklable inputs (a Ray task)."""

    seed: int
    workers: int | None
    params: dict[str, object] | None

    def __call__(self, job: SubJob) -> Plan:
        t0 = time.perf_counter()
        stop = t0 + min(job.budget_s, job.stop_at - time.time())

        def sub_left() -> float:
            return stop - time.perf_counter()

        return _solve_monolithic(job.instance, job.hint, seed=self.seed, workers=self.workers, start=t0,
                                 left=sub_left, info={}, params=self.params, lp=False, det=job.det)


class _Background:
    """A function run in a daemon thread; :meth:`result` waits for its value a limited time."""

    def __init__(self, fn) -> None:  # type: ignore[no-untyped-def]
        self._out: list[object] = []
        self._error: list[BaseException] = []
        #: perf_counter() when the function returned (or raised), and an event set then.
        self.ended: float | None = None
        self.done = threading.Event()

        def run() -> None:
            try:
                self._out.append(fn())
            except BaseException as exc:  # re-raised by result(), in the caller's thread
                self._error.append(exc)
            finally:
                self.ended = time.perf_counter()
                self.done.set()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def result(self, timeout: float | None):  # type: ignore[no-untyped-def]
        """The function's value, or None if it has not returned within ``timeout`` seconds."""
        self._thread.join(timeout)
        if self._error:
            raise self._error[0]
        return self._out[0] if self._out else None


def _reoptimizes(inst: Instance) -> bool:
    """True when ``inst`` has so much movable running work that :mod:`packer.cpsat.reopt` solves it."""
    from packer.cpsat.reopt import MIN_MOVABLE, movable_ids

    return inst.objective.max_migrations != 0 and len(movable_ids(inst)) >= MIN_MOVABLE


def _build_s(inst: Instance) -> float:
    """Estimated seconds to build the whole instance's model (MODEL_S_PER_PAIR per request and node)."""
    return MODEL_S_PER_PAIR * len(inst.requests) * len(inst.nodes)


class RelaxChoice(NamedTuple):
    """The relaxation chosen to bound a decomposed solve, built as far as its data."""

    level: str
    typed: bool
    #: Seconds for it in all (RELAX_SHARE of the time left; None: no limit), preparation included.
    budget: float | None
    relaxation: Relaxation
    data: Data
    #: Seconds already spent preparing the candidates (their relaxations and data).
    prepared_s: float
    #: The estimated seconds of its model and LP.
    estimate_s: float


def _relaxation_choice(inst: Instance, rem: float | None,
                       clock: Callable[[], float] = time.perf_counter) -> RelaxChoice | None:
    """The relaxation whose LP bounds a decomposed solve, prepared (relaxed instance and data), or None.

    Candidates are the merged and the typed relaxation at every level with at most RELAX_MAX_PAIRS
    (request, super node) pairs. The one with the most super nodes keeps the most structure and is
    preferred (merged before typed, then the finer level): on xl that is the typed one at rack level
    (32 super nodes), which keeps the room of single racks and nodes that merging by cluster loses.
    In that order each candidate's data is built and its options counted; the first whose model and
    LP (RELAX_S_PER_OPTION per option, times 1 + RELAX_LP_PER_BUILD) fit in what is left of
    RELAX_SHARE of ``rem`` is chosen. Preparing stops once that share is spent.
    """
    t0 = clock()
    budget = None if rem is None else RELAX_SHARE * rem
    ranked: list[tuple[tuple[int, int, int], str, bool]] = []
    for i, level in enumerate(merge_levels(inst)):
        for typed in (False, True):
            count = typed_super_nodes(inst, level) if typed else super_nodes(inst, level)
            if count * len(inst.requests) <= RELAX_MAX_PAIRS:
                ranked.append(((count, not typed, -i), level, typed))
    for _, level, typed in sorted(ranked, reverse=True):
        if budget is not None and clock() - t0 >= budget:
            return None
        relax = typed_relaxation(inst, level) if typed else merged_relaxation(inst, level)
        data = build_data(relax.instance, barred=relax.barred)
        estimate = relaxation_estimate_s(data)
        spent = clock() - t0
        if budget is None or estimate <= budget - spent:
            return RelaxChoice(level, typed, budget, relax, data, spent, estimate)
    return None


def relaxation_estimate_s(data: Data) -> float:
    """Estimated seconds to build the model of ``data`` and solve its LP (see RELAX_S_PER_OPTION)."""
    options = sum(len(opts) for opts in data.options.values())
    return RELAX_S_PER_OPTION * options * (1 + RELAX_LP_PER_BUILD)


def _lns_plan(inst: Instance, rem: float | None,
              det: float | None) -> tuple[str, int, float, float, int | None, float | None] | None:
    """(level, domains per step, first run's seconds, step seconds, steps, step det. time), or None.

    None (one CP-SAT run on the whole model) without a time limit, with little time, or without a
    topology level of at least LNS_DOMAIN_SHARE domains. The level is the coarsest such level.
    """
    if rem is None or rem < LNS_MIN_S:
        return None
    best: tuple[int, str, int] | None = None
    for level in [lv for lv in inst.topology.levels if lv != "gpu"]:
        count = len({inst.domain(n, level) for n in inst.nodes})
        if count >= LNS_DOMAIN_SHARE and (best is None or count < best[0]):
            best = (count, level, count)
    if best is None:
        return None
    _, level, count = best
    first = min(LNS_FIRST_MAX_S, max(LNS_FIRST_MIN_S, LNS_FIRST_SHARE * rem))
    step = min(LNS_STEP_S, max(0.5, (rem - first) / 6))
    if det is None:
        return level, max(1, count // LNS_STEP_SHARE), first, step, None, None
    # Each step also clones, fixes and presolves the model, outside its deterministic budget: count it.
    det_step = min(LNS_STEP_S, max(0.5, (1 - LNS_FIRST_SHARE) * det / 6))
    steps = int((1 - LNS_FIRST_SHARE) * det / (det_step + LNS_STEP_OVERHEAD_S))
    return level, max(1, count // LNS_STEP_SHARE), first, step, steps, det_step


def _modes_of(inst: Instance, placed: Mapping[str, list[Unit]]) -> dict[tuple[str, int], str]:
    """The mode each used ``any`` GPU takes: the mode of the kind of its units."""
    out: dict[tuple[str, int], str] = {}
    for rid, units in placed.items():
        kind = inst.request(rid).kind
        if kind == "host":
            continue
        for u in units:
            out[(u.node, u.gpu)] = MODE_OF_KIND[kind]
    return out


def relaxed_bound(inst: Instance, level: str, *, time_limit: float | None = None, typed: bool = False,
                  prepared: tuple[Relaxation, Data] | None = None,
                  clock: Callable[[], float] = time.perf_counter, info: dict[str, object] | None = None,
                  ) -> float | None:
    """The LP bound of ``inst``'s merged-node relaxation at ``level`` (see :mod:`packer.cpsat.relax`).

    ``typed``: the typed relaxation (domains of one make-up merged, with the room rule) instead.
    A proven upper bound on ``inst``'s optimum, or None when the model is not built or the LP does not
    finish in ``time_limit`` (which counts the model's building too: the build checks a deadline
    between its steps and is abandoned once past it). ``prepared``: the relaxation and its data,
    already built (by :func:`_relaxation_choice`); ``clock``: the clock of that deadline (tests);
    ``info``: receives ``abandoned`` (the build step where it stopped) when the build is given up.
    """
    deadline = Deadline.after(time_limit, clock)
    if prepared is None:
        relax = typed_relaxation(inst, level) if typed else merged_relaxation(inst, level)
        data = None
    else:
        relax, data = prepared
    try:
        deadline.check("relaxation")
        model = CpsatModel(relax.instance, barred=relax.barred, data=data, deadline=deadline)
    except BuildAbandoned as e:
        if info is not None:
            info["abandoned"] = e.step
        return None
    rem = deadline.left()
    if rem is not None and rem <= 0:
        return None
    return _lp_bound(model, rem)


def _capacity_bound(inst: Instance, enabled: bool) -> float | None:
    return capacity_bound(inst) if enabled else None


def _lp_bound(model: CpsatModel, time_limit: float | None) -> float | None:
    """The HiGHS LP bound of ``model`` in objective units, padded for HiGHS's tolerances."""
    out = lp_solve(model.model, time_limit=time_limit, form=model.linear_form)
    if out is None:
        return None
    # The integer optimum (in scaled integers) is at most the LP optimum.
    safe = math.floor(out[0] + 1e-6 * abs(out[0]) + 1.0)
    return safe / model.data.scale + model.constant


def _hint_plan(inst: Instance, seed: int, time_limit: float | None, *, online: bool = True) -> Plan | None:
    """The best valid plan of the fast placers (greedy, then online) that answer in time, or None.

    The placers run one after the other in a daemon thread so that a slow one cannot hold the time
    limit hostage; at ``time_limit`` the best plan finished so far is taken and the rest is ignored.
    ``online=False`` leaves the online placer out where greedy answers.
    """
    done: list[Plan] = []
    deadline = None if time_limit is None else time.perf_counter() + time_limit

    def run() -> None:
        for plan in _placer_plans(inst, seed, online, deadline):
            if plan is not None and _valid(inst, plan):
                done.append(plan)

    if time_limit is None:
        run()
    else:
        if time_limit <= 0:
            return None
        t = threading.Thread(target=run, daemon=True)
        t.start()
        t.join(time_limit)
    finished = list(done)  # a snapshot: the thread may still append after the join times out
    if not finished:
        return None
    return max(finished, key=lambda p: p.objective)  # the first of equals: greedy


def _placer_plans(inst: Instance, seed: int, online: bool = True,  # type: ignore[no-untyped-def]
                  deadline: float | None = None):
    """Yields the greedy and the online placer's plans, the cheaper first.

    Greedy grows faster than linearly, so on huge instances the online placer runs first (a plan
    in seconds) and greedy second, stopped at ``deadline`` (its plan so far; usually the better one:
    xl-0 21,503 against 20,206). The online placer compiles its kernels on first use (about a
    second), so on ordinary sizes it comes second, and only when ``online`` (or greedy is missing).
    """
    huge = len(inst.requests) * len(inst.nodes) > ONLINE_HINT_ABOVE
    order = ["online", "greedy"] if huge else ["greedy", "online"]
    for name in order:
        try:
            if name == "greedy":
                from packer.greedy.solver import solve as greedy_solve

                # Part of the time is kept for checking the plan, so a plan stopped at its limit still counts.
                limit = None if deadline is None else max(0.0, HINT_PLACER_SHARE * (deadline - time.perf_counter()))
                yield greedy_solve(inst, seed=seed, time_limit=limit)
            else:
                from packer.online.solver import solve as online_solve

                yield online_solve(inst, seed=seed)
        except ImportError:
            continue
        if not online and not huge:
            return


def _valid(inst: Instance, plan: Plan) -> bool:
    try:
        from packer.check import check
    except ImportError:
        return True
    return bool(check(inst, plan).ok)


def _restamp(inst: Instance, plan: Plan, seed: int, start: float, info: dict[str, object],
             bound: float | None, status: str | None = None) -> Plan:
    """``plan`` (from a fast placer) re-issued under this solver's name, with this solver's bound."""
    placed: dict[str, list[Unit]] = {a.request: list(a.units) for a in plan.assignments}
    modes = {(m.node, m.gpu): m.mode for m in plan.gpu_modes}
    reasons = {u.request: u.reason for u in plan.unplaced}
    if any(r.id not in placed and r.id not in reasons for r in inst.requests):
        reasons = {**unplaced_reasons(inst, placed, modes), **reasons}
    info = {**info, "from_hint": True}
    obj = objective_value(inst, placed)
    if status is None:
        status = "optimal" if bound is not None and obj >= bound - 1e-6 else "feasible"
    return build_plan(inst, solver=NAME, placed=placed, unplaced=reasons, gpu_modes=modes, seed=seed,
                      wall_s=time.perf_counter() - start, bound=bound, status=status, solver_info=info)


def _fallback(inst: Instance, hint_plan: Plan | None, seed: int, start: float, info: dict[str, object],
              status: str | None = None, bound: float | None = None) -> Plan:
    """The hint when CP-SAT found nothing in time; else the plan that keeps only running work."""
    if hint_plan is not None and status != "infeasible":
        return _restamp(inst, hint_plan, seed, start, info, bound)
    placed = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    reasons = unplaced_reasons(inst, placed, {})
    return build_plan(inst, solver=NAME, placed=placed, unplaced=reasons, seed=seed, bound=bound,
                      wall_s=time.perf_counter() - start, status=status or ("feasible" if placed else "unknown"),
                      solver_info=info)


__all__ = ["solve", "relaxed_bound"]
