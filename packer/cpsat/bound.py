"""A proven upper bound from the LP relaxation of the very model CP-SAT solves, by HiGHS.

CP-SAT's own LP on a model of tens of thousands of variables converges slowly under a short time
limit; HiGHS solves the same relaxation to optimality in a second or two, and any LP optimum of a
relaxation is an upper bound on the integer optimum. Rounding the bound up by a small tolerance keeps
it safe against floating-point error.
"""

from __future__ import annotations

import math

import numpy as np
from ortools.sat import cp_model_pb2
from ortools.sat.python import cp_model

# The capacity LP needs no CP-SAT; it lives in packer.capacity (the greedy reads its prices too) and is
# re-exported here for the back end's callers.
from packer.capacity import capacity_bound, capacity_lp  # noqa: F401

try:  # imported here, not inside a time-limited solve: the first import takes about half a second
    import scipy.optimize  # noqa: F401
    import scipy.sparse  # noqa: F401
except ImportError:  # pragma: no cover
    pass


#: Whether :func:`linear_form` reads the model from :func:`proto_copy` and hands its domains on (to the LNS's
#: row index) instead of reading through OR-Tools' bindings, which the row index then reads again. The same
#: matrices and domains either way (tests/test_speed20_read.py); off: for A/Bs of the time it saves.
READ_ONCE = True


def proto_copy(model: cp_model.CpModel):  # type: ignore[no-untyped-def]
    """The model's proto as a Python protobuf message (serialized by OR-Tools, parsed by protobuf's C
    runtime), or None if that fails. Reading a big model's fields from it costs a fraction of reading
    them through OR-Tools' proto bindings, which answer one element per call (tenants at 1,024 GPUs:
    0.06 s to copy and 0.46 s to read every row and domain, against 1.6 s through the bindings)."""
    import os
    import tempfile

    try:
        fd, path = tempfile.mkstemp(suffix=".pb")  # not .txt: OR-Tools writes the binary format
        os.close(fd)
        try:
            if not model.export_to_file(path):
                return None
            with open(path, "rb") as f:
                return cp_model_pb2.CpModelProto.FromString(f.read())
        finally:
            os.unlink(path)
    except (OSError, ValueError, RuntimeError):
        return None


def _kind(ct) -> str | None:  # type: ignore[no-untyped-def]
    """A constraint's kind ("linear", "bool_or", ...) in either proto API."""
    if hasattr(ct, "WhichOneof"):
        return ct.WhichOneof("constraint")
    return "linear" if ct.has_linear() else "bool_or" if ct.has_bool_or() else "other"


def linear_form(model: cp_model.CpModel, read: dict[str, list[list[int]]] | None = None):  # type: ignore[no-untyped-def]
    """(c, A, row lower, row upper, var lower, var upper, objective proto) or None if not all linear.

    The rows and domains are read from :func:`proto_copy` (from the proto itself if that fails), each
    field once, as a list. ``read``: when given and every row is linear, receives those integer domains
    (``"domains"``: each variable's, ``"bounds"``: each row's) for another reader of the same proto
    (:class:`packer.cpsat.lns_region.RegionIndex`)."""
    from scipy.sparse import csr_matrix

    proto = model.proto
    src = (proto_copy(model) if READ_ONCE else None) or proto
    n = len(src.variables)
    domains = [list(v.domain) for v in src.variables]
    lo = np.array([d[0] for d in domains], dtype=float)
    hi = np.array([d[-1] for d in domains], dtype=float)
    counts: list[int] = []
    cols: list[int] = []
    vals: list[int] = []
    b_lo: list[float] = []
    b_hi: list[float] = []
    bounds: list[list[int]] | None = []
    for ct in src.constraints:
        if len(ct.enforcement_literal):
            return None
        kind = _kind(ct)
        if kind == "bool_or":
            # Σ literals ≥ 1, a negated literal ¬x being 1 − x. CP-SAT's Python layer writes a
            # comparison that Python already decided (an empty sum against a constant, e.g. a block
            # with no work of a kind) as a bool_or of its constant-true literal.
            lits = list(ct.bool_or.literals)
            cols.extend(lit if lit >= 0 else -lit - 1 for lit in lits)
            vals.extend(1 if lit >= 0 else -1 for lit in lits)
            counts.append(len(lits))
            b_lo.append(1.0 - sum(lit < 0 for lit in lits))
            b_hi.append(float("inf"))
            bounds = None
            continue
        if kind != "linear":
            return None
        lin = ct.linear
        vs = list(lin.vars)
        if vs and min(vs) < 0:
            return None
        cols.extend(vs)
        vals.extend(lin.coeffs)
        counts.append(len(vs))
        dom = list(lin.domain)
        b_lo.append(float(dom[0]))
        b_hi.append(float(dom[-1]))
        if bounds is not None:
            bounds.append(dom)
    obj = proto.objective
    c = np.zeros(n)
    for var, coef in zip(obj.vars, obj.coeffs, strict=True):
        c[var] += coef
    inf = 2.0**62
    bl = np.array(b_lo)
    bh = np.array(b_hi)
    bl[bl < -inf] = -np.inf
    bh[bh > inf] = np.inf
    rows = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    a = csr_matrix((np.array(vals, dtype=float), (rows, np.array(cols, dtype=np.int64))), shape=(len(b_lo), n))
    if read is not None and bounds is not None and READ_ONCE:
        read["domains"], read["bounds"] = domains, bounds
    return c, a, bl, bh, lo, hi, obj


