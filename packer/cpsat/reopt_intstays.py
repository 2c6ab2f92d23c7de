"""The stays bound with integrality kept: branch and bound on the stays LP, in the LP child's idle time.

At 1,024 GPUs the re-optimizer's bound is the stays LP (:mod:`packer.cpsat.reopt_stays`: the repack
LP with a stay column and the migration cost per movable running request). In the timed recipe it
runs in a child process beside the steps (:mod:`packer.cpsat.reopt_late`) and is done 10-20 s into a
60 s run; the child then ends and its core goes back to the steps. On the fragmented family the
LP places whole-node and whole-rack gangs (4-16 GPUs at priority 1.5-2, worth 6-32 each) fractionally:
half a gang on a node with half its GPUs free, a share of a running request moved to make the rest
(bench/RESULTS_reopt.md, "Session 18").

Here the child, once the stays LP of its budget has finished and time is left, solves the same
form again with HiGHS branch and bound (scipy ``milp``), some of its columns integer (:data:`ARM`):

- the groups' placed counts (``active``): a gang is placed whole or not;
- the required-locality domain choices (``within``): a node gang lies on one node, a rack gang in one
  rack;
- the stay columns: a running request stays or moves, and pays its whole migration cost.

Every column made integer takes integer values in every plan of the running state (the stays
LP's proof of validity, ``reopt_stays``: the plan's own columns satisfy every row), so the model is
still a relaxation of re-optimizing under the budget, and branch and bound's dual bound, stopped at
any time, is at least every plan's objective (tests: ``tests/test_reopt_intstays_s18.py``, hypothesis states
against the exact model). It is taken only when below the LP's: the bound reported is the smaller.

It runs until the child's deadline (the steps' end) less a margin, writes one snapshot when it
finishes, and is ended with the child otherwise (the LP's snapshot then stands).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from packer.model import Instance

#: Run branch and bound on the stays form in the LP child's time left (False: the child ends after
#: its LPs, as before session 18). Off until the timed A/B says otherwise (bench/bench_frag18_timed.py).
INT_STAYS = False
#: Which columns are integer: "active" (placed counts), "within" (and required-locality domains),
#: "stays" (and the stay columns), "owns" (and node ownership of node-isolated tenants; session 21).
ARM = "within"
#: Not started with less than this many seconds left before the child's deadline (its presolve and
#: root LP alone take several seconds at 1,024 GPUs).
MIN_S = 6.0
#: Branch and bound's share of the time left (the rest: the margin to write the answer before the
#: child is ended), and a fixed margin in seconds.
SHARE = 0.9
MARGIN_S = 1.0


#: Session 21 (branch haein21): branch and bound in the LP child, but started only once the parent's move
#: steps have stalled (:class:`Stall`): the child, its LPs done, waits for the parent's word on its
#: stdin (:meth:`packer.cpsat.reopt_late.LateBounds.go`); the parent sends it when the steps since the
#: last improving step are as many as the steps up to it (a run that never improved: at its first
#: step). So the second core goes to the bound only while the steps no longer gain; a run that
#: keeps improving never starts it. Independent of INT_STAYS (which starts it at once).
AFTER_STALL = False
#: Session 21: branch and bound through scipy's HiGHS directly (:func:`_mip_dual`), so that its dual bound
#: is reported also when no integral solution was found (scipy's ``milp`` then returns none: on
#: haein-100 that was every run). False: scipy's ``milp`` as in session 18.
DUAL_ALWAYS = True

#: The settings a parent passes to its LP child (:data:`packer.cpsat.reopt_late.CHILD_SETTINGS`; a fresh
#: interpreter: module flags set in the parent, e.g. by an A/B bench, would not reach it otherwise).
SETTINGS = ("INT_STAYS", "ARM", "MIN_S", "SHARE", "MARGIN_S", "AFTER_STALL", "DUAL_ALWAYS")


@dataclass
class IntStays:
    """Branch and bound's answer: its dual bound (objective units, None: none reported), the LP's,
    the number of integer columns, seconds, and whether it finished (proved its own optimum)."""

    dual: float | None
    lp: float | None
    integer_columns: int
    s: float
    finished: bool


def integer_columns(model, col: dict[str, int], arm: str = ARM) -> list[int]:  # type: ignore[no-untyped-def]
    """The columns of the stays form (:func:`packer.cpsat.reopt_stays.stays_form` of ``model``, whose
    stay columns are ``col``) that ``arm`` makes integer."""
    from packer.cpsat.intbound import integer_columns as placed_counts

    cols = set(placed_counts(model))
    if arm in ("within", "stays", "owns"):
        cols |= {v.index for v in model.vars.within.values()}
    if arm in ("stays", "owns"):
        cols |= set(col.values())
    if arm == "owns":  # session 21: and node ownership (on haein-100 ownership and stays are what the cuts use)
        cols |= {v.index for v in model.vars.owns.values()}
    return sorted(cols)


def int_stays_bound(inst: Instance, model, *, budget: int | None = None, time_limit: float,  # type: ignore[no-untyped-def]
                    arm: str = ARM, lp: float | None = None) -> IntStays | None:
    """The stays form of ``inst`` (``model``: its :func:`packer.cpsat.reopt.repack_model`) with
    ``budget``'s row, solved by branch and bound with ``arm``'s columns integer for ``time_limit``
    seconds; None when the form is not linear. ``lp``: the stays LP's bound when known (the dual
    bound is never reported above it)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    from packer.cpsat.bound import _to_max
    from packer.cpsat.proof import padded_bound
    from packer.cpsat.reopt_stays import stays_form

    t0 = time.perf_counter()
    got = stays_form(inst, model, budget)
    if got is None:
        return None
    form, col, const = got
    c, a, bl, bh, lo, hi, obj = form
    cols = integer_columns(model, col, arm)
    integ = np.zeros(len(c))
    integ[cols] = 1
    rem = time_limit - (time.perf_counter() - t0)
    if rem <= 0.1:
        return IntStays(None, lp, len(cols), time.perf_counter() - t0, False)
    got = _mip_dual(c, a, bl, bh, lo, hi, integ, rem) if DUAL_ALWAYS else None
    if got is not None:
        raw, finished = got
    else:
        res = milp(c, constraints=LinearConstraint(a, bl, bh), bounds=Bounds(lo, hi), integrality=integ,
                   options={"presolve": True, "time_limit": rem})
        raw, finished = getattr(res, "mip_dual_bound", None), res.status == 0
    dual = None
    if raw is not None and np.isfinite(raw):
        dual = padded_bound(model, _to_max(obj, float(raw)) + const)
        if lp is not None:
            dual = min(dual, lp)
    return IntStays(dual, lp, len(cols), time.perf_counter() - t0, finished)


