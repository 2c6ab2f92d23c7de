"""One CP-SAT solve that a known internal error in OR-Tools cannot turn into a failed ``packer solve``.

OR-Tools 9.15 can stop a solve with ``IndexError: absl::btree_map::at`` (a C++ ``std::out_of_range``)
while presolve carries a solution hint over to a re-encoded variable (OR-Tools issue #5288; it
depends on which presolve path a worker takes, so the same model may solve on the next try). packer
hints every model and every LNS step with its incumbent, and one such error in one LNS step ended a
60 s solve of a 1,024-GPU instance with no plan (suite `hetero`, seed 104, 1 run in 48).

:func:`solve_guarded` runs the solve; on that error it solves a copy of the model without its hint
(the error comes from mapping the hint), and if that fails too it answers ``UNKNOWN``, which every
caller already treats as "no new solution": the incumbent stands. :data:`errors` counts the errors
caught in this process, for the solver's report.
"""

from __future__ import annotations

import threading

from ortools.sat.python import cp_model

_lock = threading.Lock()
errors = 0


def _note() -> None:
    global errors
    with _lock:
        errors += 1


def solve_guarded(solver: cp_model.CpSolver, model: cp_model.CpModel,
                  callback: cp_model.CpSolverSolutionCallback | None = None) -> int:
    """``solver.solve(model, callback)``, retried once without the hint after an internal IndexError."""
    try:
        return solver.solve(model, callback)
    except IndexError:
        _note()
    bare = model.clone()
    bare.clear_hints()
    try:
        return solver.solve(bare, callback)
    except IndexError:
        _note()
        return cp_model.UNKNOWN
