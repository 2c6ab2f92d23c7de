"""Periodic re-optimisation for the deferral replay: a few migrations that let waiting pods start.

:class:`Rebalancer` plugs into :func:`packer.replay.deferral.replay_deferral`'s rebalance hook
(``packer replay --protocol deferral --rebalance-every N --max-moves B --migration-budget PCT``).
It sees only the hook's :class:`~packer.replay.deferral.ClusterView`, so it works on top of any
placement policy (the policy still chooses where every pod arrives and the devices of every move).

**What one call does** (every N events; at once ``None`` when nothing waits or the budget is spent):

1. *Needs.* The waiting GPU pods that have waited at least as long as the median wait of the pods
   that departures served so far (the rebalancer measures both from its calls; none served yet: no
   patience): a migration is spent on a pod the departures are not about to serve. They are grouped
   by shape (CPU, memory, GPU count, GPU milli, model set), largest GPU demand first (at most
   ``max_shapes``). CPU-only waiting pods are not served by moving (they add nothing to GPU
   allocation) but take part in step 4 like any other waiting pod.
2. *Where the least movement frees the most.* Only *movable* pods count: those that some other node
   holds now (CPU, memory, idle devices, model). For a shape, every node of an allowed model with
   enough GPUs is ranked by the movable pods that must leave its devices, largest first, so that k of
   them have the shape's idle milli (the k cheapest devices), plus one per short resource (CPU,
   memory); a node that stays short even with every movable pod gone is out. On the ``max_nodes``
   cheapest (ties: most idle GPU milli first) the exact eviction set is built: devices are freed one
   at a time, largest movable pods first, each time on the device needing the fewest new evictions (a
   multi-GPU pod frees all its devices); then the movable pods with the most CPU (memory) go until
   the shape's CPU (memory) fits.
3. *Make before break.* Every evicted pod needs a destination node that holds it *now* (the view's
   free CPU, memory and idle devices; the source releases it only after the destination took it),
   other than the node being freed. Each node is touched once per call (freed, or receiving one
   pod), so the view stays exact for every check and the replay accepts every move issued. The
   destination is the tightest one: least idle GPU milli, then least free CPU (a CPU-only pod thus
   goes first to nodes whose GPUs are all taken, where its CPU costs no GPU pod anything).
4. *Value.* The plan's gain is simulated as the replay will act: the waiting pods, in arrival order,
   are tried on the freed node (best-fit devices) and the GPU milli of those that fit is the gain;
   pods claimed by an earlier plan of the same call are not counted twice. Plans are taken by gain
   per migration, highest first, while gain per migration >= ``min_gain_per_move`` and the call's and
   run's budgets allow.

Rules measured and left off (chained moves, device-fit destinations, pairing lone partial pods, re-pairing
after departures; sessions 20-24, bench/RESULTS_replay.md) were removed in session 26 (git tag ``flags-s25``).

**Pacing** (``pace_pct``; :func:`replay_dynamic` sets it to the run's budget share). The migrations issued
so far never exceed ``pace_pct`` % of the pods that have arrived so far: the budget is earned as pods
arrive, as an operator's "at most one migration per hundred pods admitted" would be. Without it, a run
budget spendable at once goes to the first plans that clear the bar, long before the cluster saturates;
with it, the bar can be any positive gain (``min_gain_per_move`` = 1, :func:`replay_dynamic`'s default)
and the budget still reaches the busy end of the trace, where arrivals bunch up and pods wait. Only the
past is used: the count of pods seen so far.

**Counting.** Each move issued is applied by the replay (step 3 makes it legal), so issued =
applied; :attr:`Rebalancer.issued` never exceeds ``budget``, and the replay reports the moves applied
and the distinct pods migrated (a pod moved twice counts twice as a move, once as a pod).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import median
from typing import Any

import numpy as np

from packer.replay.deferral import ClusterView, Move, make_deferral_stream, replay_deferral, saturation_time
from packer.replay.openb import Cluster, Pods


def _model_ok(spec: int, model: np.ndarray) -> np.ndarray:
    """Nodes whose GPU model a pod with model set ``spec`` accepts (0: any)."""
    if spec == 0:
        return np.ones(len(model), bool)
    return ((spec >> np.maximum(model, 0)) & 1).astype(bool) & (model >= 0)


@dataclass
class _Plan:
    node: int  # the node freed
    evict: list[int]  # pods leaving it
    dest: list[int]  # their destinations (same order)
    gain: int  # GPU milli of waiting pods that start on the freed node
    claims: list[int]  # those waiting pods
    moves: list[tuple[int, int]]  # (pod, node) in issue order


@dataclass
class Rebalancer:
    """A rebalance hook (see the module docstring): call it with a :class:`ClusterView`.

    ``budget``: migrations allowed over the whole run; ``per_call``: at most this many per call (set it
    to the replay's ``max_moves``); ``min_gain_per_move``: GPU milli a migration must start (1000, one
    GPU's worth, suits an unpaced hook; :func:`replay_dynamic` paces and takes any gain);
    ``max_shapes``/``max_nodes``: how many waiting shapes and candidate nodes per shape are examined;
    ``pace_pct``: if set, the migrations issued so far never exceed this % of the pods that have arrived so
    far (the budget is earned as pods arrive instead of being spendable at once; see the module docstring);
    """

    cluster: Cluster
    budget: int
    per_call: int = 8
    min_gain_per_move: int = 1000
    max_shapes: int = 16
    max_nodes: int = 12
    patience: bool = True
    pace_pct: float | None = None
    issued: int = 0
    arrived: int = 0  # pods arrived so far, as far as the views show (see __call__)
    calls: int = 0
    first_seen: dict[int, float] = field(default_factory=dict)  # waiting pod -> first call that saw it wait
    served_waits: list[float] = field(default_factory=list)  # waits of pods the departures served
    _prev: set[int] = field(default_factory=set)
    _claimed: set[int] = field(default_factory=set)
    log: list[tuple[float, int, int]] = field(default_factory=list)  # (time, pod, destination) per move

    def __call__(self, view: ClusterView) -> list[Move] | None:
        self.calls += 1
        # Pod indices follow arrival order and the latest arrival is still running or waiting (it leaves only
        # after its duration), so the largest index in view counts the pods that have arrived so far.
        last = max(max(view.running, default=-1), max(view.waiting, default=-1))
        self.arrived = max(self.arrived, last + 1)
        allowance = self.budget - self.issued
        if self.pace_pct is not None:
            allowance = min(allowance, int(self.pace_pct * self.arrived / 100.0) - self.issued)
        left = min(self.per_call, allowance)
        if left <= 0 and self.pace_pct is None:
            return None
        now = view.time
        queue = set(view.waiting)
        for i in self._prev - queue:  # started since the last call
            t0 = self.first_seen.pop(i)
            if i not in self._claimed:
                self.served_waits.append(now - t0)
        for i in view.waiting:
            self.first_seen.setdefault(i, now)
        self._prev = queue
        if left <= 0 or not view.waiting:  # paced: the waits above are still measured while the budget is earned
            return None
        p = view.pods
        wait = np.array(view.waiting, np.int64)
        wait_min = median(self.served_waits) if self.patience and self.served_waits else 0.0
        gw = np.array([i for i in view.waiting if p.gpu_milli[i] > 0 and now - self.first_seen[i] >= wait_min],
                      np.int64)
        if not len(gw):
            return None
        state = _State(view, self.cluster)
        plans = [q for shape in _shapes(p, gw)[:self.max_shapes] for q in self._plans(state, shape, left, wait)]
        plans.sort(key=lambda q: (-q.gain / len(q.moves), len(q.moves), q.node))
        moves: list[Move] = []
        used: set[int] = set()
        claimed: set[int] = set()
        for q in plans:
            if len(moves) + len(q.moves) > left or q.node in used:
                continue
            route = state.routes(q.node, q.evict, used | {q.node})
            if route is None or len(moves) + len(route) > left:
                continue
            gain, claims = state.gain(q.node, q.evict, wait, claimed)
            if gain < self.min_gain_per_move * len(route):
                continue
            used.add(q.node)
            used.update(d for _, d in route)
            used.update(state.view.running[j][0] for j, _ in route)
            claimed.update(claims)
            self._claimed.update(claims)
            for j, d in route:
                moves.append(Move(pod=j, node=d))
                self.log.append((view.time, j, d))
        self.issued += len(moves)
        return moves or None

    def _plans(self, state: _State, shape: tuple[int, ...], left: int, wait: np.ndarray) -> list[_Plan]:
        """Plans for one waiting shape on its cheapest candidate nodes (each worth its migrations)."""
        cpu, mem, num, milli, spec = shape
        cost = state.rank_cost(cpu, mem, num, milli, spec)
        cand = np.flatnonzero(cost <= left)
        cand = cand[np.lexsort((cand, -state.idle_total[cand], cost[cand]))][:self.max_nodes]
        out = []
        for n in cand.tolist():
            evict = state.evict_set(n, cpu, mem, num, milli, left)
            if not evict:  # None: impossible within ``left``; []: it fits already (it cannot: it waits)
                continue
            route = state.routes(n, evict, {n})
            if route is None or len(route) > left:
                continue
            gain, claims = state.gain(n, evict, wait, set())
            if gain >= self.min_gain_per_move * len(route):
                out.append(_Plan(n, evict, [d for _, d in route[-len(evict):]], gain, claims, route))
        return out


def _shapes(p: Pods, gw: np.ndarray) -> list[tuple[int, ...]]:
    """Distinct shapes of the waiting GPU pods, largest GPU demand first (then arrival order)."""
    seen: dict[tuple[int, ...], int] = {}
    for k, i in enumerate(gw.tolist()):
        s = (int(p.cpu[i]), int(p.mem[i]), int(p.num_gpu[i]), int(p.gpu_milli[i]), int(p.spec[i]))
        seen.setdefault(s, k)
    return sorted(seen, key=lambda s: (-s[2] * s[3], seen[s]))


class _State:
    """The view's state plus, per node, the running pods that can move (some other node holds them now)
    and, per device, the GPU milli of those pods, largest first (padded with 0)."""

    def __init__(self, view: ClusterView, cluster: Cluster) -> None:
        self.view, self.p = view, view.pods
        self.gpus, self.model = cluster.gpus, cluster.model
        self.valid = np.arange(8)[None, :] < cluster.gpus[:, None]
        self.idle_total = np.where(self.valid, view.idle, 0).sum(axis=1)
        self.by_node: dict[int, list[int]] = {}  # movable pods only
        self.mask: dict[int, int] = {}
        n_nodes = len(cluster.gpus)
        self.mov_cpu = np.zeros(n_nodes, np.int64)
        self.mov_mem = np.zeros(n_nodes, np.int64)
        per_dev: dict[tuple[int, int], list[int]] = {}
        if view.running:
            ids = np.fromiter(view.running.keys(), np.int64, len(view.running))
            nm = np.array(list(view.running.values()), np.int64).reshape(-1, 2)
            room = self._room_counts(ids, nm[:, 0])
            self._add_movable(ids[room >= 1], nm[room >= 1], per_dev)
        self._dev_table(per_dev)

    def _add_movable(self, ids: np.ndarray, nm: np.ndarray, per_dev: dict[tuple[int, int], list[int]]) -> None:
        p = self.p
        for i, (n, m) in zip(ids.tolist(), nm.tolist(), strict=True):
            self.by_node.setdefault(n, []).append(i)
            self.mask[i] = m
            self.mov_cpu[n] += int(p.cpu[i])
            self.mov_mem[n] += int(p.mem[i])
            if p.gpu_milli[i] > 0:
                for d in range(8):
                    if m >> d & 1:
                        per_dev.setdefault((n, d), []).append(int(p.gpu_milli[i]))

    def _dev_table(self, per_dev: dict[tuple[int, int], list[int]]) -> None:
        depth = max((len(v) for v in per_dev.values()), default=0)
        self.dev_milli = np.zeros((len(self.gpus), 8, max(depth, 1)), np.int64)
        for (n, d), v in per_dev.items():
            self.dev_milli[n, d, :len(v)] = sorted(v, reverse=True)

    def _room_counts(self, ids: np.ndarray, node: np.ndarray) -> np.ndarray:
        """Per running pod, how many nodes other than its own hold it now (CPU, memory, idle devices, model)."""
        v, p = self.view, self.p
        out = np.zeros(len(ids), np.int64)
        key = np.stack([p.num_gpu[ids], p.gpu_milli[ids], p.spec[ids]], axis=1)
        uniq, inv = np.unique(key, axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        for u, (k, milli, spec) in enumerate(uniq.tolist()):
            if milli > 0:
                ok = (((v.idle >= milli) & self.valid).sum(axis=1) >= k) & _model_ok(spec, self.model)
            else:
                ok = np.ones(len(v.free_cpu), bool)
            sel = np.flatnonzero(inv == u)
            nodes = np.flatnonzero(ok)
            hold = ((v.free_cpu[nodes][None, :] >= p.cpu[ids[sel]][:, None])
                    & (v.free_mem[nodes][None, :] >= p.mem[ids[sel]][:, None]))
            own = ok[node[sel]] & (v.free_cpu[node[sel]] >= p.cpu[ids[sel]]) & (v.free_mem[node[sel]] >= p.mem[ids[sel]])
            out[sel] = hold.sum(axis=1) - own
        return out

    def rank_cost(self, cpu: int, mem: int, num: int, milli: int, spec: int) -> np.ndarray:
        """Per node, how many movable pods must leave its devices so ``num`` of them have ``milli`` idle
        (largest first per device; the ``num`` cheapest devices), inf where they cannot or where CPU or
        memory stay short even with every movable pod gone."""
        v = self.view
        have = v.idle[:, :, None] + np.cumsum(self.dev_milli, axis=2)
        reach = have >= milli
        dev = np.where(reach.any(axis=2), reach.argmax(axis=2) + 1, np.inf)
        dev[v.idle >= milli] = 0
        dev[~self.valid] = np.inf
        cost = np.sort(dev, axis=1)[:, :num].sum(axis=1)
        cost += (v.free_cpu < cpu) + (v.free_mem < mem)
        bad = (self.gpus < num) | ~_model_ok(spec, self.model)
        bad |= (v.free_cpu + self.mov_cpu < cpu) | (v.free_mem + self.mov_mem < mem)
        cost[bad] = np.inf
        return cost

    def evict_set(self, n: int, cpu: int, mem: int, num: int, milli: int, left: int) -> list[int] | None:
        """The pods to move off node ``n`` so the shape fits there (None: more than ``left`` or impossible)."""
        p, g = self.p, int(self.gpus[n])
        row = self.view.idle[n, :g].copy()
        fc, fm = int(self.view.free_cpu[n]), int(self.view.free_mem[n])
        here = list(self.by_node.get(n, []))
        out: list[int] = []

        def evict(j: int) -> None:
            nonlocal fc, fm
            out.append(j)
            here.remove(j)
            fc += int(p.cpu[j])
            fm += int(p.mem[j])
            for d in range(g):
                if self.mask[j] >> d & 1:
                    row[d] += int(p.gpu_milli[j])

        def need(d: int) -> list[int]:  # pods to evict, largest first, until device d has ``milli`` idle
            on = sorted((j for j in here if self.mask[j] >> d & 1 and p.gpu_milli[j] > 0),
                        key=lambda j: (-int(p.gpu_milli[j]), j))
            short, take = milli - int(row[d]), []
            for j in on:
                if short <= 0:
                    break
                take.append(j)
                short -= int(p.gpu_milli[j])
            return take if short <= 0 else [-1] * (left + 1)

        chosen: set[int] = set()
        if milli > 0:
            for _ in range(num):
                opts = [(len(need(d)), d) for d in range(g) if d not in chosen]
                if not opts:
                    return None
                k, d = min(opts)
                if len(out) + k > left:
                    return None
                for j in need(d):
                    evict(j)
                chosen.add(d)
        for short, res in ((lambda: fc < cpu, p.cpu), (lambda: fm < mem, p.mem)):
            while short():
                if not here or len(out) >= left:
                    return None
                evict(max(here, key=lambda j, res=res: (int(res[j]), -j)))
        return out

    def _direct(self, j: int, taken: set[int]) -> int:
        """The tightest node not in ``taken`` that holds pod ``j`` now (-1: none)."""
        v, p = self.view, self.p
        c, m, k, milli = int(p.cpu[j]), int(p.mem[j]), int(p.num_gpu[j]), int(p.gpu_milli[j])
        ok = (v.free_cpu >= c) & (v.free_mem >= m)
        if milli > 0:
            ok &= ((v.idle >= milli) & self.valid).sum(axis=1) >= k
            ok &= _model_ok(int(p.spec[j]), self.model)
        if taken:
            ok[list(taken)] = False
        cand = np.flatnonzero(ok)
        if not len(cand):
            return -1
        return int(cand[np.lexsort((cand, v.free_cpu[cand], self.idle_total[cand]))][0])

    def destinations(self, n: int, evict: list[int], used: set[int]) -> list[int] | None:
        """A node for every evicted pod that holds it now, none in ``used`` and each used once (None: no)."""
        taken = set(used)
        out = []
        for j in evict:
            d = self._direct(j, taken)
            if d < 0:
                return None
            out.append(d)
            taken.add(d)
        return out

    def routes(self, n: int, evict: list[int], used: set[int]) -> list[tuple[int, int]] | None:
        """The moves that empty ``evict`` off node ``n``, in the order to issue them (None: no way): each
        evicted pod goes to a node that holds it now (:meth:`destinations`' rule). Every other node is
        touched by one plan only, so each move is legal when the replay applies it in this order."""
        dest = self.destinations(n, evict, used)
        return None if dest is None else list(zip(evict, dest, strict=True))

    def gain(self, n: int, evict: list[int], wait: np.ndarray, claimed: set[int]) -> tuple[int, list[int]]:
        """GPU milli of the waiting pods (arrival order) that start on node ``n`` once ``evict`` left it."""
        v, p, g = self.view, self.p, int(self.gpus[n])
        fc = int(v.free_cpu[n]) + int(p.cpu[evict].sum())
        fm = int(v.free_mem[n]) + int(p.mem[evict].sum())
        row = v.idle[n, :g].copy()
        for j in evict:
            for d in range(g):
                if self.mask[j] >> d & 1:
                    row[d] += int(p.gpu_milli[j])
        spec = p.spec[wait]
        mod = int(self.model[n])
        ok = (p.cpu[wait] <= fc) & (p.mem[wait] <= fm) & (p.num_gpu[wait] <= g)
        ok &= (spec == 0) | (((spec >> max(mod, 0)) & 1).astype(bool) & (mod >= 0))
        gain, claims = 0, []
        for i in wait[ok].tolist():
            if i in claimed:
                continue
            c, m, k, milli = int(p.cpu[i]), int(p.mem[i]), int(p.num_gpu[i]), int(p.gpu_milli[i])
            if c > fc or m > fm:
                continue
            if milli > 0:
                fit = [d for d in range(g) if row[d] >= milli]
                if len(fit) < k:
                    continue
                for d in sorted(fit, key=lambda d: (int(row[d]), d))[:k]:
                    row[d] -= milli
                gain += k * milli
            fc -= c
            fm -= m
            claims.append(i)
        return gain, claims


def replay_dynamic(cluster: Cluster, pods: Pods, policy: str, seed: int, *, compress: float = 10000.0,
                   inflation: float = 1.3, rebalance_every: int = 0, max_moves: int = 0,
                   budget_pct: float = 1.0, min_gain_per_move: int = 1, pace: bool = True,
                   stream: Any = None, tp: Any = None) -> dict[str, Any]:
    """One seed of the deferral replay, with the :class:`Rebalancer` when ``rebalance_every`` and
    ``max_moves`` are > 0 (run budget: ``budget_pct`` % of the pods, rounded down; ``pace``: earned as
    pods arrive, at ``budget_pct`` % of the arrivals so far; ``min_gain_per_move``: GPU milli a migration
    must start, by default any).

    KPIs (besides :func:`replay_deferral`'s): ``pods_migrated`` (distinct pods moved) and
    ``pods_migrated_pct`` (of the run's pods), ``migration_budget`` and ``rebalance_calls``.
    Time-averaged allocation: ∫ used GPU milli dt / (capacity × length), over the whole horizon [0, last
    arrival] (``time_avg_allocation_pct``) and over the saturated window [first time the demand in
    flight, were nothing to wait, reaches capacity; last arrival] (``sat_avg_allocation_pct``).
    """
    st = stream if stream is not None else make_deferral_stream(pods, cluster, seed, inflation, compress)
    on = rebalance_every > 0 and max_moves > 0
    budget = int(budget_pct * len(st.pods) / 100.0) if on else 0
    hook = Rebalancer(cluster, budget=budget, per_call=max_moves, min_gain_per_move=min_gain_per_move,
                      pace_pct=budget_pct if pace else None) if on else None
    r = replay_deferral(cluster, pods, policy, seed, inflation=inflation, compress=compress, tp=tp, stream=st,
                        rebalance=hook, rebalance_every=rebalance_every if on else 0, max_moves=max_moves if on else 0)
    r["migration_budget"] = budget
    r["rebalance_calls"] = hook.calls if hook is not None else 0
    r["pods_migrated_pct"] = 100.0 * r["pods_migrated"] / max(r["num_pods"], 1)
    r["saturation_time_s"] = saturation_time(st, cluster.capacity_milli)
    return r


KPIS = ("time_avg_allocation_pct", "sat_avg_allocation_pct", "final_allocation_pct", "moves_applied",
        "pods_migrated", "pods_migrated_pct", "waiting_at_end", "pods_waited", "mean_wait_s")


def _median(xs: list[Any]) -> float | None:
    """The median of the values that are not None (None if all are: no saturated window)."""
    vals = [float(x) for x in xs if x is not None]
    return float(median(vals)) if vals else None


def run_dynamic(cluster: Cluster, pods: Pods, policy: str, seeds: list[int], **kw: Any) -> dict[str, Any]:
    """:func:`replay_dynamic` on every seed; the per-seed results and the medians of :data:`KPIS`."""
    from packer.replay.protocol import typical_pods

    tp = typical_pods(pods)
    per = [replay_dynamic(cluster, pods, policy, s, tp=tp, **kw) for s in seeds]
    med = {k: _median([r[k] for r in per]) for k in KPIS}
    return {"format": "packer.replay-dynamic/v1", "policy": policy, "seeds": seeds,
            **{k: v for k, v in kw.items() if k != "stream"}, **med, "per_seed": per}


def dynamic_table(results: list[dict[str, Any]]) -> str:
    """Markdown table of :func:`run_dynamic` results (seed medians)."""
    lines = ["| policy | rebalance (every / per call) | time-avg alloc % (all / saturated) | final alloc % | "
             "pods migrated (count / %) | waiting at end | mean wait s |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in results:
        rb = f"{r.get('rebalance_every', 0)} / {r.get('max_moves', 0)}" if r.get("rebalance_every") else "no"
        sat = "-" if r["sat_avg_allocation_pct"] is None else f"{r['sat_avg_allocation_pct']:.2f}"
        lines.append(f"| {r['policy']} | {rb} | {r['time_avg_allocation_pct']:.2f} / {sat} | "
                     f"{r['final_allocation_pct']:.2f} | {r['pods_migrated']:.0f} / {r['pods_migrated_pct']:.2f} | "
                     f"{r['waiting_at_end']:.0f} | {r['mean_wait_s']:.1f} |")
    return "\n".join(lines)


__all__ = ["KPIS", "Rebalancer", "dynamic_table", "replay_dynamic", "run_dynamic"]
