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

import copy
from collections.abc import Iterable, Sequence

import numpy as np

from packer.capacity import quota_net
from packer.model import MILLI_PER_GPU, Instance, Request, Unit
from packer.online import diagnose, reserve
from packer.online import kernels as K
from packer.online._jit import Bound
from packer.online.churn import Churn, ChurnResult
from packer.online.domains import DomainKey, Domains
from packer.online.gangs import GpuPath
from packer.online.host import HostPath
from packer.online.policies import PACKER, RANDOM, TargetWorkload, policy_code
from packer.online.reserve import Reserve, kept_quota, kept_whole
from packer.online.results import Placed, PlaceResult
from packer.online.shapes import Shapes
from packer.online.snapshots import Snapshots
from packer.online.state import (
    ANY,
    G_BASE,
    G_MODEL,
    G_NODE,
    ISO_CODE,
    K_GPU,
    K_HOST,
    K_MIG,
    KIND_CODE,
    MODE_FOR_KIND,
    N_GPU0,
    N_PODS,
    R_MILLI,
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


class OnlinePlacer(GpuPath, HostPath, Snapshots, Churn):
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
        # the two kernels of the single-unit place and of release, with fixed argument types: bound
        self._place_one = Bound(self._K.place_one)
        self._apply_units = Bound(self._K.apply_units)
        self._pick_unit = Bound(self._K.pick_unit)  # a gang's units (gangs.py), one call each
        self._apply_unit = Bound(self._K.apply_unit)
        # a gang's units in one call (gangs.py); a kernel stand-in without it takes them one by one
        self._place_units_k = Bound(self._K.place_units) if hasattr(self._K, "place_units") else None
        if hasattr(self._K, "bind"):
            self._K.bind(self.models, self.target)
        self._model_ix = {m.name: i for i, m in enumerate(self.models)}
        self._model_names = [m.name for m in self.models]
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
        self._placed: dict[str, Placed] = {}
        self._mig_sizes: dict[tuple[int, int], float] = {}  # (model, profile) -> a MIG unit's GPU-equivalents
        self._shapes = Shapes(inst, self.models, self.a.mp.shape[1], self.policy_code)
        self._reasons: dict[str, str] = {}
        self._released_running: set[str] = set()
        self._churn_calls = 0
        self.reserve: Reserve | None = None  # set by expect()
        self.domains = Domains(inst)  # topology: node -> domain index per level, and the nodes of each domain
        self._K.refresh_all(self._st)
        self._domkey = DomainKey(inst, self.domains, self.a, self.domain_key)
        if place_running:
            for r in inst.requests:
                if r.placement is not None:
                    self._place_exact(r, r.placement)

    # ------------------------------------------------------------------------- what others read

    @property
    def kernels(self):  # type: ignore[no-untyped-def]
        """The kernel module this placer calls (:mod:`packer.online.kernels`, or a test's stand-in)."""
        return self._K

    @property
    def kernel_state(self) -> tuple[np.ndarray, ...]:
        """The state as the kernels take it (``tuple(self.a)``)."""
        return self._st

    @property
    def all_nodes(self) -> np.ndarray:
        """Every node index, in the instance's order (the kernels' tie order)."""
        return self._all_nodes

    def model_names(self) -> list[str]:
        """The GPU models of the cluster."""
        return sorted(self._model_ix)

    def tenant_isolation(self, tenant: str) -> str:
        """``none``, ``gpu`` or ``node``."""
        return self._tenants[tenant].isolation

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
        if self.reserve is not None:
            self.reserve.arrived(req)
        sh = self._shapes.of(req)
        if req.kind == "host":
            return self._place_host(req, sh, uniforms, explain)
        if sh.unit_sizes[1] == 0.0 and not sh.modelok.any():
            return self._fail(rid, diagnose.no_model(self, req))
        count = req.count
        need = req.need_count
        tenant = self._tenants[req.tenant]
        if tenant.max_gpus is not None:
            left = tenant.max_gpus - self._used[req.tenant]
            fit_min = int((left + 1e-9) // sh.unit_sizes[0]) if sh.unit_sizes[0] > 0 else count
            if fit_min < need:
                return self._fail(rid, diagnose.quota(req.tenant, self._used[req.tenant], tenant.max_gpus,
                                                      need * sh.unit_sizes[0]))
            if self.reserve is not None:  # the quota later requests of higher priority need
                left -= self.reserve.quota_above(req.tenant, self.reserve.rank(req))
                if sh.unit_sizes[0] > 0 and int((left + 1e-9) // sh.unit_sizes[0]) < need:
                    return self._fail(rid, kept_quota(req, left))
            fit = int((left + 1e-9) // sh.unit_sizes[1]) if sh.unit_sizes[1] > 0 else count
            count = min(count, max(fit, need))
        if self.reserve is not None and req.kind == "gpu":
            spare = self.reserve.spare_whole(self.a.n64, sh.modelok, self._model_names, req, self._quota_left())
            if spare < need:
                return self._fail(rid, kept_whole(req, spare))
            count = min(count, spare)
        if uniforms is None and self.policy_code == RANDOM:
            u = self._rng.random(2)
            uniforms = (float(u[0]), float(u[1]))
        u1, u2 = (float(uniforms[0]), float(uniforms[1])) if uniforms is not None else (0.0, 0.0)
        a = self.a
        simple = count == 1 and req.locality is None and req.spread is None
        if simple:
            out = self._out
            if not self._place_one(self._st, sh.rq, sh.rprof, sh.modelok, self._all_nodes, u1, u2, out):
                return self._fail(rid, diagnose.units(self, req, sh) if explain else diagnose.not_diagnosed(req))
            g = int(out[0])
            rows = np.array([[g, out[1], out[2], sh.rq[R_MILLI], req.cpu_milli, req.memory_mib, sh.rq[R_TENANT],
                              sh.rq[R_TISO], 0]], dtype=np.int64)
            size = self._rows_size(rows, req)
            rec = Placed(req, rows, size, [int(a.g32[g, G_NODE])], int(sh.rq[R_TAG]))
            if tenant.max_gpus is not None and self._used[req.tenant] + size > tenant.max_gpus + 1e-9:
                self._apply_units(self._st, rows, -1)
                n = rec.nodes[0]
                a.n64[n, N_PODS] -= 1
                a.ntag[n, rec.tag] -= 1
                return self._fail(rid, diagnose.quota(req.tenant, self._used[req.tenant], tenant.max_gpus, size))
            self._used[req.tenant] += size
            self._placed[rid] = rec
            self._reasons.pop(rid, None)
            self._domkey.sync(rec.nodes)
            return PlaceResult(rid, True, None, rows, self, KIND_CODE[req.kind])
        return self._place_gang(req, sh, count, need, u1, u2, explain)

    def expect(self, requests: Iterable[Request]) -> None:
        """Tells the ``packer`` policy which requests will arrive (a batch run over an instance), so
        that it keeps whole GPUs and tenant quota for the later ones of higher priority
        (:mod:`packer.online.reserve`).
        Other policies ignore it."""
        if self.policy_code == PACKER:
            value = quota_net(self.inst) if reserve.NET_QUOTA else None
            self.reserve = Reserve(requests, self.inst.request_unit_size, value)

    def fork(self) -> OnlinePlacer:
        """An independent copy of the placer now (state arrays, placed requests, quota used, forecast):
        what is placed on the copy does not touch this placer. Tables, shapes and topology are shared
        (they never change). For :mod:`packer.online.rollout`, which simulates the rest of a known
        stream on copies."""
        new = copy.copy(self)
        a = self.a
        new.a = a._replace(g32=a.g32.copy(), gpc=a.gpc.copy(), n64=a.n64.copy(), nbest=a.nbest.copy(),
                           b64=a.b64.copy(), bbest=a.bbest.copy(), ntag=a.ntag.copy())
        new._st = tuple(new.a)
        new._used = dict(self._used)
        new._placed = dict(self._placed)
        new._reasons = dict(self._reasons)
        new._released_running = set(self._released_running)
        new._rng = copy.deepcopy(self._rng)
        new.reserve = self.reserve.copy() if self.reserve is not None else None
        new._domkey = self._domkey.copy_for(new.a)
        return new

    def commit(self, req: Request, rows: np.ndarray | None, reason: str | None = None) -> None:
        """``req`` arrives and takes exactly ``rows`` (kernel rows that a placer of the same instance
        in the same state chose for it: :attr:`Placed.rows`), or is left unplaced with ``reason`` when
        ``rows`` is None. No policy runs: a rollout decides, and every base placer follows."""
        if self.reserve is not None:
            self.reserve.arrived(req)
        if rows is None:
            self._reasons[req.id] = reason or diagnose.not_diagnosed(req)
            return
        a = self.a
        if req.kind == "host":
            self._K.apply_host_units(self._st, rows, 1)
            self._placed[req.id] = Placed(req, rows, 0.0, sorted({int(n) for n in rows[:, 0]}), 0)
            self._reasons.pop(req.id, None)
            return
        base = a.g32[rows[:, 0], G_BASE]
        rows = rows.copy()  # the mode an 'any' GPU takes (a single unit's row may not carry it)
        rows[:, 8] = np.where(base == ANY, MODE_FOR_KIND[KIND_CODE[req.kind]], base)
        self._apply_units(self._st, rows, 1)
        nodes = sorted({int(a.g32[r[0], G_NODE]) for r in rows})
        self._record(req, rows, self._rows_size(rows, req), nodes, int(self._shapes.of(req).rq[R_TAG]))

    def _quota_left(self) -> dict[str, float]:
        return {t: v.max_gpus - self._used[t] for t, v in self._tenants.items() if v.max_gpus is not None}

    def _rows_size(self, rows: np.ndarray, req: Request) -> float:
        """GPU-equivalents of placed rows (:meth:`Instance.unit_size_on`, the model's one definition;
        a share row carries its own milli, which a running unit may set)."""
        if req.kind == "share":
            return float(rows[:, 3].sum()) / MILLI_PER_GPU
        if req.kind != "mig":
            return len(rows) * self.inst.unit_size_on(req, None)
        tot = 0.0
        sizes = self._mig_sizes  # a MIG unit's size depends on its model and profile only
        g32 = self.a.g32
        for g, pi in rows[:, :2].tolist():
            mi = int(g32[g, G_MODEL])
            v = sizes.get((mi, pi))
            if v is None:
                m = self.models[mi]
                v = sizes[mi, pi] = self.inst.unit_size_on(req, m, m.profiles[pi].name)
            tot += v
        return tot

    def _fail(self, rid: str, reason: str) -> PlaceResult:
        self._reasons[rid] = reason
        return PlaceResult(rid, False, reason)

    def _record(self, req: Request, rows: np.ndarray, size: float, nodes: list[int], tag: int) -> Placed:
        """Books ``req`` on ``rows`` (units already applied to the state): pods and shape tags of its
        nodes, its tenant's use, its record, the domain key of its nodes."""
        a = self.a
        for n in nodes:
            a.n64[n, N_PODS] += 1
            a.ntag[n, tag] += 1
        rec = Placed(req, rows, size, nodes, tag)
        self._used[req.tenant] += size
        self._placed[req.id] = rec
        self._reasons.pop(req.id, None)
        self._domkey.sync(nodes)
        return rec

    def _undo(self, rows: list[list[int]]) -> None:
        if rows:
            self._apply_units(self._st, np.array(rows, dtype=np.int64), -1)

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
            self._placed[req.id] = Placed(req, harr, 0.0, sorted({int(r[0]) for r in harr}), 0)
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
        self._apply_units(self._st, arr, 1)
        nodes = sorted({int(a.g32[r[0], G_NODE]) for r in arr})
        tag = tag_of(kind, 1000 if kind == K_GPU else (req.gpu_milli or 0), req.count)
        self._record(req, arr, self._rows_size(arr, req), nodes, tag)
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
        self._apply_units(self._st, rec.rows, -1)
        for n in rec.nodes:
            a.n64[n, N_PODS] -= 1
            a.ntag[n, rec.tag] -= 1
        self._used[rec.req.tenant] -= rec.size
        if rec.req.placement is not None:
            self._released_running.add(request_id)
        self._domkey.sync(rec.nodes)
        return True


def requests_in_order(requests: Iterable[Request], order: str | None, inst: Instance) -> list[Request]:
    """The new (not running) requests in ``order``: file, size-desc or priority."""
    reqs = [r for r in requests if r.placement is None]
    if order in (None, "file"):
        return reqs
    size = inst.request_size  # the model's one definition (smallest size the request can have here)

    if order == "size-desc":
        return sorted(reqs, key=lambda r: -size(r))
    if order == "priority":
        return sorted(reqs, key=lambda r: (-r.priority, -size(r)))
    raise ValueError(f"unknown order {order!r}; choose file, size-desc or priority")


__all__ = ["ChurnResult", "OnlinePlacer", "PlaceResult", "requests_in_order"]
