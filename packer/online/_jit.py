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

__all__ = ["jit", "jit_inline"]
