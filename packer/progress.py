"""Progress lines for long solves and replays: on a terminal only, never with --quiet.

A back end calls ``progress.update(best=..., bound=...)`` as often as it likes; at most a few lines a
second reach the terminal (stderr), each with elapsed time, best objective, bound and gap.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Throttled progress reporter. ``enabled=None`` means: only when stderr is a terminal."""

    def __init__(self, label: str = "", *, enabled: bool | None = None, stream: TextIO | None = None,
                 interval_s: float = 0.5) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.label = label
        self.interval_s = interval_s
        self.start = time.perf_counter()
        self._last = -1e9
        self.lines = 0

    def update(self, *, best: float | None = None, bound: float | None = None, done: float | None = None,
               total: float | None = None, note: str = "", force: bool = False) -> None:
        """Reports the current state (throttled unless ``force``)."""
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self._last < self.interval_s:
            return
        self._last = now
        parts = [f"{self.label}" if self.label else "", f"{now - self.start:7.1f}s"]
        if done is not None and total:
            parts.append(f"{done:.0f}/{total:.0f} ({100 * done / total:5.1f}%)")
        if best is not None:
            parts.append(f"best {best:.4f}")
        if bound is not None:
            parts.append(f"bound {bound:.4f}")
            if best is not None:
                gap = max(0.0, bound - best) / max(abs(bound), 1e-9)
                parts.append(f"gap {100 * gap:.2f}%")
        if note:
            parts.append(note)
        self.stream.write("  ".join(p for p in parts if p) + "\n")
        self.stream.flush()
        self.lines += 1


#: A reporter that never prints, for library calls.
SILENT = Progress(enabled=False)

__all__ = ["Progress", "SILENT"]
