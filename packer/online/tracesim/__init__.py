"""Fast trace replay engine (numpy + numba) for the FGD protocol; see :mod:`packer.replay`."""

from packer.online.tracesim.engine import POLICIES, ReplayRun, replay

__all__ = ["POLICIES", "ReplayRun", "replay"]