def _to_max(obj, fun: float) -> float:  # type: ignore[no-untyped-def]
    """Undoes CP-SAT's storage of a maximization (minimize −objective, scaling_factor −1)."""
    best_min = fun + obj.offset
    return float(obj.scaling_factor * best_min) if obj.scaling_factor else float(best_min)


def lp_bound(model: cp_model.CpModel, *, time_limit: float | None = None) -> float | None:
    """The LP relaxation's optimum of a maximization model with linear constraints only, in model units.

    Returns None when scipy is missing, the model has a non-linear constraint, or HiGHS fails.
    """
    out = lp_solve(model, time_limit=time_limit)
    return None if out is None else out[0]


def lp_solve(model: cp_model.CpModel, *, time_limit: float | None = None,
             form: tuple | None = None) -> tuple[float, np.ndarray] | None:  # type: ignore[type-arg]
    """(LP optimum in model units, the LP's variable values), or None (see :func:`lp_bound`).

    ``form``: the model's :func:`linear_form` when the caller already has it.
    """
    try:
        from scipy.optimize import LinearConstraint, milp
    except ImportError:  # pragma: no cover - scipy is an optional speed-up
        return None
    mats = form if form is not None else linear_form(model)
    if mats is None:
        return None
    c, a, bl, bh, lo, hi, obj = mats
    options: dict[str, object] = {"presolve": True}
    if time_limit is not None:
        options["time_limit"] = max(0.1, time_limit)
    from scipy.optimize import Bounds

    res = milp(c, constraints=LinearConstraint(a, bl, bh), bounds=Bounds(lo, hi), integrality=np.zeros(len(c)), options=options)
    if res.status != 0 or res.fun is None:
        return None
    return _to_max(obj, float(res.fun)), res.x


def lp_value(form, *, time_limit: float | None = None) -> float | None:  # type: ignore[no-untyped-def]
    """An upper bound on the LP optimum of the linear ``form`` in model units: :func:`lp_dual_value`,
    else (scipy without its HiGHS core) :func:`lp_solve`'s optimum; None when neither answers or the
    model is not all linear (``form`` None, see :func:`linear_form`)."""
    if form is None:
        return None
    ran: dict[str, object] = {}
    value = lp_dual_value(form, time_limit=time_limit, info=ran)
    if value is None and not ran.get("ran"):
        # Only where HiGHS did not run: after HiGHS's time limit (no duals), scipy's milp would spend
        # the same limit again on the same LP and stop there too.
        out = lp_solve(None, time_limit=time_limit, form=form)  # type: ignore[arg-type]
        value = None if out is None else out[0]
    return value


