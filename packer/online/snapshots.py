"""Reading the online placer: placed requests and their units, the 'any' GPUs' modes, SPEC plans of
the state (snapshots) and the running cluster as a re-optimization instance.
"""

from __future__ import annotations

import numpy as np

from packer import reasons
from packer.model import Instance, Plan, Unit
from packer.online.state import (
    ANY,
    G_BASE,
    G_FREE,
    G_MODE,
    G_MODEL,
    G_NODE,
    K_HOST,
    K_MIG,
    K_SHARE,
    KIND_CODE,
    MODE_NAME,
    N_CPU,
    N_GPU0,
    N_NGPU,
)


class Snapshots:
    """Reading the placer's state (methods of :class:`packer.online.OnlinePlacer`)."""

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

    def _units_of_rows(self, rows: np.ndarray, kind: int, lut: tuple[object, object, object] | None = None
                       ) -> tuple[Unit, ...]:
        """The SPEC units of kernel ``rows``; ``lut``: each GPU's node, local index and model
        (:meth:`_gpu_lut`, built once for many requests), else read for these rows' GPUs."""
        if kind == K_HOST:
            return tuple(Unit(node=self.node_ids[r[0]]) for r in rows.tolist())
        gnode, glocal, gmodel = lut if lut is not None else self._gpu_lut(rows[:, 0])
        names, models = self.node_ids, self.models
        out = []
        for g, p, s, milli, *_ in rows.tolist():
            if kind == K_MIG:
                out.append(Unit(node=names[gnode[g]], gpu=glocal[g], profile=models[gmodel[g]].profiles[p].name, start=s))
            elif kind == K_SHARE:
                out.append(Unit(node=names[gnode[g]], gpu=glocal[g], gpu_milli=milli))
            else:
                out.append(Unit(node=names[gnode[g]], gpu=glocal[g]))
        return tuple(out)

    def _gpu_lut(self, gpus: np.ndarray | None = None) -> tuple[object, object, object]:
        """Node index, local GPU index and model index of every GPU as lists, or of ``gpus`` only
        as dicts (one request's units)."""
        a = self.a
        if gpus is None:
            node = a.g32[:, G_NODE].astype(np.int64)
            local = np.arange(len(node), dtype=np.int64) - a.n64[node, N_GPU0]
            return node.tolist(), local.tolist(), a.g32[:, G_MODEL].tolist()
        gl = [int(g) for g in gpus]
        node = a.g32[gpus, G_NODE].astype(np.int64)
        local = np.asarray(gpus, dtype=np.int64) - a.n64[node, N_GPU0]
        return (dict(zip(gl, node.tolist(), strict=True)), dict(zip(gl, local.tolist(), strict=True)),
                dict(zip(gl, a.g32[gpus, G_MODEL].tolist(), strict=True)))

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
        lut = self._gpu_lut()  # once for every request's units
        placed = {rid: self._units_of_rows(rec.rows, KIND_CODE[rec.req.kind], lut) for rid, rec in self._placed.items()}
        unplaced = {r.id: self._reasons.get(r.id, reasons.not_submitted("online"))
                    for r in inst.requests if r.id not in placed}
        info = {"policy": self.policy}
        info.update(extra_info or {})
        return build_plan(inst, solver=solver, placed=placed, unplaced=unplaced, gpu_modes=self.gpu_modes(),
                          seed=seed, wall_s=wall_s, status="feasible", solver_info=info)

    def state_bytes(self) -> int:
        """Bytes of the NumPy state arrays."""
        return self.a.nbytes() + int(self._all_nodes.nbytes)


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


__all__ = ["Snapshots"]
