"""What the online placer hands back and keeps per placed request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from packer.model import Request, Unit
from packer.online.state import G_NODE, K_HOST, K_SHARE

if TYPE_CHECKING:
    from packer.online.placer import OnlinePlacer


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
class Placed:
    """A placed request: its rows (kernel units), size in GPU-equivalents, nodes and GpuClustering tag."""

    req: Request
    rows: np.ndarray  # int64 [units, 9]: g, p, s, milli, cpu, mem, tenant, tiso, mode
    size: float
    nodes: list[int] = field(default_factory=list)
    tag: int = 0



__all__ = ["PlaceResult", "Placed"]
