"""Numba kernels of the online placer. Private: arrays and scalars in, arrays and scalars out.

Every candidate is compared by the key (k1, k2, GPU index, profile choice order, start), lower
first: k1 is the policy's primary score (node-level for the README baselines, GPU-level for
``packer``), k2 its device choice. Nodes are scanned in the order of the ``nodes`` array; a node is
skipped by its aggregates (host resources, isolation, free whole GPUs, largest free share, MIG
profiles that fit somewhere, best MIG score) before any of its GPUs is looked at.
"""

from __future__ import annotations

import math

import numpy as np

from packer.online._jit import jit, jit_inline
from packer.online.policies import (
    BEST_FIT,
    DOTPRODUCT,
    FGD,
    FGD_SCALE,
    FIRST_FIT,
    GPUCLUSTERING,
    GPUPACKING,
    PACKER,
    RANDOM,
)
from packer.online.scoring import frag_of, max_fit, sigmoid_score
from packer.online.state import (
    ANY,
    B_BFGPU,
    B_BFMIG,
    B_BFSHARE,
    B_MAXCPU,
    B_MAXFREEFULL,
    B_MAXMEM,
    B_MAXMILLI,
    B_MIGFIT,
    B_MILLIMASK,
    B_MINFULLKEY,
    B_N0,
    B_N1,
    BLK,
    DOM_WEIGHT,
    FULL,
    G_BASE,
    G_FREE,
    G_ISON,
    G_ISOT,
    G_MODE,
    G_MODEL,
    G_NODE,
    G_OCC,
    G_UNITS,
    G_USEDC,
    ISO_GPU,
    ISO_NODE,
    K_GPU,
    K_MIG,
    K_SHARE,
    M_COMPUTE,
    M_NPROF,
    MIG,
    MILLI_BUCKET,
    N_CPU,
    N_DOMKEY,
    N_FREEFULL,
    N_GPU0,
    N_IDLE,
    N_ISON,
    N_ISOT,
    N_MAXMILLI,
    N_MEM,
    N_MIGFIT,
    N_MILLIMASK,
    N_MODEL,
    N_NGPU,
    N_PODS,
    N_UNITS,
    NO_TENANT,
    P_COMPUTE,
    P_MAXC,
    P_NSTARTS,
    P_SIZE,
    PP_CPUNORM,
    PP_DOMNORM,
    PP_GPUNORM,
    PP_WANY,
    PP_WEMPTY,
    PP_WNODE,
    PP_WSTRAND,
    R_CPU,
    R_GPUMAX,
    R_KIND,
    R_MEM,
    R_MILLI,
    R_NEED,
    R_NOANY,
    R_PODCPU,
    R_PODGPU,
    R_POLICY,
    R_TAG,
    R_TENANT,
    R_TISO,
    S_B64,
    S_BBEST,
    S_FRAG,
    S_G32,
    S_GPC,
    S_GREQ,
    S_GSCORE,
    S_GSTART,
    S_MINFO,
    S_MP,
    S_MS,
    S_N64,
    S_NALLOW,
    S_NBEST,
    S_NTAG,
    S_PP,
    S_TWS,
    SHARED,
    TW_CPU,
    TW_MILLI,
    TW_NUM,
    TW_PROB,
    TW_SPEC,
)

BIG = 1e300
#: ``packer``'s node-gang key per unit of an elastic gang a node cannot take: above any idle-milli
#: difference (at most 64 GPUs × 1000 per node), so more units always win.
ELASTIC_UNIT = 1e6


@jit_inline
def _node_ok(n64, n, rq, nallow):
    """Host resources, node isolation and the caller's node filter."""
    if nallow[n] == 0:
        return False
    if n64[n, N_CPU] < rq[R_CPU] or n64[n, N_MEM] < rq[R_MEM]:
        return False
    t = rq[R_TENANT]
    if n64[n, N_ISON] > 0 and n64[n, N_ISOT] != t:
        return False
    if rq[R_TISO] == ISO_NODE and n64[n, N_UNITS] > 0:
        if not (n64[n, N_ISOT] == t and n64[n, N_ISON] == n64[n, N_UNITS]):
            return False
    return True


@jit_inline
def _gpu_ok(g32, g, rq, greq):
    """GPU isolation and the request's cap of units per GPU."""
    if greq[g] >= rq[R_GPUMAX]:
        return False
    t = rq[R_TENANT]
    if g32[g, G_ISON] > 0 and g32[g, G_ISOT] != t:
        return False
    if rq[R_TISO] >= ISO_GPU and g32[g, G_UNITS] > 0:
        if not (g32[g, G_ISOT] == t and g32[g, G_ISON] == g32[g, G_UNITS]):
            return False
    return True


@jit_inline
def _node_may_fit(n64, n, rq, rprof, modelok):
    """The node's aggregates allow one more unit of the request."""
    m = n64[n, N_MODEL]
    if n64[n, N_NGPU] == 0:
        return False
    kind = rq[R_KIND]
    if kind == K_MIG:
        fit = n64[n, N_MIGFIT]
        for k in range(rprof.shape[1]):
            p = rprof[m, k]
            if p < 0:
                break
            if (fit >> p) & 1:
                return True
        return False
    if modelok[m] == 0:
        return False
    if kind == K_GPU:
        return n64[n, N_FREEFULL] > 0
    return n64[n, N_MAXMILLI] >= rq[R_MILLI]


@jit
def _node_frag(g32, n64, tws, n, dmilli, dcpu):
    """FGD node fragmentation (README §5.7, :func:`packer.online.scoring.frag_of`) of node n's non-MIG
    GPUs under the target workload ``tws`` (rows: CPU, milli per GPU, GPUs, probability, models mask),
    with each GPU's free milli lowered by ``dmilli[local index]`` and the node's free CPU by ``dcpu``."""
    g0 = n64[n, N_GPU0]
    ng = n64[n, N_NGPU]
    free = np.empty(ng, dtype=np.int64)
    whole_only = np.empty(ng, dtype=np.bool_)
    c = 0
    for k in range(ng):
        g = g0 + k
        mode = g32[g, G_MODE]
        if mode != MIG:
            free[c] = g32[g, G_FREE] - dmilli[k]
            whole_only[c] = mode == FULL
            c += 1
    return frag_of(free, whole_only, c, n64[n, N_CPU] - dcpu, 0, tws[:, TW_CPU], tws[:, TW_MILLI], tws[:, TW_NUM],
                   tws[:, TW_SPEC], tws[:, TW_PROB])


@jit_inline
def _share_stats(g32, n64, tws, n, cnt, part):
    """Node n's non-MIG GPUs as :func:`frag_of` sees them, per typical pod m: cnt[m] the GPUs m can
    use, part[m] the free milli of the others. Returns (free milli of all of them, the node's FGD
    fragmentation now: the same sum, term by term and in the same order, as :func:`_node_frag`
    with no change)."""
    g0 = n64[n, N_GPU0]
    ng = n64[n, N_NGPU]
    g_total = 0
    for k in range(ng):
        if g32[g0 + k, G_MODE] != MIG:
            g_total += g32[g0 + k, G_FREE]
    cpu_free = n64[n, N_CPU]
    total = 0.0
    for m in range(tws.shape[0]):
        mm = tws[m, TW_MILLI]
        f = g_total
        c = 0
        pt = 0
        if mm > 0 and (tws[m, TW_SPEC] == 0 or int(tws[m, TW_SPEC]) & 1):
            for k in range(ng):
                g = g0 + k
                mode = g32[g, G_MODE]
                if mode == MIG:
                    continue
                fr = g32[g, G_FREE]
                if fr >= mm and (mm >= 1000 or mode != FULL):
                    c += 1
                else:
                    pt += fr
            if c >= tws[m, TW_NUM] and cpu_free >= tws[m, TW_CPU]:
                f = pt
        cnt[m] = c
        part[m] = pt
        total += tws[m, TW_PROB] * f
    return g_total, total


@jit_inline
def _share_after(tws, cnt, part, g_total, fr, whole, x, cpu_after):
    """The node's FGD fragmentation after a share of ``x`` milli on one of its non-MIG GPUs (free
    ``fr``, full mode when ``whole``) with the node's free CPU then ``cpu_after``, from
    :func:`_share_stats`' per-pod counts: only that GPU's term of each count changes, so each pod's
    integer fragment, and the float sum over the pods in order, equal :func:`_node_frag`'s."""
    gt = g_total - x
    fa = fr - x
    total = 0.0
    for m in range(tws.shape[0]):
        mm = tws[m, TW_MILLI]
        f = gt
        if mm > 0 and (tws[m, TW_SPEC] == 0 or int(tws[m, TW_SPEC]) & 1):
            c = cnt[m]
            pt = part[m]
            if fr >= mm and (mm >= 1000 or not whole):
                c -= 1
            else:
                pt -= fr
            if fa >= mm and (mm >= 1000 or not whole):
                c += 1
            else:
                pt += fa
            if c >= tws[m, TW_NUM] and cpu_after >= tws[m, TW_CPU]:
                f = pt
        total += tws[m, TW_PROB] * f
    return total


