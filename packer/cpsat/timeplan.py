"""The time plan of a CP-SAT solve: how the time limit is shared between hint, model, bound and search.

Pure arithmetic on the instance's structure and the time left (no solving here): the reserve kept
for the answer, the deterministic budget of reproducible runs, whether a model can be built at all,
which relaxation bounds a decomposed solve (:func:`relaxation_choice`, which builds the candidates'
data to count them), and the LNS schedule on a big model (:func:`lns_plan`). The numbers are in
:mod:`packer.cpsat.tuning`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

from packer.cpsat import tuning
from packer.cpsat.data import Data, build_data
from packer.cpsat.relax import (
    Relaxation,
    merge_levels,
    merged_relaxation,
    super_nodes,
    typed_relaxation,
    typed_super_nodes,
)
from packer.model import Instance


def reserve_s(inst: Instance) -> float:
    """Seconds kept back from the time limit for converting the answer and writing the plan."""
    return tuning.RESERVE_S + tuning.RESERVE_PER_GPU_S * inst.num_gpus


def time_left(inst: Instance, time_limit: float | None, start: float) -> Callable[[], float | None]:
    """A function giving the seconds left before the reserve (None without a time limit)."""

    def left() -> float | None:
        return None if time_limit is None else time_limit - (time.perf_counter() - start) - reserve_s(inst)

    return left


def deterministic_budget(inst: Instance, time_limit: float | None, workers: int | None,
                         params: object = None) -> float | None:
    """CP-SAT's deterministic time budget for a reproducible run (one worker, a limit), else None.

    CP-SAT then stops by deterministic time (a budget fixed by the time limit and the instance, not
    by the clock), so only the wall-clock safety stops depend on timing.
    """
    if workers == 1 and time_limit is not None and "max_deterministic_time" not in (params or {}):  # type: ignore[operator]
        return tuning.DET_PER_SECOND * max(0.0, time_limit - reserve_s(inst))
    return None


def build_s(inst: Instance) -> float:
    """Estimated seconds to build the whole instance's model (tuning.MODEL_S_PER_PAIR per request and node)."""
    return tuning.MODEL_S_PER_PAIR * len(inst.requests) * len(inst.nodes)


def online_first(inst: Instance) -> bool:
    """True when the hint comes from the online placer first (greedy is super-linear at this size)."""
    return len(inst.requests) * len(inst.nodes) > tuning.ONLINE_HINT_ABOVE


def hint_s(inst: Instance) -> float:
    """Estimated seconds for the online placer's hint of ``inst``: every new request placed, the plan
    built and checked (tuning.HINT_S_PER_REQUEST each, plus tuning.HINT_SETUP_S), over the share of
    the hint's time a placer may take (tuning.HINT_PLACER_SHARE)."""
    new = sum(1 for r in inst.requests if r.placement is None)
    return (tuning.HINT_SETUP_S + tuning.HINT_S_PER_REQUEST * new) / tuning.HINT_PLACER_SHARE


def greedy_s(inst: Instance) -> float:
    """Estimated seconds for the greedy placer on ``inst`` (tuning.GREEDY_S_PER_PAIR per new request and node)."""
    new = sum(1 for r in inst.requests if r.placement is None)
    return tuning.GREEDY_S_PER_PAIR * new * len(inst.nodes)


def hint_need_s(inst: Instance, avail: float) -> float:
    """Seconds the hint of an online-first instance asks for within ``avail``: the online placer's
    estimate, plus the greedy placer's (after it) where both fit in tuning.HINT_MAX_SHARE of ``avail``."""
    online = hint_s(inst)
    both = online + greedy_s(inst) / tuning.HINT_PLACER_SHARE
    return both if both <= tuning.HINT_MAX_SHARE * avail else online


