"""A function run in a daemon thread (the model's LP beside the search), waited for a limited time."""

from __future__ import annotations

import os
import threading
import time


def lower_priority(nice: int) -> bool:
    """Adds ``nice`` to the OS niceness of the calling thread alone (Linux: a thread is a schedulable
    task of its own; threads it starts later inherit it). True if it took effect."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return False
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except (OSError, AttributeError):
        return False
    return True


class Background:
    """A function run in a daemon thread; :meth:`result` waits for its value a limited time.

    ``nice``: OS niceness added to that thread (0: the caller's priority)."""

    def __init__(self, fn, nice: int = 0) -> None:  # type: ignore[no-untyped-def]
        self._out: list[object] = []
        self._error: list[BaseException] = []
        #: perf_counter() when the function returned (or raised), and an event set then.
        self.ended: float | None = None
        #: CPU seconds the thread used (set when it ends); whether its niceness was raised.
        self.cpu_s: float | None = None
        self.niced = False
        self.done = threading.Event()

        def run() -> None:
            try:
                self.niced = lower_priority(nice)
                self._out.append(fn())
            except BaseException as exc:  # re-raised by result(), in the caller's thread
                self._error.append(exc)
            finally:
                self.cpu_s = time.thread_time()
                self.ended = time.perf_counter()
                self.done.set()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def result(self, timeout: float | None):  # type: ignore[no-untyped-def]
        """The function's value, or None if it has not returned within ``timeout`` seconds."""
        self._thread.join(timeout)
        if self._error:
            raise self._error[0]
        return self._out[0] if self._out else None


__all__ = ["Background", "lower_priority"]
