"""The CP-SAT back end: an exact batch optimizer with a proven bound.

``solve(instance, time_limit=..., seed=..., workers=...)`` (orchestration in :mod:`packer.cpsat.solver`)
builds one CP-SAT model (:mod:`packer.cpsat.model`), hints it with the greedy and online plans, searches
(whole model, LNS on the model, or LNS by topology domain), bounds (LP, capacity, relaxations) and
returns a SPEC plan never worse than its hint. Running clusters with enough movable work go to the
re-optimizer (:mod:`packer.cpsat.reopt`). This package is the only place in packer that imports ortools.
"""

from packer.cpsat.model import CpsatModel
from packer.cpsat.solver import NAME, relaxed_bound, solve

__all__ = ["NAME", "CpsatModel", "relaxed_bound", "solve"]