def lp_dual_value(form, *, time_limit: float | None = None,  # type: ignore[no-untyped-def]
                  options: dict[str, object] | None = None, info: dict[str, object] | None = None) -> float | None:
    """An upper bound on the LP optimum of the linear ``form`` (model units), from HiGHS's row duals.

    The bound is the Lagrangian dual of the LP at HiGHS's row multipliers y, computed here in float64:
    for any y, min c·x over the LP >= sum_j min(d_j lo_j, d_j hi_j) + sum_i min(y_i L_i, y_i U_i) with
    d = c - Aᵀy (the variables' boxes are finite, rows with an infinite side get no multiplier of that
    sign). So it is a bound whatever HiGHS's status: at HiGHS's optimum it equals the LP optimum.

    Why not HiGHS's own optimum: on badly scaled models (sharing: costs 1 to 2.6e8, the host
    tie-break beside the priority scale) the dual simplex reaches the optimum of the scaled LP in
    seconds, is dual infeasible after unscaling, and its primal cleanup then runs for minutes past
    the time limit (bench/RESULTS_cpsat.md, issue 16 part 3). Here HiGHS stops at the scaled optimum
    (``simplex_unscaled_solution_strategy`` 0) and the multipliers it has, slightly infeasible once
    unscaled or not, give the bound. None when HiGHS's Python core is missing or gives no duals.

    ``options``: HiGHS options set after the defaults above (e.g. ``solver`` "ipm" with
    ``run_crossover`` "off": the interior point's duals, a bound without the simplex's basis).
    ``info``: receives ``ran`` True once HiGHS has run (so a None after that is HiGHS's: no duals).
    """
    try:
        # scipy's HiGHS binding: its public LP calls take no simplex_unscaled_solution_strategy
        from scipy.optimize._highspy import _core as hc  # noqa: F401  (is HiGHS's core there?)
    except ImportError:  # pragma: no cover - older scipy: the caller falls back to lp_solve
        return None
    c, a, bl, bh, lo, hi, obj = form
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        return None  # the Lagrangian needs finite boxes (CP-SAT's domains always are)
    h = highs_simplex(c, a, bl, bh, lo, hi)
    for key, val in (options or {}).items():
        h.setOptionValue(key, val)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(max(0.1, time_limit)))
    h.run()
    if info is not None:
        info["ran"] = True
    sol = h.getSolution()
    if not sol.dual_valid:
        return None
    low = lagrangian_min(c, a, bl, bh, lo, hi, np.asarray(sol.row_dual, dtype=float))
    return _to_max(obj, low)


def branch_value(form, cols: list[int], *, time_limit: float | None = None,  # type: ignore[no-untyped-def]
                 max_lps: int = 8) -> float | None:
    """An upper bound on the optimum of the integer model behind the linear ``form`` (model units), from a
    best-first branch and bound over the integer columns ``cols`` (in order of preference): the largest
    :func:`lp_dual_value`-style bound over the open leaves. Valid at every step: each integer point lies
    in one leaf, and each leaf's value bounds the leaf's LP. A leaf is split on its first column in
    ``cols`` with a fractional LP value (x <= floor, x >= ceil); splitting stops when the leaf that holds
    the bound has none, after ``max_lps`` LPs (the root's included), at ``time_limit``, or when a child's
    LP gives no bound (an infeasible child included: the parent's bound then stands). None when the
    root's LP gives none."""
    import time

    c, a, bl, bh, lo, hi, obj = form
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        return None
    end = None if time_limit is None else time.perf_counter() + time_limit

    def leaf(low: np.ndarray, high: np.ndarray) -> tuple[float, np.ndarray] | None:
        h = highs_simplex(c, a, bl, bh, low, high)
        if end is not None:
            rest = end - time.perf_counter()
            if rest <= 0.05:
                return None
            h.setOptionValue("time_limit", float(rest))
        h.run()
        sol = h.getSolution()
        if not sol.dual_valid or not sol.value_valid:
            return None
        return lagrangian_min(c, a, bl, bh, low, high, np.asarray(sol.row_dual, dtype=float)), np.asarray(sol.col_value)

    root = leaf(lo, hi)
    if root is None:
        return None
    leaves = [(root[0], lo, hi, root[1])]
    lps = 1
    while lps + 2 <= max_lps:
        k = min(range(len(leaves)), key=lambda i: leaves[i][0])  # the leaf that holds the bound
        value, low, high, x = leaves[k]
        split = next((i for i in cols if min(x[i] - math.floor(x[i]), math.ceil(x[i]) - x[i]) > 1e-6), None)
        if split is None:
            break
        down_hi = high.copy()
        down_hi[split] = math.floor(x[split])
        up_lo = low.copy()
        up_lo[split] = math.ceil(x[split])
        down = leaf(low, down_hi)
        up = leaf(up_lo, high) if down is not None else None
        lps += 2
        if down is None or up is None:
            break
        # A child's LP can only be tighter than its parent's: keep the parent's where rounding says less.
        leaves[k:k + 1] = [(max(down[0], value), low, down_hi, down[1]), (max(up[0], value), up_lo, high, up[1])]
    return _to_max(obj, min(v for v, *_ in leaves))


