"""Numba kernels of the trace replay: one pod at a time (traces README §5.4), and departures.

Private: every kernel takes only arrays and scalars. :mod:`packer.replay.engine.engine` validates
and converts. All jit options live in ``_jit``. The slow reference in ``tests/replay_reference.py``
states the same rules in plain Python; the tests require identical placements.

State per node n: free CPU ``cpu[n]``, free memory ``mem[n]``, idle milli per device ``idle[n, d]``,
the GPU-pod tags it hosts ``tags[n]`` (bit 0: share-gpu, bit k: k whole GPUs) and its cached
fragmentation ``frag[n]`` (§5.7) under the typical pods M.
"""

from __future__ import annotations

import math

import numpy as np

from packer.online._jit import jit as _jit
from packer.online.policies import BEST_FIT as BESTFIT
from packer.online.policies import DOTPRODUCT as DOTPROD
from packer.online.policies import FGD, GPUCLUSTERING, GPUPACKING, RANDOM
from packer.online.policies import PACKER_OPENB as PACKER
from packer.online.scoring import frag_of, sigmoid_score

# Policy codes are the registry's (packer.online.policies); PACKER here is ``packer-openb``.
#: No GPU of the replay's model is whole-GPU only (every device can be shared).
_SHAREABLE = np.zeros(8, np.bool_)

MAX_CPU = 128000.0
MAX_GPU = 8000.0


@_jit
def _frag_of(idle_row, ngpu, cpu_free, model, tp_cpu, tp_milli, tp_num, tp_spec, tp_w):
    """Node fragmentation Σ_m w_m F_n(m) for one node state (§5.7): :func:`packer.online.scoring.frag_of`."""
    return frag_of(idle_row, _SHAREABLE, ngpu, cpu_free, model, tp_cpu, tp_milli, tp_num, tp_spec, tp_w)


@_jit
def _fits(idle_row, ngpu, milli, num):
    cnt = 0
    for d in range(ngpu):
        if idle_row[d] >= milli:
            cnt += 1
    return cnt >= num


@_jit
def _fgd_eval(n, idle, gpus, cpu, model, pcpu, pmilli, pnum, frag, tp_cpu, tp_milli, tp_num, tp_spec,
              tp_w, scratch, integer):
    """Best FGD score of node n for a pod and its device (-1: whole/none). ``integer``: §5.9 score.

    Returns (score, device); with ``integer`` false the score is the raw Δ (before − after).
    """
    ng = gpus[n]
    before = frag[n]
    for d in range(ng):
        scratch[d] = idle[n, d]
    if pmilli == 0 or pnum > 1 or pmilli >= 1000:
        # CPU-only: only CPU changes; whole GPUs: the lowest-numbered fully free devices
        left = pnum if pmilli > 0 else 0
        for d in range(ng):
            if left > 0 and scratch[d] == 1000:
                scratch[d] -= pmilli
                left -= 1
        after = _frag_of(scratch, ng, cpu[n] - pcpu, model[n], tp_cpu, tp_milli, tp_num, tp_spec, tp_w)
        delta = before - after
        if integer:
            return float(sigmoid_score(delta)), -1
        return delta, -1
    best = -1e300
    best_d = -1
    for d in range(ng):
        v = idle[n, d]
        if v < pmilli:
            continue
        # a device with the same idle as an earlier fitting one gives the same state: skip it
        dup = False
        for e in range(d):
            if idle[n, e] == v:
                dup = True
                break
        if dup:
            continue
        scratch[d] = v - pmilli
        after = _frag_of(scratch, ng, cpu[n] - pcpu, model[n], tp_cpu, tp_milli, tp_num, tp_spec, tp_w)
        scratch[d] = v
        delta = before - after
        s = float(sigmoid_score(delta)) if integer else delta
        if s > best:
            best = s
            best_d = d
    return best, best_d


