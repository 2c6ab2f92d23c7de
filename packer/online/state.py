"""The online placer's state: NumPy arrays, one row per GPU, per node, per GPU model.

Columns are named by the constants below (module-level ints, so Numba folds them). Every array has
an explicit dtype. Per GPU (``g32``, int32): node, model, configured and current mode, occupied
memory-position mask, free milli, unit count, the isolated tenant holding it and its unit count, used
compute slices. Per GPU profile counts (``gpc``, uint8). Per node (``n64``, int64): first GPU, GPU
count, model, free CPU and memory, unit count, node-isolated tenant, and the aggregates the kernels
prune with (free whole GPUs, largest free share, a bitmask of MIG profiles that fit somewhere, idle
milli, best MIG score per profile in ``nbest``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from packer.catalog import GpuModel
from packer.geometry import mig_tables
from packer.model import Instance
from packer.online.policies import MAX_POSITIONS, TargetWorkload, build_mig_tables, policy_code

# GPU modes
MIG, FULL, SHARED, ANY = 0, 1, 2, 3
MODE_CODE = {"mig": MIG, "full": FULL, "shared": SHARED, "any": ANY}
MODE_NAME = {MIG: "mig", FULL: "full", SHARED: "shared"}
# Request kinds (K_HOST: CPU and memory of a node only, no GPU)
K_MIG, K_GPU, K_SHARE, K_HOST = 0, 1, 2, 3
KIND_CODE = {"mig": K_MIG, "gpu": K_GPU, "share": K_SHARE, "host": K_HOST}
#: The mode an 'any' GPU takes for a unit of each GPU kind.
MODE_FOR_KIND = {K_MIG: MIG, K_GPU: FULL, K_SHARE: SHARED}
# Tenant isolation: none, its own GPUs (ISO_GPU), its own nodes (ISO_NODE, which implies its own GPUs)
ISO_NONE, ISO_GPU, ISO_NODE = 0, 1, 2
ISO_CODE = {"none": ISO_NONE, "gpu": ISO_GPU, "node": ISO_NODE}

# g32 columns
G_NODE, G_MODEL, G_BASE, G_MODE, G_OCC, G_FREE, G_UNITS, G_ISOT, G_ISON, G_USEDC = range(10)
NGC = 10
# n64 columns
(N_GPU0, N_NGPU, N_MODEL, N_CPU, N_MEM, N_UNITS, N_ISOT, N_ISON, N_FREEFULL, N_MAXMILLI,
 N_MIGFIT, N_IDLE, N_PODS, N_MILLIMASK, N_DOMKEY) = range(15)
NNC = 15
#: Nodes per block: the kernels skip whole blocks by their aggregates before looking at nodes.
BLK = 32
# b64 columns (block aggregates over its nodes)
# B_BF*: best-fit's bound, the least fc·GPUNORM + idle·CPUNORM (fc: free CPU capped at CPUNORM, idle:
# idle GPU milli) over the block's nodes that may take a whole GPU (B_BFGPU), a share (B_BFSHARE) or a
# MIG instance (B_BFMIG); best-fit's node key grows with it, so its least is a lower bound of the key
(B_N0, B_N1, B_MIGFIT, B_MAXMILLI, B_MAXFREEFULL, B_MAXCPU, B_MAXMEM, B_MILLIMASK, B_MINFULLKEY, B_BFGPU, B_BFSHARE,
 B_BFMIG) = range(12)
NBC = 12
#: Width of one bucket of N_MILLIMASK (free milli // MILLI_BUCKET).
MILLI_BUCKET = 50
# model-profile columns (mp)
P_SIZE, P_MAXC, P_COMPUTE, P_NSTARTS = range(4)
# model columns (minfo)
M_NPROF, M_POS, M_COMPUTE = range(3)
# request vector (rq)
(R_KIND, R_MILLI, R_CPU, R_MEM, R_TENANT, R_TISO, R_GPUMAX, R_POLICY, R_PODGPU, R_PODCPU, R_TAG,
 R_COUNT, R_NEED, R_EQ, R_NOANY) = range(15)
NRQ = 15
# target workload columns (tws, float64; one row per typical shape): milli-CPU of the pod, GPU milli
# per GPU, GPUs, probability, models it may use (0: any; the online target has no model constraint)
TW_CPU, TW_MILLI, TW_NUM, TW_PROB, TW_SPEC = range(5)
NTW = 5
# policy parameters (pp, float64)
PP_CPUNORM, PP_GPUNORM, PP_WEMPTY, PP_WNODE, PP_WANY, PP_WSTRAND, PP_DOMNORM = range(7)
NPP = 7
#: packer's tie-break between nodes of equal key: below 1, the smallest step of every other key, times
#: N_DOMKEY / PP_DOMNORM (free whole GPUs around the node, see :mod:`packer.online.placer`).
DOM_WEIGHT = 0.999
#: Number of GpuClustering tags: 0 share-gpu, k = 1..8 k-gpu, 9 more than 8 GPUs.
NTAGS = 10
#: "Unlimited" host resources.
HOST_INF = 1 << 60
NO_TENANT = -1
#: packer's key per compute slice that a MIG start strands: above a new node's (4000), so a start that
#: strands none on another node wins (xl-0: 3g+3g GPUs 1,460 -> 1,280, objective +0.3%).
STRAND_WEIGHT = 10000.0
#: packer's key for a MIG unit that opens an empty GPU (on top of the placement potential it loses): a
#: tie-break. Raised to 300-4000 (so that a multi-unit MIG request fills a started GPU before it opens
#: another: the greedy's rule since session 16) it won 19 and lost 9 of 80 tuning instances without the
#: forecast, but summed -0.71 (training-1,024-1 -48.0); only for GPU-isolated tenants, -33.6
#: (session 17, ``python bench/bench_online_ab.py --param EMPTY_WEIGHT=1000``).
EMPTY_WEIGHT = 1.0


def tag_of(kind: int, milli: int, count: int) -> int:
    """GpuClustering tag of a request: share-gpu (0) or k-gpu (k, capped at 9)."""
    if kind == K_SHARE and milli < 1000 and count == 1:
        return 0
    return min(count, NTAGS - 1)


class KernelState(NamedTuple):
    """Every array of the state: the ONE structure the kernels take (as a plain tuple, ``tuple(state)``:
    Numba types an exact tuple of arrays in one fast step; the kernels read field f as ``st[S_F]``).

    Per GPU g (global index, nodes' GPUs contiguous):
      ``g32`` int32 [G, NGC]: columns ``G_*`` (node, model, configured and current mode, occupied
      memory-position mask, free milli, units, isolated tenant and its units, used compute slices);
      ``gpc`` uint8 [G, P]: instances of each MIG profile on the GPU; ``greq`` int64 [G]: units of
      the request being placed already on the GPU (scratch, zero between calls).
    Per node n: ``n64`` int64 [N, NNC]: columns ``N_*`` (first GPU, GPUs, model, free CPU and memory,
      units, node-isolated tenant and its units, pruning aggregates, pods, packer's domain key);
      ``nbest`` int64 [N, P]: best MIG score per profile on the node; ``ntag`` int32 [N, NTAGS]:
      GpuClustering tag counts; ``nallow`` uint8 [N]: 1 where the node may take the request being
      placed (spread closes domains here; scratch).
    Per block of BLK nodes: ``b64`` int64 [B, NBC] (columns ``B_*``: aggregates over its nodes) and
      ``bbest`` int64 [B, P] (best MIG score per profile in the block).
    Per GPU model m and profile p: ``mp`` int64 [M, P, 4] (columns ``P_*``: memory positions,
      max count, compute slices, legal starts), ``ms`` int64 [M, P, S] (legal starts, ascending),
      ``minfo`` int64 [M, 3] (columns ``M_*``: profiles, memory positions, compute slices);
      ``gstart`` int8 / ``gscore`` int64 [M, P, 2^pos]: the policy's start and score for each
      occupied mask (-1: no free legal start); ``frag`` float64 [M, 2^pos]: FGD's MIG fragmentation of
      a mask under the target.
    Policy: ``tws`` float64 [T, NTW] the target workload (columns ``TW_*``), ``pp`` float64 [NPP]
      the policy's parameters (``PP_*``).
    """

    g32: np.ndarray
    gpc: np.ndarray
    n64: np.ndarray
    nbest: np.ndarray
    b64: np.ndarray
    bbest: np.ndarray
    ntag: np.ndarray
    mp: np.ndarray
    ms: np.ndarray
    minfo: np.ndarray
    gstart: np.ndarray
    gscore: np.ndarray
    frag: np.ndarray
    tws: np.ndarray
    pp: np.ndarray
    nallow: np.ndarray
    greq: np.ndarray

    def nbytes(self) -> int:
        """Bytes held by all arrays."""
        return sum(int(x.nbytes) for x in self)

    def mutable(self) -> tuple[np.ndarray, ...]:
        """The arrays that change as work is placed and released."""
        return (self.g32, self.gpc, self.n64, self.nbest, self.b64, self.bbest, self.ntag)


# Positions of KernelState's arrays in the tuple the kernels take.
(S_G32, S_GPC, S_N64, S_NBEST, S_B64, S_BBEST, S_NTAG, S_MP, S_MS, S_MINFO, S_GSTART, S_GSCORE, S_FRAG,
 S_TWS, S_PP, S_NALLOW, S_GREQ) = range(17)

#: The earlier name of :class:`KernelState`.
Arrays = KernelState


def build_arrays(inst: Instance, policy: str | None, target: TargetWorkload) -> tuple[KernelState, list[GpuModel]]:
    """Empty-cluster arrays for ``inst`` (running work is applied afterwards by the placer)."""
    cat = inst.gpu_catalog
    models: list[GpuModel] = []
    model_ix: dict[str, int] = {}
    for n in inst.nodes:
        if n.num_gpus and n.gpu_model:
            m = cat[n.gpu_model]
            if m.name not in model_ix:
                if m.has_mig and (m.memory_positions or 0) > MAX_POSITIONS:
                    raise ValueError(
                        f"the online placer supports MIG models with at most {MAX_POSITIONS} memory "
                        f"positions; {m.name} has {m.memory_positions}"
                    )
                model_ix[m.name] = len(models)
                models.append(m)
    code = policy_code(policy)
    # profile sizes, counts and legal starts come from the geometry's tables (the one home of MIG rules)
    tables = mig_tables(models)
    nprof = max([len(m.profiles) for m in models] or [1])
    nm = max(len(models), 1)
    mp = np.zeros((nm, nprof, 4), dtype=np.int64)
    np_t, ns_t = tables.size.shape[1], tables.starts.shape[2]
    ms = np.zeros((nm, nprof, ns_t), dtype=np.int64)
    k = min(nprof, np_t)
    mp[:, :k, P_SIZE] = tables.size[:, :k]
    mp[:, :k, P_MAXC] = tables.max_count[:, :k]
    mp[:, :k, P_COMPUTE] = tables.compute[:, :k]
    mp[:, :k, P_NSTARTS] = tables.num_starts[:, :k]
    ms[:, :k] = np.maximum(tables.starts[:, :k], 0)
    minfo = np.zeros((nm, 3), dtype=np.int64)
    for mi, m in enumerate(models):
        minfo[mi] = (len(m.profiles), m.memory_positions or 0, m.compute_slices or 1)
    gstart, gscore, frag = build_mig_tables(models, code, target, nprof)

    num_g = inst.num_gpus
    num_n = len(inst.nodes)
    g32 = np.zeros((num_g, NGC), dtype=np.int32)
    gpc = np.zeros((num_g, nprof), dtype=np.uint8)
    n64 = np.zeros((num_n, NNC), dtype=np.int64)
    g = 0
    for ni, n in enumerate(inst.nodes):
        mi = model_ix[cat[n.gpu_model].name] if n.num_gpus and n.gpu_model else 0
        n64[ni, N_GPU0] = g
        n64[ni, N_NGPU] = n.num_gpus
        n64[ni, N_MODEL] = mi
        n64[ni, N_CPU] = HOST_INF if n.cpu_milli is None else n.cpu_milli
        n64[ni, N_MEM] = HOST_INF if n.memory_mib is None else n.memory_mib
        n64[ni, N_ISOT] = NO_TENANT
        for k in range(n.num_gpus):
            mode = MODE_CODE[n.gpu_mode(k)]
            g32[g, G_NODE] = ni
            g32[g, G_MODEL] = mi
            g32[g, G_BASE] = mode
            g32[g, G_MODE] = mode
            g32[g, G_FREE] = 1000
            g32[g, G_ISOT] = NO_TENANT
            g += 1
    nbest = np.zeros((num_n, nprof), dtype=np.int64)
    num_b = (num_n + BLK - 1) // BLK
    b64 = np.zeros((max(num_b, 1), NBC), dtype=np.int64)
    for b in range(num_b):
        b64[b, B_N0] = b * BLK
        b64[b, B_N1] = min(num_n, (b + 1) * BLK)
    bbest = np.zeros((max(num_b, 1), nprof), dtype=np.int64)
    ntag = np.zeros((num_n, NTAGS), dtype=np.int32)
    shares = list(target.shares)
    tws = np.zeros((max(len(shares), 1), NTW), dtype=np.float64)
    if shares:
        z = sum(s[3] for s in shares) or 1.0
        for i, (cpu, milli, num, pr) in enumerate(shares):
            tws[i] = (cpu, milli, num, pr / z, 0.0)
    else:
        tws[0] = (0.0, 1000.0, 1.0, 0.0, 0.0)
    cpu_norm = max([n.cpu_milli or 0 for n in inst.nodes] or [1]) or 1
    gpu_norm = 1000 * (max([n.num_gpus for n in inst.nodes] or [1]) or 1)
    # packer's weights: an empty GPU, a new node, an 'any' GPU converted, and each compute slice a MIG
    # start leaves idle for good (memory full: two 3g.90gb on a B200 strand the 7th slice)
    strand = STRAND_WEIGHT if code == policy_code("packer") else 0.0
    if code == policy_code("packer"):
        pp = np.array([cpu_norm, gpu_norm, EMPTY_WEIGHT, 4000.0, 1_000_000.0, strand, 1.0], dtype=np.float64)
    else:
        # the weights are packer's; without them ``nbest``/``bbest`` hold the policy's own MIG score
        # (``gscore``: FGD's fragmentation change, floored), the bound FGD's scans prune with
        pp = np.array([cpu_norm, gpu_norm, 0.0, 0.0, 0.0, 0.0, 1.0], dtype=np.float64)
    nallow = np.ones(num_n, dtype=np.uint8)
    greq = np.zeros(max(num_g, 1), dtype=np.int64)
    arr = KernelState(g32, gpc, n64, nbest, b64, bbest, ntag, mp, ms, minfo, gstart, gscore, frag, tws, pp, nallow, greq)
    return arr, models


__all__ = ["Arrays", "KernelState", "build_arrays", "tag_of"]