@jit_inline
def _fgd_share_weight(tws, millimask, milli, cpu):
    """The weight of the typical pods whose fragment a share of ``milli`` on a node (free-milli
    buckets ``millimask``, free CPU ``cpu``) can lower: its change is at least −milli × this.

    A typical pod m's fragment changes by at least −milli, and by at least 0 when m can run on the
    node and can use the GPU that takes the share (that GPU keeps or loses m's use: m's part grows
    or stays; or m can no longer run, and its fragment grows to all the free milli, of which that
    GPU's, at least ``milli``, was not part). So only pods that use no GPU, need several GPUs or
    more CPU than the node has, or more milli than the least free GPU that can take the share
    (bounded below by its bucket) may count."""
    b = milli // MILLI_BUCKET
    rest = millimask >> b
    if rest == 0:
        return 0.0
    while (rest & 1) == 0:
        rest >>= 1
        b += 1
    fmin = b * MILLI_BUCKET  # a lower bound of the free milli of any GPU that can take the share
    w = 0.0
    for m in range(tws.shape[0]):
        mm = tws[m, TW_MILLI]
        if mm <= 0 or tws[m, TW_SPEC] != 0 or tws[m, TW_NUM] > 1 or tws[m, TW_CPU] > cpu or mm > fmin:
            w += tws[m, TW_PROB]
    return w


@jit_inline
def _dev_fit(g32, gpc, mp, gstart, rq, rprof, g, m):
    """(profile choice index, profile, start) of the first fitting choice on GPU g; (-1,-1,-1) when none."""
    mode = g32[g, G_MODE]
    kind = rq[R_KIND]
    if mode == ANY and rq[R_NOANY] != 0:
        return -1, -1, -1
    if kind == K_MIG:
        if mode != MIG and mode != ANY:
            return -1, -1, -1
        occ = g32[g, G_OCC]
        for k in range(rprof.shape[1]):
            p = rprof[m, k]
            if p < 0:
                break
            s = gstart[m, p, occ]
            if s >= 0 and gpc[g, p] < mp[m, p, P_MAXC]:
                return k, p, s
        return -1, -1, -1
    if kind == K_GPU:
        if (mode == FULL or mode == ANY) and g32[g, G_UNITS] == 0:
            return 0, -1, -1
        return -1, -1, -1
    if (mode == SHARED or mode == ANY) and g32[g, G_FREE] >= rq[R_MILLI]:
        return 0, -1, -1
    return -1, -1, -1


@jit_inline
def _stranded(g32, mp, minfo, gstart, g, m, p, s):
    """Compute slices GPU g would leave idle for good after profile p at start s: the slices left,
    when no profile that needs no more of them still has a free legal start; else 0."""
    left = minfo[m, M_COMPUTE] - g32[g, G_USEDC] - mp[m, p, P_COMPUTE]
    if left <= 0:
        return 0
    after = g32[g, G_OCC] | (((1 << mp[m, p, P_SIZE]) - 1) << s)
    for q in range(minfo[m, M_NPROF]):
        if mp[m, q, P_COMPUTE] <= left and gstart[m, q, after] >= 0:
            return 0
    return left


@jit_inline
def _dev_keys(g32, n64, gpc, mp, minfo, gstart, gscore, frag, tws, pp, rq, g, m, p, s, scratch):
    """(d1, d2) device-level keys of placing one unit at (g, p, s) under the request's policy."""
    pol = rq[R_POLICY]
    kind = rq[R_KIND]
    mode = g32[g, G_MODE]
    occ = g32[g, G_OCC]
    anyf = 1.0 if mode == ANY else 0.0
    if pol == FIRST_FIT:
        return 0.0, 0.0
    if pol == PACKER:
        # every tenant pays for converting an 'any' GPU, node-isolated ones too: an 'any' node they
        # open is lost to every other tenant's work of every kind (training-0..4: a node-isolated
        # tenant preferring 'any' nodes took the GPUs later 8-GPU node gangs needed)
        wany = pp[PP_WANY] * anyf
        if kind == K_MIG:
            e = pp[PP_WEMPTY] if occ == 0 else 0.0
            if pp[PP_WSTRAND] > 0.0:
                e += pp[PP_WSTRAND] * _stranded(g32, mp, minfo, gstart, g, m, p, s)
            return float(gscore[m, p, occ]) + e + wany, 0.0
        if kind == K_GPU:
            return wany, 0.0
        return float(g32[g, G_FREE] - rq[R_MILLI]) + wany, 0.0
    if pol == FGD:
        if kind == K_MIG:
            after = occ | (((1 << mp[m, p, P_SIZE]) - 1) << s)
            return 0.0, frag[m, after] - frag[m, occ] + anyf
        if kind == K_GPU or rq[R_MILLI] >= 1000:
            return 0.0, anyf
        n = g32[g, G_NODE]
        g0 = n64[n, N_GPU0]
        for k in range(n64[n, N_NGPU]):
            scratch[k] = 0
        before = _node_frag(g32, n64, tws, n, scratch, 0)
        scratch[g - g0] = rq[R_MILLI]
        after = _node_frag(g32, n64, tws, n, scratch, rq[R_CPU])
        scratch[g - g0] = 0
        return 0.0, after - before + anyf
    # README "best" device choice (and Random's devices are handled elsewhere)
    if kind == K_MIG:
        return 0.0, float(gscore[m, p, occ]) + anyf
    if kind == K_GPU or rq[R_MILLI] >= 1000:
        return 0.0, anyf
    return 0.0, float(g32[g, G_FREE]) + anyf


@jit_inline
def _free_cpu(n64, n, pp):
    c = n64[n, N_CPU]
    cap = pp[PP_CPUNORM]
    return cap if c > cap else float(c)


@jit_inline
def _bf_key(n64, n, pp, podcpu, podgpu):
    """Best-fit's node key (lower is better): minus ⌊100 × (1 − half the free CPU and half the idle GPU
    milli left, each normalised)⌋ (traces README §5.8)."""
    idle = float(n64[n, N_IDLE])
    raw = math.floor(100.0 * (1.0 - (0.5 * (_free_cpu(n64, n, pp) - podcpu) / pp[PP_CPUNORM]
                                     + 0.5 * (idle - podgpu) / pp[PP_GPUNORM])))
    return -float(raw)


@jit_inline
def _bf_bound(t, pp, podcpu, podgpu):
    """A lower bound of :func:`_bf_key` over nodes whose fc·GPUNORM + idle·CPUNORM is at least ``t``
    (the key grows with both; the slack covers the rounding of the other order of operations)."""
    cn = pp[PP_CPUNORM]
    gn = pp[PP_GPUNORM]
    raw = 100.0 * (1.0 + 0.5 * podcpu / cn + 0.5 * podgpu / gn - 0.5 * float(t) / (cn * gn))
    return -float(math.floor(raw + 1e-6))


@jit_inline
def _bf_t(n64, n, pp):
    """fc·GPUNORM + idle·CPUNORM of node n (the quantity best-fit's key grows with), integral."""
    cn = int(pp[PP_CPUNORM])
    c = n64[n, N_CPU]
    fc = cn if c > cn else c
    return fc * int(pp[PP_GPUNORM]) + n64[n, N_IDLE] * cn


@jit_inline
def _fgd_bound(lb, slack):
    """(k1, k2) lower bounds of FGD's key for a unit whose fragmentation change is at least ``lb``
    (k1 = −⌊100·σ(−change/1000)⌋ falls as the change falls; k2 = the change, + 1 on an 'any' GPU).
    k1's slack covers the rounding of the key's (change + 1) − 1; ``slack``, k2's, that of a bound
    not computed as the change is (0 for a MIG start's table score / FGD_SCALE: exact)."""
    return -float(sigmoid_score(1e-6 - lb)), lb - slack


