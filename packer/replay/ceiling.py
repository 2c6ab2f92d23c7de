"""The offline ceiling of a replay: the LP bound (:func:`packer.cpsat.ceiling.allocation_bound`, in cpsat
because only cpsat imports ortools) and a real offline placement of the whole stream, biggest first.
"""

from __future__ import annotations

import numpy as np

from packer.replay.openb import Cluster, Pods


def offline_decreasing(cluster: Cluster, pods: Pods, policy: str = "bestfit") -> dict[str, float]:
    """A feasible offline placement (so a lower bound on the offline optimum): the same pods, sorted
    largest first (multi-GPU, whole GPUs, shares by decreasing milli, CPU-only last), placed one at a
    time by ``policy`` with every pod known in advance."""
    from packer.replay.engine import replay
    from packer.replay.protocol import typical_pods

    order = np.lexsort((-pods.gpu_milli, -pods.num_gpu, pods.gpu_milli == 0))
    p = pods.take(order)
    tp = typical_pods(pods)
    run = replay(policy, node_cpu=cluster.cpu, node_mem=cluster.mem, node_gpus=cluster.gpus,
                 node_model=cluster.model, node_rank=np.arange(cluster.num_nodes), pod_cpu=p.cpu, pod_mem=p.mem,
                 pod_num=p.num_gpu, pod_milli=p.gpu_milli, pod_spec=p.spec, rand=np.zeros((len(p), 2)),
                 tp_cpu=tp.cpu, tp_milli=tp.gpu_milli, tp_num=tp.num_gpu, tp_spec=tp.spec, tp_prob=tp.prob)
    used = int(run.used[-1])
    return {"offline_milli": float(used), "offline_pct": 100.0 * used / cluster.capacity_milli}


__all__ = ["offline_decreasing"]
