"""The online placer's batch API: many single-unit place/release operations in one kernel call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from packer.model import Request
from packer.online.policies import RANDOM
from packer.online.results import Placed
from packer.online.state import (
    G_NODE,
    R_MILLI,
    R_TAG,
    R_TENANT,
    R_TISO,
)


class Churn:
    """The batch API (a method of :class:`packer.online.OnlinePlacer`)."""

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
            sh = self._shapes.of(r)
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
        self._domkey.sync(range(len(self.node_ids)))
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
            self._placed[rid] = Placed(req, rows, size, [int(a.g32[g, G_NODE])], int(rq[R_TAG]))
        return ChurnResult(int(stats[0]), int(stats[1]), int(stats[2]), slots, ids)


@dataclass(frozen=True)
class ChurnResult:
    """Counts of a batch run, and the final slot table (g, p, s, shape; g = -1 when empty)."""

    placed: int
    failed: int
    released: int
    slots: np.ndarray
    ids: dict[int, str]



__all__ = ["Churn", "ChurnResult"]
