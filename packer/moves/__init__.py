"""Running clusters: move sequences from a running state to a plan, and the command line of ``packer freeze`` and ``packer moves``.

- :mod:`packer.moves.format`: the ``packer.moves/v1`` file (data model, reading, writing).
- :mod:`packer.moves.planner`: :func:`~packer.moves.planner.plan_moves`, the planner.
- :mod:`packer.moves.export`: per-wave mig-parted configs and shell scripts.
- :mod:`packer.moves.commands`: ``packer freeze`` and ``packer moves``.

The independent replay checker is :mod:`packer.check_moves` (outside this package on purpose).
This file imports nothing up front (the names below load on first use), so the checker can read
the file format without loading the planner.
"""

_LAZY = {
    "plan_moves": "packer.moves.planner",
    "MovePlanner": "packer.moves.planner",
    "Moves": "packer.moves.format",
    "load_moves": "packer.moves.format",
    "save_moves": "packer.moves.format",
    "write_wave_exports": "packer.moves.export",
}


def __getattr__(name: str) -> object:
    """``packer.moves.plan_moves`` and friends, imported on first use (see the module docstring)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'packer.moves' has no attribute {name!r}")


__all__ = sorted(_LAZY)