def hint_budget(inst: Instance, avail: float) -> float:
    """Seconds of ``avail`` for the hint placers: tuning.HINT_SHARE, or on instances whose hint is
    the online placer's (:func:`online_first`) what :func:`hint_need_s` estimates, up to
    tuning.HINT_MAX_SHARE. The hint ends when its placers do, so a generous budget costs only what
    the greedy placer (second there) spends of it."""
    base = tuning.HINT_SHARE * avail
    if not online_first(inst):
        return base
    return min(tuning.HINT_MAX_SHARE * avail, max(base, hint_need_s(inst, avail)))


def no_move_share(inst: Instance, time_limit: float, base: float, final_s: float) -> float:
    """Share of a re-optimization's ``time_limit`` for its no-move plan: ``base``, or on instances
    solved by decomposition (tuning.DECOMPOSE_ABOVE pairs) all of it but ``final_s`` (the
    re-optimizer's own final plan). There the re-optimizer has no LP bound, only move steps, and the
    no-move solve (the hint by its estimate, :func:`hint_budget`, then LNS by pod) did better with
    the whole limit than the split of ``base`` and move steps: at 16,384 GPUs and 120 s, haein seed 0
    21,760.8 against 20,309.6 and fragmented seed 100 18,851.8 against 18,689.5
    (bench/bench_huge_running.py, bench/RESULTS_ray.md). Move steps run on what is left."""
    if time_limit <= 0 or len(inst.requests) * len(inst.nodes) <= tuning.DECOMPOSE_ABOVE:
        return base
    return max(base, 1.0 - final_s / time_limit)


class RelaxChoice(NamedTuple):
    """The relaxation chosen to bound a decomposed solve, built as far as its data."""

    level: str
    typed: bool
    #: Seconds for it in all (tuning.RELAX_SHARE of the time left; None: no limit), preparation included.
    budget: float | None
    relaxation: Relaxation
    data: Data
    #: Seconds already spent preparing the candidates (their relaxations and data).
    prepared_s: float
    #: The estimated seconds of its model and LP.
    estimate_s: float


def relaxation_choice(inst: Instance, rem: float | None,
                       clock: Callable[[], float] = time.perf_counter) -> RelaxChoice | None:
    """The relaxation whose LP bounds a decomposed solve, prepared (relaxed instance and data), or None.

    Candidates are the merged and the typed relaxation at every level with at most tuning.RELAX_MAX_PAIRS
    (request, super node) pairs. The one with the most super nodes keeps the most structure and is
    preferred (merged before typed, then the finer level): on xl that is the typed one at rack level
    (32 super nodes), which keeps the room of single racks and nodes that merging by cluster loses.
    In that order each candidate's data is built and its options counted; the first whose model and
    LP (tuning.RELAX_S_PER_OPTION per option, times 1 + tuning.RELAX_LP_PER_BUILD) fit in what is left of
    tuning.RELAX_SHARE of ``rem`` is chosen. Preparing stops once that share is spent, and a candidate
    whose data alone would not be built in what is left (:func:`relaxation_prep_s`) is passed over.
    """
    t0 = clock()
    budget = None if rem is None else tuning.RELAX_SHARE * rem
    ranked: list[tuple[tuple[int, int, int], str, bool]] = []
    for i, level in enumerate(merge_levels(inst)):
        for typed in (False, True):
            count = typed_super_nodes(inst, level) if typed else super_nodes(inst, level)
            if count * len(inst.requests) <= tuning.RELAX_MAX_PAIRS:
                ranked.append(((count, not typed, -i), level, typed))
    for _, level, typed in sorted(ranked, reverse=True):
        if budget is not None and clock() - t0 >= budget:
            return None
        relax = typed_relaxation(inst, level) if typed else merged_relaxation(inst, level)
        if budget is not None and relaxation_prep_s(relax.instance) > budget - (clock() - t0):
            continue  # its data alone would not be built in time (it is not interruptible)
        data = build_data(relax.instance, barred=relax.barred)
        estimate = relaxation_estimate_s(data)
        spent = clock() - t0
        if budget is None or estimate <= budget - spent:
            return RelaxChoice(level, typed, budget, relax, data, spent, estimate)
    return None


