"""The placement rules every engine shares, once: FGD's fragmentation measure, its score, MIG fit counts.

Numba functions (compiled through :mod:`packer.online._jit`), called by the online placer's kernels
(:mod:`packer.online.kernels`) and by the trace replay's kernels (:mod:`packer.replay.engine`), so
the online path and the replay measure fragmentation and score nodes by the same code.

Arrays of a *typical workload* (FGD's M, traces README §5.7), one entry per typical pod m:
``tp_cpu[m]`` milli-CPU of the pod, ``tp_milli[m]`` GPU milli per GPU it asks (0: CPU only, 1000
or more: whole GPUs), ``tp_num[m]`` GPUs it asks, ``tp_spec[m]`` a bitmask of the GPU models it
may use (0: any; bit k: model k), ``tp_w[m]`` its weight (probability).
"""

from __future__ import annotations

import math

from packer.online._jit import jit, jit_inline


@jit
def sigmoid_score(delta):
    """FGD's node score ⌊100·σ(Δ/1000)⌋ (traces README §5.9) of a fragmentation change Δ = before − after."""
    return int(math.floor(100.0 / (1.0 + math.exp(-delta / 1000.0))))


@jit_inline
def frag_of(free, whole_only, ngpu, cpu_free, model, tp_cpu, tp_milli, tp_num, tp_spec, tp_w):
    """FGD's fragmentation of one node, Σ_m w_m F_n(m) (traces README §5.7), in GPU milli.

    ``free[d]`` (d < ``ngpu``): the free milli of the node's d-th shareable GPU; ``whole_only[d]``:
    that GPU takes whole-GPU work only (a full-mode GPU: a fractional pod cannot use its free
    milli); ``cpu_free``: the node's free milli-CPU; ``model``: its GPU model index (for
    ``tp_spec``). For typical pod m the node's free milli is all fragment when m cannot run there
    (CPU-only m, too few fitting GPUs, too little CPU, a model m may not use), else the free milli
    of the GPUs m cannot use.
    """
    g_total = 0
    for d in range(ngpu):
        g_total += free[d]
    total = 0.0
    for m in range(tp_w.shape[0]):
        mm = tp_milli[m]
        f = g_total
        if mm > 0 and (tp_spec[m] == 0 or (int(tp_spec[m]) >> model) & 1):
            cnt = 0
            part = 0
            for d in range(ngpu):
                if free[d] >= mm and (mm >= 1000 or not whole_only[d]):
                    cnt += 1
                else:
                    part += free[d]
            if cnt >= tp_num[m] and cpu_free >= tp_cpu[m]:
                f = part
        total += tp_w[m] * f
    return total


@jit_inline
def first_free_start(occ, size, starts, nstarts):
    """Lowest legal start (``starts[:nstarts]``, ascending) of a ``size``-position MIG profile whose
    positions are all free in the occupied-position mask ``occ``; -1 when none."""
    pm = (1 << size) - 1
    for t in range(nstarts):
        s = starts[t]
        if (occ & (pm << s)) == 0:
            return s
    return -1


@jit_inline
def max_fit(occ, size, starts, nstarts, limit):
    """How many more instances of one MIG profile fit in the free positions of ``occ``, at most
    ``limit``: greedy by ascending start, which is optimal for equal-length intervals (the same count
    as :func:`packer.online.policies.maxpack`)."""
    pm = (1 << size) - 1
    cnt = 0
    o = occ
    for t in range(nstarts):
        if cnt >= limit:
            break
        s = starts[t]
        if (o & (pm << s)) == 0:
            o |= pm << s
            cnt += 1
    return cnt


__all__ = ["first_free_start", "frag_of", "max_fit", "sigmoid_score"]
