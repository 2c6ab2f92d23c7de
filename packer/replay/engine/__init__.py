"""Fast trace replay engine (numpy + numba) for the FGD protocol; see :mod:`packer.replay`.

The openb state model (a node's idle milli per device, trace-exact FGD plugins, departures) is not
the online placer's (modes, MIG, tenants, topology), so these kernels are a named twin of
:mod:`packer.online.kernels` for it: ``kernels.py`` (fractional GPUs) and ``mig_kernels.py`` (the MIG
variant). Every rule the two share lives once in :mod:`packer.online.scoring` (FGD's fragmentation,
its score, MIG fit counts), the policy codes in :mod:`packer.online.policies`, and numba comes only
through :mod:`packer.online._jit`.
"""

from packer.replay.engine.engine import POLICIES, LiveCluster, ReplayRun, replay

__all__ = ["POLICIES", "LiveCluster", "ReplayRun", "replay"]
