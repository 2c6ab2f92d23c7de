"""Fortified rollout over the known stream: in a batch run, each arrival's placement is the one whose
simulated completion of the rest of the stream is worth most.

``packer solve --solver online`` knows the requests still to come (the batch's forecast, as the bid
prices of :mod:`packer.online.reserve` use it). Requests still arrive one at a time in the caller's
order and each decision is final; what the forecast adds is a look-ahead by simulation (Bertsekas'
rollout, in its "fortified" form):

- **Base policies** :data:`BASES`: ``packer`` (with its bid prices), ``first-fit``, ``best-fit``,
  ``fgd``. Each keeps a placer that follows the decisions actually made.
- **Start**: every base places the whole stream on a copy of the empty (running-work) cluster; the
  best of these complete trajectories is stored.
- **Each arrival**: the candidates are what each base would do with this request now (a placement,
  or none) and leaving it unplaced. Every candidate is applied to a copy of every base's placer and
  that base completes the stream from there (:meth:`OnlinePlacer.fork`, :meth:`OnlinePlacer.commit`).
  When the best completion is worth more than the stored trajectory's rest, it becomes the stored
  trajectory; the request then takes the stored trajectory's next action.

The stored trajectory is complete and never worth less than at the start, so the plan is worth at
least each base policy's own run in the same order (first-fit's included), whatever the budget.

**Budget** (deterministic, not wall time, so plans are reproducible), in node-placements. The
start (bases × requests, each base's own run over the stream) is what makes the plan worth at least
every base, so it always runs, whole, at any size: every base's scan skips the nodes that cannot beat
its best so far (``packer``'s, and since session 8 best-fit's and FGD's, skip blocks of nodes and
single nodes by their aggregates with the same answers as a full scan; first-fit stops at the first
fit), so a base's run costs about one policy run whatever N (16,384 GPUs, xl-0 alone: packer 1.7 s,
first-fit 0.8, best-fit 1.6, FGD 4.4; before session 8 best-fit's and FGD's scored every node and took
10-100 s there, and only ``packer`` and first-fit started). Without a deadline the start's runs go to
threads (independent placers, read back in base order: the same plan). The steps are what the budget
buys: a simulated step placement may look at every node (a step forks every base from the state
now), so it counts N on a cluster of N nodes, and the rollout simulates ``budget // N`` placements in
all (:data:`DEFAULT_BUDGET`), the start's included. A step costs at most bases × (bases + 1) ×
requests left; a step that does not fit what is left follows the stored trajectory without
simulating (later steps, with fewer requests left, may fit again). When no step can fit any more (the
start alone exceeds the budget: 16,384 GPUs by default), only the placer that holds the plan follows
the arrivals (the others would only be forked by a step). Past a deadline the start runs no further
base (the best complete run so far is the stored trajectory) and the requests not reached are
declined, as without the rollout.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from packer import reasons
from packer.model import Instance, Request
from packer.online.placer import OnlinePlacer
from packer.online.policies import TargetWorkload
from packer.online.state import G_NODE

#: The base policies, in tie order (the first of equal completions wins).
BASES = ("packer", "first-fit", "best-fit", "fgd")

#: The bases whose start always runs, at any budget: every base, since each one's placements skip the
#: nodes that cannot beat its best so far (``packer``'s and, since session 8, best-fit's and FGD's
#: scans prune blocks of nodes by their aggregates; first-fit stops at the first fit), so a base's run
#: over the stream costs about one policy run whatever N (16,384 GPUs: seconds).
ALWAYS = BASES

#: Node-placements a solve may spend by default: 125,000 simulated placements on 8 nodes (64 GPUs:
#: every step of every report instance, 52-44,928 used); 7,812 on 128 nodes (1,024 GPUs: the start,
#: 4 × ≤ 850, then the last 1-21 steps, ~0.3-2.6 s); 488 on 2,048 nodes (16,384 GPUs: less than the
#: start, which runs whole anyway; no step). Figures: bench/RESULTS_online.md, sessions 5, 6 and 8.
DEFAULT_BUDGET = 1_000_000

_EPS = 1e-9

#: Threads the start's base runs may use at most (one per base, no more than the CPUs).
START_THREADS = 4

#: An action: the kernel rows a request takes (None: left unplaced) and its objective value.
Action = tuple[np.ndarray | None, float]


@dataclass
class RolloutInfo:
    """What the rollout did (the plan's ``solver.rollout``)."""

    budget: int  # node-placements
    allowed: int = 0  # simulated placements the budget allows (budget // nodes)
    bases: tuple[str, ...] = BASES  # the bases of the start (:data:`ALWAYS`: all of them, at any budget)
    simulated: int = 0  # placements simulated in all
    steps: int = 0  # arrivals decided by simulation (the others followed the stored trajectory)
    improved: int = 0  # arrivals whose simulation found a trajectory better than the stored one
    start_base: str = ""  # the base whose own run was the first stored trajectory
    start_value: float = 0.0
    value: float = 0.0  # the plan's value of new requests (Σ priority × size − soft locality penalty)
    fallback: bool = False  # True: the deadline stopped the start before every base of ``bases`` had run
    base_values: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"budget": self.budget, "allowed": self.allowed, "bases": list(self.bases), "simulated": self.simulated, "steps": self.steps,
                "improved": self.improved, "start_base": self.start_base, "start_value": round(self.start_value, 6),
                "value": round(self.value, 6), "fallback": self.fallback,
                "base_values": {k: round(v, 6) for k, v in self.base_values.items()}}


