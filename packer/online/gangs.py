"""The online placer's GPU path: units one by one under the policy, gangs that share a node or a
domain, and the spread, locality and isolation guard they obey (mixed into :class:`OnlinePlacer`).
"""

from __future__ import annotations

import numpy as np

from packer.model import Request
from packer.online import diagnose
from packer.online.domains import DOMAIN_TRIES, SpreadLimit, domain_order, guard_declines
from packer.online.policies import PACKER, RANDOM
from packer.online.results import PlaceResult
from packer.online.shapes import UNLIMITED as _UNLIMITED
from packer.online.shapes import Shape
from packer.online.state import (
    G_NODE,
    K_MIG,
    KIND_CODE,
    MODE_FOR_KIND,
    N_GPU0,
    N_NGPU,
    N_UNITS,
    R_GPUMAX,
    R_KIND,
    R_MILLI,
    R_NEED,
    R_NOANY,
    R_TAG,
    R_TENANT,
    R_TISO,
)


class GpuPath:
    """Placing the GPU units of one request (methods of :class:`packer.online.OnlinePlacer`)."""

    def _place_units(self, req: Request, sh: Shape, count: int, nodes: np.ndarray, u1: float, u2: float,
                     gpu_max: int, one_gpu: bool) -> list[list[int]]:
        """Greedily places up to ``count`` units among ``nodes`` (applied); returns their rows."""
        a = self.a
        rq = sh.rq.copy()
        rq[R_GPUMAX] = gpu_max
        spread = SpreadLimit(self.domains, req.spread, self._nallow, ("gpu", "cluster"))
        count = spread.limit(count)
        newmode = MODE_FOR_KIND[int(rq[R_KIND])]
        rows: list[list[int]] = []
        out = self._out
        # the bound kernels take one fixed argument type: a C-contiguous int64 array of nodes
        cur_nodes = np.ascontiguousarray(nodes, dtype=np.int64)
        pick, apply = self._pick_unit, self._apply_unit
        milli, cpu, mem = int(rq[R_MILLI]), int(req.cpu_milli), int(req.memory_mib)
        tenant, tiso, newmode = int(rq[R_TENANT]), int(rq[R_TISO]), int(newmode)
        u1, u2 = float(u1), float(u2)
        if self._place_units_k is not None and self.policy_code != RANDOM and not one_gpu:
            # nothing changes between units but the state and the spread's closed domains: the whole
            # loop in one kernel call
            arr = np.empty((max(count, 0), 9), dtype=np.int64)
            done = self._place_units_k(self._st, rq, sh.rprof, sh.modelok, cur_nodes, u1, u2, count, milli, cpu, mem,
                                       tenant, tiso, newmode, arr, *spread.kernel_args())
            rows = arr[:done].tolist()
            count = 0  # placed: the loop below is for the other cases
        for i in range(count):
            if i > 0 and self.policy_code == RANDOM:
                uu = self._rng.random(2)
                u1, u2 = float(uu[0]), float(uu[1])
            if not pick(self._st, rq, sh.rprof, sh.modelok, cur_nodes, u1, u2, out):
                break
            g, p, s = int(out[0]), int(out[1]), int(out[2])
            apply(self._st, g, p, s, milli, cpu, mem, tenant, tiso, 1, newmode)
            self._greq[g] += 1
            rows.append([g, p, s, milli, cpu, mem, tenant, tiso, newmode])
            if one_gpu and i == 0:
                n = int(a.g32[g, G_NODE])
                cur_nodes = np.array([n], dtype=np.int64)
                g0 = int(a.n64[n, N_GPU0])
                for k in range(int(a.n64[n, N_NGPU])):
                    if g0 + k != g:
                        self._greq[g0 + k] += _UNLIMITED
            spread.add(int(a.g32[g, G_NODE]))
        spread.reopen()
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
            self._apply_units(self._st, np.array(rows, dtype=np.int64), -1)

    def _place_gang(self, req: Request, sh: Shape, count: int, need: int, u1: float, u2: float,
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
                    if self.policy_code == PACKER:  # a node that takes every unit without 'any' GPUs first
                        rq[R_NOANY] = 1
                        rq[R_NEED] = count
                        n = self._K.pick_node(self._st, rq, sh.rprof, sh.modelok, self._all_nodes, count, u1)
                        rq[R_NOANY] = 0
                        rq[R_NEED] = need
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
                # a preference only: one domain when one takes every unit, else the whole cluster
                # (an elastic request would otherwise stop at min_count in the tightest domain)
                rows = self._place_in_domains(req, sh, count, count, u1, u2, gpu_max, loc.level, tries=2)
            if len(rows) < need:
                self._undo(rows)
                rows = self._place_units(req, sh, count, self._all_nodes, u1, u2, gpu_max, False)
        if len(rows) < need:
            self._undo(rows)
            return self._fail(req.id, diagnose.units(self, req, sh, count) if explain else diagnose.not_diagnosed(req))
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
                return self._fail(req.id, diagnose.quota(req.tenant, self._used[req.tenant], tenant.max_gpus, size))
        if self.isolation_guard is not None and tenant.isolation == "node":
            opened, locked = self._opened(arr)
            if guard_declines(self.isolation_guard, len(opened), locked, size):
                held = ~np.isin(a.g32[arr[:, 0], G_NODE], opened)
                if int(held.sum()) < need:
                    self._undo(arr.tolist())
                    return self._fail(req.id, diagnose.guard(self, req, len(opened), locked, size))
                # an elastic request keeps the units on the tenant's nodes (no node opened for it)
                self._undo(arr[~held].tolist())
                arr = arr[held]
                size = self._rows_size(arr, req)
        nodes = sorted({int(a.g32[r[0], G_NODE]) for r in arr})
        self._record(req, arr, size, nodes, int(sh.rq[R_TAG]))
        return PlaceResult(req.id, True, None, arr, self, KIND_CODE[req.kind])

    def _opened(self, arr: np.ndarray) -> tuple[list[int], int]:
        """The nodes that the applied units ``arr`` alone occupy (empty before them) and their GPUs."""
        a = self.a
        per_node = np.bincount(a.g32[arr[:, 0], G_NODE], minlength=len(self.node_ids))
        opened = [int(n) for n in np.flatnonzero(per_node) if a.n64[n, N_UNITS] == per_node[n]]
        return opened, sum(int(a.n64[n, N_NGPU]) for n in opened)

    def domain_caps(self, req: Request, sh: Shape, count: int, level: str, gpu_max: int,
                    no_any: bool = False) -> np.ndarray:
        """Units of ``req`` (at most ``count``) each domain of ``level`` could take now (host resources,
        isolation, spread; ``no_any``: without converting 'any' GPUs)."""
        rq = sh.rq.copy()
        rq[R_GPUMAX] = gpu_max
        rq[R_NOANY] = int(no_any)
        caps = self._scratch_caps
        self._K.node_caps(self._st, rq, sh.rprof, sh.modelok, self._all_nodes, count, caps)
        return self.domains.caps_by_domain(req, caps, level)

    def caps_by_domain(self, req: Request, caps: np.ndarray, level: str) -> np.ndarray:
        """:meth:`Domains.caps_by_domain`."""
        return self.domains.caps_by_domain(req, caps, level)

    def _place_in_domains(self, req: Request, sh: Shape, count: int, need: int, u1: float, u2: float,
                          gpu_max: int, level: str, tries: int = DOMAIN_TRIES) -> list[list[int]]:
        dcap = self.domain_caps(req, sh, count, level, gpu_max)
        no_any = None
        if self.policy_code == PACKER and bool((dcap >= need).any()):
            # the tightest domain that fits without converting 'any' GPUs, then the tightest that fits
            no_any = self.domain_caps(req, sh, count, level, gpu_max, no_any=True)
        for d in domain_order(dcap, need, self.policy_code, self._rng, no_any, want=count)[:tries]:
            rows = self._place_units(req, sh, count, self.domains.nodes[level][int(d)], u1, u2, gpu_max, False)
            if len(rows) >= need:
                return rows
            self._undo(rows)
        return []


__all__ = ["GpuPath"]