@jit
def _node_key(g32, n64, ntag, pp, rq, n, bestg, bestd2):
    """The node-level part of k1 (lower is better) for policy rq[R_POLICY]; bestg is the node's chosen GPU."""
    pol = rq[R_POLICY]
    if pol == FIRST_FIT:
        return 0.0
    kind = rq[R_KIND]
    cn = pp[PP_CPUNORM]
    gn = pp[PP_GPUNORM]
    podcpu = float(rq[R_PODCPU])
    podgpu = float(rq[R_PODGPU])
    idle = float(n64[n, N_IDLE])
    if pol == PACKER:
        k = 0.0
        if n64[n, N_UNITS] == 0:
            k = pp[PP_WNODE]
        if kind == K_GPU:  # best fit on the node, then on its rack and pod (N_DOMKEY breaks ties)
            k += 16.0 * n64[n, N_FREEFULL] + DOM_WEIGHT * n64[n, N_DOMKEY] / pp[PP_DOMNORM]
        return k
    if pol == BEST_FIT:
        return _bf_key(n64, n, pp, podcpu, podgpu)
    if pol == DOTPRODUCT:
        dot = (_free_cpu(n64, n, pp) / cn) * (podcpu / cn) + (idle / gn) * (podgpu / gn)
        return -float(math.floor(100.0 * (1.0 - dot / 2.0)))
    if pol == GPUCLUSTERING:
        base = math.floor(25.0 * (gn - idle) / gn)
        tag = rq[R_TAG]
        pods = n64[n, N_PODS]
        same = ntag[n, tag]
        if pods == 0:
            bonus = 25
        elif same == pods:
            bonus = 75
        elif same > 0:
            bonus = 50
        else:
            bonus = 0
        return -float(base + bonus)
    if pol == GPUPACKING:
        g0 = n64[n, N_GPU0]
        ng = n64[n, N_NGPU]
        nfree = 0
        for k in range(ng):
            if g32[g0 + k, G_FREE] >= 1000:
                nfree += 1
        if nfree == ng:
            return -float(max(33 - nfree, nfree))
        lfree = g32[bestg, G_FREE]
        if lfree >= 1000:
            return -float(max(50 - 1, 33))
        return -float(max(100 - (math.floor(100.0 * lfree / 1000.0) // 10), 50))
    if pol == FGD:
        return -float(sigmoid_score(-(bestd2 - (1.0 if g32[bestg, G_MODE] == ANY else 0.0))))
    return 0.0


@jit_inline
def _node_term(g32, n64, pp, n):
    """packer's node-level term: the price of opening an empty node."""
    if n64[n, N_UNITS] != 0:
        return 0.0
    return pp[PP_WNODE]


@jit_inline
def _millimask_bound(mask, milli):
    """Lower bound of (free - milli) over GPUs whose free-milli buckets are in ``mask``; -1 when none fits."""
    b0 = milli // MILLI_BUCKET
    rest = mask >> b0
    if rest == 0:
        return -1.0
    b = b0
    while (rest & 1) == 0:
        rest >>= 1
        b += 1
    lo = b * MILLI_BUCKET - milli
    return float(lo) if lo > 0 else 0.0


@jit
def _block_may_fit(b64, bbest, rq, rprof, modelok, pol, bk1, bk2, pp):
    """The block's aggregates allow one unit (and, for packer, a key below bk1; for best-fit and FGD a
    key (k1, k2) below (bk1, bk2): a node of equal keys later in the scan loses the tie)."""
    if b64[B_MAXCPU] < rq[R_CPU] or b64[B_MAXMEM] < rq[R_MEM]:
        return False
    kind = rq[R_KIND]
    if pol == BEST_FIT:
        t = b64[B_BFGPU] if kind == K_GPU else (b64[B_BFMIG] if kind == K_MIG else b64[B_BFSHARE])
        if t >= 1 << 62:
            return False  # no node of the block may take a unit of this kind
        lb1 = _bf_bound(t, pp, float(rq[R_PODCPU]), float(rq[R_PODGPU]))
        lb2 = float(rq[R_MILLI]) if kind == K_SHARE else 0.0
        if lb1 > bk1 or (lb1 == bk1 and bk2 <= lb2):
            return False
    if kind == K_MIG:
        fit = b64[B_MIGFIT]
        lb = BIG
        ok = False
        for mi in range(rprof.shape[0]):
            for k in range(rprof.shape[1]):
                p = rprof[mi, k]
                if p < 0:
                    break
                if (fit >> p) & 1:
                    ok = True
                    if bbest[p] < lb:
                        lb = bbest[p]
        if not ok:
            return False
        if pol == PACKER and lb >= bk1:
            return False
        if pol == FGD:
            lb1, lb2 = _fgd_bound(lb / FGD_SCALE, 0.0)
            if lb1 > bk1 or (lb1 == bk1 and bk2 <= lb2):
                return False
        return True
    if kind == K_GPU:
        if b64[B_MAXFREEFULL] <= 0:
            return False
        if pol == PACKER and float(b64[B_MINFULLKEY]) >= bk1:
            return False
        return True
    if b64[B_MAXMILLI] < rq[R_MILLI]:
        return False
    if pol == PACKER:
        lb = _millimask_bound(b64[B_MILLIMASK], rq[R_MILLI])
        if lb < 0.0 or lb >= bk1:
            return False
    return True


@jit
def _scan_node(g32, gpc, n64, nbest, ntag, mp, minfo, gstart, gscore, frag, tws, pp, rq, rprof, modelok,
               nallow, greq, n, best, bi, scratch):
    """Looks at node n; updates best = (k1, k2) and bi = (g, p, s) when it holds a better unit."""
    pol = rq[R_POLICY]
    kind = rq[R_KIND]
    m = n64[n, N_MODEL]
    nodepart_known = pol == PACKER or pol == FIRST_FIT
    nodepart = 0.0
    if nodepart_known:
        nodepart = _node_key(g32, n64, ntag, pp, rq, n, -1, 0.0)
    g0 = n64[n, N_GPU0]
    nd1 = BIG
    nd2 = BIG
    ng_ = -1
    np_ = -1
    ns_ = -1
    t = rq[R_TENANT]
    tiso = rq[R_TISO]
    gmax = rq[R_GPUMAX]
    noany = rq[R_NOANY] != 0
    milli = rq[R_MILLI]
    fast = pol == PACKER or pol == FIRST_FIT
    wany = pp[PP_WANY] if pol == PACKER else 0.0
    wempty = pp[PP_WEMPTY] if pol == PACKER else 0.0
    wstrand = pp[PP_WSTRAND] if pol == PACKER else 0.0
    fgd_share = pol == FGD and kind == K_SHARE and milli < 1000
    have_before = False
    before = 0.0
    gtot = 0
    nt = tws.shape[0]
    cnt = scratch[192:192 + nt]  # FGD shares: per typical pod, the node's GPUs it can use and the others' free milli
    part = scratch[192 + nt:192 + 2 * nt]
    nseen = 0  # FGD: (free milli, mode) of the GPUs scored on this node, in scratch[64:128], [128:192]
    for k in range(n64[n, N_NGPU]):
        g = g0 + k
        # GPU isolation and the request's cap of units per GPU (written out: see _pick_unit)
        if greq[g] >= gmax:
            continue
        if g32[g, G_ISON] > 0 and g32[g, G_ISOT] != t:
            continue
        units = g32[g, G_UNITS]
        if tiso >= ISO_GPU and units > 0:
            if not (g32[g, G_ISOT] == t and g32[g, G_ISON] == units):
                continue
        mode = g32[g, G_MODE]
        if mode == ANY and noany:
            continue
        anyf = 1.0 if mode == ANY else 0.0
        if kind == K_MIG:
            if mode != MIG and mode != ANY:
                continue
            occ = g32[g, G_OCC]
            for c in range(rprof.shape[1]):
                p = rprof[m, c]
                if p < 0:
                    break
                s = gstart[m, p, occ]
                if s < 0 or gpc[g, p] >= mp[m, p, P_MAXC]:
                    continue
                if fast:
                    d1 = 0.0
                    if pol == PACKER:
                        d1 = float(gscore[m, p, occ]) + (wempty if occ == 0 else 0.0) + wany * anyf
                        if wstrand > 0.0:
                            d1 += wstrand * _stranded(g32, mp, minfo, gstart, g, m, p, s)
                    d2 = 0.0
                else:
                    d1, d2 = _dev_keys(g32, n64, gpc, mp, minfo, gstart, gscore, frag, tws, pp, rq, g, m, p, s, scratch)
                if d1 < nd1 or (d1 == nd1 and d2 < nd2):
                    nd1, nd2, ng_, np_, ns_ = d1, d2, g, p, s
        else:
            if kind == K_GPU:
                if not ((mode == FULL or mode == ANY) and units == 0):
                    continue
            elif not ((mode == SHARED or mode == ANY) and g32[g, G_FREE] >= milli):
                continue
            if fast:
                d1 = 0.0
                if pol == PACKER:
                    d1 = wany * anyf
                    if kind == K_SHARE:
                        d1 += float(g32[g, G_FREE] - milli)
                d2 = 0.0
            elif fgd_share:
                # FGD of a fractional unit (as _dev_keys scores it). The node's fragmentation before
                # is the same for each of its GPUs, so it is computed once per node; and the score
                # after depends on the GPU only through its free milli and mode (frag_of sums over
                # the node's GPUs in any order), so a GPU equal in both to one already scored here
                # cannot beat it (ties keep the first) and is skipped.
                free_g = g32[g, G_FREE]
                seen = False
                for j in range(nseen):
                    if scratch[64 + j] == free_g and scratch[128 + j] == mode:
                        seen = True
                        break
                if seen:
                    continue
                scratch[64 + nseen] = free_g
                scratch[128 + nseen] = mode
                nseen += 1
                if not have_before:  # the node's per-pod counts and its fragmentation now, once
                    gtot, before = _share_stats(g32, n64, tws, n, cnt, part)
                    have_before = True
                after = _share_after(tws, cnt, part, gtot, free_g, mode == FULL, milli, n64[n, N_CPU] - rq[R_CPU])
                d1, d2 = 0.0, after - before + anyf
            else:
                d1, d2 = _dev_keys(g32, n64, gpc, mp, minfo, gstart, gscore, frag, tws, pp, rq, g, m, -1, -1, scratch)
            if d1 < nd1 or (d1 == nd1 and d2 < nd2):
                nd1, nd2, ng_, np_, ns_ = d1, d2, g, -1, -1
        if pol == FIRST_FIT and ng_ >= 0:
            break
    if ng_ < 0:
        return
    if not nodepart_known:
        nodepart = _node_key(g32, n64, ntag, pp, rq, n, ng_, nd2)
    k1 = nodepart + nd1
    if k1 < best[0] or (k1 == best[0] and nd2 < best[1]):
        best[0] = k1
        best[1] = nd2
        bi[0] = ng_
        bi[1] = np_
        bi[2] = ns_


@jit
def _pick_unit(g32, gpc, n64, nbest, b64, bbest, ntag, mp, minfo, gstart, gscore, frag, tws, pp, rq, rprof, modelok,
               nallow, greq, nodes, u1, u2, out):
    """Best (GPU, profile, start) for one unit; returns False when nothing fits. Writes out[0:3].

    When ``nodes`` is every node (in order), whole blocks of nodes are skipped by their aggregates.
    The per-node test from the node's aggregates is written out here, without calls: a call that
    passes arrays costs reference counting, about 80 ns per node.
    """
    pol = rq[R_POLICY]
    if pol == RANDOM:
        return _pick_random(g32, gpc, n64, mp, gstart, rq, rprof, modelok, nallow, greq, nodes, u1, u2, out)
    # [0:64] a node's GPUs' milli deltas; [64:192] _scan_node's FGD GPU states; then its per-pod counts
    scratch = np.zeros(192 + 2 * tws.shape[0], dtype=np.int64)
    best = np.empty(2, dtype=np.float64)
    best[0] = BIG
    best[1] = BIG
    bi = np.full(3, -1, dtype=np.int64)
    kind = rq[R_KIND]
    cpu = rq[R_CPU]
    mem = rq[R_MEM]
    t = rq[R_TENANT]
    tiso = rq[R_TISO]
    milli = rq[R_MILLI]
    wnode = pp[PP_WNODE]
    nchoice = rprof.shape[1]
    # best-fit's and FGD's scans skip what cannot beat the best key so far, (best[0], best[1]) (a
    # node of equal keys later in the scan loses the tie): best-fit by its node key, which the node's
    # aggregates give (a block's: by its least fc·GPUNORM + idle·CPUNORM); FGD's MIG units by the
    # least floored fragmentation change of the profiles (nbest, bbest); FGD's other units by one
    # bound for every node: a whole GPU's key is (−50, 0 or 1 on an 'any' GPU), and a share of x milli
    # lowers the fragmentation by at most x × Σ probabilities (each typical pod's part falls by at
    # most the unit's milli), so the scan stops once a unit meets that bound
    podcpu = float(rq[R_PODCPU])
    podgpu = float(rq[R_PODGPU])
    bf2 = float(milli) if kind == K_SHARE and milli < 1000 else 0.0
    fgd_all = pol == FGD and kind != K_MIG
    fgd_frac = fgd_all and kind == K_SHARE and milli < 1000
    g1 = -BIG
    g2 = -BIG
    if fgd_all:
        if kind == K_SHARE and milli < 1000:
            w = 0.0
            for j in range(tws.shape[0]):
                w += tws[j, TW_PROB]
            g1, g2 = _fgd_bound(-float(milli) * w * (1.0 + 1e-9), 1e-6)
        else:
            g1 = -float(sigmoid_score(0.0))
            g2 = 0.0
    use_blocks = nodes.shape[0] == n64.shape[0]
    nb = b64.shape[0] if use_blocks else 1
    for b in range(nb):
        if fgd_all and (g1 > best[0] or (g1 == best[0] and best[1] <= g2)):
            break
        if use_blocks:
            if not _block_may_fit(b64[b], bbest[b], rq, rprof, modelok, pol, best[0], best[1], pp):
                continue
            lo = b64[b, B_N0]
            hi = b64[b, B_N1]
        else:
            lo = 0
            hi = nodes.shape[0]
        for i in range(lo, hi):
            n = i if use_blocks else nodes[i]
            if nallow[n] == 0 or n64[n, N_CPU] < cpu or n64[n, N_MEM] < mem or n64[n, N_NGPU] == 0:
                continue
            if n64[n, N_ISON] > 0 and n64[n, N_ISOT] != t:
                continue
            if tiso == ISO_NODE and n64[n, N_UNITS] > 0:
                if not (n64[n, N_ISOT] == t and n64[n, N_ISON] == n64[n, N_UNITS]):
                    continue
            m = n64[n, N_MODEL]
            lbm = BIG
            if kind == K_MIG:
                fit = n64[n, N_MIGFIT]
                ok = False
                for k in range(nchoice):
                    p = rprof[m, k]
                    if p < 0:
                        break
                    if (fit >> p) & 1:
                        ok = True
                        if nbest[n, p] < lbm:
                            lbm = nbest[n, p]
                if not ok:
                    continue
            elif modelok[m] == 0:
                continue
            elif kind == K_GPU:
                if n64[n, N_FREEFULL] <= 0:
                    continue
            elif n64[n, N_MAXMILLI] < milli:
                continue
            if pol == PACKER:
                term = 0.0
                if n64[n, N_UNITS] == 0:
                    term = wnode
                if kind == K_MIG:
                    if term + lbm >= best[0]:
                        continue
                elif kind == K_SHARE:
                    lbs = _millimask_bound(n64[n, N_MILLIMASK], milli)
                    if lbs < 0.0 or term + lbs >= best[0]:
                        continue
                elif term + 16.0 * n64[n, N_FREEFULL] + DOM_WEIGHT * n64[n, N_DOMKEY] / pp[PP_DOMNORM] >= best[0]:
                    continue
            elif pol == BEST_FIT:
                nk = _bf_key(n64, n, pp, podcpu, podgpu)
                if nk > best[0] or (nk == best[0] and best[1] <= bf2):
                    continue
            elif pol == FGD:
                if kind == K_MIG:
                    l1, l2 = _fgd_bound(lbm / FGD_SCALE, 0.0)
                    if l1 > best[0] or (l1 == best[0] and best[1] <= l2):
                        continue
                elif g1 > best[0] or (g1 == best[0] and best[1] <= g2):
                    break
                elif fgd_frac:
                    lw = _fgd_share_weight(tws, n64[n, N_MILLIMASK], milli, n64[n, N_CPU])
                    l1, l2 = _fgd_bound(-float(milli) * lw * (1.0 + 1e-9), 1e-6)
                    if l1 > best[0] or (l1 == best[0] and best[1] <= l2):
                        continue
            _scan_node(g32, gpc, n64, nbest, ntag, mp, minfo, gstart, gscore, frag, tws, pp, rq, rprof, modelok,
                       nallow, greq, n, best, bi, scratch)
            if pol == FIRST_FIT and bi[0] >= 0:
                break
        if pol == FIRST_FIT and bi[0] >= 0:
            break
    if bi[0] < 0:
        return False
    out[0] = bi[0]
    out[1] = bi[1]
    out[2] = bi[2]
    return True


@jit
def _pick_random(g32, gpc, n64, mp, gstart, rq, rprof, modelok, nallow, greq, nodes, u1, u2, out):
    """README Random: a uniform feasible node (u1), then a uniform fitting device (u2) for fractional units."""
    kind = rq[R_KIND]
    cnt = 0
    for i in range(nodes.shape[0]):
        n = nodes[i]
        if _node_ok(n64, n, rq, nallow) and _node_may_fit(n64, n, rq, rprof, modelok):
            if _count_fit_devices(g32, gpc, n64, mp, gstart, rq, rprof, greq, n) > 0:
                cnt += 1
    if cnt == 0:
        return False
    pick = int(math.floor(u1 * cnt))
    if pick >= cnt:
        pick = cnt - 1
    chosen = -1
    for i in range(nodes.shape[0]):
        n = nodes[i]
        if _node_ok(n64, n, rq, nallow) and _node_may_fit(n64, n, rq, rprof, modelok):
            if _count_fit_devices(g32, gpc, n64, mp, gstart, rq, rprof, greq, n) > 0:
                if pick == 0:
                    chosen = n
                    break
                pick -= 1
    nf = _count_fit_devices(g32, gpc, n64, mp, gstart, rq, rprof, greq, chosen)
    fractional = kind == K_MIG or (kind == K_SHARE and rq[R_MILLI] < 1000)
    j = int(math.floor(u2 * nf)) if fractional else 0
    if j >= nf:
        j = nf - 1
    m = n64[chosen, N_MODEL]
    g0 = n64[chosen, N_GPU0]
    for k in range(n64[chosen, N_NGPU]):
        g = g0 + k
        if not _gpu_ok(g32, g, rq, greq):
            continue
        c, p, s = _dev_fit(g32, gpc, mp, gstart, rq, rprof, g, m)
        if c < 0:
            continue
        if j == 0:
            out[0] = g
            out[1] = p
            out[2] = s
            return True
        j -= 1
    return False


@jit
def _count_fit_devices(g32, gpc, n64, mp, gstart, rq, rprof, greq, n):
    m = n64[n, N_MODEL]
    g0 = n64[n, N_GPU0]
    cnt = 0
    for k in range(n64[n, N_NGPU]):
        g = g0 + k
        if not _gpu_ok(g32, g, rq, greq):
            continue
        c, p, s = _dev_fit(g32, gpc, mp, gstart, rq, rprof, g, m)
        if c >= 0:
            cnt += 1
    return cnt


@jit
def _node_caps(g32, gpc, n64, b64, bbest, mp, ms, gstart, pp, rq, rprof, modelok, nallow, greq, nodes, limit, caps):
    """caps[i] = units of the request that node nodes[i] can take now (at most ``limit``).

    When ``nodes`` is every node in order, a block whose aggregates rule out one unit (host
    resources, free whole GPUs, largest free share, MIG profiles that fit) gets 0 for all its nodes
    without a look at them: the same caps, since each node's cap needs at least that. On a full
    131,072-GPU cluster this skips most of the 16,384 nodes of every scan."""
    nn = nodes.shape[0]
    every = nn == n64.shape[0]
    if every:
        for i in range(nn):
            if nodes[i] != i:
                every = False
                break
    if not every:
        for i in range(nn):
            caps[i] = _node_cap2(g32, gpc, n64, mp, ms, gstart, rq, rprof, modelok, nallow, greq, nodes[i], limit)
        return
    for b in range(b64.shape[0]):
        lo = b64[b, B_N0]
        hi = b64[b, B_N1]
        if not _block_may_fit(b64[b], bbest[b], rq, rprof, modelok, -1, BIG, BIG, pp):
            for n in range(lo, hi):
                caps[n] = 0
            continue
        for n in range(lo, hi):
            caps[n] = _node_cap2(g32, gpc, n64, mp, ms, gstart, rq, rprof, modelok, nallow, greq, n, limit)


@jit
def _node_cap2(g32, gpc, n64, mp, ms, gstart, rq, rprof, modelok, nallow, greq, n, limit):
    """How many units of the request node n can take now (at most ``limit``): greedy, slot exact."""
    if not _node_ok(n64, n, rq, nallow):
        return 0
    if not _node_may_fit(n64, n, rq, rprof, modelok):
        # the node's aggregates rule out even one unit (no GPUs, model, free whole GPUs, largest
        # free share, MIG profiles with a free legal start): the scan below would count none
        return 0
    m = n64[n, N_MODEL]
    kind = rq[R_KIND]
    cap = limit
    if rq[R_CPU] > 0:
        cap = min(cap, n64[n, N_CPU] // rq[R_CPU])
    if rq[R_MEM] > 0:
        cap = min(cap, n64[n, N_MEM] // rq[R_MEM])
    if cap <= 0:
        return 0
    g0 = n64[n, N_GPU0]
    total = 0
    for k in range(n64[n, N_NGPU]):
        g = g0 + k
        if not _gpu_ok(g32, g, rq, greq):
            continue
        if kind != K_MIG:
            c, p, s = _dev_fit(g32, gpc, mp, gstart, rq, rprof, g, m)
            if c >= 0:
                total += 1
        else:
            mode = g32[g, G_MODE]
            if mode != MIG and mode != ANY:
                continue
            if mode == ANY and rq[R_NOANY] != 0:
                continue
            room = rq[R_GPUMAX] - greq[g]
            best = 0
            for c in range(rprof.shape[1]):
                p = rprof[m, c]
                if p < 0:
                    break
                left = min(mp[m, p, P_MAXC] - gpc[g, p], room)
                cntp = max_fit(g32[g, G_OCC], mp[m, p, P_SIZE], ms[m, p], mp[m, p, P_NSTARTS], left)
                if cntp > best:
                    best = cntp
            total += best
        if total >= cap:
            break
    return min(total, cap)


@jit
def _pick_node(g32, gpc, n64, ntag, mp, ms, gstart, frag, tws, pp, rq, rprof, modelok, nallow, greq, nodes,
               count, u1):
    """The node for a gang of ``count`` units that must share one node (policy's node score); -1 if none."""
    pol = rq[R_POLICY]
    need = rq[R_NEED]
    kind = rq[R_KIND]
    scratch = np.zeros(64, dtype=np.int64)
    lvals = np.zeros(64, dtype=np.int64)
    nfeas = 0
    if pol == RANDOM:
        for i in range(nodes.shape[0]):
            if _node_cap2(g32, gpc, n64, mp, ms, gstart, rq, rprof, modelok, nallow, greq, nodes[i], count) >= need:
                nfeas += 1
        if nfeas == 0:
            return -1
        pick = min(int(math.floor(u1 * nfeas)), nfeas - 1)
        for i in range(nodes.shape[0]):
            if _node_cap2(g32, gpc, n64, mp, ms, gstart, rq, rprof, modelok, nallow, greq, nodes[i], count) >= need:
                if pick == 0:
                    return nodes[i]
                pick -= 1
        return -1
    best = BIG
    bn = -1
    podcpu = float(rq[R_PODCPU])
    podgpu = float(rq[R_PODGPU])
    for i in range(nodes.shape[0]):
        n = nodes[i]
        if pol == BEST_FIT and _bf_key(n64, n, pp, podcpu, podgpu) >= best:
            continue  # best-fit's key is the node's own: a node that cannot beat the best is not counted
        cap = _node_cap2(g32, gpc, n64, mp, ms, gstart, rq, rprof, modelok, nallow, greq, n, count)
        if cap < need:
            continue
        take = min(cap, count)
        if pol == FIRST_FIT:
            return n
        g0 = n64[n, N_GPU0]
        ng = n64[n, N_NGPU]
        if pol == PACKER:
            key = float(n64[n, N_IDLE]) - float(rq[R_PODGPU]) * take / count
            # an elastic gang: the node that takes the most of its units first (each unit is value
            # now; the least idle GPU left only among those), never stop at min_count on a tight node
            key += float(count - take) * ELASTIC_UNIT
            if kind == K_GPU:
                key += DOM_WEIGHT * n64[n, N_DOMKEY] / pp[PP_DOMNORM]
        elif pol == GPUPACKING:
            nfl = 0
            for k in range(ng):
                if g32[g0 + k, G_FREE] >= 1000:
                    nfl += 1
            if nfl == ng:
                key = -float(max(33 - nfl, nfl))
            else:
                # walk fitting devices by ascending idle, take the first ``take``
                nl = 0
                for k in range(ng):
                    g = g0 + k
                    if _gpu_ok(g32, g, rq, greq):
                        c, p, s = _dev_fit(g32, gpc, mp, gstart, rq, rprof, g, n64[n, N_MODEL])
                        if c >= 0:
                            lvals[nl] = g32[g, G_FREE]
                            nl += 1
                srt = np.sort(lvals[:nl])
                fullt = 0
                tot = 0
                for j in range(min(take, nl)):
                    if srt[j] >= 1000:
                        fullt += 1
                    tot += math.floor(100.0 * srt[j] / 1000.0)
                if fullt > 0:
                    key = -float(max(50 - fullt, 33))
                else:
                    key = -float(max(100 - tot // 10, 50))
        elif pol == FGD:
            for k in range(ng):
                scratch[k] = 0
            before = _node_frag(g32, n64, tws, n, scratch, 0)
            left = take
            whole = kind == K_GPU or rq[R_MILLI] >= 1000
            if whole:
                for k in range(ng):
                    if left == 0:
                        break
                    g = g0 + k
                    if _gpu_ok(g32, g, rq, greq):
                        c, p, s = _dev_fit(g32, gpc, mp, gstart, rq, rprof, g, n64[n, N_MODEL])
                        if c >= 0 and g32[g, G_MODE] != MIG:
                            scratch[k] = 1000 if kind == K_GPU else rq[R_MILLI]
                            left -= 1
            else:
                for _t in range(take):
                    bk = -1
                    bl = 1 << 30
                    for k in range(ng):
                        g = g0 + k
                        if scratch[k] != 0 or g32[g, G_MODE] == MIG:
                            continue
                        if _gpu_ok(g32, g, rq, greq):
                            c, p, s = _dev_fit(g32, gpc, mp, gstart, rq, rprof, g, n64[n, N_MODEL])
                            if c >= 0 and g32[g, G_FREE] < bl:
                                bl = g32[g, G_FREE]
                                bk = k
                    if bk >= 0:
                        scratch[bk] = rq[R_MILLI]
            after = _node_frag(g32, n64, tws, n, scratch, rq[R_CPU] * take)
            key = -float(sigmoid_score(before - after))
        else:
            key = _node_key(g32, n64, ntag, pp, rq, n, g0, 0.0)
        if key < best:
            best = key
            bn = n
    return bn


@jit
def _refresh_node(g32, gpc, n64, nbest, mp, minfo, gstart, gscore, pp, n):
    """Recomputes node n's aggregates from its GPUs."""
    g0 = n64[n, N_GPU0]
    m = n64[n, N_MODEL]
    nprof = minfo[m, 0]
    freefull = 0
    maxmilli = 0
    migfit = 0
    idle = 0
    millimask = 0
    for p in range(nbest.shape[1]):
        nbest[n, p] = 1 << 60
    for k in range(n64[n, N_NGPU]):
        g = g0 + k
        mode = g32[g, G_MODE]
        free = g32[g, G_FREE]
        idle += free
        if (mode == FULL or mode == ANY) and g32[g, G_UNITS] == 0:
            freefull += 1
        if mode == SHARED or mode == ANY:
            if free > maxmilli:
                maxmilli = free
            millimask |= 1 << (free // MILLI_BUCKET)
        if mode == MIG or mode == ANY:
            occ = g32[g, G_OCC]
            e = int(pp[PP_WEMPTY]) if occ == 0 else 0
            if mode == ANY:  # packer's penalty for converting an 'any' GPU
                e += int(pp[PP_WANY])
            for p in range(nprof):
                s = gstart[m, p, occ]
                if s >= 0 and gpc[g, p] < mp[m, p, P_MAXC]:
                    migfit |= 1 << p
                    v = gscore[m, p, occ] + e
                    if pp[PP_WSTRAND] > 0.0:  # packer's stranding key, so that the bound stays tight
                        v += int(pp[PP_WSTRAND]) * _stranded(g32, mp, minfo, gstart, g, m, p, s)
                    if v < nbest[n, p]:
                        nbest[n, p] = v
    n64[n, N_FREEFULL] = freefull
    n64[n, N_MAXMILLI] = maxmilli
    n64[n, N_MIGFIT] = migfit
    n64[n, N_IDLE] = idle
    n64[n, N_MILLIMASK] = millimask


@jit
def _refresh_block(g32, n64, nbest, b64, bbest, pp, b):
    """Recomputes block b's aggregates from its nodes."""
    migfit = 0
    maxmilli = 0
    maxfull = 0
    maxcpu = 0
    maxmem = 0
    millimask = 0
    minfull = BIG
    bfgpu = 1 << 62
    bfshare = 1 << 62
    bfmig = 1 << 62
    for p in range(bbest.shape[1]):
        bbest[b, p] = 1 << 60
    for n in range(b64[b, B_N0], b64[b, B_N1]):
        tn = _bf_t(n64, n, pp)
        if n64[n, N_FREEFULL] > 0 and tn < bfgpu:
            bfgpu = tn
        if n64[n, N_MAXMILLI] > 0 and tn < bfshare:
            bfshare = tn
        if n64[n, N_MIGFIT] != 0 and tn < bfmig:
            bfmig = tn
        migfit |= n64[n, N_MIGFIT]
        millimask |= n64[n, N_MILLIMASK]
        if n64[n, N_MAXMILLI] > maxmilli:
            maxmilli = n64[n, N_MAXMILLI]
        if n64[n, N_FREEFULL] > maxfull:
            maxfull = n64[n, N_FREEFULL]
        if n64[n, N_CPU] > maxcpu:
            maxcpu = n64[n, N_CPU]
        if n64[n, N_MEM] > maxmem:
            maxmem = n64[n, N_MEM]
        term = _node_term(g32, n64, pp, n)
        if n64[n, N_FREEFULL] > 0:
            key = term + 16.0 * n64[n, N_FREEFULL]
            if key < minfull:
                minfull = key
        t = int(term)
        for p in range(bbest.shape[1]):
            v = nbest[n, p] + t
            if v < bbest[b, p]:
                bbest[b, p] = v
    b64[b, B_MIGFIT] = migfit
    b64[b, B_MAXMILLI] = maxmilli
    b64[b, B_MAXFREEFULL] = maxfull
    b64[b, B_MAXCPU] = maxcpu
    b64[b, B_MAXMEM] = maxmem
    b64[b, B_MILLIMASK] = millimask
    b64[b, B_MINFULLKEY] = int(minfull) if minfull < 1e18 else 1 << 60
    b64[b, B_BFGPU] = bfgpu
    b64[b, B_BFSHARE] = bfshare
    b64[b, B_BFMIG] = bfmig


@jit
def _apply(g32, gpc, n64, nbest, b64, bbest, mp, minfo, gstart, gscore, pp, g, p, s, milli, cpu, mem, tenant, tiso,
           sign, newmode):
    """Adds (sign=1) or removes (sign=-1) one unit at GPU g and refreshes its node."""
    n = g32[g, G_NODE]
    m = g32[g, G_MODEL]
    if sign > 0 and g32[g, G_MODE] == ANY:
        g32[g, G_MODE] = newmode
    mode = g32[g, G_MODE]
    if mode == MIG:
        pm = ((1 << mp[m, p, P_SIZE]) - 1) << s
        if sign > 0:
            g32[g, G_OCC] |= pm
            gpc[g, p] += 1
            g32[g, G_USEDC] += mp[m, p, P_COMPUTE]
        else:
            g32[g, G_OCC] &= ~pm
            gpc[g, p] -= 1
            g32[g, G_USEDC] -= mp[m, p, P_COMPUTE]
        cs = minfo[m, M_COMPUTE]
        g32[g, G_FREE] = (1000 * (cs - g32[g, G_USEDC])) // cs
    elif mode == FULL:
        g32[g, G_FREE] = 0 if sign > 0 else 1000
    else:
        g32[g, G_FREE] -= sign * milli
    g32[g, G_UNITS] += sign
    n64[n, N_CPU] -= sign * cpu
    n64[n, N_MEM] -= sign * mem
    n64[n, N_UNITS] += sign
    if tiso >= ISO_GPU:
        g32[g, G_ISON] += sign
        if sign > 0:
            g32[g, G_ISOT] = tenant
        elif g32[g, G_ISON] == 0:
            g32[g, G_ISOT] = NO_TENANT
    if tiso == ISO_NODE:
        n64[n, N_ISON] += sign
        if sign > 0:
            n64[n, N_ISOT] = tenant
        elif n64[n, N_ISON] == 0:
            n64[n, N_ISOT] = NO_TENANT
    if g32[g, G_UNITS] == 0 and g32[g, G_BASE] == ANY:
        g32[g, G_MODE] = ANY
        g32[g, G_FREE] = 1000
    _refresh_node(g32, gpc, n64, nbest, mp, minfo, gstart, gscore, pp, n)
    _refresh_block(g32, n64, nbest, b64, bbest, pp, n // BLK)


@jit
def _apply_many(g32, gpc, n64, nbest, b64, bbest, mp, minfo, gstart, gscore, pp, units, sign):
    """_apply for every row (g, p, s, milli, cpu, mem, tenant, tiso, newmode) of ``units``."""
    for i in range(units.shape[0]):
        _apply(g32, gpc, n64, nbest, b64, bbest, mp, minfo, gstart, gscore, pp, units[i, 0], units[i, 1], units[i, 2],
               units[i, 3], units[i, 4], units[i, 5], units[i, 6], units[i, 7], sign, units[i, 8])


@jit
def _pick_host(g32, gpc, n64, rq, nallow, nodes, u1):
    """The node for one host unit (CPU and memory only, no GPU), or -1 when none fits.

    Feasible: free CPU and memory, node isolation and the caller's filter (as for every unit).
    ``first-fit``: the first feasible node of ``nodes``; ``random``: feasible node number
    floor(u1 × count); every other policy: the node with the least idle GPU milli (nodes without GPUs
    and nodes whose GPUs are busy first, so nodes with free GPUs keep their CPU for GPU work), then the
    least CPU left, then the least memory left, then the first in ``nodes``.
    """
    pol = rq[R_POLICY]
    cnt = 0
    best = -1
    bidle = 0
    bcpu = 0
    bmem = 0
    for i in range(nodes.shape[0]):
        n = nodes[i]
        if not _node_ok(n64, n, rq, nallow):
            continue
        if pol == FIRST_FIT:
            return n
        cnt += 1
        if pol == RANDOM:
            continue
        idle = n64[n, N_IDLE]
        cpu = n64[n, N_CPU] - rq[R_CPU]
        mem = n64[n, N_MEM] - rq[R_MEM]
        if best < 0 or idle < bidle or (idle == bidle and (cpu < bcpu or (cpu == bcpu and mem < bmem))):
            best = n
            bidle = idle
            bcpu = cpu
            bmem = mem
    if pol != RANDOM or cnt == 0:
        return best
    pick = int(math.floor(u1 * cnt))
    if pick >= cnt:
        pick = cnt - 1
    for i in range(nodes.shape[0]):
        n = nodes[i]
        if _node_ok(n64, n, rq, nallow):
            if pick == 0:
                return n
            pick -= 1
    return -1


@jit
def _apply_host(g32, n64, nbest, b64, bbest, pp, n, cpu, mem, tenant, tiso, sign):
    """Adds (sign=1) or removes (sign=-1) one host unit on node n: CPU, memory, units, node isolation."""
    n64[n, N_CPU] -= sign * cpu
    n64[n, N_MEM] -= sign * mem
    n64[n, N_UNITS] += sign
    if tiso == ISO_NODE:
        n64[n, N_ISON] += sign
        if sign > 0:
            n64[n, N_ISOT] = tenant
        elif n64[n, N_ISON] == 0:
            n64[n, N_ISOT] = NO_TENANT
    _refresh_block(g32, n64, nbest, b64, bbest, pp, n // BLK)


@jit
def _apply_host_many(g32, n64, nbest, b64, bbest, pp, units, sign):
    """_apply_host for every row (n, -1, -1, 0, cpu, mem, tenant, tiso, -1) of ``units``."""
    for i in range(units.shape[0]):
        _apply_host(g32, n64, nbest, b64, bbest, pp, units[i, 0], units[i, 4], units[i, 5], units[i, 6], units[i, 7],
                    sign)


@jit
def _refresh_all(g32, gpc, n64, nbest, b64, bbest, mp, minfo, gstart, gscore, pp):
    for n in range(n64.shape[0]):
        _refresh_node(g32, gpc, n64, nbest, mp, minfo, gstart, gscore, pp, n)
    for b in range(b64.shape[0]):
        if b64[b, B_N1] > b64[b, B_N0]:
            _refresh_block(g32, n64, nbest, b64, bbest, pp, b)


@jit
def _place_one(g32, gpc, n64, nbest, b64, bbest, ntag, mp, minfo, gstart, gscore, frag, tws, pp, rq, rprof,
               modelok, nallow, greq, nodes, u1, u2, out):
    """Picks and applies one single-unit request; out = (g, p, s). Returns False when nothing fits."""
    if not _pick_unit(g32, gpc, n64, nbest, b64, bbest, ntag, mp, minfo, gstart, gscore, frag, tws, pp, rq, rprof,
                      modelok, nallow, greq, nodes, u1, u2, out):
        return False
    g = out[0]
    newmode = MIG if rq[R_KIND] == K_MIG else (FULL if rq[R_KIND] == K_GPU else SHARED)
    _apply(g32, gpc, n64, nbest, b64, bbest, mp, minfo, gstart, gscore, pp, g, out[1], out[2], rq[R_MILLI], rq[R_CPU],
           rq[R_MEM], rq[R_TENANT], rq[R_TISO], 1, newmode)
    n = g32[g, G_NODE]
    n64[n, N_PODS] += 1
    ntag[n, rq[R_TAG]] += 1
    return True


@jit
def _churn(g32, gpc, n64, nbest, b64, bbest, ntag, mp, minfo, gstart, gscore, frag, tws, pp, shapes, sprof, smodelok,
           nallow, greq, nodes, ops, unif, slots, stats):
    """Runs ops[i] = (shape, slot): shape >= 0 places a single-unit request of that shape into slot,
    shape < 0 releases the slot. slots[slot] = (g, p, s, shape) or g = -1 when empty.
    stats = (placed, failed, released)."""
    out = np.zeros(3, dtype=np.int64)
    for i in range(ops.shape[0]):
        sh = ops[i, 0]
        sl = ops[i, 1]
        if sh >= 0:
            if slots[sl, 0] >= 0:
                continue
            rq = shapes[sh]
            ok = _place_one(g32, gpc, n64, nbest, b64, bbest, ntag, mp, minfo, gstart, gscore, frag, tws, pp, rq, sprof[sh],
                            smodelok[sh], nallow, greq, nodes, unif[i, 0], unif[i, 1], out)
            if ok:
                slots[sl, 0] = out[0]
                slots[sl, 1] = out[1]
                slots[sl, 2] = out[2]
                slots[sl, 3] = sh
                stats[0] += 1
            else:
                stats[1] += 1
        else:
            g = slots[sl, 0]
            if g < 0:
                continue
            sh2 = slots[sl, 3]
            rq = shapes[sh2]
            _apply(g32, gpc, n64, nbest, b64, bbest, mp, minfo, gstart, gscore, pp, g, slots[sl, 1], slots[sl, 2], rq[R_MILLI],
                   rq[R_CPU], rq[R_MEM], rq[R_TENANT], rq[R_TISO], -1, 0)
            n = g32[g, G_NODE]
            n64[n, N_PODS] -= 1
            ntag[n, rq[R_TAG]] -= 1
            slots[sl, 0] = -1
            stats[2] += 1


# ------------------------------------------------------------------------------------------------
# Entry points: what the placer calls. Each takes the state as ONE structure, ``st`` =
# ``tuple(KernelState)`` (see :class:`packer.online.state.KernelState` for every array it holds),
# plus the request: ``rq`` int64 [NRQ] (columns ``R_*``), ``rprof`` int64 [M, C] (per model, the MIG
# profiles the request accepts in order of preference, -1 padded), ``modelok`` uint8 [M] (models it
# may use), ``nodes`` int64 (the nodes to consider, in tie order).


@jit
def refresh_all(st):
    """Recomputes every node's and block's aggregates from the GPU rows."""
    _refresh_all(st[S_G32], st[S_GPC], st[S_N64], st[S_NBEST], st[S_B64], st[S_BBEST], st[S_MP], st[S_MINFO],
                 st[S_GSTART], st[S_GSCORE], st[S_PP])


@jit
def place_one(st, rq, rprof, modelok, nodes, u1, u2, out):
    """Picks and applies one single-unit request; out = (GPU, profile, start). False when nothing fits.
    ``u1``, ``u2``: the Random policy's uniforms (node, device)."""
    return _place_one(st[S_G32], st[S_GPC], st[S_N64], st[S_NBEST], st[S_B64], st[S_BBEST], st[S_NTAG], st[S_MP],
                      st[S_MINFO], st[S_GSTART], st[S_GSCORE], st[S_FRAG], st[S_TWS], st[S_PP], rq, rprof, modelok,
                      st[S_NALLOW], st[S_GREQ], nodes, u1, u2, out)


@jit
def pick_unit(st, rq, rprof, modelok, nodes, u1, u2, out):
    """The best (GPU, profile, start) for one unit, written to out[0:3], not applied; False when none fits."""
    return _pick_unit(st[S_G32], st[S_GPC], st[S_N64], st[S_NBEST], st[S_B64], st[S_BBEST], st[S_NTAG], st[S_MP],
                      st[S_MINFO], st[S_GSTART], st[S_GSCORE], st[S_FRAG], st[S_TWS], st[S_PP], rq, rprof, modelok,
                      st[S_NALLOW], st[S_GREQ], nodes, u1, u2, out)


@jit
def _node_bound(n64, nbest, tws, pp, rq, rprof, modelok, n, lb):
    """Node n's tests of :func:`_pick_unit`'s scan for one unit of a MIG or fractional request under
    packer, best-fit or FGD, from the node's aggregates alone (not ``nallow``): False when the node
    cannot take a unit; else lb = (l1, l2), the bound the scan skips the node by: when
    l1 > best k1, or l1 == best k1 and best k2 <= l2 (packer's, which compares k1 only: l2 = BIG)."""
    pol = rq[R_POLICY]
    kind = rq[R_KIND]
    t = rq[R_TENANT]
    milli = rq[R_MILLI]
    if n64[n, N_CPU] < rq[R_CPU] or n64[n, N_MEM] < rq[R_MEM] or n64[n, N_NGPU] == 0:
        return False
    if n64[n, N_ISON] > 0 and n64[n, N_ISOT] != t:
        return False
    if rq[R_TISO] == ISO_NODE and n64[n, N_UNITS] > 0:
        if not (n64[n, N_ISOT] == t and n64[n, N_ISON] == n64[n, N_UNITS]):
            return False
    m = n64[n, N_MODEL]
    lbm = BIG
    if kind == K_MIG:
        fit = n64[n, N_MIGFIT]
        ok = False
        for k in range(rprof.shape[1]):
            p = rprof[m, k]
            if p < 0:
                break
            if (fit >> p) & 1:
                ok = True
                if nbest[n, p] < lbm:
                    lbm = nbest[n, p]
        if not ok:
            return False
    elif modelok[m] == 0:
        return False
    elif n64[n, N_MAXMILLI] < milli:
        return False
    if pol == PACKER:
        term = 0.0
        if n64[n, N_UNITS] == 0:
            term = pp[PP_WNODE]
        if kind == K_MIG:
            lb[0] = term + lbm
        else:
            lbs = _millimask_bound(n64[n, N_MILLIMASK], milli)
            if lbs < 0.0:
                return False
            lb[0] = term + lbs
        lb[1] = BIG
    elif pol == BEST_FIT:
        lb[0] = _bf_key(n64, n, pp, float(rq[R_PODCPU]), float(rq[R_PODGPU]))
        lb[1] = float(milli) if kind == K_SHARE and milli < 1000 else 0.0
    elif kind == K_MIG:  # FGD
        lb[0], lb[1] = _fgd_bound(lbm / FGD_SCALE, 0.0)
    else:  # FGD, a fractional share
        lw = _fgd_share_weight(tws, n64[n, N_MILLIMASK], milli, n64[n, N_CPU])
        lb[0], lb[1] = _fgd_bound(-float(milli) * lw * (1.0 + 1e-9), 1e-6)
    return True


@jit
def place_units(st, rq, rprof, modelok, nodes, u1, u2, count, milli, cpu, mem, tenant, tiso, newmode, rows, sdom, smax,
                sptr, sflat, scount):
    """Up to ``count`` units of one request, one after the other, each where :func:`pick_unit` puts
    it and applied as :func:`apply_unit` does (its GPU's units of the request counted in greq):
    the loop of a gang, one call instead of two per unit. Writes the rows (g, p, s, milli, cpu, mem,
    tenant, tiso, newmode) to ``rows``; returns how many were placed.

    A spread limit (:class:`packer.online.domains.SpreadLimit`, when ``sdom`` is not empty): ``sdom``
    the domain of each node, at most ``smax`` units per domain, the nodes of domain d
    ``sflat[sptr[d]:sptr[d + 1]]``, ``scount`` zeros, one per domain (its units counted there). A
    domain that reaches ``smax`` is closed (its nodes' ``nallow`` 0) as the unit that fills it is
    placed, and every domain closed is opened again (``nallow`` 1) at the end, as the limit's
    ``add`` and ``reopen`` do.

    MIG units and fractional shares under packer, best-fit and FGD (several units): a node's tests,
    bound and own best unit depend on that node's state alone (and the request), and a unit changes
    one node, so each is computed at most once per node until a unit lands there. Each unit is
    picked by :func:`_pick_unit`'s scan (node order, its block and node bounds: a node is scored only
    when its bound may beat the best so far; ties keep the first) with the kept values: the same
    unit, most nodes scored once per request instead of once per unit."""
    g32, gpc, n64, nbest, b64, bbest = st[S_G32], st[S_GPC], st[S_N64], st[S_NBEST], st[S_B64], st[S_BBEST]
    ntag, mp, minfo, gstart, gscore, frag, tws, pp = (st[S_NTAG], st[S_MP], st[S_MINFO], st[S_GSTART], st[S_GSCORE],
                                                       st[S_FRAG], st[S_TWS], st[S_PP])
    greq = st[S_GREQ]
    nallow = st[S_NALLOW]
    out = np.empty(3, dtype=np.int64)
    spread = sdom.shape[0] > 0
    closed = np.empty(scount.shape[0], dtype=np.int64)
    nclosed = 0
    nn = nodes.shape[0]
    pol = rq[R_POLICY]
    kind = rq[R_KIND]
    all_nodes = nn == n64.shape[0]  # _pick_unit's block scan: node i is node i
    cached = count > 1 and (pol == PACKER or pol == BEST_FIT or pol == FGD) and (
        kind == K_MIG or (kind == K_SHARE and (pol != FGD or rq[R_MILLI] < 1000)))
    fgd_frac = pol == FGD and kind == K_SHARE
    # per node of the scan: cs 0 not looked at since it last changed, 1 bound known (cl), 2 scored
    # (its own best key ck and unit cu), -1 takes no unit
    m_ = nn if cached else 0
    cs = np.zeros(m_, dtype=np.int8)
    cl = np.empty((m_, 2), dtype=np.float64)
    ck = np.empty((m_, 2), dtype=np.float64)
    cu = np.empty((m_, 3), dtype=np.int64)
    scratch = np.zeros(192 + 2 * tws.shape[0], dtype=np.int64)
    g1 = -BIG
    g2 = -BIG
    if fgd_frac:  # _pick_unit's bound of every node (a share lowers the fragmentation by at most milli × Σ p)
        w = 0.0
        for j in range(tws.shape[0]):
            w += tws[j, TW_PROB]
        g1, g2 = _fgd_bound(-float(milli) * w * (1.0 + 1e-9), 1e-6)
    nb = b64.shape[0] if all_nodes else 1
    k = 0
    for _ in range(count):
        if cached:
            ib = -1
            b1 = BIG
            b2 = BIG
            for b in range(nb):
                if fgd_frac and (g1 > b1 or (g1 == b1 and b2 <= g2)):
                    break
                if all_nodes:
                    if not _block_may_fit(b64[b], bbest[b], rq, rprof, modelok, pol, b1, b2, pp):
                        continue
                    lo = b64[b, B_N0]
                    hi = b64[b, B_N1]
                else:
                    lo = 0
                    hi = nn
                for i in range(lo, hi):
                    n = i if all_nodes else nodes[i]
                    if nallow[n] == 0 or cs[i] < 0:
                        continue
                    if fgd_frac and (g1 > b1 or (g1 == b1 and b2 <= g2)):
                        break
                    if cs[i] == 0:
                        if not _node_bound(n64, nbest, tws, pp, rq, rprof, modelok, n, cl[i]):
                            cs[i] = -1
                            continue
                        cs[i] = 1
                    if cs[i] == 1:
                        if cl[i, 0] > b1 or (cl[i, 0] == b1 and b2 <= cl[i, 1]):
                            continue  # as _pick_unit: cannot beat the best so far
                        ck[i, 0] = BIG
                        ck[i, 1] = BIG
                        cu[i, 0] = -1
                        _scan_node(g32, gpc, n64, nbest, ntag, mp, minfo, gstart, gscore, frag, tws, pp, rq, rprof,
                                   modelok, nallow, greq, n, ck[i], cu[i], scratch)
                        cs[i] = 2 if cu[i, 0] >= 0 else -1
                        if cs[i] < 0:
                            continue
                    if ck[i, 0] < b1 or (ck[i, 0] == b1 and ck[i, 1] < b2):
                        ib = i
                        b1 = ck[i, 0]
                        b2 = ck[i, 1]
            if ib < 0:
                break
            out[0] = cu[ib, 0]
            out[1] = cu[ib, 1]
            out[2] = cu[ib, 2]
        elif not _pick_unit(g32, gpc, n64, nbest, b64, bbest, ntag, mp, minfo, gstart, gscore, frag, tws, pp, rq,
                            rprof, modelok, nallow, greq, nodes, u1, u2, out):
            break
        g, p, s = out[0], out[1], out[2]
        _apply(g32, gpc, n64, nbest, b64, bbest, mp, minfo, gstart, gscore, pp, g, p, s, milli, cpu, mem, tenant, tiso,
               1, newmode)
        greq[g] += 1
        rows[k, 0] = g
        rows[k, 1] = p
        rows[k, 2] = s
        rows[k, 3] = milli
        rows[k, 4] = cpu
        rows[k, 5] = mem
        rows[k, 6] = tenant
        rows[k, 7] = tiso
        rows[k, 8] = newmode
        k += 1
        if cached:  # the unit's node changed (its GPUs, host resources, isolation): to be looked at again
            n = g32[g, G_NODE]
            if all_nodes:
                cs[n] = 0
            else:
                for i in range(nn):
                    if nodes[i] == n:
                        cs[i] = 0
        if spread:
            d = sdom[g32[g, G_NODE]]
            scount[d] += 1
            if scount[d] == smax:  # closes at the first count that reaches the limit, as add() does
                for j in range(sptr[d], sptr[d + 1]):
                    nallow[sflat[j]] = 0
                closed[nclosed] = d
                nclosed += 1
    for c in range(nclosed):
        d = closed[c]
        for j in range(sptr[d], sptr[d + 1]):
            nallow[sflat[j]] = 1
    return k


@jit
def apply_unit(st, g, p, s, milli, cpu, mem, tenant, tiso, sign, newmode):
    """Adds (sign 1) or removes (sign -1) one unit on GPU g (MIG profile p at start s, or ``milli``),
    with its host share and tenant; an 'any' GPU takes mode ``newmode``."""
    _apply(st[S_G32], st[S_GPC], st[S_N64], st[S_NBEST], st[S_B64], st[S_BBEST], st[S_MP], st[S_MINFO],
           st[S_GSTART], st[S_GSCORE], st[S_PP], g, p, s, milli, cpu, mem, tenant, tiso, sign, newmode)


@jit
def apply_units(st, units, sign):
    """:func:`apply_unit` for every row (g, p, s, milli, cpu, mem, tenant, tiso, newmode) of ``units``."""
    _apply_many(st[S_G32], st[S_GPC], st[S_N64], st[S_NBEST], st[S_B64], st[S_BBEST], st[S_MP], st[S_MINFO],
                st[S_GSTART], st[S_GSCORE], st[S_PP], units, sign)


@jit
def pick_node(st, rq, rprof, modelok, nodes, count, u1):
    """The node for a gang of ``count`` units that must share one node (the policy's node score); -1 if none."""
    return _pick_node(st[S_G32], st[S_GPC], st[S_N64], st[S_NTAG], st[S_MP], st[S_MS], st[S_GSTART], st[S_FRAG],
                      st[S_TWS], st[S_PP], rq, rprof, modelok, st[S_NALLOW], st[S_GREQ], nodes, count, u1)


@jit
def node_caps(st, rq, rprof, modelok, nodes, limit, caps):
    """caps[i] = units of the request node nodes[i] can take now (at most ``limit``; greedy, slot exact)."""
    _node_caps(st[S_G32], st[S_GPC], st[S_N64], st[S_B64], st[S_BBEST], st[S_MP], st[S_MS], st[S_GSTART], st[S_PP], rq, rprof,
               modelok, st[S_NALLOW], st[S_GREQ], nodes, limit, caps)


@jit
def pick_host(st, rq, nodes, u1):
    """The node for one host unit (CPU and memory only), or -1 when none fits."""
    return _pick_host(st[S_G32], st[S_GPC], st[S_N64], rq, st[S_NALLOW], nodes, u1)


@jit
def apply_host(st, n, cpu, mem, tenant, tiso, sign):
    """Adds (sign 1) or removes (sign -1) one host unit on node n."""
    _apply_host(st[S_G32], st[S_N64], st[S_NBEST], st[S_B64], st[S_BBEST], st[S_PP], n, cpu, mem, tenant, tiso, sign)


@jit
def apply_host_units(st, units, sign):
    """:func:`apply_host` for every row (n, -1, -1, 0, cpu, mem, tenant, tiso, -1) of ``units``."""
    _apply_host_many(st[S_G32], st[S_N64], st[S_NBEST], st[S_B64], st[S_BBEST], st[S_PP], units, sign)


@jit
def churn(st, shapes, sprof, smodelok, nodes, ops, unif, slots, stats):
    """Runs a batch of single-unit place/release operations (see :meth:`OnlinePlacer.churn`)."""
    _churn(st[S_G32], st[S_GPC], st[S_N64], st[S_NBEST], st[S_B64], st[S_BBEST], st[S_NTAG], st[S_MP], st[S_MINFO],
           st[S_GSTART], st[S_GSCORE], st[S_FRAG], st[S_TWS], st[S_PP], shapes, sprof, smodelok, st[S_NALLOW],
           st[S_GREQ], nodes, ops, unif, slots, stats)


#: The kernels :func:`warm` asks for: those the placer's requests call (the rest are small and inlined).
WARM_KERNELS = ("refresh_all", "place_one", "place_units", "pick_node")


def warm() -> bool:
    """True when the kernels every placer calls are compiled on disk (:func:`packer.online._jit.compiled_on_disk`):
    a placer made now starts in milliseconds; False: its first placements compile them first."""
    from packer.online._jit import compiled_on_disk

    return compiled_on_disk(*(globals()[name] for name in WARM_KERNELS))