def start_cost(n: int, bases: int = len(BASES)) -> int:
    """Simulated placements of the start: every base over the whole stream."""
    return bases * n


def step_cost(left: int, bases: int = len(BASES)) -> int:
    """At most the simulated placements of one step with ``left`` requests still to place (this one
    included): each base from the state now, then every other candidate under every base."""
    return bases * (bases + 1) * left


def value_of(placer: OnlinePlacer, req: Request, rows: np.ndarray, size: float) -> float:
    """Objective value of ``req`` on ``rows`` (SPEC §4 for a new request): priority × size, less the
    soft-locality penalty per extra domain."""
    v = req.priority * size
    loc = req.locality
    if loc is None or loc.required or loc.level == "cluster":
        return v
    if req.kind == "host":
        nodes = rows[:, 0]
        keys = nodes if loc.level in ("node", "gpu") else placer.domains.dom[loc.level][nodes]
    elif loc.level == "gpu":
        keys = rows[:, 0]
    else:
        nodes = placer.a.g32[rows[:, 0], G_NODE]
        keys = nodes if loc.level == "node" else placer.domains.dom[loc.level][nodes]
    extra = len(np.unique(keys)) - 1
    return v - placer.inst.objective.locality_weight * extra


def _place(p: OnlinePlacer, req: Request) -> Action:
    res = p.place(req, explain=False)
    if not res.ok:
        return None, 0.0
    rec = p._placed[req.id]
    return rec.rows, value_of(p, req, rec.rows, rec.size)


def _commit(p: OnlinePlacer, req: Request, rows: np.ndarray | None) -> float:
    p.commit(req, rows)
    if rows is None:
        return 0.0
    rec = p._placed[req.id]
    return value_of(p, req, rec.rows, rec.size)


def complete(p: OnlinePlacer, reqs: Sequence[Request], start: int) -> tuple[list[Action], float]:
    """Places ``reqs[start:]`` on ``p`` with its own policy: the actions and their total value."""
    acts = [_place(p, r) for r in reqs[start:]]
    return acts, sum(v for _, v in acts)


def _key(rows: np.ndarray | None) -> bytes | None:
    if rows is None:
        return None
    return np.ascontiguousarray(rows[:, :3]).tobytes()  # GPU (node for host), profile, start of each unit


def refused(req: Request) -> str:
    """The reason of a request that a base could place but the rollout left unplaced."""
    return reasons.reason(reasons.OBJECTIVE, f"left unplaced at priority {req.priority:g}: simulating the "
                                             "requests still to come, the plan is worth more without it")


