"""The two searches of a CP-SAT solve: one model of the whole instance, or LNS by topology domain.

:func:`solve_monolithic` builds the model, bounds it by its LP (before or beside the search), and
searches it (one run, or a first run then LNS by domain on the model, :mod:`packer.cpsat.lns`).
:func:`solve_decomposed` (huge instances) bounds by a merged relaxation and improves the hint by LNS
over sub-instances (:mod:`packer.cpsat.decompose`), in this process or as Ray tasks (:class:`SubTask`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ortools.sat.python import cp_model

from packer.cpsat import proof, tuning
from packer.cpsat.background import Background
from packer.cpsat.bound import branch_value
from packer.cpsat.decompose import SubJob, lns_by_domain, lns_by_domain_parallel
from packer.cpsat.lns import lns as lns_on_model
from packer.cpsat.lpchild import lp_value_in_child
from packer.cpsat.model import CpsatModel
from packer.cpsat.proof import capacity_or_none, lp_bound, lp_bound_stoppable, padded_bound, smaller
from packer.cpsat.reasons import reasons_until, unplaced_reasons
from packer.cpsat.result import NAME, fallback, modes_of, restamp
from packer.cpsat.timeplan import build_s, lns_plan, relaxation_choice, reserve_s
from packer.model import Instance, Plan, Unit
from packer.plans import build_plan, objective_value
from packer.progress import SILENT, Progress

if TYPE_CHECKING:
    from packer.parallel import TaskPool


def solve_monolithic(inst: Instance, hint_plan: Plan | None, *, seed: int, workers: int | None, start: float,
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
    if rem is None or rem > build_s(inst):
        model = CpsatModel(inst, aggregate=aggregate, uncounted=uncounted)
        info["model_s"] = round(time.perf_counter() - start, 3)
        info["classes"] = len(model.data.classes)
        info["groups"] = len(model.data.groups)
        info["variables"] = len(model.model.proto.variables)
        if hint_plan is not None:
            model.hint(hint_plan)
    rem = left()
    if model is None or (rem is not None and rem <= 0):
        return fallback(inst, hint_plan, seed, start, info, bound=capacity_or_none(inst, lp))

    lp_value: float | None = None
    big = len(model.vars.x) >= tuning.LNS_MIN_VARIABLES
    cores = workers if workers is not None else (os.cpu_count() or 1)
    # Big models in parallel runs: HiGHS solves the LP on a core of its own while the search starts
    # with one core fewer (HiGHS releases the GIL); one after the other, the LP held up the search by
    # 3.5-7 s on haein. Sharing a core with the search instead slowed the LP down twofold. With
    # LP_IN_CHILD it runs in a child process ended at its limit: HiGHS's own limit did not stop it on
    # sharing (still running 53 s into a run whose LP limit was 25 s), and until it ends the LNS runs
    # its steps one at a time.
    lp_job: Background | None = None
    lp_yields = False  # the LP beside the search runs at a lower OS priority (tuning.LP_NICE)
    if lp and (rem is None or rem > 2.0):
        if big and det is None and cores > 1:
            model.bound_form  # noqa: B018 - built here, not in the thread, while nothing else reads the model
            lp_limit = None if rem is None else tuning.LP_CONCURRENT_SHARE * rem
            nice = max(0, int(tuning.LP_NICE))
            if tuning.LP_IN_CHILD and nice:
                def way(m: CpsatModel, limit: float | None, form) -> float | None:  # type: ignore[no-untyped-def]
                    value = lp_value_in_child(form, limit, nice)
                    return None if value is None else padded_bound(m, value)
            else:
                way = lp_bound_stoppable if tuning.LP_IN_CHILD else lp_bound
            relaxed = RelaxedFirst(inst, lp_limit)

            def branch(m: CpsatModel, limit: float | None) -> float | None:
                if tuning.LP_IN_CHILD:
                    value = lp_value_in_child(m.bound_form, limit, nice, (m.lp_branch, ISOLATION_BRANCH_LPS))
                else:
                    value = branch_value(m.bound_form, m.lp_branch, time_limit=limit, max_lps=ISOLATION_BRANCH_LPS)
                return None if value is None else padded_bound(m, value)

            model_lp = ModelLp(model, way, branch)
            # A niced LP (thread or child) yields the cores to the search, which then keeps them all.
            lp_job = Background(lambda: model_lp.run(lambda: relaxed.then(model_lp.solve)),
                                nice=0 if tuning.LP_IN_CHILD else nice)
            lp_yields = nice > 0 or not tuning.LP_GATE
        else:
            lp_limit = None if rem is None else tuning.LP_SHARE * rem
            # CP-SAT's own LP converges late on big models, so HiGHS solves the relaxation first; on
            # small ones it takes milliseconds and is sometimes the tighter bound when no proof comes.
            lp_value = lp_bound(model, lp_limit)
            info["lp_bound"] = None if lp_value is None else round(lp_value, 6)
            info["lp_s"] = round(time.perf_counter() - start, 3)
            rem = left()
            lp_value = smaller(lp_value, capacity_or_none(inst, lp))
            if rem is not None and rem <= 0:
                return fallback(inst, hint_plan, seed, start, info, bound=lp_value)
    info["lp_beside_search"] = lp_job is not None
    info["lp_nice"] = int(tuning.LP_NICE) if lp_job is not None else 0
    info["lp_gate"] = lp_job is not None and not lp_yields
    # The LP holds a core meanwhile, unless it yields it (then the search runs on every core).
    search_workers = workers if lp_job is None or lp_yields else cores - 1
    info["solve_start_s"] = round(time.perf_counter() - start, 3)
    lns = lns_plan(inst, rem, det) if lp and big else None
    if lns is None:
        code = model.solve(time_limit=rem, seed=seed, workers=search_workers, progress=prog, params=params)
    else:
        # First a whole-model run (its bound, a first improvement), then LNS by domain on the model.
        level, per_step, first, step, steps, det_step = lns
        first_params = dict(params or {})
        if det is not None:
            first_params["max_deterministic_time"] = max(0.01, tuning.LNS_FIRST_SHARE * det)
        code = model.solve(time_limit=first, seed=seed, workers=search_workers, progress=prog, params=first_params)
        if code in (cp_model.FEASIBLE, cp_model.UNKNOWN):  # UNKNOWN: LNS starts from the hint
            rem = left()
            deadline = time.perf_counter() + (rem if rem is not None else 600.0)
            lns_on_model(model, level=level, domains_per_step=per_step, step_s=step, deadline=deadline,
                         seed=seed, workers=workers, steps=steps, det_step=det_step, progress=prog,
                         one_until=None if lp_job is None or lp_yields else relaxed.gate(model_lp.first))
            info["lns"] = {"level": level, "domains_per_step": per_step, **model.lns_stats}
    info["solve_end_s"] = round(time.perf_counter() - start, 3)
    if lp_job is not None:
        rem = left()
        lp_value = lp_job.result(timeout=None if rem is None else max(0.0, rem))
        if lp_value is None and model_lp.best is not None:
            # The cut LP or the branching had not ended: the LPs that had answered still bound the optimum.
            info["lp_unfinished"] = True
            lp_value = model_lp.best
        info["lp_bound"] = None if lp_value is None else round(lp_value, 6)
        info["lp_s"] = None if lp_job.ended is None else round(lp_job.ended - start, 3)
        info["lp_cpu_s"] = None if lp_job.cpu_s is None else round(lp_job.cpu_s, 3)
        info["lp_parts"] = dict(model_lp.parts)
        if relaxed.level is not None:
            info["relaxed_first"] = relaxed.info(start)
        lp_value = smaller(smaller(lp_value, relaxed.value), capacity_or_none(inst, lp))
    info["cpsat_status"] = model.solver.status_name(code) if model.solver else None
    bound: float | None = model.bound() if code in (cp_model.OPTIMAL, cp_model.FEASIBLE) else None
    if code != cp_model.OPTIMAL:
        extra = lp_value if lp_value is not None else capacity_or_none(inst, lp)
        if extra is not None:
            bound = extra if bound is None else min(bound, extra)
    if code == cp_model.UNKNOWN and model.values is not None:
        code = cp_model.FEASIBLE  # the LNS found a solution after a first run that found none
    if code == cp_model.INFEASIBLE:
        # Cannot happen for a valid instance (placing nothing is feasible) unless running work is stuck.
        return fallback(inst, hint_plan, seed, start, info, status="infeasible")
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return fallback(inst, hint_plan, seed, start, info, bound=bound)
    assert bound is not None
    placed, modes, dropped = model.placement()
    info["model_objective"] = round(model.objective(), 9)
    if any(inst.request(rid).placement is not None for rid in dropped):
        # A moved running request whose units did not pack (a share class past its pattern limit) would
        # go back where it ran, which the model gave to other work: this answer cannot be used.
        info["share_packing_dropped"] = sorted(dropped)
        return fallback(inst, hint_plan, seed, start, info, bound=bound)
    if dropped:
        info["share_packing_dropped"] = sorted(dropped)
    reasons = unplaced_reasons(inst, placed, modes)
    status = "optimal" if code == cp_model.OPTIMAL and not dropped else "feasible"
    if status == "optimal":
        # Proven for the model's objective (plus the host tie-break); the plan is optimal only when its
        # units packed as the model counted them (aggregated share classes pack by first fit) and its
        # value reaches the bound.
        status = "optimal" if objective_value(inst, placed) >= bound - 1e-6 else "feasible"
    plan = build_plan(inst, solver=NAME, placed=placed, unplaced=reasons, gpu_modes=modes, seed=seed,
                      wall_s=time.perf_counter() - start, bound=bound, status=status, solver_info=info)
    if hint_plan is not None and hint_plan.objective > plan.objective + 1e-9:
        return restamp(inst, hint_plan, seed, start, info, bound)
    prog.update(best=plan.objective, bound=bound, note="done", force=True)
    return plan


#: LPs of the branch and bound on node-isolated tenants' placed counts in an ISOLATION_CONFLICTS pair
#: that the LP beside the search runs in place of the LP with the cuts (bound.branch_value; its root is
#: that LP, so each split costs two LPs more); below 3: off. hetero-102: 1247.02 -> 1244.23 with 3,
#: 1243.53 with 5 (session 23). Off: in timed 60 s pairs (9 LPs, at load 9-11) the LP thread ran to
#: 43-57 s instead of 18-32 s and the LNS made 17-32% fewer steps on four of five instances.
ISOLATION_BRANCH_LPS = 0


class ModelLp:
    """The model's LP beside the search: first the model's own rows (the LNS's second step thread waits
    for it), then, where the model has LP-only cuts (:attr:`CpsatModel.lp_cuts`) and time is left, the
    same LP with them, which only the bound reads (or, where the model has columns to branch on,
    :attr:`CpsatModel.lp_branch`, and ISOLATION_BRANCH_LPS is on, a small branch and bound whose root is
    that LP); the smaller of the two answers. ``first`` is set once the first LP has answered or will
    not run."""

    def __init__(self, model: CpsatModel, way, branch=None) -> None:  # type: ignore[no-untyped-def]
        self.model = model
        self.way = way
        #: (model, limit) -> the branched bound (:data:`ISOLATION_BRANCH_LPS`), or None.
        self.branch = branch
        self.first = threading.Event()
        #: Each LP's answer and seconds: "plain", "cuts", "branch" (the solve's info, lp_parts).
        self.parts: dict[str, list[float | None]] = {}
        #: The smallest answer so far: what the solve reports if the last LP has not ended by then.
        self.best: float | None = None

    def run(self, job):  # type: ignore[no-untyped-def]
        try:
            return job()
        finally:
            self.first.set()

    def solve(self, limit: float | None) -> float | None:
        m = self.model
        t0 = time.perf_counter()

        def part(name: str, value: float | None) -> float | None:
            self.parts[name] = [None if value is None else round(value, 6), round(time.perf_counter() - t0, 3)]
            self.best = smaller(self.best, value)
            return value

        try:
            plain = part("plain", self.way(m, limit, m.linear_form))
        finally:
            self.first.set()
        if not m.lp_cuts or plain is None:
            return plain
        rest = None if limit is None else limit - (time.perf_counter() - t0)
        if rest is not None and rest <= 0.1:
            return plain
        if self.branch is not None and m.lp_branch and ISOLATION_BRANCH_LPS >= 3:
            # The branch and bound's root is the LP with the cuts: it answers with at least that.
            return smaller(plain, part("branch", self.branch(m, rest)))
        return smaller(plain, part("cuts", self.way(m, rest, m.bound_form)))


class RelaxedFirst:
    """The LP thread's first job: the bound of a merged-node relaxation (tuning.LP_RELAXED_LEVEL), then the
    model's own LP in what is left of the limit. The relaxation's LP is a small fraction of the model's
    (two super nodes against 128 nodes at 1,024 GPUs) and bounds the instance by itself, so a model LP
    that does not end in time no longer leaves the plan with the capacity bound (session 14).

    Off (``level`` None) for instances with running work: the relaxation keeps it, but the re-optimizer's
    budgets are not this thread's to weigh.
    """

    def __init__(self, inst: Instance, limit: float | None) -> None:
        running = any(r.placement is not None for r in inst.requests)
        self.level = None if running or tuning.LP_RELAXED_LEVEL is None else tuning.LP_RELAXED_LEVEL
        self._inst = inst
        self._limit = limit
        #: the relaxation's bound (None until it answers, or if it did not), and when it answered.
        self.value: float | None = None
        self.ended: float | None = None
        self.error: str | None = None
        #: the model LP's limit after the relaxation (tuning.LP_MODEL_CUT_FACTOR), if it was cut.
        self.cut: float | None = None
        #: set once the relaxation has answered or was skipped.
        self.done = threading.Event()

    def then(self, full):  # type: ignore[no-untyped-def]
        """Runs the relaxation, then ``full(limit left)`` (the model's LP), and returns the latter's value."""
        t0 = time.perf_counter()
        try:
            if self.level is not None:
                own = None if self._limit is None else tuning.LP_RELAXED_SHARE * self._limit
                try:
                    self.value = proof.relaxed_bound(self._inst, self.level, time_limit=own)
                except (ValueError, KeyError) as exc:  # a level this topology lacks: the model's LP alone
                    self.error = repr(exc)
                self.ended = time.perf_counter()
        finally:
            self.done.set()
        rest = None if self._limit is None else self._limit - (time.perf_counter() - t0)
        cut = self.cut_s(time.perf_counter() - t0)
        if cut is not None:
            rest = cut if rest is None else min(rest, cut)
            self.cut = cut
        if rest is not None and rest <= 0.1:
            return None
        return full(rest)

    def cut_s(self, took: float) -> float | None:
        """The model LP's limit once the relaxation answered in ``took`` wall seconds
        (tuning.LP_MODEL_CUT_FACTOR times that, at least tuning.LP_MODEL_CUT_MIN_S), or None (no cut: no
        bound from the relaxation, or the cut off). The relaxation ran on the same cores just before, so
        ``took`` is a unit of the machine's current speed: the model's LP is stopped where it costs
        many relaxations, which a bound the relaxation already gives to a tenth of a percent or so
        (sharing, inference, tenants; session 14) does not repay in the LNS's second step thread."""
        if self.value is None or tuning.LP_MODEL_CUT_FACTOR is None:
            return None
        return max(tuning.LP_MODEL_CUT_MIN_S, tuning.LP_MODEL_CUT_FACTOR * took)

    def gate(self, lp_done: threading.Event) -> threading.Event:
        """The event the LNS waits for before its second step thread: the model's LP's end, or (with
        tuning.LP_GATE_RELAXED and a relaxation that gave a bound) the relaxation's."""
        if not tuning.LP_GATE_RELAXED or self.level is None:
            return lp_done
        opened = threading.Event()

        def watch() -> None:
            self.done.wait()
            if self.value is None:
                lp_done.wait()
            opened.set()

        threading.Thread(target=watch, daemon=True).start()
        return opened

    def info(self, start: float) -> dict[str, object]:
        """What a plan's solver_info says of it: level, bound, when it answered (seconds from ``start``)."""
        return {"level": self.level, "bound": None if self.value is None else round(self.value, 6),
                "s": None if self.ended is None else round(self.ended - start, 3),
                **({"error": self.error} if self.error else {}),
                **({"model_lp_cut_s": round(self.cut, 3)} if self.cut is not None else {})}


def solve_decomposed(inst: Instance, hint_plan: Plan | None, *, seed: int, workers: int | None, start: float,
                      left, info: dict[str, object],  # type: ignore[no-untyped-def]
                      params: Mapping[str, object] | None = None, det: float | None = None,
                      pool: TaskPool | None = None) -> Plan:
    """Large-neighbourhood search over the coarsest topology domains, bounded by an LP.

    The bound is the LP of the finest merged-node relaxation that fits in time (see
    :func:`relaxation_choice`), else the capacity LP. With a ``pool`` on Ray the domains' sub-problems
    are solved in parallel rounds (:func:`lns_by_domain_parallel`), as tasks of :class:`SubTask`.
    """
    first_left = left()
    # The plan must be out by the time limit: the reserve (timeplan.reserve_s) is an estimate of the
    # final conversion, which under load can take several times as long (61 s against 16 s on
    # sharing2048-100 at load 7), so the conversion itself also stops at the limit.
    end = None if first_left is None else time.perf_counter() + first_left + reserve_s(inst) - tuning.RESERVE_S
    bound = capacity_or_none(inst, True)
    choice = relaxation_choice(inst, first_left)
    if choice is not None:
        level, typed = choice.level, choice.typed
        budget = None if choice.budget is None else choice.budget - choice.prepared_s
        used: dict[str, object] = {"level": level, "typed": typed, "estimate_s": round(choice.estimate_s, 3)}
        relaxed = proof.relaxed_bound(inst, level, time_limit=budget, typed=typed,
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

            return solve_monolithic(sub, sub_hint, seed=seed, workers=workers, start=t0, left=sub_left,
                                     info={}, params=params, lp=False, det=sub_det)

        if pool is not None and pool.on_ray:
            task = SubTask(seed=seed, workers=workers or 1, params=dict(params) if params else None)
            incumbent, counts = lns_by_domain_parallel(
                inst, incumbent, deadline=deadline, parallel=pool.parallel, det=det,
                solve_batch=lambda jobs, timeout: pool.map(task, jobs, timeout=timeout))
        else:
            incumbent, counts = lns_by_domain(inst, incumbent, deadline=deadline, solve_sub=solve_sub, det=det)
        stats = {**counts, "end_s": round(time.perf_counter() - start, 3)}
    info = {**info, "decomposed": stats}
    if hint_plan is not None and hint_plan.objective > objective_value(inst, incumbent) + 1e-9:
        return restamp(inst, hint_plan, seed, start, info, bound)  # the hint is better: no conversion to pay
    modes = modes_of(inst, incumbent)
    # The search's placement is worth at least the hint's (checked above), so it is kept even when the
    # reasons are not all found by the limit: those requests then say so (the time-limit reason).
    reasons, cut = reasons_until(inst, incumbent, modes, end if hint_plan is not None else None, solver=NAME,
                                 seconds=0.0 if end is None else round(end - start, 1))
    if cut:
        info = {**info, "conversion": f"reasons of {cut} unplaced requests not found by the time limit"}
    return build_plan(inst, solver=NAME, placed=incumbent, unplaced=reasons, gpu_modes=modes, seed=seed,
                      wall_s=time.perf_counter() - start, bound=bound, status="feasible", solver_info=info)


@dataclass(frozen=True)
class SubTask:
    """Solves one :class:`SubJob` with the monolithic model: a pure function of picklable inputs (a Ray task)."""

    seed: int
    workers: int | None
    params: dict[str, object] | None

    def __call__(self, job: SubJob) -> Plan:
        t0 = time.perf_counter()
        stop = t0 + min(job.budget_s, job.stop_at - time.time())

        def sub_left() -> float:
            return stop - time.perf_counter()

        return solve_monolithic(job.instance, job.hint, seed=self.seed, workers=self.workers, start=t0,
                                 left=sub_left, info={}, params=self.params, lp=False, det=job.det)


__all__ = ["RelaxedFirst", "SubTask", "solve_decomposed", "solve_monolithic"]