@_jit
def _best_device(idle_row, ngpu, milli):
    """'best' device choice for a fractional pod: least idle among fitting, lowest index on ties."""
    best_d = -1
    for d in range(ngpu):
        if idle_row[d] >= milli and (best_d < 0 or idle_row[d] < idle_row[best_d]):
            best_d = d
    return best_d


@_jit
def _packing_score(idle_row, ngpu, milli, num):
    nfree = 0
    for d in range(ngpu):
        if idle_row[d] == 1000:
            nfree += 1
    if nfree == ngpu:
        return max(33 - nfree, nfree)
    # devices in ascending idle (stable), first num that fit
    taken_free = 0
    sum_pct = 0
    taken = 0
    used = np.zeros(8, np.bool_)
    while taken < num:
        best_d = -1
        for d in range(ngpu):
            if not used[d] and idle_row[d] >= milli and (best_d < 0 or idle_row[d] < idle_row[best_d]):
                best_d = d
        if best_d < 0:
            break
        used[best_d] = True
        taken += 1
        if idle_row[best_d] == 1000:
            taken_free += 1
        sum_pct += (100 * idle_row[best_d]) // 1000
    if taken_free > 0:
        return max(50 - taken_free, 33)
    return max(100 - sum_pct // 10, 50)


@_jit
def _packer_score(fg, raw, idle_row, ngpu, cpu_free, pcpu, pnum, pmilli, rho):
    """packer's node score as (primary, secondary, tertiary), compared lexicographically.

    ``fg`` is FGD's integer score of the node (§5.9), ``raw`` its unrounded Δ (whole-GPU pods
    only): packer keeps FGD's fragmentation gradient as the first criterion and breaks its
    (frequent) ties on purpose instead of by the random node order:
    - fractional pod: the node whose best-fitting device is left with the least idle milli (the
      tightest hole, cluster wide; the pod goes to that device), then the node left with the best
      CPU balance (smallest |surplus|);
    - whole-GPU and multi-GPU pod: the GPU milli the placement leaves usable, in one unit: FGD's own
      unrounded Δ (the fragmentation it adds, negated) less |surplus| / rho, the GPU milli the
      node's CPU imbalance strands (a deficit of x CPU leaves x / rho idle GPU milli without CPU; a
      surplus of x CPU is the CPU of x / rho GPU milli of typical pods that the node cannot host).
      Where CPU is scarce (many CPU-only pods, CPU-hungry gangs) the CPU term decides; where it is
      not, the fragmentation term does;
    - CPU-only pod: a node where the pod leaves no CPU deficit.
    surplus = free CPU − rho × idle GPU milli after placing the pod: the CPU a node has beyond what
    its idle GPUs will need (rho: CPU per GPU milli of the typical GPU pod). A deficit strands idle
    GPUs (typical GPU pods find them without CPU), a surplus strands CPU; a balanced node can host
    typical GPU pods on all of its idle GPUs.
    One rho, cluster wide (packer.replay.policy.packer_settings), is both the balance every pod kind reads and
    the weight of a whole-GPU pod's penalty; rho <= 0 (or NaN) leaves the penalty out. The kernel read a rho
    per GPU model and a weight and balances per pod kind apart until session 27 (git tag ``flags-s26``).
    """
    gi = 0
    for d in range(ngpu):
        gi += idle_row[d]
    if pmilli == 0:
        return fg, min((cpu_free - pcpu) - rho * gi, 0.0), 0.0
    after = (cpu_free - pcpu) - rho * (gi - pnum * pmilli)
    if pnum == 1 and pmilli < 1000:
        bd = _best_device(idle_row, ngpu, pmilli)
        return fg, -float(idle_row[bd] - pmilli), -abs(after)
    if rho > 0.0:
        return fg, raw - abs(after) / rho, 0.0
    return fg, raw, 0.0


@_jit
def _better(a1, a2, a3, ar, b1, b2, b3, br):
    """Lexicographic: higher scores win, then the lower tie-break rank."""
    if a1 != b1:
        return a1 > b1
    if a2 != b2:
        return a2 > b2
    if a3 != b3:
        return a3 > b3
    return ar < br


@_jit
def _frag_all(n, idle, n_gpus, cpu, n_model, frag, pkfrag, policy, tp_cpu, tp_milli, tp_num, tp_spec, tp_w, pk_w):
    """Recomputes node n's cached fragmentation (and packer's, when the policy is packer)."""
    frag[n] = _frag_of(idle[n], n_gpus[n], cpu[n], n_model[n], tp_cpu, tp_milli, tp_num, tp_spec, tp_w)
    if policy == PACKER:
        pkfrag[n] = _frag_of(idle[n], n_gpus[n], cpu[n], n_model[n], tp_cpu, tp_milli, tp_num, tp_spec, pk_w)


@_jit
def init_state(policy, n_cpu, n_mem, n_gpus, n_model, tp_cpu, tp_milli, tp_num, tp_spec, tp_w, pk_w):
    """The empty cluster: (cpu, mem, idle, tags, tagcnt, frag, pkfrag) arrays, frag cached per node."""
    N = n_cpu.shape[0]
    cpu = n_cpu.copy()
    mem = n_mem.copy()
    idle = np.zeros((N, 8), np.int64)
    for n in range(N):
        for d in range(n_gpus[n]):
            idle[n, d] = 1000
    tags = np.zeros(N, np.int64)
    tagcnt = np.zeros((N, 10), np.int64)
    frag = np.zeros(N, np.float64)
    pkfrag = np.zeros(N, np.float64)
    for n in range(N):
        _frag_all(n, idle, n_gpus, cpu, n_model, frag, pkfrag, policy, tp_cpu, tp_milli, tp_num, tp_spec, tp_w, pk_w)
    return cpu, mem, idle, tags, tagcnt, frag, pkfrag


@_jit
def place_pod(policy, pcpu, pmem, pnum, pmilli, pspec, r0, r1, n_gpus, n_model, n_rank, cpu, mem, idle, tags,
              tagcnt, frag, pkfrag, tp_cpu, tp_milli, tp_num, tp_spec, tp_w, pk_w, rho, only):
    """Filters, scores and selects a node for one pod under ``policy`` (§5.4) and books it.

    ``r0``/``r1`` are the Random policy's two uniforms; ``only`` >= 0 restricts the pod to that node.
    The state arrays (``cpu`` ... ``pkfrag``, see :func:`init_state`) are updated in place.
    Returns (node, device mask); node -1: no node fits (nothing changes).
    """
    N = cpu.shape[0]
    feas = np.empty(N, np.int64)
    score = np.zeros(N, np.float64)
    score2 = np.zeros(N, np.float64)
    score3 = np.zeros(N, np.float64)
    dev = np.empty(N, np.int64)
    scratch = np.zeros(8, np.int64)
    is_frac = pmilli > 0 and pmilli < 1000 and pnum == 1
    k = 0
    for n in range(N):
        if cpu[n] < pcpu or mem[n] < pmem or (only >= 0 and n != only):
            continue
        if pmilli > 0:
            if n_gpus[n] == 0:
                continue
            if pspec != 0 and not ((pspec >> n_model[n]) & 1):
                continue
            if not _fits(idle[n], n_gpus[n], pmilli, pnum):
                continue
        feas[k] = n
        k += 1
    chosen = -1
    cdev = -1
    if k == 1:
        chosen = feas[0]
        if policy == FGD:
            s, cdev = _fgd_eval(chosen, idle, n_gpus, cpu, n_model, pcpu, pmilli, pnum, frag, tp_cpu,
                                tp_milli, tp_num, tp_spec, tp_w, scratch, True)
        elif policy == PACKER and is_frac:
            cdev = _best_device(idle[chosen], n_gpus[chosen], pmilli)
    elif k > 1:
        if policy == RANDOM:
            chosen = feas[int(math.floor(r0 * k))]
        else:
            for j in range(k):
                n = feas[j]
                s = 0.0
                dev[j] = -1
                if policy == DOTPROD:
                    dot = (cpu[n] / MAX_CPU) * (pcpu / MAX_CPU)
                    gi = 0
                    for d in range(n_gpus[n]):
                        gi += idle[n, d]
                    dot += (gi / MAX_GPU) * ((pnum * pmilli) / MAX_GPU)
                    s = float(int(math.floor(100.0 * (1.0 - dot / 2.0))))
                elif policy == GPUCLUSTERING:
                    if pmilli > 0:
                        gi = 0
                        for d in range(n_gpus[n]):
                            gi += idle[n, d]
                        base = (25 * (8000 - gi)) // 8000
                        t = 1 if is_frac else (1 << pnum)
                        h = tags[n]
                        if h == 0:
                            s = float(base + 25)
                        elif h == t:
                            s = float(base + 75)
                        elif h & t:
                            s = float(base + 50)
                        else:
                            s = float(base)
                elif policy == GPUPACKING:
                    if pmilli > 0:
                        s = float(_packing_score(idle[n], n_gpus[n], pmilli, pnum))
                elif policy == BESTFIT:
                    gi = 0
                    for d in range(n_gpus[n]):
                        gi += idle[n, d]
                    x = 0.5 * (cpu[n] - pcpu) / MAX_CPU + 0.5 * (gi - pnum * pmilli) / MAX_GPU
                    s = float(int(math.floor(100.0 * (1.0 - x))))
                elif policy == FGD:
                    s, dev[j] = _fgd_eval(n, idle, n_gpus, cpu, n_model, pcpu, pmilli, pnum, frag, tp_cpu,
                                          tp_milli, tp_num, tp_spec, tp_w, scratch, True)
                elif policy == PACKER:
                    fg, dev[j] = _fgd_eval(n, idle, n_gpus, cpu, n_model, pcpu, pmilli, pnum, pkfrag,
                                           tp_cpu, tp_milli, tp_num, tp_spec, pk_w, scratch, True)
                    raw = 0.0
                    if pmilli > 0 and not is_frac:
                        raw, _ = _fgd_eval(n, idle, n_gpus, cpu, n_model, pcpu, pmilli, pnum, pkfrag,
                                           tp_cpu, tp_milli, tp_num, tp_spec, pk_w, scratch, False)
                    s, score2[j], score3[j] = _packer_score(fg, raw, idle[n], n_gpus[n], cpu[n], pcpu, pnum,
                                                            pmilli, rho)
                    if is_frac:
                        dev[j] = _best_device(idle[n], n_gpus[n], pmilli)
                score[j] = s
            if policy == BESTFIT:
                lo = score[0]
                hi = score[0]
                for j in range(1, k):
                    lo = min(lo, score[j])
                    hi = max(hi, score[j])
                for j in range(k):
                    if hi > lo:
                        score[j] = float(((int(score[j]) - int(lo)) * 100) // (int(hi) - int(lo)))
                    else:
                        score[j] = 0.0
            bj = 0
            for j in range(1, k):
                if _better(score[j], score2[j], score3[j], n_rank[feas[j]],
                           score[bj], score2[bj], score3[bj], n_rank[feas[bj]]):
                    bj = j
            chosen = feas[bj]
            cdev = dev[bj]
    if chosen < 0:
        return -1, 0
    n = chosen
    mask = 0
    if pmilli > 0:
        if is_frac:
            if policy == RANDOM:
                cnt = 0
                for d in range(n_gpus[n]):
                    if idle[n, d] >= pmilli:
                        cnt += 1
                pick = int(math.floor(r1 * cnt))
                for d in range(n_gpus[n]):
                    if idle[n, d] >= pmilli:
                        if pick == 0:
                            cdev = d
                            break
                        pick -= 1
            elif policy == FGD or policy == PACKER:
                # the scored device value; the lowest-numbered device with that idle
                v = idle[n, cdev]
                for d in range(n_gpus[n]):
                    if idle[n, d] == v:
                        cdev = d
                        break
            else:
                cdev = _best_device(idle[n], n_gpus[n], pmilli)
            idle[n, cdev] -= pmilli
            mask = 1 << cdev
        else:
            left = pnum
            for d in range(n_gpus[n]):
                if left > 0 and idle[n, d] == 1000:
                    idle[n, d] = 1000 - pmilli
                    mask |= 1 << d
                    left -= 1
        t = 0 if is_frac else pnum
        tagcnt[n, t] += 1
        tags[n] |= 1 << t
    cpu[n] -= pcpu
    mem[n] -= pmem
    _frag_all(n, idle, n_gpus, cpu, n_model, frag, pkfrag, policy, tp_cpu, tp_milli, tp_num, tp_spec, tp_w, pk_w)
    return n, mask


@_jit
def release_pod(policy, n, mask, pcpu, pmem, pnum, pmilli, n_gpus, n_model, cpu, mem, idle, tags, tagcnt, frag,
                pkfrag, tp_cpu, tp_milli, tp_num, tp_spec, tp_w, pk_w):
    """Undoes :func:`place_pod` of a pod that ran on node n with device mask ``mask`` (a departure)."""
    cpu[n] += pcpu
    mem[n] += pmem
    if pmilli > 0:
        for d in range(n_gpus[n]):
            if (mask >> d) & 1:
                idle[n, d] += pmilli
        t = 0 if (pmilli < 1000 and pnum == 1) else pnum
        tagcnt[n, t] -= 1
        if tagcnt[n, t] == 0:
            tags[n] &= ~(1 << t)
    _frag_all(n, idle, n_gpus, cpu, n_model, frag, pkfrag, policy, tp_cpu, tp_milli, tp_num, tp_spec, tp_w, pk_w)


@_jit
def replay(policy, n_cpu, n_mem, n_gpus, n_model, n_rank, p_cpu, p_mem, p_num, p_milli, p_spec, rand,
           tp_cpu, tp_milli, tp_num, tp_spec, tp_w, pk_w, rho):
    """Replays the pods in order under ``policy``; returns placements and the per-pod log.

    ``tp_w`` are the typical-pod probabilities of §5.7 (the logged fragmentation and FGD's score);
    ``pk_w`` the weights the packer policy uses; ``rho`` its CPU-balance weight (:func:`_packer_score`).
    Returns (node, devmask, arrived, used, frag, idle) arrays, one entry per pod.
    """
    N = n_cpu.shape[0]
    P = p_cpu.shape[0]
    cpu, mem, idle, tags, tagcnt, frag, pkfrag = init_state(policy, n_cpu, n_mem, n_gpus, n_model, tp_cpu, tp_milli,
                                                            tp_num, tp_spec, tp_w, pk_w)
    cap = 0
    for n in range(N):
        cap += 1000 * n_gpus[n]
    used_total = 0
    arrived = 0

    out_node = np.full(P, -1, np.int64)
    out_mask = np.zeros(P, np.int64)
    log_a = np.zeros(P, np.int64)
    log_u = np.zeros(P, np.int64)
    log_f = np.zeros(P, np.float64)
    log_i = np.zeros(P, np.int64)
    for i in range(P):
        arrived += p_num[i] * p_milli[i]
        n, mask = place_pod(policy, p_cpu[i], p_mem[i], p_num[i], p_milli[i], p_spec[i], rand[i, 0], rand[i, 1],
                            n_gpus, n_model, n_rank, cpu, mem, idle, tags, tagcnt, frag, pkfrag, tp_cpu, tp_milli,
                            tp_num, tp_spec, tp_w, pk_w, rho, -1)
        if n >= 0:
            used_total += p_num[i] * p_milli[i]
            out_node[i] = n
            out_mask[i] = mask
        ftot = 0.0
        for m in range(N):
            ftot += frag[m]
        log_a[i] = arrived
        log_u[i] = used_total
        log_f[i] = ftot
        log_i[i] = cap - used_total
    return out_node, out_mask, log_a, log_u, log_f, log_i