def _mip_dual(c, a, bl, bh, lo, hi, integ, time_limit: float):  # type: ignore[no-untyped-def]
    """Branch and bound on ``min c·x, bl ≤ a x ≤ bh, lo ≤ x ≤ hi`` (``integ``: 1 for integer columns) by
    the HiGHS that scipy ships, for ``time_limit`` seconds: (its dual bound, whether it finished), or
    None when that HiGHS cannot be reached (scipy's private module moved). Unlike scipy's ``milp``,
    the dual bound is returned when no integral solution was found yet (session 21: on haein-100 none
    was found in 600 s, while the root's cuts had brought the bound down 8.7)."""
    try:
        from scipy.optimize._highspy import _core as h
        from scipy.sparse import csc_matrix
    except ImportError:
        return None
    if not hasattr(h, "_Highs"):
        return None
    m = csc_matrix(a)
    lp = h.HighsLp()
    lp.num_col_ = len(c)
    lp.num_row_ = m.shape[0]
    lp.a_matrix_.num_col_ = len(c)
    lp.a_matrix_.num_row_ = m.shape[0]
    lp.a_matrix_.format_ = h.MatrixFormat.kColwise
    lp.col_cost_ = np.asarray(c, dtype=float)
    lp.col_lower_ = np.asarray(lo, dtype=float)
    lp.col_upper_ = np.asarray(hi, dtype=float)
    lp.row_lower_ = np.asarray(bl, dtype=float)
    lp.row_upper_ = np.asarray(bh, dtype=float)
    lp.a_matrix_.start_ = m.indptr
    lp.a_matrix_.index_ = m.indices
    lp.a_matrix_.value_ = m.data
    lp.integrality_ = [h.HighsVarType(int(i)) for i in integ]
    highs = h._Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("presolve", "on")
    highs.setOptionValue("time_limit", float(max(0.1, time_limit)))
    if highs.passModel(lp) == h.HighsStatus.kError or highs.run() == h.HighsStatus.kError:
        return None
    info = highs.getInfo()
    return float(info.mip_dual_bound), highs.getModelStatus() == h.HighsModelStatus.kOptimal