def highs_lp(c: np.ndarray, a, bl: np.ndarray, bh: np.ndarray, lo: np.ndarray, hi: np.ndarray):  # type: ignore[no-untyped-def]
    """The LP min c·x, bl ≤ a·x ≤ bh, lo ≤ x ≤ hi as a HiGHS model (scipy's core binding): float64
    arrays, the matrix column-wise (CSC), infinite row sides as HiGHS's infinity. :func:`highs_simplex`
    passes this to HiGHS (session 24's kept LP, KeptLP, did too; removed in session 27)."""
    from scipy.optimize._highspy import _core as hc
    from scipy.sparse import csc_array

    cost = np.atleast_1d(c).astype(np.float64)
    cols = csc_array(a)
    n, m = cost.size, cols.shape[0]
    bl = np.atleast_1d(bl).astype(np.float64)
    bh = np.atleast_1d(bh).astype(np.float64)
    lp = hc.HighsLp()
    lp.num_col_, lp.num_row_ = n, m
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, m
    lp.a_matrix_.format_ = hc.MatrixFormat.kColwise
    lp.col_cost_ = cost
    lp.col_lower_ = np.broadcast_to(lo, cost.shape).astype(np.float64)
    lp.col_upper_ = np.broadcast_to(hi, cost.shape).astype(np.float64)
    lp.row_lower_ = np.where(np.isfinite(bl), bl, -hc.kHighsInf)
    lp.row_upper_ = np.where(np.isfinite(bh), bh, hc.kHighsInf)
    lp.a_matrix_.start_, lp.a_matrix_.index_ = cols.indptr, cols.indices
    lp.a_matrix_.value_ = cols.data.astype(np.float64)
    return lp


def highs_simplex(c: np.ndarray, a, bl: np.ndarray, bh: np.ndarray, lo: np.ndarray, hi: np.ndarray):  # type: ignore[no-untyped-def]
    """A HiGHS instance (scipy's core binding) holding the LP min c·x, bl ≤ a·x ≤ bh, lo ≤ x ≤ hi,
    set to the dual simplex that stops at the scaled optimum (see :func:`lp_dual_value`), quiet."""
    from scipy.optimize._highspy import _core as hc

    h = hc._Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(highs_lp(c, a, bl, bh, lo, hi))
    h.setOptionValue("solver", "simplex")
    h.setOptionValue("simplex_unscaled_solution_strategy", 0)
    return h


def lagrangian_min(c: np.ndarray, a, bl: np.ndarray, bh: np.ndarray, lo: np.ndarray, hi: np.ndarray,  # type: ignore[no-untyped-def]
                   y: np.ndarray) -> float:
    """A lower bound on min c·x s.t. bl <= A x <= bh, lo <= x <= hi, from any row multipliers ``y``.

    Lowered by a float64 rounding allowance (a few ulps of the terms' magnitudes summed), so that the
    cancellation between large terms cannot lift it above the true Lagrangian value.
    """
    y = np.where((y > 0) & ~np.isfinite(bl), 0.0, y)
    y = np.where((y < 0) & ~np.isfinite(bh), 0.0, y)
    d = c - a.T @ y
    cols = np.minimum(d * lo, d * hi)
    rows = np.where(y > 0, y * np.where(np.isfinite(bl), bl, 0.0), y * np.where(np.isfinite(bh), bh, 0.0))
    size = np.abs(cols).sum() + np.abs(rows).sum() + (np.abs(a.T) @ np.abs(y) + np.abs(c)) @ np.maximum(np.abs(lo), np.abs(hi))
    return float(cols.sum() + rows.sum()) - 1e-12 * float(size)
