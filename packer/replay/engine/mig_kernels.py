"""Numba kernel of the MIG variant of the openb replay (private; see packer.replay.mig_variant).

Each GPU is a MIG GPU of its node's model: a bitmask ``occ`` of the memory positions its instances
use, and the compute slices they use. A fractional pod asks for one instance of a profile (given per
model in ``p_prof``) at a legal start whose positions are free; a whole-GPU pod takes empty GPUs
(full mode). Allocation counts compute slices (a profile's GPU-equivalents), in milli.

Policies (codes of :mod:`packer.online.policies`): first-fit (first node in tie order, lowest GPU,
lowest start), best-fit (§5.8 BestFit node score; the fitting GPU with the fewest free slices;
lowest start), fgd (§5.9 with the slot exact fragmentation below), packer-mig (slot-aware: the
start that loses the least placement potential).

Fragmentation of a node for typical pod m (FGD adapted to MIG): the free compute of every GPU on
which m's profile has no legal free start (whole-GPU m: every non-empty GPU), or all free compute
when m cannot be placed on the node at all (CPU, model, count) or is CPU-only.
"""

from __future__ import annotations

import math

import numpy as np

from packer.online._jit import jit as _jit
from packer.online.policies import BEST_FIT as BESTFIT
from packer.online.policies import FGD
from packer.online.policies import FIRST_FIT as FIRSTFIT
from packer.online.policies import PACKER_MIG as PACKER
from packer.online.scoring import first_free_start, max_fit, sigmoid_score

# Policy codes are the registry's (packer.online.policies); PACKER here is ``packer-mig``.


@_jit
def _can_place(occ, q, q_size, q_starts, q_nstarts):
    """Lowest legal free start of profile q on a GPU with occupancy ``occ``, or -1."""
    return first_free_start(occ, q_size[q], q_starts[q], q_nstarts[q])


@_jit
def _max_fit(occ, q, q_size, q_starts, q_nstarts):
    """How many more instances of profile q fit (every start may hold one: MigTables checks max_count)."""
    return max_fit(occ, q_size[q], q_starts[q], q_nstarts[q], q_nstarts[q])


@_jit
def _node_frag(n, occ, used, gpus, model, cpu_free, m_slices, tp_cpu, tp_milli, tp_num, tp_spec, tp_prof, tp_w,
               q_size, q_starts, q_nstarts):
    k = model[n]
    sl = m_slices[k] if k >= 0 else 1
    free = np.zeros(8)
    g_total = 0.0
    for d in range(gpus[n]):
        free[d] = (sl - used[n, d]) * 1000.0 / sl
        g_total += free[d]
    total = 0.0
    for m in range(tp_w.shape[0]):
        f = g_total
        if tp_milli[m] > 0 and (tp_spec[m] == 0 or (tp_spec[m] >> k) & 1):
            cnt = 0
            part = 0.0
            whole = tp_milli[m] >= 1000
            q = tp_prof[m, k]
            for d in range(gpus[n]):
                if whole:
                    ok = occ[n, d] == 0
                else:
                    ok = q >= 0 and _can_place(occ[n, d], q, q_size, q_starts, q_nstarts) >= 0
                if ok:
                    cnt += 1
                else:
                    part += free[d]
            if cnt >= tp_num[m] and cpu_free >= tp_cpu[m]:
                f = part
        total += tp_w[m] * f
    return total


@_jit
def _potential(occ, k, sl, tp_milli, tp_prof, tp_w, q_compute, q_size, q_starts, q_nstarts):
    """Weighted compute of the typical instances that still fit on one GPU (slot exact)."""
    p = 0.0
    for m in range(tp_w.shape[0]):
        if tp_milli[m] == 0:
            continue
        if tp_milli[m] >= 1000:
            if occ == 0:
                p += tp_w[m] * sl
            continue
        q = tp_prof[m, k]
        if q >= 0:
            p += tp_w[m] * q_compute[q] * _max_fit(occ, q, q_size, q_starts, q_nstarts)
    return p


