"""Region-step models for LNS: a step's CP-SAT model over its free variables only.

The full-clone step (``_Space.sub_model``) copies the whole model and pins every variable outside the
step to its incumbent value; CP-SAT's presolve then spends a third to a half of each step removing what
was pinned. A region step never builds that part: each linear constraint that touches a free variable
keeps only its free terms, the pinned terms folded into its bounds (remaining capacity, residual quota);
a constraint over pinned variables only is left out (the incumbent satisfies it); the objective keeps
its free terms and folds the rest into its offset, so the step's objective value is the full model's.

The model is all linear constraints without enforcement literals (what ``constraints.py`` builds);
:func:`supported` says so before a space uses region steps.
"""

from __future__ import annotations

import numpy as np
from ortools.sat.python import cp_model

#: Bounds at least this large are CP-SAT's "unbounded": never shifted.
_HUGE = 2 ** 62


def supported(proto) -> bool:  # type: ignore[no-untyped-def]
    """True when every constraint of ``proto`` is linear without enforcement and the objective is integral."""
    if proto.has_floating_point_objective():
        return False
    return all(ct.has_linear() and not len(ct.enforcement_literal) for ct in proto.constraints)


class RegionIndex:
    """The full model's linear rows in flat arrays, read once per LNS run."""

    def __init__(self, proto) -> None:  # type: ignore[no-untyped-def]
        vars_: list[int] = []
        coeffs: list[int] = []
        starts = [0]
        self.bounds: list[list[int]] = []
        for ct in proto.constraints:
            lin = ct.linear
            vars_.extend(lin.vars)
            coeffs.extend(lin.coeffs)
            starts.append(len(vars_))
            self.bounds.append(list(lin.domain))
        self.vars = np.array(vars_, dtype=np.int64)
        self.coeffs = np.array(coeffs, dtype=np.int64)
        self.starts = np.array(starts, dtype=np.int64)
        self.row_of = np.repeat(np.arange(len(self.bounds), dtype=np.int64), np.diff(self.starts))
        self.domains = [list(v.domain) for v in proto.variables]
        obj = proto.objective
        self.obj_vars = np.array(list(obj.vars), dtype=np.int64)
        self.obj_coeffs = np.array(list(obj.coeffs), dtype=np.int64)
        self.obj_offset = float(obj.offset)
        self.obj_scale = float(obj.scaling_factor) or 1.0
        self.n = len(self.domains)


class RegionModel:
    """One step's model over ``free`` (full-model variable indices); :meth:`expand` maps its solution back."""

    def __init__(self, model: cp_model.CpModel, free: np.ndarray, base: list[int]) -> None:
        self.model = model
        self.free = free
        self.base = base

    def expand(self, values: list[int]) -> list[int]:
        full = np.array(self.base, dtype=np.int64)
        full[self.free] = np.asarray(values, dtype=np.int64)
        return full.tolist()


def _shift(domain: list[int], by: int) -> list[int]:
    return [b if abs(b) >= _HUGE else b - by for b in domain]


def build(index: RegionIndex, base: list[int], fixed: np.ndarray,
          growth_cap: list[tuple[int, int]]) -> RegionModel:
    """The step's model: variables where ``fixed`` (a bool array over the full model) is False, the rest
    folded in at ``base``; ``growth_cap`` caps (index, upper bound) of free variables."""
    values = np.asarray(base, dtype=np.int64)
    is_free = ~fixed
    free = np.flatnonzero(is_free)
    local = np.full(index.n, -1, dtype=np.int64)
    local[free] = np.arange(len(free), dtype=np.int64)
    sub = cp_model.CpModel()
    proto = sub.proto
    caps = dict(growth_cap)
    for i in free.tolist():
        dom = index.domains[i]
        cap = caps.get(i)
        if cap is not None:
            dom = [dom[0], cap]
        proto.variables.add().domain.extend(dom)
    term_free = is_free[index.vars]
    rows_free = np.bincount(index.row_of[term_free], minlength=len(index.bounds))
    pinned = ~term_free
    const = np.zeros(len(index.bounds), dtype=np.int64)
    np.add.at(const, index.row_of[pinned], index.coeffs[pinned] * values[index.vars[pinned]])
    starts = index.starts
    for r in np.flatnonzero(rows_free).tolist():
        lo, hi = starts[r], starts[r + 1]
        keep = term_free[lo:hi]
        lin = proto.constraints.add().linear
        lin.vars.extend(local[index.vars[lo:hi][keep]].tolist())
        lin.coeffs.extend(index.coeffs[lo:hi][keep].tolist())
        lin.domain.extend(_shift(index.bounds[r], int(const[r])))
    obj = proto.objective
    keep = is_free[index.obj_vars]
    obj.vars.extend(local[index.obj_vars[keep]].tolist())
    obj.coeffs.extend(index.obj_coeffs[keep].tolist())
    obj.offset = index.obj_offset + float(int(np.dot(index.obj_coeffs[~keep], values[index.obj_vars[~keep]])))
    obj.scaling_factor = index.obj_scale
    proto.solution_hint.vars.extend(range(len(free)))
    proto.solution_hint.values.extend(values[free].tolist())
    return RegionModel(sub, free, base)
