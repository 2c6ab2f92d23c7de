"""The online placer: a thin Python wrapper that validates, converts and calls the kernels.

See :mod:`packer.online` for the public API. The per-request Python work is kept small: a request
shape (kind, profile choices, allowed models, host needs, tenant) is turned into kernel vectors once
and cached; a single-unit request without locality or spread is one kernel call that picks and
applies; units are stored as NumPy rows and become :class:`~packer.model.Unit` objects only when
asked for.

Host requests (kind ``host``: CPU and memory of one node per unit, no GPU) take their own path: the
kernels ``_pick_host`` (node choice) and ``_apply_host`` (node state); their rows are
``(node, -1, -1, 0, cpu, mem, tenant, tiso, -1)``. They have size 0, count as work on their node
(node isolation, the ``packer`` policy's used-node preference) but not as pods (GpuClustering).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from packer.model import Instance, Plan, Request, Unit
from packer.online import kernels as K
from packer.online.policies import FIRST_FIT, PACKER, RANDOM, TargetWorkload, policy_code
from packer.online.state import (
    ANY,
    FULL,
    G_BASE,
    G_FREE,
    G_MODE,
    G_MODEL,
    G_NODE,
    ISO_CODE,
    K_GPU,
    K_HOST,
    K_MIG,
    K_SHARE,
    KIND_CODE,
    MODE_FOR_KIND,
    MODE_NAME,
    N_CPU,
    N_DOMKEY,
    N_FREEFULL,
    N_GPU0,
    N_ISON,
    N_ISOT,
    N_MEM,
    N_NGPU,
    N_PODS,
    N_UNITS,
    NO_TENANT,
    NRQ,
    PP_DOMNORM,
    R_COUNT,
    R_CPU,
    R_EQ,
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
    build_arrays,
    tag_of,
)

_UNLIMITED = 1 << 30
#: The ``packer`` policy declines a request of a node-isolated tenant that would take more than one
#: empty node and leave more than this many times its size idle on the nodes it takes (those GPUs
#: are lost to every other tenant). None turns the guard off.
DEFAULT_ISOLATION_GUARD = 1.0
_MAX_GPUS_PER_NODE = 64
_DOMAIN_TRIES = 8


@dataclass
class PlaceResult:
    """The answer to one ``place``: ``ok`` with its units, or the reason it cannot be placed."""

    request: str
    ok: bool
    reason: str | None = None
    _rows: np.ndarray | None = None
    _placer: OnlinePlacer | None = None

    _kind: int = K_SHARE

    @property
    def units(self) -> tuple[Unit, ...]:
        """The placed units as SPEC units (empty when not ok)."""
        if not self.ok or self._rows is None or self._placer is None:
            return ()
        return self._placer._units_of_rows(self._rows, self._kind)

    @property
    def node_indices(self) -> tuple[int, ...]:
        """Per placed unit, the index of its node in the placer's instance (empty when not ok)."""
        if not self.ok or self._rows is None or self._placer is None:
            return ()
        if self._kind == K_HOST:
            return tuple(int(n) for n in self._rows[:, 0])
        return tuple(int(n) for n in self._placer.a.g32[self._rows[:, 0], G_NODE])


@dataclass
class _Placed:
    req: Request
    rows: np.ndarray  # int64 [units, 9]: g, p, s, milli, cpu, mem, tenant, tiso, mode
    size: float
    nodes: list[int] = field(default_factory=list)
    tag: int = 0


@dataclass
class _Shape:
    rq: np.ndarray
    rprof: np.ndarray
    modelok: np.ndarray
    unit_sizes: tuple[float, float]  # (smallest, largest) GPU-equivalents of one unit


