"""The CP-SAT back end: an exact batch optimizer with a proven bound.

Where each step of ``solve(instance, time_limit=..., seed=..., workers=...)`` lives:

| step | module |
| --- | --- |
| options in, steps in order, re-optimizer hand-off | :mod:`packer.cpsat.solver` |
| tuning constants (each with what it trades) | :mod:`packer.cpsat.tuning` |
| time plan: reserve, deterministic budget, which relaxation, LNS schedule | :mod:`packer.cpsat.timeplan` |
| hint: greedy and online placers' plans, in a thread under a deadline | :mod:`packer.cpsat.hints` |
| search: one model (LP before or beside it, LNS on it) or LNS by domain (in process or Ray tasks) | :mod:`packer.cpsat.search` |
| bounds: model LP, capacity LP, merged relaxation's LP built under a deadline | :mod:`packer.cpsat.proof`, :mod:`packer.cpsat.bound`, :mod:`packer.cpsat.relax` |
| the model: data, variables, constraints, objective, solution | :mod:`packer.cpsat.model` and its parts |
| deadline a model build checks between its steps | :mod:`packer.cpsat.deadline` |
| background thread (LP beside the search) | :mod:`packer.cpsat.background` |
| plan out: GPU modes, hint re-issued, fallback | :mod:`packer.cpsat.result` |
| running clusters: re-optimization with moves | :mod:`packer.cpsat.reopt` |

It returns a SPEC plan never worse than its hint. This package is the only place in packer that
imports ortools.
"""

from packer.cpsat.model import CpsatModel
from packer.cpsat.solver import NAME, OPTIONS, relaxed_bound, solve

__all__ = ["NAME", "OPTIONS", "CpsatModel", "relaxed_bound", "solve"]