class Stall:
    """The parent's rule for AFTER_STALL: fed, before each step, the steps' count, the plan's objective
    and whether the LP is in (:func:`packer.cpsat.reopt.move_steps`'s ``on_step``; the child can only
    start branch and bound after its LP), it calls ``go()`` once, at the first step with the LP in at
    which the steps run since the last improving one are at least as many as the steps run up to it
    (and at least one): the run has spent as long without a gain as it took to reach its last one.
    No time or step threshold: the run's own history sets it. ``at``: (steps, seconds since the
    first call) when it fired, None before."""

    def __init__(self, go) -> None:  # type: ignore[no-untyped-def]
        self.go = go
        self.best: float | None = None
        self.last = 0  # steps when the objective last rose (0: not since the steps began)
        self.at: tuple[int, float] | None = None
        self._t0 = time.perf_counter()

    def __call__(self, steps: int, objective: float, ready: bool = True) -> None:
        if self.at is not None:
            return
        if self.best is None or objective > self.best + 1e-9:
            if self.best is not None:
                self.last = steps
            self.best = objective
        if ready and steps - self.last >= max(1, self.last):
            self.at = (steps, round(time.perf_counter() - self._t0, 2))
            self.go()


def after_lps(bb, cap: int | None, left, after, wait=None) -> None:  # type: ignore[no-untyped-def]
    """In the LP child (:mod:`packer.cpsat.reopt_late`), after :func:`packer.cpsat.reopt._budget_bounds`:
    when the stays LP of ``cap``'s budget finished and at least MIN_S seconds are left (``left()``),
    branch and bound on its form until SHARE of them less MARGIN_S; a dual bound below the LP's
    replaces it in ``bb.stays`` (the bound of that budget and, for no limit, of every budget), then
    ``after()`` writes the snapshot. ``bb.int_stays`` records what happened. With AFTER_STALL it first
    waits for ``wait()`` (the parent's word: True, go; False, the run ends without it)."""
    from packer.cpsat.reopt import _bound_key

    if not (INT_STAYS or AFTER_STALL):
        return
    key = _bound_key(bb, cap)
    if key not in bb.stays or bb._repack is None:
        return
    waited = 0.0
    if AFTER_STALL and not INT_STAYS:
        t = time.perf_counter()
        if wait is None or not wait():
            return
        waited = time.perf_counter() - t
    rem = left()
    if rem is None or rem < MIN_S:
        return
    lp = bb.stays[key]
    got = int_stays_bound(bb.inst, bb._repack, budget=key, time_limit=SHARE * rem - MARGIN_S, lp=lp)
    if got is None:
        return
    bb.int_stays = {"lp": lp, "dual": got.dual, "s": round(got.s, 2), "finished": got.finished,
                    "integer_columns": got.integer_columns, "budget": key, "arm": ARM,
                    "waited_s": round(waited, 2)}
    if got.dual is not None and got.dual < lp - 1e-9:
        bb.stays[key] = got.dual
    after()


__all__ = ["AFTER_STALL", "ARM", "INT_STAYS", "IntStays", "Stall", "after_lps", "int_stays_bound", "integer_columns"]