class Rollout:
    """One fortified rollout over ``reqs`` (new requests, in arrival order) of ``inst``."""

    def __init__(self, inst: Instance, reqs: Sequence[Request], *, seed: int = 0, budget: int = DEFAULT_BUDGET,
                 bases: Sequence[str] = BASES) -> None:
        self.inst, self.reqs = inst, list(reqs)
        allowed = int(budget) // max(len(inst.nodes), 1)
        if start_cost(len(self.reqs), len(bases)) > allowed:
            # the start of the :data:`ALWAYS` bases runs whatever the budget: without it the plan
            # could be worth less than a base's own run
            bases = [b for b in bases if b in ALWAYS] or list(bases[:1])
            allowed = max(allowed, start_cost(len(self.reqs), len(bases)))
        self.info = RolloutInfo(budget=int(budget), allowed=allowed, bases=tuple(bases))
        target = TargetWorkload.from_instance(inst)  # the same for every base: built once
        self.placers = [OnlinePlacer(inst, b, seed=seed, target=target) for b in bases]
        for p in self.placers:
            p.expect(self.reqs)  # only packer reads it (its bid prices)
        self._diag: OnlinePlacer | None = None  # see :meth:`_reason`

    def run(self, *, deadline: float | None = None, time_limit: float | None = None) -> OnlinePlacer:
        """Places every request (or declines it past ``deadline``, a ``time.perf_counter()`` value);
        the first base's placer holds the plan."""
        reqs, info, nb = self.reqs, self.info, len(self.placers)
        n = len(reqs)
        stored: list[Action] = []
        best = -np.inf
        for name, (acts, tot) in zip(info.bases, self._start(deadline), strict=False):
            info.simulated += len(acts)
            info.base_values[name] = tot
            if tot > best + _EPS:
                stored, best, info.start_base = acts, tot, name
        if len(info.base_values) < len(self.placers):
            info.fallback = True  # the deadline left the bases not run yet out of the start
        info.start_value = best
        pos = 0  # stored[pos] is the stored trajectory's action for request i
        # the placers that follow the decisions: all of them while a step may still fit the budget (a
        # step simulates from every base's state); when none can (the cheapest step, two requests
        # left, does not fit what the start left: 16,384 GPUs by default), only the one that holds
        # the plan, so the arrivals cost one commit each, not one per base (same plan)
        followers = self.placers if info.simulated + step_cost(2, nb) <= info.allowed else self.placers[:1]
        for i, req in enumerate(reqs):
            if deadline is not None and time.perf_counter() > deadline:
                self._diag = None
                for p in followers:
                    p.commit(req, None, reasons.time_limit("online placer", time_limit or 0.0))
                continue
            left = n - i
            if left > 1 and info.simulated + step_cost(left, nb) <= info.allowed:
                acts, tot = self._step(i)
                info.steps += 1
                if tot > best + _EPS:
                    stored, pos, best = acts, 0, tot
                    info.improved += 1
            rows, v = stored[pos]
            pos += 1
            best -= v
            if rows is None:
                reason = self._reason(req)
            else:
                reason = None
                self._diag = None  # the plan's placer changes: the diagnosis copy no longer follows it
            for p in followers:
                p.commit(req, rows, reason)
            info.value += v
        return self.placers[0]

    def _start(self, deadline: float | None) -> Iterator[tuple[list[Action], float]]:
        """Each base's own run over the whole stream, in base order. Without a deadline the runs go
        to threads (:data:`START_THREADS` at most): they are independent (each base has its own
        placer and scratch arrays; the kernels release the GIL), and the results are read in base
        order, so the plan is the same as run one after the other. With a deadline they run one
        after the other, and none starts past it once one has run."""
        workers = min(len(self.placers), START_THREADS, os.cpu_count() or 1)
        if deadline is None and workers > 1:
            with ThreadPoolExecutor(max_workers=workers) as ex:
                futs = [ex.submit(complete, p.fork(), self.reqs, 0) for p in self.placers]
                for f in futs:
                    yield f.result()
            return
        for k, p in enumerate(self.placers):
            if k > 0 and deadline is not None and time.perf_counter() > deadline:
                return
            yield complete(p.fork(), self.reqs, 0)

    def _step(self, i: int) -> tuple[list[Action], float]:
        """The best completion from arrival ``i`` over every candidate and base."""
        reqs, req = self.reqs, self.reqs[i]
        best: list[Action] = []
        best_v = -np.inf
        own: list[bytes | None] = []
        cands: dict[bytes | None, np.ndarray | None] = {}
        for p in self.placers:  # each base from the state now: its choice, and one completion
            acts, tot = complete(p.fork(), reqs, i)
            self.info.simulated += len(acts)
            k = _key(acts[0][0])
            own.append(k)
            cands.setdefault(k, acts[0][0])
            if tot > best_v + _EPS:
                best, best_v = acts, tot
        cands.setdefault(None, None)  # leaving it unplaced
        for k, rows in cands.items():
            for p, k_own in zip(self.placers, own, strict=True):
                if k == k_own:
                    continue
                q = p.fork()
                v0 = _commit(q, req, rows)
                acts, tot = complete(q, reqs, i + 1)
                self.info.simulated += len(acts) + 1
                if v0 + tot > best_v + _EPS:
                    best, best_v = [(rows, v0), *acts], v0 + tot
        return best, best_v

    def _reason(self, req: Request) -> str:
        """Why ``req`` is left unplaced: the ``packer`` base's diagnosis, or the rollout's choice.

        The diagnosis runs on a copy of the plan's placer. A place that fails changes no state (a
        gang's units tried are taken back; the forecast counts the request as arrived, as the
        commit that follows does), so after it the copy is again the placer's equal and serves the
        next unplaced request too: one copy per run of unplaced requests, not one per request
        (xl-0: 1,542 unplaced requests, a fork each cost ~0.6 s). Any request placed ends the run."""
        q = self._diag if self._diag is not None else self.placers[0].fork()
        res = q.place(req)
        if res.ok:
            self._diag = None
            return refused(req)
        self._diag = q
        return str(res.reason)


__all__ = ["ALWAYS", "BASES", "DEFAULT_BUDGET", "Rollout", "RolloutInfo", "complete", "start_cost", "step_cost", "value_of"]
