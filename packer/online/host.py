"""The online placer's host path: requests for CPU and memory of a node only (kind ``host``), with the
same spread, domain order and isolation guard as the GPU path (:mod:`packer.online.domains`).
"""

from __future__ import annotations

import numpy as np

from packer.model import Request
from packer.online import diagnose
from packer.online.domains import DOMAIN_TRIES, SpreadLimit, domain_order, guard_declines
from packer.online.policies import PACKER, RANDOM
from packer.online.results import Placed, PlaceResult
from packer.online.shapes import Shape
from packer.online.state import (
    K_HOST,
    N_CPU,
    N_ISON,
    N_ISOT,
    N_MEM,
    N_NGPU,
    N_UNITS,
    R_TENANT,
    R_TISO,
)


class HostPath:
    """Placing host units (methods of :class:`packer.online.OnlinePlacer`)."""

    def _place_host(self, req: Request, sh: Shape, uniforms: tuple[float, float] | None,
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
            rows = self._host_in_domains(req, sh, count, need, u1, loc.level, DOMAIN_TRIES)
        else:
            if loc is not None and not loc.required and loc.level != "cluster" and self.policy_code == PACKER:
                rows = self._host_in_domains(req, sh, count, count, u1, loc.level, 2)  # every unit, or the cluster
            if len(rows) < need:
                self._undo_host(rows)
                rows = self._host_units(req, sh, count, self._all_nodes, u1)
        if len(rows) < need:
            self._undo_host(rows)
            return self._fail(req.id, diagnose.host(self, req) if explain else diagnose.not_diagnosed(req))
        arr = np.array(rows, dtype=np.int64)
        nodes = sorted({int(n) for n in arr[:, 0]})
        tenant = self._tenants[req.tenant]
        if self.isolation_guard is not None and tenant.isolation == "node":
            per_node = np.bincount(arr[:, 0], minlength=len(self.node_ids))
            opened = [n for n in nodes if a.n64[n, N_UNITS] == per_node[n]]
            locked = sum(int(a.n64[n, N_NGPU]) for n in opened)
            if guard_declines(self.isolation_guard, len(opened), locked, 0.0):
                self._undo_host(rows)
                return self._fail(req.id, diagnose.guard(self, req, len(opened), locked, 0.0))
        self._placed[req.id] = Placed(req, arr, 0.0, nodes, 0)
        self._reasons.pop(req.id, None)
        return PlaceResult(req.id, True, None, arr, self, K_HOST)

    def _host_units(self, req: Request, sh: Shape, count: int, nodes: np.ndarray, u1: float) -> list[list[int]]:
        """Places up to ``count`` host units of ``req`` one by one among ``nodes`` (applied); their rows."""
        rq = sh.rq
        cpu, mem, t, tiso = req.cpu_milli, req.memory_mib, int(rq[R_TENANT]), int(rq[R_TISO])
        spread = SpreadLimit(self.domains, req.spread, self._nallow, ("cluster",))
        count = spread.limit(count)
        rows: list[list[int]] = []
        for i in range(count):
            if i > 0 and self.policy_code == RANDOM:
                u1 = float(self._rng.random(2)[0])
            n = int(self._K.pick_host(self._st, rq, nodes, u1))
            if n < 0:
                break
            self._K.apply_host(self._st, n, cpu, mem, t, tiso, 1)
            rows.append([n, -1, -1, 0, cpu, mem, t, tiso, -1])
            spread.add(n)
        spread.reopen()
        return rows

    def _undo_host(self, rows: list[list[int]]) -> None:
        if rows:
            self._K.apply_host_units(self._st, np.array(rows, dtype=np.int64), -1)

    def host_caps(self, req: Request, count: int) -> np.ndarray:
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

    def _host_in_domains(self, req: Request, sh: Shape, count: int, need: int, u1: float, level: str,
                         tries: int) -> list[list[int]]:
        """Host units within one domain of ``level``: the tightest that fits (policy order), up to ``tries``."""
        dcap = self.domains.caps_by_domain(req, self.host_caps(req, count), level)
        for d in domain_order(dcap, need, self.policy_code, self._rng, want=count)[:tries]:
            rows = self._host_units(req, sh, count, self.domains.nodes[level][int(d)], u1)
            if len(rows) >= need:
                return rows
            self._undo_host(rows)
        return []


__all__ = ["HostPath"]
