"""packer's own replay policy ``packer-openb`` (``packer replay --policy packer``): its weights and knobs
(the kernel is PACKER_OPENB in replay.engine.kernels).

The one knob is rho, the CPU-balance weight: the kernel counts a node's CPU surplus as free CPU − rho ×
idle GPU milli, so rho is the CPU that one idle GPU milli should keep beside it: the typical GPU pod's CPU
per GPU milli (:func:`cpu_per_gpu_milli`), CPU-only pods left out.

rho has two roles in the kernel's node score (``kernels._packer_score``):

1. the balance: surplus = free CPU − rho × idle GPU milli after the pod, the CPU a node keeps beyond what
   its idle GPUs should keep beside them. Every pod kind reads it: a CPU-only pod avoids a deficit, a
   fractional pod breaks its last ties by |surplus|, a whole-GPU pod pays for |surplus|;
2. the weight: a whole-GPU (or multi-GPU) pod's node score is FGD's unrounded Δ less |surplus| / rho, the
   CPU imbalance converted into the GPU milli it strands, so that the two terms share one unit.

Sessions 21-24 measured other ways to derive rho (the CPU-only pods' demand counted, a rho per GPU model,
the weight and the balance derived apart, a balance per pod kind) and left them off; session 26 removed
them (they run at git tag ``flags-s25``; bench/RESULTS_replay.md has the figures), and session 27 the kernel's
readers of such knobs (a params array with per-model entries and four blocks; git tag ``flags-s26``): the
kernel takes the one rho.
"""

from __future__ import annotations

import numpy as np

from packer.replay.protocol import TypicalPods


def cpu_per_gpu_milli(tp: TypicalPods) -> float:
    """rho: milli-CPU the typical GPU pod asks per GPU milli (CPU-only shapes left out)."""
    gpu = tp.gpu_milli * tp.num_gpu
    m = gpu > 0
    return float((tp.prob[m] * tp.cpu[m]).sum() / (tp.prob[m] * gpu[m]).sum())


def packer_settings(tp: TypicalPods) -> tuple[np.ndarray, float]:
    """Typical-pod weights (FGD's M) and rho (:func:`cpu_per_gpu_milli`) for the packer policy;
    derived from the workload's own typical pods, nothing fitted to a trace."""
    return tp.prob.copy(), cpu_per_gpu_milli(tp)