class OnlinePlacer:
    """Places requests one at a time on a cluster whose state lives in NumPy arrays."""

    def __init__(self, inst: Instance, policy: str | None = None, *, target: TargetWorkload | None = None,
                 seed: int = 0, place_running: bool = True, isolation_guard: float | str | None = "auto",
                 domain_key: bool = True, _kernels: object = None) -> None:
        self.inst = inst
        self._K = _kernels if _kernels is not None else K
        self.policy = policy or "packer"
        if isolation_guard == "auto":
            isolation_guard = DEFAULT_ISOLATION_GUARD if self.policy == "packer" else None
        self.isolation_guard: float | None = isolation_guard  # type: ignore[assignment]
        self.domain_key = domain_key and self.policy == "packer"
        self.policy_code = policy_code(policy)
        self.target = target if target is not None else TargetWorkload.from_instance(inst)
        for n in inst.nodes:
            if n.num_gpus > _MAX_GPUS_PER_NODE:
                raise ValueError(f"node {n.id} has {n.num_gpus} GPUs; the online placer handles at most {_MAX_GPUS_PER_NODE}")
        self.a, self.models = build_arrays(inst, policy, self.target)
        self._st = tuple(self.a)  # the kernels' one state structure (an exact tuple: fastest to pass)
        if hasattr(self._K, "bind"):
            self._K.bind(self.models, self.target)
        self._model_ix = {m.name: i for i, m in enumerate(self.models)}
        self.node_ids = [n.id for n in inst.nodes]
        self._node_ix = {nid: i for i, nid in enumerate(self.node_ids)}
        nn = len(self.node_ids)
        self._all_nodes = np.arange(nn, dtype=np.int64)
        self._nallow = self.a.nallow
        self._greq = self.a.greq
        self._out = np.zeros(3, dtype=np.int64)
        self._scratch_caps = np.zeros(nn, dtype=np.int64)
        self._rng = np.random.default_rng(seed)
        self._tenant_ix = {t: i for i, t in enumerate(inst.tenant_map)}
        self._tenants = inst.tenant_map
        self._used: dict[str, float] = {t: 0.0 for t in inst.tenant_map}
        self._placed: dict[str, _Placed] = {}
        self._shapes: dict[tuple, _Shape] = {}  # type: ignore[type-arg]
        self._reasons: dict[str, str] = {}
        self._released_running: set[str] = set()
        self._extra: dict[str, Request] = {}
        self._churn_calls = 0
        # topology: node -> domain index per level, and the nodes of each domain
        self._dom: dict[str, np.ndarray] = {}
        self._dom_nodes: dict[str, list[np.ndarray]] = {}
        self._dom_names: dict[str, list[str]] = {}
        for level in inst.topology.all_levels:
            if level == "gpu":
                continue
            ids: dict[str, int] = {}
            arr = np.zeros(nn, dtype=np.int64)
            for i, n in enumerate(inst.nodes):
                arr[i] = ids.setdefault(inst.domain(n, level), len(ids))
            self._dom[level] = arr
            order = np.argsort(arr, kind="stable")
            bounds = np.searchsorted(arr[order], np.arange(len(ids) + 1))
            self._dom_nodes[level] = [order[bounds[d]:bounds[d + 1]].astype(np.int64) for d in range(len(ids))]
            self._dom_names[level] = list(ids)
        self._K.refresh_all(self._st)
        self._init_domain_key()
        if place_running:
            for r in inst.requests:
                if r.placement is not None:
                    self._place_exact(r, r.placement)

    # ------------------------------------------------------------------ whole GPUs around a node

    def _init_domain_key(self) -> None:
        """Sets up N_DOMKEY, packer's tie-break between nodes of equal key: the free whole GPUs in the
        node's domains, finest level first (rack before pod), so that of two otherwise equal nodes the
        one in the fuller rack (then pod) takes a whole-GPU unit or node gang and empty racks and pods stay empty for the
        gangs that need a whole domain. Kept by :meth:`_sync_domains` from the GPU rows alone, after
        each place and release (:meth:`churn` keeps it as it was when the call began, then refreshes it).
        All zero unless the policy is ``packer`` with ``domain_key`` on."""
        levels = [lv for lv in self.inst.topology.all_levels if lv not in ("gpu", "node", "cluster")]
        levels = [lv for lv in levels if len(self._dom_nodes[lv]) > 1 and self.domain_key]
        n64 = self.a.n64
        gpus = n64[:, N_NGPU]
        caps = [int(np.bincount(self._dom[lv], weights=gpus).max()) for lv in levels]
        mult, m = [], 1
        for c in reversed(caps):  # coarsest level least significant
            mult.append(m)
            m *= c + 1
        self._dk_levels = list(zip(levels, reversed(mult), strict=True))
        self.a.pp[PP_DOMNORM] = float(m)
        nn = len(self.node_ids)
        self._ffree = np.array([self._free_whole(n) for n in range(nn)], dtype=np.int64)
        base = self.a.g32[:, G_BASE]
        whole = np.bincount(self.a.g32[:, G_NODE], weights=(base == FULL) | (base == ANY), minlength=nn)
        self._whole_ok = whole > 0
        self._dfree = {lv: np.bincount(self._dom[lv], weights=self._ffree, minlength=len(self._dom_nodes[lv])).astype(np.int64)
                       for lv, _ in self._dk_levels}
        key = np.zeros(nn, dtype=np.int64)
        for lv, mu in self._dk_levels:
            key += self._dfree[lv][self._dom[lv]] * mu
        n64[:, N_DOMKEY] = key

    def _free_whole(self, n: int) -> int:
        """GPUs of node n that can take a whole-GPU unit now (full or 'any' mode, no unit on them)."""
        return int(self.a.n64[n, N_FREEFULL])

    def _sync_domains(self, nodes: Iterable[int]) -> None:
        """Brings N_DOMKEY up to date after the whole-GPU room of ``nodes`` may have changed."""
        if not self._dk_levels:
            return
        n64 = self.a.n64
        for n in nodes:
            if not self._whole_ok[n]:  # no full or 'any' GPU: never room for a whole GPU
                continue
            d = self._free_whole(n) - int(self._ffree[n])
            if d == 0:
                continue
            self._ffree[n] += d
            for lv, mu in self._dk_levels:
                dom = int(self._dom[lv][n])
                self._dfree[lv][dom] += d
                n64[self._dom_nodes[lv][dom], N_DOMKEY] += d * mu

    # ------------------------------------------------------------------ request → kernel vectors

    def _shape(self, req: Request) -> _Shape:
        key = (req.kind, req.profile, req.slices, req.min_memory_gib, req.gpu_models, req.gpu_milli,
               req.cpu_milli, req.memory_mib, req.tenant, req.count, req.need_count)
        sh = self._shapes.get(key)
        if sh is not None:
            return sh
        inst = self.inst
        nm = self.a.mp.shape[0]
        rprof = np.full((nm, max(self.a.mp.shape[1], 1)), -1, dtype=np.int64)
        modelok = np.zeros(nm, dtype=np.uint8)
        allowed = inst.allowed_models(req)
        sizes: list[float] = []
        for mi, m in enumerate(self.models):
            if allowed is not None and m.name not in allowed:
                continue
            modelok[mi] = 1
            if req.kind == "mig":
                for k, p in enumerate(inst.profile_choices(req, m)):
                    rprof[mi, k] = p.index
                    sizes.append(p.gpu_equivalents)
        kind = KIND_CODE[req.kind]
        milli = 1000 if kind == K_GPU else (req.gpu_milli or 0)
        if kind != K_MIG:
            sizes.append(milli / 1000)
        tenant = self._tenants[req.tenant]
        rq = np.zeros(NRQ, dtype=np.int64)
        rq[R_KIND] = kind
        rq[R_MILLI] = milli
        rq[R_CPU] = req.cpu_milli
        rq[R_MEM] = req.memory_mib
        rq[R_TENANT] = self._tenant_ix[req.tenant]
        rq[R_TISO] = ISO_CODE[tenant.isolation]
        rq[R_GPUMAX] = 1 if kind != K_MIG else _UNLIMITED
        rq[R_POLICY] = self.policy_code
        eq = int(round(1000 * (min(sizes) if sizes else 0)))
        rq[R_EQ] = eq
        rq[R_PODGPU] = eq * req.count
        rq[R_PODCPU] = req.cpu_milli * req.count
        rq[R_TAG] = tag_of(kind, milli, req.count)
        rq[R_COUNT] = req.count
        rq[R_NEED] = req.need_count
        sh = _Shape(rq, rprof, modelok, (min(sizes) if sizes else 0.0, max(sizes) if sizes else 0.0))
        self._shapes[key] = sh
        return sh

    # ------------------------------------------------------------------------------- placing

    def place(self, req: Request, *, uniforms: tuple[float, float] | None = None, explain: bool = True) -> PlaceResult:
        """Places ``req`` (all its units, or at least ``min_count``) or says why it cannot.

        With ``explain=False`` a request that does not fit gets a short reason instead of the
        diagnosis (which scans the cluster again and costs tens of microseconds)."""
        rid = req.id
        if rid in self._placed:
            return PlaceResult(rid, False, f"request {rid} is already placed")
        if req.placement is not None:
            return self._place_exact(req, req.placement)
        if req.tenant not in self._tenants:
            return self._fail(rid, f"unknown tenant {req.tenant!r}")
        sh = self._shape(req)
        if req.kind == "host":
            return self._place_host(req, sh, uniforms, explain)
        if sh.unit_sizes[1] == 0.0 and not sh.modelok.any():
            return self._fail(rid, self._no_model_reason(req))
        count = req.count
        need = req.need_count
        tenant = self._tenants[req.tenant]
        if tenant.max_gpus is not None:
            left = tenant.max_gpus - self._used[req.tenant]
            fit = int((left + 1e-9) // sh.unit_sizes[1]) if sh.unit_sizes[1] > 0 else count
            fit_min = int((left + 1e-9) // sh.unit_sizes[0]) if sh.unit_sizes[0] > 0 else count
            if fit_min < need:
                return self._fail(rid, f"tenant {req.tenant} quota: {max(left, 0):.3f} of max_gpus "
                                       f"{tenant.max_gpus:g} GPU-equivalents left, the request needs "
                                       f"{need * sh.unit_sizes[0]:.3f}")
            count = min(count, max(fit, need))
        if uniforms is None and self.policy_code == RANDOM:
            u = self._rng.random(2)
            uniforms = (float(u[0]), float(u[1]))
        u1, u2 = uniforms if uniforms is not None else (0.0, 0.0)
        a = self.a
        simple = count == 1 and req.locality is None and req.spread is None
        if simple:
            out = self._out
            if not self._K.place_one(self._st, sh.rq, sh.rprof, sh.modelok, self._all_nodes, u1, u2, out):
                return self._fail(rid, self._diagnose(req, sh) if explain else "no room for the unit now")
            g = int(out[0])
            rows = np.array([[g, out[1], out[2], sh.rq[R_MILLI], req.cpu_milli, req.memory_mib, sh.rq[R_TENANT],
                              sh.rq[R_TISO], 0]], dtype=np.int64)
            size = self._rows_size(rows, req)
            rec = _Placed(req, rows, size, [int(a.g32[g, G_NODE])], int(sh.rq[R_TAG]))
            if tenant.max_gpus is not None and self._used[req.tenant] + size > tenant.max_gpus + 1e-9:
                self._K.apply_units(self._st, rows, -1)
                n = rec.nodes[0]
                a.n64[n, N_PODS] -= 1
                a.ntag[n, rec.tag] -= 1
                return self._fail(rid, f"tenant {req.tenant} quota: the unit would exceed max_gpus {tenant.max_gpus:g}")
            self._used[req.tenant] += size
            self._placed[rid] = rec
            self._reasons.pop(rid, None)
            self._sync_domains(rec.nodes)
            return PlaceResult(rid, True, None, rows, self, KIND_CODE[req.kind])
        return self._place_gang(req, sh, count, need, u1, u2, explain)

    def _rows_size(self, rows: np.ndarray, req: Request) -> float:
        if req.kind == "host":
            return 0.0
        if req.kind == "gpu":
            return float(len(rows))
        if req.kind == "share":
            return float(rows[:, 3].sum()) / 1000
        tot = 0.0
        for r in rows:
            m = self.models[int(self.a.g32[r[0], G_MODEL])]
            tot += m.profiles[int(r[1])].gpu_equivalents
        return tot

    def _fail(self, rid: str, reason: str) -> PlaceResult:
        self._reasons[rid] = reason
        return PlaceResult(rid, False, reason)

    def _place_units(self, req: Request, sh: _Shape, count: int, nodes: np.ndarray, u1: float, u2: float,
                     gpu_max: int, one_gpu: bool) -> list[list[int]]:
        """Greedily places up to ``count`` units among ``nodes`` (applied); returns their rows."""
        a = self.a
        rq = sh.rq.copy()
        rq[R_GPUMAX] = gpu_max
        spread = req.spread
        sp_dom = None
        sp_count: dict[int, int] = {}
        closed: list[np.ndarray] = []
        if spread is not None and spread.level not in ("gpu", "cluster"):
            sp_dom = self._dom[spread.level]
        if spread is not None and spread.level == "cluster":
            count = min(count, spread.max_per_domain)
        newmode = MODE_FOR_KIND[int(rq[R_KIND])]
        rows: list[list[int]] = []
        out = self._out
        cur_nodes = nodes
        for i in range(count):
            if i > 0 and self.policy_code == RANDOM:
                uu = self._rng.random(2)
                u1, u2 = float(uu[0]), float(uu[1])
            if not self._K.pick_unit(self._st, rq, sh.rprof, sh.modelok, cur_nodes, u1, u2, out):
                break
            g, p, s = int(out[0]), int(out[1]), int(out[2])
            self._K.apply_unit(self._st, g, p, s, int(rq[R_MILLI]), req.cpu_milli, req.memory_mib, int(rq[R_TENANT]), int(rq[R_TISO]), 1, newmode)
            self._greq[g] += 1
            rows.append([g, p, s, int(rq[R_MILLI]), req.cpu_milli, req.memory_mib, int(rq[R_TENANT]),
                         int(rq[R_TISO]), newmode])
            if one_gpu and i == 0:
                n = int(a.g32[g, G_NODE])
                cur_nodes = np.array([n], dtype=np.int64)
                g0 = int(a.n64[n, N_GPU0])
                for k in range(int(a.n64[n, N_NGPU])):
                    if g0 + k != g:
                        self._greq[g0 + k] += _UNLIMITED
            if sp_dom is not None:
                d = int(sp_dom[int(a.g32[g, G_NODE])])
                sp_count[d] = sp_count.get(d, 0) + 1
                if sp_count[d] >= spread.max_per_domain:  # type: ignore[union-attr]
                    dn = self._dom_nodes[spread.level][d]  # type: ignore[union-attr]
                    self._nallow[dn] = 0
                    closed.append(dn)
        for dn in closed:
            self._nallow[dn] = 1
        if one_gpu and rows:
            n = int(a.g32[rows[0][0], G_NODE])
            g0 = int(a.n64[n, N_GPU0])
            for k in range(int(a.n64[n, N_NGPU])):
                if g0 + k != rows[0][0]:
                    self._greq[g0 + k] -= _UNLIMITED
        for r in rows:
            self._greq[r[0]] = 0
        return rows

    def _undo(self, rows: list[list[int]]) -> None:
        if rows:
            self._K.apply_units(self._st, np.array(rows, dtype=np.int64), -1)

    def _place_gang(self, req: Request, sh: _Shape, count: int, need: int, u1: float, u2: float,
                    explain: bool = True) -> PlaceResult:
        a = self.a
        kind = int(sh.rq[R_KIND])
        gpu_max = 1 if kind != K_MIG else _UNLIMITED
        if req.spread is not None and req.spread.level == "gpu":
            gpu_max = min(gpu_max, req.spread.max_per_domain)
        loc = req.locality
        rows: list[list[int]] = []
        if loc is not None and loc.required and loc.level != "cluster":
            if loc.level == "gpu":
                rows = self._place_units(req, sh, count, self._all_nodes, u1, u2, gpu_max, True)
            elif loc.level == "node":
                bad: list[int] = []
                for _ in range(3):
                    rq = sh.rq.copy()
                    rq[R_GPUMAX] = gpu_max
                    rq[R_NEED] = need
                    for b in bad:
                        self._nallow[b] = 0
                    n = -1
                    if self.policy_code == PACKER:  # a node that needs no 'any' GPU first
                        rq[R_NOANY] = 1
                        n = self._K.pick_node(self._st, rq, sh.rprof, sh.modelok, self._all_nodes, count, u1)
                        rq[R_NOANY] = 0
                    if n < 0:
                        n = self._K.pick_node(self._st, rq, sh.rprof, sh.modelok, self._all_nodes, count, u1)
                    for b in bad:
                        self._nallow[b] = 1
                    if n < 0:
                        break
                    rows = self._place_units(req, sh, count, np.array([n], dtype=np.int64), u1, u2, gpu_max, False)
                    if len(rows) >= need:
                        break
                    self._undo(rows)
                    rows = []
                    bad.append(int(n))
            else:
                rows = self._place_in_domains(req, sh, count, need, u1, u2, gpu_max, loc.level)
        else:
            if (loc is not None and not loc.required and loc.level not in ("gpu", "cluster")
                    and self.policy_code == PACKER):
                rows = self._place_in_domains(req, sh, count, need, u1, u2, gpu_max, loc.level, tries=2)
            if len(rows) < need:
                self._undo(rows)
                rows = self._place_units(req, sh, count, self._all_nodes, u1, u2, gpu_max, False)
        if len(rows) < need:
            self._undo(rows)
            return self._fail(req.id, self._diagnose(req, sh, count) if explain else "no room for the units now")
        arr = np.array(rows, dtype=np.int64)
        size = self._rows_size(arr, req)
        tenant = self._tenants[req.tenant]
        if tenant.max_gpus is not None:
            while len(arr) > need and self._used[req.tenant] + size > tenant.max_gpus + 1e-9:
                self._undo([list(arr[-1])])
                arr = arr[:-1]
                size = self._rows_size(arr, req)
            if self._used[req.tenant] + size > tenant.max_gpus + 1e-9:
                self._undo(arr.tolist())
                return self._fail(req.id, f"tenant {req.tenant} quota: the units would exceed max_gpus {tenant.max_gpus:g}")
        nodes = sorted({int(a.g32[r[0], G_NODE]) for r in arr})
        if self.isolation_guard is not None and tenant.isolation == "node":
            per_node = np.bincount(a.g32[arr[:, 0], G_NODE], minlength=len(self.node_ids))
            opened = [n for n in nodes if a.n64[n, N_UNITS] == per_node[n]]
            locked = sum(int(a.n64[n, N_NGPU]) for n in opened)
            if len(opened) > 1 and locked - size > self.isolation_guard * max(size, 1.0):
                self._undo(arr.tolist())
                return self._fail(req.id, f"tenant {req.tenant} has node isolation: these units would take "
                                          f"{len(opened)} empty nodes ({locked} GPUs) for {size:.2f} GPU-equivalents; "
                                          f"the {self.policy} policy declines (isolation_guard={self.isolation_guard:g}); "
                                          f"relax the spread or use isolation 'gpu'")
        rec = _Placed(req, arr, size, nodes, int(sh.rq[R_TAG]))
        for n in nodes:
            a.n64[n, N_PODS] += 1
            a.ntag[n, rec.tag] += 1
        self._used[req.tenant] += size
        self._placed[req.id] = rec
        self._reasons.pop(req.id, None)
        self._sync_domains(nodes)
        return PlaceResult(req.id, True, None, arr, self, KIND_CODE[req.kind])

    def _domain_caps(self, req: Request, sh: _Shape, count: int, level: str, gpu_max: int,
                     no_any: bool = False) -> np.ndarray:
        rq = sh.rq.copy()
        rq[R_GPUMAX] = gpu_max
        rq[R_NOANY] = int(no_any)
        caps = self._scratch_caps
        self._K.node_caps(self._st, rq, sh.rprof, sh.modelok, self._all_nodes, count, caps)
        return self._caps_by_domain(req, caps, level)

    def _caps_by_domain(self, req: Request, caps: np.ndarray, level: str) -> np.ndarray:
        """Units of ``req`` each domain of ``level`` could take, from per-node ``caps`` and the spread."""
        dom = self._dom[level]
        nd = len(self._dom_nodes[level])
        sp = req.spread
        if sp is not None and sp.level not in ("gpu", "cluster") and sp.level != level:
            sdom = self._dom[sp.level]
            if self.inst.topology.all_levels.index(sp.level) < self.inst.topology.all_levels.index(level):
                pair = dom * (int(sdom.max()) + 1) + sdom
                uniq, inv = np.unique(pair, return_inverse=True)
                per = np.minimum(np.bincount(inv, weights=caps, minlength=len(uniq)), sp.max_per_domain)
                dcap = np.bincount(uniq // (int(sdom.max()) + 1), weights=per, minlength=nd)
            else:
                dcap = np.minimum(np.bincount(dom, weights=caps, minlength=nd), sp.max_per_domain)
        else:
            dcap = np.bincount(dom, weights=caps, minlength=nd)
            if sp is not None and sp.level in (level, "cluster"):
                dcap = np.minimum(dcap, sp.max_per_domain)
        return dcap

    def _place_in_domains(self, req: Request, sh: _Shape, count: int, need: int, u1: float, u2: float,
                          gpu_max: int, level: str, tries: int = _DOMAIN_TRIES) -> list[list[int]]:
        dcap = self._domain_caps(req, sh, count, level, gpu_max)
        feas = np.nonzero(dcap >= need)[0]
        if len(feas) == 0:
            return []
        if self.policy_code == FIRST_FIT:  # domain order
            order = feas
        elif self.policy_code == RANDOM:
            order = feas[self._rng.permutation(len(feas))]
        elif self.policy_code == PACKER:
            # the tightest domain that fits without converting 'any' GPUs, then the tightest that fits
            dn = self._domain_caps(req, sh, count, level, gpu_max, no_any=True)
            order = feas[np.lexsort((feas, dcap[feas], dn[feas] < need))]
        else:  # the tightest domain that fits (least spare capacity for this request)
            order = feas[np.lexsort((feas, dcap[feas]))]
        for d in order[:tries]:
            rows = self._place_units(req, sh, count, self._dom_nodes[level][int(d)], u1, u2, gpu_max, False)
            if len(rows) >= need:
                return rows
            self._undo(rows)
        return []

    # ------------------------------------------------------------------------- host requests

    def _place_host(self, req: Request, sh: _Shape, uniforms: tuple[float, float] | None,
                    explain: bool) -> PlaceResult:
        """A host request: up to ``count`` units (``min_count`` at least) on nodes with free CPU and memory."""
        if uniforms is None and self.policy_code == RANDOM:
            uniforms = (float(self._rng.random(2)[0]), 0.0)
        u1 = uniforms[0] if uniforms is not None else 0.0
        a = self.a
        count, need = req.count, req.need_count
        loc = req.locality
        rows: list[list[int]] = []
        if loc is not None and loc.required and loc.level != "cluster":
            rows = self._host_in_domains(req, sh, count, need, u1, loc.level, _DOMAIN_TRIES)
        else:
            if loc is not None and not loc.required and loc.level != "cluster" and self.policy_code == PACKER:
                rows = self._host_in_domains(req, sh, count, need, u1, loc.level, 2)
            if len(rows) < need:
                self._undo_host(rows)
                rows = self._host_units(req, sh, count, self._all_nodes, u1)
        if len(rows) < need:
            self._undo_host(rows)
            return self._fail(req.id, self._diagnose_host(req, sh) if explain else "no room for the host units now")
        arr = np.array(rows, dtype=np.int64)
        nodes = sorted({int(n) for n in arr[:, 0]})
        tenant = self._tenants[req.tenant]
        if self.isolation_guard is not None and tenant.isolation == "node":
            per_node = np.bincount(arr[:, 0], minlength=len(self.node_ids))
            opened = [n for n in nodes if a.n64[n, N_UNITS] == per_node[n]]
            locked = sum(int(a.n64[n, N_NGPU]) for n in opened)
            if len(opened) > 1 and locked > self.isolation_guard:
                self._undo_host(rows)
                return self._fail(req.id, f"tenant {req.tenant} has node isolation: these host units would take "
                                          f"{len(opened)} empty nodes ({locked} GPUs) for no GPU work; the "
                                          f"{self.policy} policy declines (isolation_guard={self.isolation_guard:g}); "
                                          f"relax the spread or use nodes without GPUs")
        self._placed[req.id] = _Placed(req, arr, 0.0, nodes, 0)
        self._reasons.pop(req.id, None)
        return PlaceResult(req.id, True, None, arr, self, K_HOST)

    def _host_units(self, req: Request, sh: _Shape, count: int, nodes: np.ndarray, u1: float) -> list[list[int]]:
        """Places up to ``count`` host units of ``req`` one by one among ``nodes`` (applied); their rows."""
        rq = sh.rq
        cpu, mem, t, tiso = req.cpu_milli, req.memory_mib, int(rq[R_TENANT]), int(rq[R_TISO])
        spread = req.spread
        sp_dom = self._dom[spread.level] if spread is not None and spread.level != "cluster" else None
        if spread is not None and spread.level == "cluster":
            count = min(count, spread.max_per_domain)
        sp_count: dict[int, int] = {}
        closed: list[np.ndarray] = []
        rows: list[list[int]] = []
        for i in range(count):
            if i > 0 and self.policy_code == RANDOM:
                u1 = float(self._rng.random(2)[0])
            n = int(self._K.pick_host(self._st, rq, nodes, u1))
            if n < 0:
                break
            self._K.apply_host(self._st, n, cpu, mem, t, tiso, 1)
            rows.append([n, -1, -1, 0, cpu, mem, t, tiso, -1])
            if sp_dom is not None:
                d = int(sp_dom[n])
                sp_count[d] = sp_count.get(d, 0) + 1
                if sp_count[d] >= spread.max_per_domain:  # type: ignore[union-attr]
                    dn = self._dom_nodes[spread.level][d]  # type: ignore[union-attr]
                    self._nallow[dn] = 0
                    closed.append(dn)
        for dn in closed:
            self._nallow[dn] = 1
        return rows

    def _undo_host(self, rows: list[list[int]]) -> None:
        if rows:
            self._K.apply_host_units(self._st, np.array(rows, dtype=np.int64), -1)

    def _host_caps(self, req: Request, count: int) -> np.ndarray:
        """Per node: how many host units of ``req`` fit now (CPU, memory, node isolation), at most ``count``."""
        n64 = self.a.n64
        caps = np.full(len(self.node_ids), count, dtype=np.int64)
        if req.cpu_milli > 0:
            caps = np.minimum(caps, n64[:, N_CPU] // req.cpu_milli)
        if req.memory_mib > 0:
            caps = np.minimum(caps, n64[:, N_MEM] // req.memory_mib)
        t = self._tenant_ix[req.tenant]
        ok = (self._nallow != 0) & ((n64[:, N_ISON] == 0) | (n64[:, N_ISOT] == t))
        if self._tenants[req.tenant].isolation == "node":
            ok &= (n64[:, N_UNITS] == 0) | ((n64[:, N_ISOT] == t) & (n64[:, N_ISON] == n64[:, N_UNITS]))
        caps[~ok] = 0
        return np.maximum(caps, 0)

    def _host_in_domains(self, req: Request, sh: _Shape, count: int, need: int, u1: float, level: str,
                         tries: int) -> list[list[int]]:
        """Host units within one domain of ``level``: the tightest that fits (policy order), up to ``tries``."""
        dcap = self._caps_by_domain(req, self._host_caps(req, count), level)
        feas = np.nonzero(dcap >= need)[0]
        if len(feas) == 0:
            return []
        if self.policy_code == FIRST_FIT:  # domain order
            order = feas
        elif self.policy_code == RANDOM:
            order = feas[self._rng.permutation(len(feas))]
        else:
            order = feas[np.lexsort((feas, dcap[feas]))]
        for d in order[:tries]:
            rows = self._host_units(req, sh, count, self._dom_nodes[level][int(d)], u1)
            if len(rows) >= need:
                return rows
            self._undo_host(rows)
        return []

    def _diagnose_host(self, req: Request, sh: _Shape) -> str:
        need = req.need_count
        loc = req.locality
        level = loc.level if loc is not None and loc.required and loc.level != "cluster" else "cluster"
        dcap = self._caps_by_domain(req, self._host_caps(req, req.count), level)
        best = int(dcap.max()) if len(dcap) else 0
        what = f"host units ({req.cpu_milli} milli-CPU, {req.memory_mib} MiB each)"
        if level != "cluster":
            msg = (f"no {level} has room for {need} {what} now (the best {level} holds {best}; "
                   f"{int(dcap.sum())} fit in the whole cluster)")
        else:
            msg = f"only {best} of {need} {what} fit in the cluster now"
        iso = self._tenants[req.tenant].isolation
        if iso == "node":
            msg += f"; tenant {req.tenant} has node isolation"
        elif bool((self.a.n64[:, N_ISOT] != NO_TENANT).any()):
            msg += "; nodes of node-isolated tenants are closed to it"
        if req.spread is not None:
            msg += f"; spread allows {req.spread.max_per_domain} per {req.spread.level}"
        return msg

    def _place_exact(self, req: Request, units: Sequence[Unit]) -> PlaceResult:
        """Puts a (running) request exactly on ``units`` without any check beyond the instance's own."""
        a = self.a
        kind = KIND_CODE[req.kind]
        t = self._tenants.get(req.tenant)
        if t is None:
            return self._fail(req.id, f"unknown tenant {req.tenant!r}")
        if kind == K_HOST:
            host = [[self._node_ix[u.node], -1, -1, 0, req.cpu_milli, req.memory_mib, self._tenant_ix[req.tenant],
                     ISO_CODE[t.isolation], -1] for u in units]
            harr = np.array(host, dtype=np.int64).reshape(-1, 9)
            self._K.apply_host_units(self._st, harr, 1)
            self._placed[req.id] = _Placed(req, harr, 0.0, sorted({int(r[0]) for r in harr}), 0)
            return PlaceResult(req.id, True, None, harr, self, K_HOST)
        rows = []
        for u in units:
            n = self._node_ix[u.node]
            assert u.gpu is not None
            g = int(a.n64[n, N_GPU0]) + u.gpu
            p = s = -1
            if kind == K_MIG:
                m = self.models[int(a.g32[g, G_MODEL])]
                prof = m.profile(u.profile or "")
                assert prof is not None and u.start is not None
                p, s = prof.index, u.start
            milli = 1000 if kind == K_GPU else (u.gpu_milli or req.gpu_milli or 0)
            base = int(a.g32[g, G_BASE])
            mode = MODE_FOR_KIND[kind] if base == ANY else base
            rows.append([g, p, s, milli, req.cpu_milli, req.memory_mib, self._tenant_ix[req.tenant],
                         ISO_CODE[t.isolation], mode])
        arr = np.array(rows, dtype=np.int64).reshape(-1, 9)
        self._K.apply_units(self._st, arr, 1)
        nodes = sorted({int(a.g32[r[0], G_NODE]) for r in arr})
        tag = tag_of(kind, 1000 if kind == K_GPU else (req.gpu_milli or 0), req.count)
        for n in nodes:
            a.n64[n, N_PODS] += 1
            a.ntag[n, tag] += 1
        size = self._rows_size(arr, req)
        self._used[req.tenant] += size
        self._placed[req.id] = _Placed(req, arr, size, nodes, tag)
        self._sync_domains(nodes)
        return PlaceResult(req.id, True, None, arr, self, KIND_CODE[req.kind])

    # ------------------------------------------------------------------------------ releasing

    def release(self, request_id: str) -> bool:
        """Frees every unit of a placed request; False when it is not placed."""
        rec = self._placed.pop(request_id, None)
        if rec is None:
            return False
        a = self.a
        if rec.req.kind == "host":
            self._K.apply_host_units(self._st, rec.rows, -1)
            if rec.req.placement is not None:
                self._released_running.add(request_id)
            return True
        self._K.apply_units(self._st, rec.rows, -1)
        for n in rec.nodes:
            a.n64[n, N_PODS] -= 1
            a.ntag[n, rec.tag] -= 1
        self._used[rec.req.tenant] -= rec.size
        if rec.req.placement is not None:
            self._released_running.add(request_id)
        self._sync_domains(rec.nodes)
        return True

    # ------------------------------------------------------------------------------ reading

    def placed_ids(self) -> list[str]:
        """Ids of the requests placed now, in placement order."""
        return list(self._placed)

    def node_free(self, n: int) -> tuple[np.ndarray, int]:
        """(free milli of each GPU of node ``n`` (its index in the instance) as int64, the node's free milli-CPU)."""
        a = self.a
        g0, ng = int(a.n64[n, N_GPU0]), int(a.n64[n, N_NGPU])
        return a.g32[g0:g0 + ng, G_FREE].astype(np.int64), int(a.n64[n, N_CPU])

    def decline(self, request_id: str, reason: str) -> None:
        """Records that ``request_id`` was not placed and why (the snapshot's unplaced reason), for a
        caller that decides not to submit it (e.g. a time limit)."""
        self._reasons[request_id] = reason

    def units(self, request_id: str) -> tuple[Unit, ...]:
        """The SPEC units of placed request ``request_id`` (KeyError when it is not placed)."""
        rec = self._placed[request_id]
        return self._units_of_rows(rec.rows, KIND_CODE[rec.req.kind])

    def _units_of_rows(self, rows: np.ndarray, kind: int) -> tuple[Unit, ...]:
        a = self.a
        out = []
        if kind == K_HOST:
            return tuple(Unit(node=self.node_ids[int(r[0])]) for r in rows)
        for r in rows:
            g = int(r[0])
            n = int(a.g32[g, G_NODE])
            local = g - int(a.n64[n, N_GPU0])
            if kind == K_MIG:
                m = self.models[int(a.g32[g, G_MODEL])]
                out.append(Unit(node=self.node_ids[n], gpu=local, profile=m.profiles[int(r[1])].name, start=int(r[2])))
            elif kind == K_SHARE:
                out.append(Unit(node=self.node_ids[n], gpu=local, gpu_milli=int(r[3])))
            else:
                out.append(Unit(node=self.node_ids[n], gpu=local))
        return tuple(out)

    def gpu_modes(self) -> dict[tuple[str, int], str]:
        """Chosen mode of every 'any' GPU that holds work now."""
        a = self.a
        out = {}
        idx = np.nonzero((a.g32[:, G_BASE] == ANY) & (a.g32[:, G_MODE] != ANY))[0]
        for g in idx:
            n = int(a.g32[g, G_NODE])
            out[(self.node_ids[n], int(g) - int(a.n64[n, N_GPU0]))] = MODE_NAME[int(a.g32[g, G_MODE])]
        return out

    def snapshot_instance(self) -> Instance:
        """The instance the snapshot plan is for: the original requests (minus released running ones)
        plus every placed request that the instance did not have."""
        reqs = [r for r in self.inst.requests if r.id not in self._released_running]
        known = {r.id for r in reqs}
        extra = [rec.req for rid, rec in self._placed.items() if rid not in known]
        if not extra and len(reqs) == len(self.inst.requests):
            return self.inst
        return self.inst.replace(requests=[*reqs, *extra])

    def snapshot(self, *, solver: str = "online", seed: int | None = None, wall_s: float | None = None,
                 instance: Instance | None = None, extra_info: dict[str, object] | None = None) -> Plan:
        """A SPEC plan of everything placed now (for :meth:`snapshot_instance`)."""
        from packer.plans import build_plan

        inst = instance if instance is not None else self.snapshot_instance()
        placed = {rid: self.units(rid) for rid in self._placed}
        unplaced = {r.id: self._reasons.get(r.id, "not placed (never submitted to the online placer)")
                    for r in inst.requests if r.id not in placed}
        info = {"policy": self.policy}
        info.update(extra_info or {})
        return build_plan(inst, solver=solver, placed=placed, unplaced=unplaced, gpu_modes=self.gpu_modes(),
                          seed=seed, wall_s=wall_s, status="feasible", solver_info=info)

    def state_bytes(self) -> int:
        """Bytes of the NumPy state arrays."""
        return self.a.nbytes() + int(self._all_nodes.nbytes)

    # ---------------------------------------------------------------------------- diagnosing

    def _no_model_reason(self, req: Request) -> str:
        present = sorted(self._model_ix)
        if req.kind == "mig":
            what = f"profile {req.profile}" if req.profile else f"{req.slices}-slice MIG profile"
            return f"no GPU model in the cluster ({', '.join(present)}) that the request allows has a {what}"
        return f"the request allows only {list(req.gpu_models or [])}; the cluster has {present}"

    def _diagnose(self, req: Request, sh: _Shape, count: int | None = None) -> str:
        """A reason a person can act on: what is missing, and how much."""
        need = req.need_count
        kind = int(sh.rq[R_KIND])
        what = {K_MIG: f"{req.profile or str(req.slices) + '-slice'} MIG", K_GPU: "whole-GPU",
                K_SHARE: f"{req.gpu_milli}-milli share"}[kind]
        gpu_max = 1 if kind != K_MIG else _UNLIMITED
        limit = count or req.count
        loc = req.locality
        level = loc.level if loc is not None and loc.required and loc.level not in ("gpu", "cluster") else "cluster"
        dcap = self._domain_caps(req, sh, limit, level, gpu_max)
        best = int(dcap.max()) if len(dcap) else 0
        rq = sh.rq.copy()
        rq[R_CPU] = 0
        rq[R_MEM] = 0
        rq[R_GPUMAX] = gpu_max
        caps = np.zeros(len(self.node_ids), dtype=np.int64)
        self._K.node_caps(self._st, rq, sh.rprof, sh.modelok, self._all_nodes, limit, caps)
        gpu_only = int(caps.sum())
        if level != "cluster":
            msg = (f"no {level} has room for {need} {what} units now (the best {level} holds {best}; "
                   f"{int(dcap.sum())} fit in the whole cluster)")
        else:
            msg = f"only {best} of {need} {what} units fit in the cluster now"
        if gpu_only >= need and best < need and (req.cpu_milli or req.memory_mib):
            msg += (f"; GPUs are free but their nodes lack host resources ({req.cpu_milli} milli-CPU, "
                    f"{req.memory_mib} MiB per unit)")
        iso = self._tenants[req.tenant].isolation
        if iso != "none":
            msg += f"; tenant {req.tenant} has {iso} isolation"
        if req.spread is not None:
            msg += f"; spread allows {req.spread.max_per_domain} per {req.spread.level}"
        if req.gpu_models is not None:
            msg += f"; allowed models {list(req.gpu_models)}"
        return msg

    # ------------------------------------------------------------------------------- batch

    def churn(self, shapes: Sequence[Request], ops: np.ndarray, *, num_slots: int,
              uniforms: np.ndarray | None = None) -> ChurnResult:
        """Runs many single-unit place/release operations in ONE kernel call (batch API).

        ``shapes`` are single-unit requests (count 1, no locality, no spread, tenant without quota);
        ``ops[i] = (shape, slot)`` places one unit of ``shapes[shape]`` into slot ``slot`` (ignored if
        the slot is busy) and ``(-1, slot)`` releases the slot. Slots still busy afterwards are
        registered as requests ``"{shape.id}#{call}.{slot}"`` (``ChurnResult.ids``), so snapshot and
        release see them.
        """
        a = self.a
        rqs, profs, oks = [], [], []
        for r in shapes:
            if r.count != 1 or r.locality is not None or r.spread is not None:
                raise ValueError(f"churn shape {r.id}: only single-unit requests without locality or spread")
            if r.kind == "host":
                raise ValueError(f"churn shape {r.id}: host requests go through place()")
            if self._tenants[r.tenant].max_gpus is not None:
                raise ValueError(f"churn shape {r.id}: tenant {r.tenant} has a quota; use place()")
            sh = self._shape(r)
            rqs.append(sh.rq)
            profs.append(sh.rprof)
            oks.append(sh.modelok)
        shp = np.array(rqs, dtype=np.int64)
        sprof = np.array(profs, dtype=np.int64)
        sok = np.array(oks, dtype=np.uint8)
        ops = np.ascontiguousarray(ops, dtype=np.int64)
        if uniforms is None:
            uniforms = self._rng.random((len(ops), 2)) if self.policy_code == RANDOM else np.zeros((len(ops), 2))
        slots = np.full((num_slots, 4), -1, dtype=np.int64)
        stats = np.zeros(3, dtype=np.int64)
        self._K.churn(self._st, shp, sprof, sok, self._all_nodes, ops, uniforms, slots, stats)
        self._churn_calls += 1
        self._sync_domains(range(len(self.node_ids)))
        ids: dict[int, str] = {}
        for sl in np.nonzero(slots[:, 0] >= 0)[0]:
            g, p, s, shi = (int(x) for x in slots[sl])
            r = shapes[shi]
            rq = shp[shi]
            rid = f"{r.id}#{self._churn_calls}.{sl}"
            ids[int(sl)] = rid
            req = r.model_copy(update={"id": rid})
            rows = np.array([[g, p, s, rq[R_MILLI], r.cpu_milli, r.memory_mib, rq[R_TENANT], rq[R_TISO], 0]],
                            dtype=np.int64)
            size = self._rows_size(rows, r)
            self._used[r.tenant] += size
            self._placed[rid] = _Placed(req, rows, size, [int(a.g32[g, G_NODE])], int(rq[R_TAG]))
        return ChurnResult(int(stats[0]), int(stats[1]), int(stats[2]), slots, ids)

    # ------------------------------------------------------------------------ re-optimization

    def running_instance(self, *, movable: object = "all", migration_cost: object = None,
                         max_migrations: object = "keep") -> Instance:
        """The cluster now as a re-optimization instance: placed work running, the rest waiting.

        A thin wrapper of :func:`packer.freeze.freeze` on :meth:`snapshot_instance` and :meth:`snapshot`
        (see there for the ``movable`` rule, ``migration_cost`` and ``max_migrations``).
        """
        from packer.freeze import freeze

        inst = self.snapshot_instance()
        return freeze(inst, self.snapshot(instance=inst), movable=movable,  # type: ignore[arg-type]
                      migration_cost=migration_cost, max_migrations=max_migrations)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ChurnResult:
    """Counts of a batch run, and the final slot table (g, p, s, shape; g = -1 when empty)."""

    placed: int
    failed: int
    released: int
    slots: np.ndarray
    ids: dict[int, str]


def requests_in_order(requests: Iterable[Request], order: str | None, inst: Instance) -> list[Request]:
    """The new (not running) requests in ``order``: file, size-desc or priority."""
    reqs = [r for r in requests if r.placement is None]
    if order in (None, "file"):
        return reqs

    def size(r: Request) -> float:
        if r.kind == "host":
            return 0.0
        if r.kind == "gpu":
            return float(r.count)
        if r.kind == "share":
            return r.count * (r.gpu_milli or 0) / 1000
        best = 0.0
        for m in inst.gpu_catalog:
            if m.has_mig:
                ch = inst.profile_choices(r, m)
                if ch:
                    best = max(best, ch[0].gpu_equivalents)
        return r.count * best

    if order == "size-desc":
        return sorted(reqs, key=lambda r: -size(r))
    if order == "priority":
        return sorted(reqs, key=lambda r: (-r.priority, -size(r)))
    raise ValueError(f"unknown order {order!r}; choose file, size-desc or priority")


__all__ = ["ChurnResult", "OnlinePlacer", "PlaceResult", "requests_in_order"]
