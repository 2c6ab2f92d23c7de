"""packer's own replay policy ``packer-openb`` (``packer replay --policy packer``): its weights and knobs
(the kernel is PACKER_OPENB in replay.engine.kernels).

The one knob is rho, the CPU-balance weight: the kernel counts a node's CPU surplus as free CPU − rho ×
idle GPU milli, so rho is the CPU that one idle GPU milli should keep beside it. How rho is derived is
:data:`RHO_RULE`:

- ``"typical"``: the typical GPU pod's CPU per GPU milli (:func:`cpu_per_gpu_milli`), CPU-only pods left
  out. What every session up to 20 used.
- ``"competing"``: the CPU that a GPU milli of the workload's demand brings with it, CPU-only pods
  counted, but never more than the cluster can give (:func:`competing_cpu_per_gpu_milli`).
"""

from __future__ import annotations

import numpy as np

from packer.replay.openb import Cluster
from packer.replay.protocol import TypicalPods

#: How packer's CPU-balance weight rho is derived (module docstring): "typical" or "competing".
RHO_RULE = "typical"
RHO_RULES = ("typical", "competing")


def cpu_per_gpu_milli(tp: TypicalPods) -> float:
    """rho: milli-CPU the typical GPU pod asks per GPU milli (CPU-only shapes left out)."""
    gpu = tp.gpu_milli * tp.num_gpu
    m = gpu > 0
    return float((tp.prob[m] * tp.cpu[m]).sum() / (tp.prob[m] * gpu[m]).sum())


def cpu_only_per_gpu_milli(tp: TypicalPods) -> float:
    """The milli-CPU the typical CPU-only pods ask per GPU milli of the typical GPU pods' demand: the CPU that
    CPU-only pods take, on average, for each GPU milli that GPU pods fill."""
    gpu = (tp.gpu_milli * tp.num_gpu).astype(np.float64)
    return float((tp.prob[gpu == 0] * tp.cpu[gpu == 0]).sum() / (tp.prob * gpu).sum())


def competing_cpu_per_gpu_milli(tp: TypicalPods, cluster: Cluster) -> float:
    """rho under the rule "competing": the CPU an idle GPU milli should keep beside it.

    A GPU milli that GPU pods fill brings a = cpu_per_gpu_milli CPU with it on its node, and the CPU-only pods
    that arrive with that demand take b = cpu_only_per_gpu_milli more somewhere. Keeping a + b beside each idle
    GPU milli leaves room for both where they compete for the same CPU. But the cluster holds only C / G CPU
    per GPU milli (C: all nodes' CPU, G: its GPU milli), and once the GPUs are full the CPU-only pods hold b of
    it, so a GPU milli can count on at most C / G − b. rho = min(a + b, C / G − b), never below a (the GPU
    pods' own need, which no balance can go under). Where CPU is plentiful and CPU-only pods are many, rho is
    a + b; where CPU-only pods would take what GPU pods need, it falls back to a.
    """
    a = cpu_per_gpu_milli(tp)
    b = cpu_only_per_gpu_milli(tp)
    supply = float(cluster.cpu.sum()) / max(cluster.capacity_milli, 1) - b
    return max(a, min(a + b, supply))


def rho_of(tp: TypicalPods, cluster: Cluster | None = None, rule: str | None = None) -> float:
    """rho under ``rule`` (default :data:`RHO_RULE`); "competing" needs the cluster (without one: "typical")."""
    rule = RHO_RULE if rule is None else rule
    if rule not in RHO_RULES:
        raise ValueError(f"unknown rho rule {rule!r}; known: {', '.join(RHO_RULES)}")
    if rule == "competing" and cluster is not None:
        return competing_cpu_per_gpu_milli(tp, cluster)
    return cpu_per_gpu_milli(tp)


def packer_settings(tp: TypicalPods, cluster: Cluster | None = None) -> tuple[np.ndarray, tuple[float, ...]]:
    """Typical-pod weights (FGD's M) and knobs (rho, :func:`rho_of`) for the packer policy; derived from the
    workload's own typical pods (and, by rule "competing", the cluster's CPU), nothing fitted to a trace."""
    return tp.prob.copy(), (rho_of(tp, cluster),)
