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
#: "stays" (and the stay columns).
ARM = "within"
#: Not started with less than this many seconds left before the child's deadline (its presolve and
#: root LP alone take several seconds at 1,024 GPUs).
MIN_S = 6.0
#: Branch and bound's share of the time left (the rest: the margin to write the answer before the
#: child is ended), and a fixed margin in seconds.
SHARE = 0.9
MARGIN_S = 1.0


#: The settings a parent passes to its LP child (a fresh interpreter: module flags set in the parent,
#: e.g. by an A/B bench, would not reach it otherwise).
SETTINGS = ("INT_STAYS", "ARM", "MIN_S", "SHARE", "MARGIN_S")


def settings() -> dict[str, object]:
    """This module's settings, for :func:`configure` in the LP child."""
    return {k: globals()[k] for k in SETTINGS}


def configure(values: dict[str, object]) -> None:
    """Takes the parent's :func:`settings`."""
    for k, v in values.items():
        if k in SETTINGS:
            globals()[k] = v


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
    if arm in ("within", "stays"):
        cols |= {v.index for v in model.vars.within.values()}
    if arm == "stays":
        cols |= set(col.values())
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
    res = milp(c, constraints=LinearConstraint(a, bl, bh), bounds=Bounds(lo, hi), integrality=integ,
               options={"presolve": True, "time_limit": rem})
    raw = getattr(res, "mip_dual_bound", None)
    dual = None
    if raw is not None and np.isfinite(raw):
        dual = padded_bound(model, _to_max(obj, float(raw)) + const)
        if lp is not None:
            dual = min(dual, lp)
    return IntStays(dual, lp, len(cols), time.perf_counter() - t0, res.status == 0)


def after_lps(bb, cap: int | None, left, after) -> None:  # type: ignore[no-untyped-def]
    """In the LP child (:mod:`packer.cpsat.reopt_late`), after :func:`packer.cpsat.reopt._budget_bounds`:
    when the stays LP of ``cap``'s budget finished and at least MIN_S seconds are left (``left()``),
    branch and bound on its form until SHARE of them less MARGIN_S; a dual bound below the LP's
    replaces it in ``bb.stays`` (the bound of that budget and, for no limit, of every budget), then
    ``after()`` writes the snapshot. ``bb.int_stays`` records what happened."""
    from packer.cpsat.reopt import _bound_key

    if not INT_STAYS:
        return
    key = _bound_key(bb, cap)
    rem = left()
    if key not in bb.stays or bb._repack is None or rem is None or rem < MIN_S:
        return
    lp = bb.stays[key]
    got = int_stays_bound(bb.inst, bb._repack, budget=key, time_limit=SHARE * rem - MARGIN_S, lp=lp)
    if got is None:
        return
    bb.int_stays = {"lp": lp, "dual": got.dual, "s": round(got.s, 2), "finished": got.finished,
                    "integer_columns": got.integer_columns, "budget": key, "arm": ARM}
    if got.dual is not None and got.dual < lp - 1e-9:
        bb.stays[key] = got.dual
    after()


__all__ = ["ARM", "INT_STAYS", "IntStays", "after_lps", "configure", "int_stays_bound", "integer_columns", "settings"]
