"""The openb replay through the library's online placer (:class:`packer.online.OnlinePlacer`).

Issue #5 asks for the trace to be replayed "one pod at a time through the online placer". This
module does exactly that, beside the dedicated engine (:mod:`packer.replay.engine`, used by
:mod:`packer.replay.runner`):

- the stream is the engine's: :func:`packer.replay.protocol.make_stream` with the same seed and
  inflation (same pods, same arrival order, same tuned copies);
- every pod becomes the request :func:`packer.replay.openb.to_instance` makes of it (``share``;
  whole-GPU pods ``share`` requests of 1000 milli per GPU, gangs keeping their required node
  locality; ``host`` for CPU-only pods) and is handed to :meth:`OnlinePlacer.place` in arrival
  order; arrivals only, nothing is ever released;
- the instance's nodes are listed in the stream's seeded node order (``stream.node_rank``, lowest
  rank first), so the placer's ties (it breaks them by node order) fall as the engine's do;
- the placer plans for FGD's typical pods M (:func:`packer.replay.protocol.typical_pods`, CPU-only
  shapes included) as its :class:`~packer.online.policies.TargetWorkload`; M's model constraint
  (``spec``) has no place in a TargetWorkload and is dropped (the default workload has none);
- the Random policy gets the stream's uniforms (``stream.rand``), as the engine does;
- after every pod the arrived and used GPU milli, the cluster's fragmentation and idle milli are
  logged as the engine logs them, so :func:`packer.replay.kpi.curves` bins both alike. The
  fragmentation is measured with the engine's own ruler (:func:`packer.online.scoring.frag_of` under M,
  with ``spec``), recomputed only for the nodes a pod lands on.

What differs from the engine is the policies themselves: the placer's ``fgd``, ``best-fit``,
``first-fit`` and ``packer`` are the library's general-purpose policies (MIG, quotas, isolation,
topology), not the engine's trace-exact statements of FGD's plugins; packer's replay policy (the
CPU-surplus tie-breaks of ``packer.replay.policy``) exists only in the engine. A gang's CPU and memory
are split over its units rounded up (``to_instance``), so a gang may reserve up to count − 1 milli-CPU
(MiB) more than the pod asks for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from packer.replay.kpi import curves
from packer.replay.openb import Cluster, Pods, to_instance
from packer.replay.protocol import Stream, TypicalPods, make_stream, typical_pods


def placer_policy(name: str) -> str:
    """The online placer's name of policy ``name`` (a replay name such as ``bestfit``, or a placer
    name): :func:`packer.online.policies.resolve` on the online engine, so ``packer`` here is the
    online placer's ``packer``, not the kernels engine's ``packer-openb``."""
    from packer.online.policies import ONLINE, resolve

    return resolve(name, ONLINE).name


def target_of(tp: TypicalPods):  # type: ignore[no-untyped-def]
    """FGD's typical pods M as the placer's TargetWorkload (pod CPU, milli per GPU, GPUs, probability)."""
    from packer.online.policies import TargetWorkload

    shares = tuple((float(c), float(m), float(n), float(p))
                   for c, m, n, p in zip(tp.cpu.tolist(), tp.gpu_milli.tolist(), tp.num_gpu.tolist(),
                                         tp.prob.tolist(), strict=True))
    return TargetWorkload(shares=shares)


def permuted(cluster: Cluster, order: np.ndarray) -> Cluster:
    """``cluster`` with its nodes listed in ``order``."""
    order = np.asarray(order, dtype=np.int64)
    return Cluster(names=tuple(cluster.names[i] for i in order), cpu=cluster.cpu[order], mem=cluster.mem[order],
                   gpus=cluster.gpus[order], model=cluster.model[order], models=cluster.models)


def placer_instance(cluster: Cluster, pods: Pods, *, name: str = "openb"):  # type: ignore[no-untyped-def]
    """The instance the placer replays: :func:`to_instance` (whole-GPU pods are 1000-milli shares there)."""
    return to_instance(cluster, pods, name=name)


@dataclass
class PlacerReplay:
    """One seeded replay through the online placer.

    ``node[i]``: the node (index in the caller's ``cluster``) pod i of the stream went to (its first
    unit's node; a gang's units share one node), −1 when it failed. ``arrived``, ``used``, ``frag``,
    ``idle``: the per-pod log as the engine keeps it (GPU milli; fragmentation under M).
    """

    policy: str
    seed: int
    stream: Stream
    node: np.ndarray
    arrived: np.ndarray
    used: np.ndarray
    frag: np.ndarray
    idle: np.ndarray
    capacity_milli: int
    wall_s: float
    placer: Any  # the OnlinePlacer after the last pod
    instance: Any  # the instance its requests come from (nodes in the seeded order)

    def summary(self) -> dict[str, Any]:
        """The per-seed object of :func:`packer.replay.runner.run_seed`: counts and binned curves."""
        c = curves(self.arrived, self.used, self.frag, self.idle, self.capacity_milli)
        placed = self.node >= 0
        gpu_pod = self.stream.pods.gpu_milli > 0
        return {
            "seed": self.seed,
            "num_pods": len(self.stream.pods),
            "num_tuned": len(self.stream.pods) - self.stream.num_original,
            "failed_pods": int((~placed).sum()),
            "failed_gpu_pods": int((~placed & gpu_pod).sum()),
            "arrived_milli": int(self.arrived[-1]),
            "used_milli": int(self.used[-1]),
            "final_allocation_pct": 100.0 * int(self.used[-1]) / self.capacity_milli,
            "wall_s": self.wall_s,
            **c,
        }


def replay_with_placer(cluster: Cluster, pods: Pods, policy: str, seed: int, inflation: float = 1.3, *,
                       tp: TypicalPods | None = None, frag: bool = True,
                       isolation_guard: float | str | None = "auto") -> PlacerReplay:
    """Replays the seeded ``inflation`` stream of ``pods`` on ``cluster`` through ``OnlinePlacer.place``.

    ``policy``: an engine name (``bestfit``, ``firstfit``, ...) or the placer's (``best-fit``, ...).
    ``frag=False`` skips the fragmentation log (zeros), which costs one small kernel call per pod.
    """
    from packer.online import OnlinePlacer
    from packer.online.scoring import frag_of

    name = placer_policy(policy)
    tp = tp if tp is not None else typical_pods(pods)
    t0 = time.perf_counter()
    stream = make_stream(pods, cluster, seed, inflation)
    order = np.argsort(stream.node_rank, kind="stable")  # instance node i is cluster node order[i]
    inst = placer_instance(permuted(cluster, order), stream.pods, name=f"openb-seed{seed}")
    placer = OnlinePlacer(inst, name, target=target_of(tp), seed=seed, isolation_guard=isolation_guard)
    p = stream.pods
    num = len(p)
    demand = p.gpu_demand
    rand = stream.rand
    use_u = name == "random"

    tp_cpu = np.ascontiguousarray(tp.cpu, dtype=np.int64)
    tp_milli = np.ascontiguousarray(tp.gpu_milli, dtype=np.int64)
    tp_num = np.ascontiguousarray(tp.num_gpu, dtype=np.int64)
    tp_spec = np.ascontiguousarray(tp.spec, dtype=np.int64)
    tp_w = np.ascontiguousarray(tp.prob, dtype=np.float64)
    models = cluster.model[order]
    shareable = np.zeros(8, dtype=np.bool_)  # openb GPUs are all shareable

    def node_frag(n: int) -> float:
        free, cpu = placer.node_free(n)
        return float(frag_of(free, shareable, len(free), cpu, int(models[n]), tp_cpu, tp_milli, tp_num, tp_spec, tp_w))

    nfrag = np.array([node_frag(n) for n in range(cluster.num_nodes)]) if frag else np.zeros(cluster.num_nodes)
    ftot = float(nfrag.sum())
    cap = cluster.capacity_milli
    out_node = np.full(num, -1, dtype=np.int64)
    log_a = np.zeros(num, dtype=np.int64)
    log_u = np.zeros(num, dtype=np.int64)
    log_f = np.zeros(num, dtype=np.float64)
    arrived = used = 0
    reqs = inst.requests
    for i in range(num):
        req = reqs[i]
        u = (float(rand[i, 0]), float(rand[i, 1])) if use_u else None
        res = placer.place(req, uniforms=u, explain=False)
        arrived += int(demand[i])
        if res.ok:
            n = res.node_indices[0]
            out_node[i] = order[n]
            used += int(demand[i])
            if frag:
                new = node_frag(n)
                ftot += new - nfrag[n]
                nfrag[n] = new
        log_a[i] = arrived
        log_u[i] = used
        log_f[i] = ftot
    return PlacerReplay(policy=name, seed=seed, stream=stream, node=out_node, arrived=log_a, used=log_u,
                        frag=log_f, idle=cap - log_u, capacity_milli=cap, wall_s=time.perf_counter() - t0,
                        placer=placer, instance=inst)


def run_seed_placer(cluster: Cluster, pods: Pods, policy: str, seed: int, inflation: float = 1.3,
                    tp: TypicalPods | None = None, frag: bool = True) -> dict[str, Any]:
    """:func:`packer.replay.runner.run_seed`'s object, from the placer path."""
    return replay_with_placer(cluster, pods, policy, seed, inflation, tp=tp, frag=frag).summary()


__all__ = ["PlacerReplay", "permuted", "placer_instance", "placer_policy", "replay_with_placer", "run_seed_placer",
           "target_of"]
