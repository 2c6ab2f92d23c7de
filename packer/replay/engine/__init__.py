"""Fast trace replay engine (numpy + numba) for the FGD protocol; see :mod:`packer.replay`."""

from packer.replay.engine.engine import POLICIES, LiveCluster, ReplayRun, replay

__all__ = ["POLICIES", "LiveCluster", "ReplayRun", "replay"]
