"""packer's own replay policy ``packer-openb`` (``packer replay --policy packer``): its weights and knobs
(the kernel is PACKER_OPENB in replay.engine.kernels)."""

from __future__ import annotations

import numpy as np

from packer.replay.protocol import TypicalPods


def cpu_per_gpu_milli(tp: TypicalPods) -> float:
    """rho: milli-CPU the typical GPU pod asks per GPU milli (CPU-only shapes left out)."""
    gpu = tp.gpu_milli * tp.num_gpu
    m = gpu > 0
    return float((tp.prob[m] * tp.cpu[m]).sum() / (tp.prob[m] * gpu[m]).sum())


def packer_settings(tp: TypicalPods) -> tuple[np.ndarray, tuple[float, ...]]:
    """Typical-pod weights (FGD's M) and knobs (rho) for the packer policy; derived from the
    workload's own typical pods, nothing fitted to a trace."""
    return tp.prob.copy(), (cpu_per_gpu_milli(tp),)
