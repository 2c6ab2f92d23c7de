"""A function run in a daemon thread (the model's LP beside the search), waited for a limited time."""

from __future__ import annotations

import threading
import time


class Background:
    """A function run in a daemon thread; :meth:`result` waits for its value a limited time."""

    def __init__(self, fn) -> None:  # type: ignore[no-untyped-def]
        self._out: list[object] = []
        self._error: list[BaseException] = []
        #: perf_counter() when the function returned (or raised), and an event set then.
        self.ended: float | None = None
        self.done = threading.Event()

        def run() -> None:
            try:
                self._out.append(fn())
            except BaseException as exc:  # re-raised by result(), in the caller's thread
                self._error.append(exc)
            finally:
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


__all__ = ["Background"]
