"""A deadline that a model build checks between its steps, so a build past its share can be given up.

Building a CP-SAT model is plain Python holding the GIL: a thread cannot be stopped from outside,
so the build itself looks at the clock between its steps (after the data, every few thousand
variables, between constraint rules) and raises :class:`BuildAbandoned` once the deadline has
passed. A build therefore overruns its deadline by at most one step (the longest constraint rule).
The clock is a parameter, so tests drive it by counted steps instead of wall time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


class BuildAbandoned(Exception):
    """A model build ran past its deadline and was given up; ``step`` names where it stopped."""

    def __init__(self, step: str) -> None:
        super().__init__(f"model build abandoned at {step}: past its deadline")
        self.step = step


@dataclass
class Deadline:
    """A point in time (``clock()`` units; None: never) that :meth:`check` enforces."""

    at: float | None
    clock: Callable[[], float] = field(default=time.perf_counter)
    #: How many checks were made (for tests and the solver's info).
    checks: int = 0

    @classmethod
    def after(cls, seconds: float | None, clock: Callable[[], float] = time.perf_counter) -> Deadline:
        """A deadline ``seconds`` from now on ``clock`` (None: no deadline)."""
        return cls(None if seconds is None else clock() + seconds, clock)

    def left(self) -> float | None:
        """Seconds (clock units) until the deadline, negative once past; None without one."""
        return None if self.at is None else self.at - self.clock()

    def check(self, step: str) -> None:
        """Raises :class:`BuildAbandoned` naming ``step`` when the deadline has passed."""
        self.checks += 1
        if self.at is not None and self.clock() > self.at:
            raise BuildAbandoned(step)


#: The deadline of a build that has none.
NEVER = Deadline(None)

__all__ = ["NEVER", "BuildAbandoned", "Deadline"]
