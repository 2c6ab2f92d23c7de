"""Running clusters: move sequences from a running state to a plan, and the command line of ``packer freeze`` and ``packer moves``.

- :mod:`packer.moves.format`: the ``packer.moves/v1`` file (data model, reading, writing).
- :mod:`packer.moves.planner`: :func:`~packer.moves.planner.plan_moves`, the planner.
- :mod:`packer.moves.export`: per-wave mig-parted configs and shell scripts.
- :mod:`packer.moves.commands`: ``packer freeze`` and ``packer moves``.

The independent replay checker is :mod:`packer.check_moves` (outside this package on purpose).
This file imports nothing, so the checker can read the file format without loading the planner.
"""
