"""The one jit policy of packer: every kernel is compiled with these options, and only here is numba imported.

``cache=True`` keeps compiled kernels on disk (``__pycache__``), so a new process starts warm;
``nogil=True`` lets a caller run placers in threads. Kernels take only NumPy arrays of the explicit
dtypes of :mod:`packer.online.state` (int64, int32, uint8, int8, float64) and scalars.

``jit_inline`` is the same policy for the small helpers called once per node or GPU: Numba inlines
them into their callers, which removes the per-call reference counting of every array argument
(that alone cost ~200 ns per node scanned).
"""

from __future__ import annotations

import numba

_OPTIONS = {"cache": True, "nogil": True, "boundscheck": False, "fastmath": False}

jit = numba.njit(**_OPTIONS)
jit_inline = numba.njit(inline="always", **_OPTIONS)


class Bound:
    """A kernel called on the hot path with arguments of one fixed type signature: after the first
    call it calls the compiled entry point of that signature directly, skipping Numba's per-call type
    dispatch (~1 µs with the state tuple). Only for callers that always pass the same types (the
    placer's own arrays, built with explicit dtypes); any other callable is called as it is."""

    __slots__ = ("fast", "kernel")

    def __init__(self, kernel: object) -> None:
        self.kernel = kernel
        self.fast = None

    def __call__(self, *args: object) -> object:
        if self.fast is not None:
            return self.fast(*args)
        out = self.kernel(*args)  # type: ignore[operator]
        overloads = getattr(self.kernel, "overloads", None)
        if overloads is not None:
            cres = overloads.get(tuple(numba.typeof(a) for a in args))
            if cres is not None:
                self.fast = cres.entry_point
        return out



def compiled_on_disk(*kernels: object) -> bool:
    """True when every one of ``kernels`` has a compiled version in Numba's on-disk cache that matches
    its source, so that its first call loads it instead of compiling it (the fast path's kernels
    take about 50 s of CPU to compile on a 2-core machine, once). Read from the cache's index
    without compiling anything; should Numba's cache be laid out otherwise, it answers True (the
    callers then behave as before)."""
    for k in kernels:
        try:
            index = k._cache._cache_file._load_index()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - another Numba layout: assume warm, as before this check
            return True
        if not index:
            return False
    return True


__all__ = ["Bound", "compiled_on_disk", "jit", "jit_inline"]
