"""An integer-strengthened repack bound: HiGHS branch and bound on the repack model with the placed
counts integer, stopped at a time limit, and its dual bound.

The repack LP (:func:`packer.cpsat.reopt.repack_model`) bounds re-optimization under any budget, but
on small running clusters it places large gangs fractionally and sits up to 73% above the optimum
(bench/RESULTS_reopt.md, "Session 4"). Requiring each group's placed count (``active``) to be an
integer removes that: a gang is placed or not. Everything else (units per class, modes,
configurations) stays continuous, so the model is still a relaxation of the repack model, and
branch and bound's dual bound is valid whenever it is reported, finished or not: it is at most the
LP's and at least the repack's integer optimum, hence at least the re-optimization optimum of every
budget.

Measured (bench/bench_reopt_intbound.py, bench/RESULTS_reopt.md "Session 5"): it closes most of the
LP's excess on 64-GPU states, and at 1,024 GPUs it does not move below the LP in 30 s, so the
re-optimizer does not spend its 60 s on it; it is a library function and a measurement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from packer.model import Instance


@dataclass
class IntBound:
    """The repack model's LP bound and its integer-strengthened dual bound (objective units)."""

    lp: float | None
    #: Branch and bound's dual bound (None: none reported before the time limit); never above ``lp``.
    dual: float | None
    #: Its best integer solution's value (a repack plan without migration costs; not a plan of the
    #: running state), None when none was found.
    primal: float | None
    integer_columns: int
    finished: bool

    @property
    def best(self) -> float | None:
        """The tighter of the two bounds."""
        vals = [v for v in (self.lp, self.dual) if v is not None]
        return min(vals) if vals else None


def integer_columns(model) -> list[int]:  # type: ignore[no-untyped-def]
    """Columns of the CP-SAT model's placed-count variables (``active`` that are variables, not a
    stay's complement)."""
    out = []
    for expr in model.vars.active.values():
        index = getattr(expr, "index", None)
        if isinstance(index, int) and index >= 0:
            out.append(index)
    return sorted(set(out))


def repack_int_bound(inst: Instance, *, time_limit: float) -> IntBound | None:
    """The repack model's LP and integer-strengthened bounds, or None when nothing is movable or the
    model is not linear. ``time_limit``: seconds for branch and bound (the LP gets its own solve)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    from packer.cpsat.bound import _to_max
    from packer.cpsat.proof import padded_bound
    from packer.cpsat.reopt import repack_model

    model = repack_model(inst)
    if model is None or model.linear_form is None:
        return None
    c, a, bl, bh, lo, hi, obj = model.linear_form
    cons = LinearConstraint(a, bl, bh)
    bounds = Bounds(lo, hi)

    lp_res = milp(c, constraints=cons, bounds=bounds, integrality=np.zeros(len(c)), options={"presolve": True})
    lp = None if lp_res.status != 0 or lp_res.fun is None else padded_bound(model, _to_max(obj, float(lp_res.fun)))
    cols = integer_columns(model)
    integ = np.zeros(len(c))
    integ[cols] = 1
    res = milp(c, constraints=cons, bounds=bounds, integrality=integ,
               options={"presolve": True, "time_limit": max(0.1, time_limit)})
    raw = getattr(res, "mip_dual_bound", None)
    dual = None
    if raw is not None and np.isfinite(raw):
        dual = padded_bound(model, _to_max(obj, float(raw)))
        if lp is not None:
            dual = min(dual, lp)
    primal = None if res.fun is None else _to_max(obj, float(res.fun)) / model.data.scale + model.constant
    return IntBound(lp=lp, dual=dual, primal=primal, integer_columns=len(cols), finished=res.status == 0)


__all__ = ["IntBound", "integer_columns", "repack_int_bound"]