def relaxation_prep_s(relaxed: Instance) -> float:
    """Estimated seconds to build the data of a relaxed instance (tuning.RELAX_PREP_S_PER_PAIR per
    request and GPU class, a GPU class counted for every GPU that holds running work and three for
    every super node), known before building it."""
    running = {(u.node, u.gpu) for r in relaxed.requests if r.placement is not None for u in r.placement}
    return tuning.RELAX_PREP_S_PER_PAIR * len(relaxed.requests) * (len(running) + 3 * len(relaxed.nodes))


def relaxation_estimate_s(data: Data) -> float:
    """Estimated seconds to build the model of ``data`` and solve its LP (see tuning.RELAX_S_PER_OPTION).

    Only options that become variables count: running work that cannot move has options in the data
    but none in the model (on the 16,384-GPU ``fragmented`` clusters 1.03 of 1.09 million options,
    which made every relaxation look 17 times too dear to try)."""
    free = [gr.req.placement is None or gr.req.movable for gr in data.groups]
    options = sum(len(opts) for (gi, _), opts in data.options.items() if free[gi])
    return tuning.RELAX_S_PER_OPTION * options * (1 + tuning.RELAX_LP_PER_BUILD)


def lns_plan(inst: Instance, rem: float | None,
              det: float | None) -> tuple[str, int, float, float, int | None, float | None] | None:
    """(level, domains per step, first run's seconds, step seconds, steps, step det. time), or None.

    With ``det`` (reproducible runs) the first run's seconds are ``rem``: its deterministic budget stops it.

    None (one CP-SAT run on the whole model) without a time limit, with little time, or without a
    topology level of at least tuning.LNS_DOMAIN_SHARE domains. The level is the coarsest such level.
    """
    if rem is None or rem < tuning.LNS_MIN_S:
        return None
    best: tuple[int, str, int] | None = None
    for level in [lv for lv in inst.topology.levels if lv != "gpu"]:
        count = len({inst.domain(n, level) for n in inst.nodes})
        if count >= tuning.LNS_DOMAIN_SHARE and (best is None or count < best[0]):
            best = (count, level, count)
    if best is None:
        return None
    _, level, count = best
    first = min(tuning.LNS_FIRST_MAX_S, max(tuning.LNS_FIRST_MIN_S, tuning.LNS_FIRST_SHARE * rem))
    step = min(tuning.LNS_STEP_S, max(0.5, (rem - first) / 6))
    if det is None:
        return level, max(1, count // tuning.LNS_STEP_SHARE), first, step, None, None
    # Each step also clones, fixes and presolves the model, outside its deterministic budget: count it.
    det_step = min(tuning.LNS_STEP_S, max(0.5, (1 - tuning.LNS_FIRST_SHARE) * det / 6))
    steps = int((1 - tuning.LNS_FIRST_SHARE) * det / (det_step + tuning.LNS_STEP_OVERHEAD_S))
    # Reproducible: the first run stops at its deterministic budget (LNS_FIRST_SHARE of ``det``); its wall
    # limit is only the run's safety stop (``rem``). A wall limit of ``first`` stopped it before its budget
    # whenever CP-SAT did fewer than LNS_FIRST_SHARE * det / first deterministic units a second (0.48 on a
    # 30 s limit, against DET_PER_SECOND 0.4): two "reproducible" solves in one process then differed with
    # the load (session 27; tests/test_cpgap15_lpcut.py).
    return level, max(1, count // tuning.LNS_STEP_SHARE), rem, step, steps, det_step


__all__ = ["RelaxChoice", "build_s", "deterministic_budget", "greedy_s", "hint_budget", "hint_need_s", "hint_s", "lns_plan", "no_move_share", "online_first",
           "relaxation_choice", "relaxation_estimate_s", "relaxation_prep_s", "reserve_s", "time_left"]