@_jit
def mig_replay(policy, n_cpu, n_mem, n_gpus, n_model, n_rank, m_slices, p_cpu, p_mem, p_num, p_milli, p_spec,
               p_prof, q_compute, q_size, q_starts, q_nstarts, tp_cpu, tp_milli, tp_num, tp_spec, tp_prof, tp_w,
               rho):
    """Replays pods one at a time; returns (node, gpu, start, arrived, used, frag) per pod."""
    N = n_cpu.shape[0]
    P = p_cpu.shape[0]
    cpu = n_cpu.copy()
    mem = n_mem.copy()
    occ = np.zeros((N, 8), np.int64)
    used = np.zeros((N, 8), np.int64)  # compute slices in use per GPU
    frag = np.zeros(N)
    for n in range(N):
        frag[n] = _node_frag(n, occ, used, n_gpus, n_model, cpu[n], m_slices, tp_cpu, tp_milli, tp_num, tp_spec,
                             tp_prof, tp_w, q_size, q_starts, q_nstarts)
    out_node = np.full(P, -1, np.int64)
    out_gpu = np.full(P, -1, np.int64)
    out_start = np.full(P, -1, np.int64)
    log_a = np.zeros(P, np.int64)
    log_u = np.zeros(P)
    log_f = np.zeros(P)
    feas = np.empty(N, np.int64)
    sc1 = np.zeros(N)
    sc2 = np.zeros(N)
    sc3 = np.zeros(N)
    cg = np.zeros(N, np.int64)
    cs = np.zeros(N, np.int64)
    arrived = 0
    used_total = 0.0
    for i in range(P):
        pcpu = p_cpu[i]
        pmem = p_mem[i]
        pnum = p_num[i]
        pmilli = p_milli[i]
        whole = pmilli >= 1000
        arrived += pnum * pmilli
        k = 0
        for n in range(N):
            if cpu[n] < pcpu or mem[n] < pmem:
                continue
            if pmilli > 0:
                if n_gpus[n] == 0:
                    continue
                if p_spec[i] != 0 and not ((p_spec[i] >> n_model[n]) & 1):
                    continue
                if whole:
                    e = 0
                    for d in range(n_gpus[n]):
                        if occ[n, d] == 0:
                            e += 1
                    if e < pnum:
                        continue
                else:
                    q = p_prof[i, n_model[n]]
                    if q < 0:
                        continue
                    ok = False
                    for d in range(n_gpus[n]):
                        if _can_place(occ[n, d], q, q_size, q_starts, q_nstarts) >= 0:
                            ok = True
                            break
                    if not ok:
                        continue
            feas[k] = n
            k += 1
        if k > 0:
            for j in range(k):
                n = feas[j]
                mk = n_model[n]
                sl = m_slices[mk] if mk >= 0 else 1
                sc1[j] = 0.0
                sc2[j] = 0.0
                sc3[j] = 0.0
                cg[j] = -1
                cs[j] = -1
                gi = 0.0
                for d in range(n_gpus[n]):
                    gi += (sl - used[n, d]) * 1000.0 / sl
                # candidate (gpu, start) by the policy's device rule
                if pmilli > 0 and not whole:
                    q = p_prof[i, mk]
                    alloc = q_compute[q] * 1000.0 / sl
                    best = -1e300
                    b2 = -1e300
                    for d in range(n_gpus[n]):
                        s = _can_place(occ[n, d], q, q_size, q_starts, q_nstarts)
                        if s < 0:
                            continue
                        if policy == FIRSTFIT:
                            if cg[j] < 0:
                                cg[j] = d
                                cs[j] = s
                            continue
                        if policy == BESTFIT:
                            v = -float(sl - used[n, d])
                            if v > best:
                                best = v
                                cg[j] = d
                                cs[j] = s
                            continue
                        mask = (1 << q_size[q]) - 1
                        for t in range(q_nstarts[q]):
                            s2 = q_starts[q, t]
                            if (occ[n, d] & (mask << s2)) != 0:
                                continue
                            o_before = occ[n, d]
                            u_before = used[n, d]
                            occ[n, d] = o_before | (mask << s2)
                            used[n, d] = u_before + q_compute[q]
                            if policy == FGD:
                                after = _node_frag(n, occ, used, n_gpus, n_model, cpu[n] - pcpu, m_slices, tp_cpu,
                                                   tp_milli, tp_num, tp_spec, tp_prof, tp_w, q_size, q_starts,
                                                   q_nstarts)
                                v = float(sigmoid_score(frag[n] - after))
                                v2 = 0.0
                            else:
                                loss = _potential(o_before, mk, sl, tp_milli, tp_prof, tp_w, q_compute, q_size,
                                                  q_starts, q_nstarts) - _potential(
                                    occ[n, d], mk, sl, tp_milli, tp_prof, tp_w, q_compute, q_size, q_starts,
                                    q_nstarts)
                                v = -loss
                                v2 = -float(sl - used[n, d])  # then the tightest GPU
                            occ[n, d] = o_before
                            used[n, d] = u_before
                            if v > best or (v == best and v2 > b2):
                                best = v
                                b2 = v2
                                cg[j] = d
                                cs[j] = s2
                    if policy == FGD:
                        sc1[j] = best
                    elif policy == PACKER:
                        sc1[j] = best
                        sc2[j] = b2
                else:
                    alloc = pnum * 1000.0 if whole else 0.0
                    if policy == FGD or policy == PACKER:
                        # whole GPUs: the lowest-numbered empty GPUs; CPU-only: CPU only
                        saved_o = occ[n].copy()
                        saved_u = used[n].copy()
                        left = pnum if whole else 0
                        for d in range(n_gpus[n]):
                            if left > 0 and occ[n, d] == 0:
                                occ[n, d] = -1
                                used[n, d] = sl
                                left -= 1
                        after = _node_frag(n, occ, used, n_gpus, n_model, cpu[n] - pcpu, m_slices, tp_cpu, tp_milli,
                                           tp_num, tp_spec, tp_prof, tp_w, q_size, q_starts, q_nstarts)
                        occ[n] = saved_o
                        used[n] = saved_u
                        fg = float(sigmoid_score(frag[n] - after))
                        sc1[j] = fg
                        if policy == PACKER:
                            surplus = (cpu[n] - pcpu) - rho * (gi - alloc)
                            fit = -surplus if surplus >= 0.0 else -1e12 + surplus
                            if pmilli == 0:
                                sc1[j] = surplus
                                sc2[j] = fg
                            else:
                                sc2[j] = fit
                if policy == BESTFIT:
                    x = 0.5 * (cpu[n] - pcpu) / 128000.0 + 0.5 * (gi - alloc) / 8000.0
                    sc1[j] = float(int(math.floor(100.0 * (1.0 - x))))
            if policy == BESTFIT and k > 1:
                lo = sc1[0]
                hi = sc1[0]
                for j in range(1, k):
                    lo = min(lo, sc1[j])
                    hi = max(hi, sc1[j])
                for j in range(k):
                    sc1[j] = float(((int(sc1[j]) - int(lo)) * 100) // (int(hi) - int(lo))) if hi > lo else 0.0
            bj = 0
            for j in range(1, k):
                a = feas[j]
                b = feas[bj]
                if sc1[j] != sc1[bj]:
                    better = sc1[j] > sc1[bj]
                elif sc2[j] != sc2[bj]:
                    better = sc2[j] > sc2[bj]
                elif sc3[j] != sc3[bj]:
                    better = sc3[j] > sc3[bj]
                else:
                    better = n_rank[a] < n_rank[b]
                if better:
                    bj = j
            n = feas[bj]
            mk = n_model[n]
            sl = m_slices[mk] if mk >= 0 else 1
            if pmilli > 0:
                if whole:
                    left = pnum
                    for d in range(n_gpus[n]):
                        if left > 0 and occ[n, d] == 0:
                            occ[n, d] = -1
                            used[n, d] = sl
                            if left == pnum:
                                out_gpu[i] = d
                            left -= 1
                    used_total += pnum * 1000.0
                else:
                    q = p_prof[i, mk]
                    d = cg[bj]
                    s = cs[bj]
                    occ[n, d] |= ((1 << q_size[q]) - 1) << s
                    used[n, d] += q_compute[q]
                    used_total += q_compute[q] * 1000.0 / sl
                    out_gpu[i] = d
                    out_start[i] = s
            cpu[n] -= pcpu
            mem[n] -= pmem
            frag[n] = _node_frag(n, occ, used, n_gpus, n_model, cpu[n], m_slices, tp_cpu, tp_milli, tp_num, tp_spec,
                                 tp_prof, tp_w, q_size, q_starts, q_nstarts)
            out_node[i] = n
        ftot = 0.0
        for n in range(N):
            ftot += frag[n]
        log_a[i] = arrived
        log_u[i] = used_total
        log_f[i] = ftot
    return out_node, out_gpu, out_start, log_a, log_u, log_f
