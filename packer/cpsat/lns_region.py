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
_NO_LO, _NO_HI = -(2 ** 62), 2 ** 62


def supported(proto) -> bool:  # type: ignore[no-untyped-def]
    """True when every constraint of ``proto`` is linear without enforcement and the objective is integral."""
    if proto.has_floating_point_objective():
        return False
    return all(ct.has_linear() and not len(ct.enforcement_literal) for ct in proto.constraints)


#: Largest coefficient magnitude that a float64 matrix holds exactly.
_EXACT = 2 ** 53


class RegionIndex:
    """The full model's linear rows in flat arrays, read once per LNS run.

    ``matrix``: the model's constraint matrix (scipy CSR, rows in the proto's order), when the caller
    already has it (:attr:`packer.cpsat.model.CpsatModel.linear_form`, built for the LP bound and the
    merge check): its terms are taken from it instead of from the proto, which costs about as much
    as building it (0.9 s of CPU on inference at 1,024 GPUs). Row and variable domains are always read
    from the proto (exact integers, intervals with holes).
    """

    def __init__(self, proto, matrix=None, read=None) -> None:  # type: ignore[no-untyped-def]
        # ``read``: the rows' and variables' domains as the matrix's builder read them from this proto
        # (:func:`packer.cpsat.bound.linear_form`), taken when their counts are the proto's.
        read = read or {}
        bounds, domains = read.get("bounds"), read.get("domains")
        if bounds is None or len(bounds) != len(proto.constraints):
            bounds = [list(ct.linear.domain) for ct in proto.constraints]
        if domains is None or len(domains) != len(proto.variables):
            domains = [list(v.domain) for v in proto.variables]
        self.bounds: list[list[int]] = bounds
        terms = _terms(matrix, len(self.bounds), len(proto.variables))
        if terms is None:
            vars_: list[int] = []
            coeffs: list[int] = []
            starts = [0]
            for ct in proto.constraints:
                lin = ct.linear
                vars_.extend(lin.vars)
                coeffs.extend(lin.coeffs)
                starts.append(len(vars_))
            terms = (np.array(vars_, dtype=np.int64), np.array(coeffs, dtype=np.int64),
                     np.array(starts, dtype=np.int64))
        self.vars, self.coeffs, self.starts = terms
        self.row_of = np.repeat(np.arange(len(self.bounds), dtype=np.int64), np.diff(self.starts))
        self.domains = domains
        #: Each row's bounds when its domain is one interval (else the row never folds into a variable).
        single = [len(b) == 2 for b in self.bounds]
        self.single = np.array(single, dtype=bool)
        self.row_lo = np.array([b[0] if ok else 0 for b, ok in zip(self.bounds, single, strict=True)], dtype=np.int64)
        self.row_hi = np.array([b[1] if ok else 0 for b, ok in zip(self.bounds, single, strict=True)], dtype=np.int64)
        self.var_lo = np.array([d[0] for d in self.domains], dtype=np.int64)
        self.var_hi = np.array([d[-1] for d in self.domains], dtype=np.int64)
        #: Variables whose domain has holes (their rows are never folded into their bounds).
        self.holes = np.array([len(d) > 2 for d in self.domains], dtype=bool)
        obj = proto.objective
        self.obj_vars = np.array(list(obj.vars), dtype=np.int64)
        self.obj_coeffs = np.array(list(obj.coeffs), dtype=np.int64)
        self.obj_offset = float(obj.offset)
        self.obj_scale = float(obj.scaling_factor) or 1.0
        self.n = len(self.domains)
        #: Each variable's terms (positions in ``vars``), grouped by variable: ``var_terms[var_ptr[i]:var_ptr[i + 1]]``
        #: (FAST_FOLD: a step reads the terms of its free variables only).
        self.var_terms = np.argsort(self.vars, kind="stable")
        self.var_ptr = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.vars, minlength=self.n), out=self.var_ptr[1:])
        #: (a copy of the incumbent, its values as an array, each row's value at it): the last incumbent a
        #: step was built from; the steps between two improvements share it (FAST_FOLD).
        self._at: tuple[list[int], np.ndarray, np.ndarray] | None = None

    def at(self, base: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """``base`` as an int64 array and every row's activity at it (exact integers), computed once per
        incumbent (a list compare finds the last one again: a tenth of the conversion's cost)."""
        got = self._at
        if got is not None and (got[0] is base or got[0] == base):
            return got[1], got[2]
        values = np.asarray(base, dtype=np.int64)
        prod = np.empty(len(self.vars) + 1, dtype=np.int64)
        prod[0] = 0
        np.multiply(self.coeffs, values[self.vars], out=prod[1:])
        np.cumsum(prod, out=prod)
        activity = prod[self.starts[1:]] - prod[self.starts[:-1]]
        self._at = (list(base), values, activity)
        return values, activity


class StepModel(cp_model.CpModel):
    """A CP-SAT model without the pre-PEP 8 method aliases that :class:`cp_model.CpModel` sets up on every
    instance (a walk over all its attributes: 4-20 ms per model at load 2-8, for names no step uses)."""

    def _add_pre_pep8_methods(self) -> None:
        pass


class RegionModel:
    """One step's model over ``free`` (full-model variable indices); :meth:`expand` maps its solution back."""

    def __init__(self, model: cp_model.CpModel, free: np.ndarray, base: list[int],
                 base_values: np.ndarray | None = None) -> None:
        self.model = model
        self.free = free
        self.base = base
        #: ``base`` as an array, when the builder had it (never changed here: :meth:`expand` copies it).
        self._base_values = base_values

    def expand(self, values: list[int]) -> list[int]:
        full = np.array(self.base if self._base_values is None else self._base_values, dtype=np.int64)
        full[self.free] = np.asarray(values, dtype=np.int64)
        return full.tolist()


def _terms(matrix, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:  # type: ignore[no-untyped-def]
    """(variables, integer coefficients, row starts) of a CSR ``matrix`` of the model's shape whose entries
    are all exact nonzero integers, else None (read the proto instead)."""
    if matrix is None or matrix.shape != (rows, cols):
        return None
    data = np.asarray(matrix.data)
    if len(data) and (np.abs(data).max() >= _EXACT or not np.array_equal(data, np.rint(data)) or not data.all()):
        return None
    return (np.asarray(matrix.indices, dtype=np.int64), data.astype(np.int64),
            np.asarray(matrix.indptr, dtype=np.int64))


def _shift(domain: list[int], by: int) -> list[int]:
    return [b if b <= -_HUGE or b >= _HUGE else b - by for b in domain]


#: Whether :func:`build` also folds in the free variables that its folding fixes (a variable whose
#: one-term rows leave it a single value, then the rows that this leaves with one free term, to a fixed
#: point) and those that are in no kept row nor the objective. Each such variable has one value in every
#: solution of the step (or, in no row, none that matters), so the step's model has the same solutions
#: over the variables it keeps: on tenants at 1,024 GPUs 36 % of a step's variables were already fixed
#: by the first fold, on hetero 62 %, and CP-SAT's presolve spent its first loops removing them.
FOLD_FIXED = False
#: Whether :func:`build` reads only its free variables' terms (each row's pinned constant from its value at
#: the incumbent, computed once per incumbent) instead of every term of the model. Same model, term for
#: term (tests/test_speed20_fold.py); off: the per-step pass over all the model's terms (session 9).
FAST_FOLD = True
#: Most rounds of that folding (each round is a few vectorised passes over the model's terms).
FOLD_ROUNDS = 6


def build(index: RegionIndex, base: list[int], fixed: np.ndarray,
          growth_cap: list[tuple[int, int]]) -> RegionModel:
    """The step's model: variables where ``fixed`` (a bool array over the full model) is False, the rest
    folded in at ``base``; ``growth_cap`` caps (index, upper bound) of free variables."""
    values, activity = index.at(base) if FAST_FOLD else (np.asarray(base, dtype=np.int64), None)
    is_free = ~fixed
    cap_lo, cap_hi = index.var_lo.copy(), index.var_hi.copy()
    for i, cap in growth_cap:
        cap_hi[i] = min(cap_hi[i], cap)
    rounds = FOLD_ROUNDS if FOLD_FIXED else 1
    for _ in range(rounds):
        free_terms, rows_free, const, lo_b, hi_b = _fold(index, values, activity, is_free, cap_lo, cap_hi)
        if not FOLD_FIXED:
            break
        # A free variable left with one value (the incumbent's: it satisfies every row) joins the
        # pinned part; so does one in no remaining row and not in the objective.
        single = is_free & (lo_b == hi_b)
        touched = np.zeros(index.n, dtype=bool)
        touched[index.vars[free_terms[rows_free[index.row_of[free_terms]] > 1]]] = True
        touched[index.obj_vars[index.obj_coeffs != 0]] = True
        loose = is_free & ~touched & ~single
        if loose.any():
            # Not in any row that stays nor in the objective, but maybe in a row folded into its
            # domain: only those whose folded domain still holds the incumbent's value are pinned.
            loose &= (values >= lo_b) & (values <= hi_b)
        drop = single | loose
        if not drop.any():
            break
        is_free = is_free & ~drop
    else:
        free_terms, rows_free, const, lo_b, hi_b = _fold(index, values, activity, is_free, cap_lo, cap_hi)
    free = np.flatnonzero(is_free)
    local = np.full(index.n, -1, dtype=np.int64)
    local[free] = np.arange(len(free), dtype=np.int64)
    sub = StepModel()
    proto = sub.proto
    add_var = proto.variables.add
    domains = index.domains
    # A variable without holes gets its folded bounds (its own when nothing folded into it); one with
    # holes keeps its domain, cut at a growth cap (the fold leaves such variables' bounds alone).
    for i, lo_i, hi_i, hole in zip(free.tolist(), lo_b[free].tolist(), hi_b[free].tolist(),
                                   index.holes[free].tolist(), strict=True):
        if not hole:
            add_var().domain.extend((lo_i, hi_i))
            continue
        dom = domains[i]
        add_var().domain.extend([dom[0], hi_i] if hi_i < dom[-1] else dom)
    keep_terms = free_terms[rows_free[index.row_of[free_terms]] > 0]
    # Every kept row's free terms, in row order, as Python lists cut at the rows' offsets.
    rows = np.flatnonzero(rows_free)
    ends = np.cumsum(rows_free[rows]).tolist()
    vs = local[index.vars[keep_terms]].tolist()
    cs = index.coeffs[keep_terms].tolist()
    shift = const[rows].tolist()
    bounds = index.bounds
    add = proto.constraints.add
    lo = 0
    for r, hi, by in zip(rows.tolist(), ends, shift, strict=True):
        lin = add().linear
        lin.vars.extend(vs[lo:hi])
        lin.coeffs.extend(cs[lo:hi])
        lin.domain.extend(_shift(bounds[r], by) if by else bounds[r])
        lo = hi
    obj = proto.objective
    keep = is_free[index.obj_vars]
    obj.vars.extend(local[index.obj_vars[keep]].tolist())
    obj.coeffs.extend(index.obj_coeffs[keep].tolist())
    obj.offset = index.obj_offset + float(int(np.dot(index.obj_coeffs[~keep], values[index.obj_vars[~keep]])))
    obj.scaling_factor = index.obj_scale
    proto.solution_hint.vars.extend(range(len(free)))
    proto.solution_hint.values.extend(values[free].tolist())
    return RegionModel(sub, free, base, values)


def _fold(index: RegionIndex, values: np.ndarray, activity: np.ndarray | None, is_free: np.ndarray,
          cap_lo: np.ndarray, cap_hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(the free terms' positions, in the rows' order; each row's count of free terms after folding; each
    row's pinned constant; the variables' lower and upper bounds): the pinned terms summed into constants,
    and every row left with one free term (e.g. a pinned placement's link to its group's count) folded
    into that variable's bounds (its count set to 0: it is no longer a row).

    With ``activity`` (each row's value at ``values``, FAST_FOLD) only the free variables' terms are read:
    a row's pinned constant is its activity less its free terms, the same integers as summing its pinned
    terms (which reads every term of the model, 230-450 k at 1,024 GPUs, for a step that frees 2-5 % of them)."""
    rows_n = len(index.bounds)
    if activity is None:
        term_free = is_free[index.vars]
        free_pos = np.flatnonzero(term_free)
        rows_free = np.bincount(index.row_of[term_free], minlength=rows_n)
        pinned = ~term_free
        const = np.zeros(rows_n, dtype=np.int64)
        np.add.at(const, index.row_of[pinned], index.coeffs[pinned] * values[index.vars[pinned]])
    else:
        free_pos = _terms_of(index, np.flatnonzero(is_free))
        free_rows = index.row_of[free_pos]
        rows_free = np.bincount(free_rows, minlength=rows_n)
        const = activity.copy()
        if len(free_pos):
            # free_pos is in term order, so each row's free terms are one run: exact sums by a cumsum.
            part = np.cumsum(index.coeffs[free_pos] * values[index.vars[free_pos]])
            last = np.flatnonzero(np.r_[free_rows[1:] != free_rows[:-1], True])
            sums = np.diff(np.r_[0, part[last]])
            const[free_rows[last]] -= sums
    lo_b, hi_b = cap_lo.copy(), cap_hi.copy()
    unary_terms = free_pos[(rows_free[index.row_of[free_pos]] == 1)]
    unary_rows = index.row_of[unary_terms]
    fold = index.single[unary_rows] & ~index.holes[index.vars[unary_terms]]
    unary_terms, unary_rows = unary_terms[fold], unary_rows[fold]
    if len(unary_rows):
        c = index.coeffs[unary_terms]
        v = index.vars[unary_terms]
        rlo, rhi = index.row_lo[unary_rows], index.row_hi[unary_rows]
        open_lo, open_hi = (rlo <= -_HUGE) | (rlo >= _HUGE), (rhi <= -_HUGE) | (rhi >= _HUGE)
        rlo = np.where(open_lo, 0, rlo) - const[unary_rows]  # open sides: placeholders, masked below
        rhi = np.where(open_hi, 0, rhi) - const[unary_rows]
        pos = c > 0
        # c*v in [rlo, rhi]: v >= ceil(rlo/c), v <= floor(rhi/c) for c > 0; swapped for c < 0.
        lo_pos, hi_pos = -((-rlo) // c), rhi // c
        lo_neg, hi_neg = -((-rhi) // c), rlo // c
        new_lo = np.where(pos, np.where(open_lo, _NO_LO, lo_pos), np.where(open_hi, _NO_LO, lo_neg))
        new_hi = np.where(pos, np.where(open_hi, _NO_HI, hi_pos), np.where(open_lo, _NO_HI, hi_neg))
        np.maximum.at(lo_b, v, new_lo)
        np.minimum.at(hi_b, v, new_hi)
        rows_free[unary_rows] = 0
    return free_pos, rows_free, const, lo_b, hi_b


def _terms_of(index: RegionIndex, free: np.ndarray) -> np.ndarray:
    """Positions (in ``index.vars``, ascending) of every term of the variables ``free``."""
    lo, hi = index.var_ptr[free], index.var_ptr[free + 1]
    counts = hi - lo
    total = int(counts.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    # Each variable's run lo..hi-1, laid end to end: an arange shifted per run.
    shift = np.repeat(lo - (np.cumsum(counts) - counts), counts)
    return np.sort(index.var_terms[np.arange(total, dtype=np.int64) + shift])
