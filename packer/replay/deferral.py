"""A second replay protocol: arrivals and departures from the trace's times, pods may wait.

FGD's protocol (:mod:`packer.replay.protocol`) has no departures and fails a pod that does not fit.
Here (``packer replay --protocol deferral``):

- **Pods.** FGD's seeded pod set (the shuffle and tuning to ``inflation`` × GPU capacity of
  :func:`packer.replay.protocol.make_stream`; a tuned copy keeps its original's times).
- **Arrivals** in ``creation_time`` order (ties: the seeded stream's order) at creation time / k
  (``compress``); a pod runs for its trace duration ``deletion_time − creation_time`` (not
  compressed) from the moment it is *placed*.
- **Why compress.** On the raw times the openb cluster is nearly empty (the default list's GPU
  demand in flight never exceeds ~1% of capacity: most pods run minutes, the trace spans 149 days),
  so no scheduler would ever defer. k = 1 is the raw trace; as k grows, arrivals bunch up and the
  protocol tends to FGD's (everything arrives before anything departs).
- **Deferral.** A pod that fits no node waits in a queue. When a pod departs from node n, the
  waiting pods are retried in arrival order: only node n gained resources, so only pods that pass
  n's filter are tried (each through the policy, as on arrival). New arrivals do not wait behind
  the queue (no head-of-line blocking), as in Kubernetes' scheduling queue.
- **Seed.** As in FGD's protocol: the tuned copies, the tie-break node order and Random's draws.
- **Horizon.** The run ends at the last arrival; pods still waiting then are reported as waiting.
- **KPIs.** Time-averaged GPU allocation over the horizon and over its saturated part (from the
  first moment the demand in flight, were no pod to wait, reaches the capacity:
  :func:`saturation_time`, the same window for every policy), allocation at the end, pods that had
  to wait (count; mean and 95th-percentile wait in seconds of the compressed timeline, the one the
  durations run on), pods still waiting at the end, and an offline ceiling (:func:`fluid_ceiling`).

**Rebalance hook.** ``replay_deferral(..., rebalance=f, rebalance_every=N, max_moves=B)`` calls
``f(view)`` after every N events with a read-only :class:`ClusterView` of the current state (time,
free CPU/memory, idle milli per device, the running pods and where, the waiting pods). ``f`` returns
``None`` or a sequence of :class:`Move` (pod index → target node); at most ``max_moves`` are applied,
each only if the pod fits the target (it is then released from its node and placed on the target
with the policy's device choice), and the waiting pods are retried on every node a move freed. A
move to the pod's own node is applied only to a fractional pod (one GPU, under 1000 milli): it is
released and placed there again with the policy's device choice (its own device always holds it);
any other move to the own node is refused. The
replay counts applied and refused moves and the distinct pods moved (``pods_migrated``). The
re-optimiser that plugs in here is :class:`packer.replay.rebalance.Rebalancer` (``f = None``: no
rebalancing).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from packer.errors import InputError
from packer.replay.openb import NEVER, Cluster, Pods
from packer.replay.protocol import TypicalPods, make_stream, typical_pods


@dataclass(frozen=True)
class DeferralStream:
    """The pods in arrival order with compressed arrival times and trace durations."""

    seed: int
    pods: Pods  # arrival order
    arrival: np.ndarray  # float64, compressed seconds
    duration: np.ndarray  # float64, trace seconds (inf: never departs)
    compression: float  # k: arrivals at creation time / k
    node_rank: np.ndarray
    rand: np.ndarray  # [num_pods, 2] uniforms for the Random policy
    horizon: float  # the last arrival (compressed)


@dataclass(frozen=True)
class ClusterView:
    """What a rebalance hook sees (copies: changing them changes nothing)."""

    time: float
    free_cpu: np.ndarray  # per node, milli-CPU
    free_mem: np.ndarray  # per node, MiB
    idle: np.ndarray  # [node, device] idle GPU milli
    running: dict[int, tuple[int, int]]  # pod index -> (node, device mask)
    waiting: tuple[int, ...]  # pod indices, arrival order
    pods: Pods  # the stream's pods (index as above)


@dataclass(frozen=True)
class Move:
    """A migration the rebalance hook asks for: running pod ``pod`` to node ``node``."""

    pod: int
    node: int


RebalanceHook = Callable[[ClusterView], Sequence[Move] | None]


def make_deferral_stream(pods: Pods, cluster: Cluster, seed: int, inflation: float = 1.3,
                         compress: float = 1000.0) -> DeferralStream:
    """FGD's seeded pod set (shuffle, tuning to ``inflation``) arriving in creation-time order at the trace's
    creation times / ``compress``; each pod keeps its trace duration (seconds)."""
    if not pods.has_times:
        raise InputError("the deferral protocol needs creation_time and deletion_time columns", field="--pods")
    if not compress > 0:
        raise InputError("must be > 0", field="--compress")
    fgd = make_stream(pods, cluster, seed, inflation)
    order = np.argsort(fgd.pods.created, kind="stable")  # ties: the seeded stream's order
    p = fgd.pods.take(order)
    created = p.created.astype(np.float64)
    arrival = (created - created.min()) / compress
    duration = np.where(p.deleted == NEVER, np.inf, (p.deleted - p.created).astype(np.float64))
    return DeferralStream(seed=seed, pods=p, arrival=arrival, duration=duration.astype(np.float64),
                          compression=compress, node_rank=fgd.node_rank, rand=fgd.rand[order],
                          horizon=float(arrival.max()))


def saturation_time(stream: DeferralStream, capacity_milli: int) -> float:
    """The first time the GPU demand in flight, were no pod ever to wait, reaches the capacity.

    It depends on the stream only (the same window for every policy); the horizon if never.
    """
    g = stream.pods.gpu_demand
    t = np.concatenate([stream.arrival, stream.arrival + stream.duration])
    dg = np.concatenate([g, -g])
    order = np.lexsort((dg, t))  # departures (negative) first at equal times
    cum = np.cumsum(dg[order])
    hit = np.flatnonzero(cum >= capacity_milli)
    return float(min(t[order][hit[0]], stream.horizon)) if len(hit) else stream.horizon


def fluid_ceiling(stream: DeferralStream, capacity_milli: int, t0: float = 0.0, grid: int = 2000) -> float:
    """A proven upper bound on the time-averaged allocation (%) over [t0, T] of any scheduler.

    A pod runs only after it arrives and for at most its duration, and the cluster never holds more
    than its capacity C, so for every split time s in [t0, T]:
    ∫_{t0}^{T} U ≤ Σ_i g_i · min(d_i, (s − max(a_i, t0))⁺) + C · (T − s). The bound is the minimum
    over s (CPU, memory, devices and models ignored: one pool of GPU milli, as loose as that).
    """
    T = stream.horizon
    if T <= t0:
        return 0.0
    g = stream.pods.gpu_demand.astype(np.float64)
    a, d = np.maximum(stream.arrival, t0), stream.duration
    keep = (g > 0) & (stream.arrival < T)
    g, a, d = g[keep], a[keep], d[keep]
    best = float(capacity_milli) * (T - t0)
    for s in np.unique(np.concatenate([np.linspace(t0, T, grid), a])):
        w = float((g * np.minimum(d, np.maximum(s - a, 0.0))).sum()) + capacity_milli * (T - s)
        best = min(best, w)
    return 100.0 * best / (capacity_milli * (T - t0))


def replay_deferral(cluster: Cluster, pods: Pods, policy: str, seed: int, *, inflation: float = 1.3,
                    compress: float = 1000.0,
                    tp: TypicalPods | None = None, rebalance: RebalanceHook | None = None, rebalance_every: int = 0,
                    max_moves: int = 0, stream: DeferralStream | None = None) -> dict[str, Any]:
    """One seed of the deferral protocol (module docstring); returns its KPIs as a JSON object."""
    from packer.replay.engine import LiveCluster
    from packer.replay.policy import packer_settings

    tp = tp if tp is not None else typical_pods(pods)
    st = stream if stream is not None else make_deferral_stream(pods, cluster, seed, inflation, compress)
    p = st.pods
    pk_w, rho = packer_settings(tp)
    live = LiveCluster(policy, node_cpu=cluster.cpu, node_mem=cluster.mem, node_gpus=cluster.gpus,
                       node_model=cluster.model, node_rank=st.node_rank, tp_cpu=tp.cpu, tp_milli=tp.gpu_milli,
                       tp_num=tp.num_gpu, tp_spec=tp.spec, tp_prob=tp.prob, pk_weights=pk_w, rho=rho)
    cpu, mem, num, milli, spec = (p.cpu.tolist(), p.mem.tolist(), p.num_gpu.tolist(), p.gpu_milli.tolist(),
                                  p.spec.tolist())
    start = np.full(len(p), np.nan)
    queued = np.zeros(len(p), bool)
    where: dict[int, tuple[int, int]] = {}
    waiting: list[int] = []  # arrival order (pod indices increase with arrival)
    events: list[tuple[float, int, int]] = [(float(t), 1, i) for i, t in enumerate(st.arrival.tolist())]
    heapq.heapify(events)  # (time, kind, pod): kind 0 departure before 1 arrival at equal times
    now = 0.0
    area = 0.0  # ∫ used milli dt over [0, horizon]
    t_sat = saturation_time(st, cluster.capacity_milli)
    area_sat = 0.0  # the same over [t_sat, horizon]
    n_events = 0
    moves_done = moves_refused = 0
    migrated: set[int] = set()  # distinct pods moved at least once

    def start_pod(i: int, node: int, mask: int, t: float) -> None:
        where[i] = (node, mask)
        start[i] = t
        if np.isfinite(st.duration[i]):
            heapq.heappush(events, (t + float(st.duration[i]), 0, i))

    def retry(nodes: set[int], t: float) -> None:
        if not waiting:
            return
        w = np.array(waiting, np.int64)
        cand: set[int] = set()
        for n in nodes:
            ok = live.fits_on(n, p.cpu[w], p.mem[w], p.num_gpu[w], p.gpu_milli[w], p.spec[w])
            cand.update(w[ok].tolist())
        placed = []
        for i in sorted(cand):
            node, mask = live.place(cpu[i], mem[i], num[i], milli[i], spec[i], rand=tuple(st.rand[i]))
            if node >= 0:
                start_pod(i, node, mask, t)
                placed.append(i)
        if placed:
            gone = set(placed)
            waiting[:] = [i for i in waiting if i not in gone]

    while events and events[0][0] <= st.horizon:
        t, kind, i = heapq.heappop(events)
        area += live.used_milli * (t - now)
        area_sat += live.used_milli * max(0.0, t - max(now, t_sat))
        now = t
        if kind == 1:
            node, mask = live.place(cpu[i], mem[i], num[i], milli[i], spec[i], rand=tuple(st.rand[i]))
            if node >= 0:
                start_pod(i, node, mask, t)
            else:
                waiting.append(i)
                queued[i] = True
        else:
            node, mask = where.pop(i)
            live.release(node, mask, cpu[i], mem[i], num[i], milli[i])
            retry({node}, t)
        n_events += 1
        if rebalance is not None and rebalance_every > 0 and n_events % rebalance_every == 0:
            view = ClusterView(time=now, free_cpu=live.cpu.copy(), free_mem=live.mem.copy(), idle=live.idle.copy(),
                               running=dict(where), waiting=tuple(waiting), pods=p)
            freed: set[int] = set()
            for mv in list(rebalance(view) or ())[:max(max_moves, 0)]:
                if mv.pod not in where or not 0 <= mv.node < cluster.num_nodes:
                    moves_refused += 1
                    continue
                j = mv.pod
                if where[j][0] == mv.node:  # to its own node: a fractional pod changing device, nothing else
                    if num[j] != 1 or not 0 < milli[j] < 1000:
                        moves_refused += 1
                        continue
                else:
                    one = np.array([j])
                    if not live.fits_on(mv.node, p.cpu[one], p.mem[one], p.num_gpu[one], p.gpu_milli[one],
                                        p.spec[one])[0]:
                        moves_refused += 1
                        continue
                src, smask = where[j]
                live.release(src, smask, cpu[j], mem[j], num[j], milli[j])
                node, mask = live.place(cpu[j], mem[j], num[j], milli[j], spec[j], only=mv.node)
                where[j] = (node, mask)  # the pod keeps its departure time
                freed.add(src)
                migrated.add(j)
                moves_done += 1
            retry(freed, now)
    area += live.used_milli * (st.horizon - now)
    area_sat += live.used_milli * max(0.0, st.horizon - max(now, t_sat))
    cap = cluster.capacity_milli
    waited = queued  # pods that entered the queue (placed later, or still waiting at the end)
    done = queued & np.isfinite(start)
    wait_s = start[done] - st.arrival[done]
    return {
        "seed": seed,
        "policy": policy,
        "num_pods": len(p),
        "compression": st.compression,
        "horizon_s": st.horizon,
        "time_avg_allocation_pct": 100.0 * area / (cap * st.horizon) if st.horizon > 0 else 0.0,
        "saturation_time_s": t_sat,
        "sat_avg_allocation_pct": 100.0 * area_sat / (cap * (st.horizon - t_sat)) if st.horizon > t_sat else None,
        "final_allocation_pct": 100.0 * live.used_milli / cap,
        "pods_waited": int(waited.sum()),
        "first_wait_s": float(st.arrival[waited].min()) if waited.any() else None,  # the first pod that waited
        "first_wait_single_s": (float(st.arrival[waited & (p.num_gpu <= 1)].min())  # ... of at most one GPU
                                if (waited & (p.num_gpu <= 1)).any() else None),
        "gpu_pods_waited": int((waited & (p.gpu_milli > 0)).sum()),
        "mean_wait_s": float(wait_s.mean()) if len(wait_s) else 0.0,
        "p95_wait_s": float(np.percentile(wait_s, 95)) if len(wait_s) else 0.0,
        "waiting_at_end": len(waiting),
        "waiting_gpu_milli_at_end": int(sum(num[i] * milli[i] for i in waiting)),
        "moves_applied": moves_done,
        "moves_refused": moves_refused,
        "pods_migrated": len(migrated),
        "running_at_end": len(where),
    }


def run_deferral(cluster: Cluster, pods: Pods, policy: str, seeds: list[int], *, inflation: float = 1.3,
                 compress: float = 1000.0, **kw: Any) -> dict[str, Any]:
    """Every seed of one policy, the seed means and the offline ceiling."""
    from statistics import mean

    tp = typical_pods(pods)
    per = []
    for s in seeds:
        st = make_deferral_stream(pods, cluster, s, inflation, compress)
        r = replay_deferral(cluster, pods, policy, s, tp=tp, stream=st, **kw)
        r["fluid_ceiling_pct"] = fluid_ceiling(st, cluster.capacity_milli)
        t_sat = saturation_time(st, cluster.capacity_milli)
        r["sat_fluid_ceiling_pct"] = fluid_ceiling(st, cluster.capacity_milli, t0=t_sat)
        per.append(r)
    keys = ("time_avg_allocation_pct", "sat_avg_allocation_pct", "fluid_ceiling_pct", "sat_fluid_ceiling_pct",
            "final_allocation_pct", "pods_waited", "gpu_pods_waited", "mean_wait_s",
            "p95_wait_s", "waiting_at_end", "waiting_gpu_milli_at_end")
    return {"format": "packer.replay-deferral/v1", "policy": policy, "inflation": inflation, "compress": compress,
            "seeds": seeds,
            **{k: float(mean(r[k] or 0.0 for r in per)) for k in keys}, "per_seed": per}


__all__ = ["ClusterView", "DeferralStream", "Move", "RebalanceHook", "fluid_ceiling", "make_deferral_stream",
           "replay_deferral", "run_deferral", "saturation_time"]
