"""A small branch and bound on node ownership over the stays LP, every LP re-solved warm (bound only).

At 1,024 GPUs the re-optimizer's bound is the stays LP (:mod:`packer.cpsat.reopt_stays`). On running
clusters with a node-isolated tenant its optimum owns many nodes by fractions: on the issue recipe's
haein-100 45 of 128 ownership columns, most at 0.05-0.3 on nodes full of other tenants' running MIG
replicas, each of which the LP "moves" by the same fraction (one fraction of a 24-unit spread frees that
fraction of it on all 24 of its nodes at once), and the isolated tenant's spread replicas, one unit a
node, take that fraction of a unit on each (bench/RESULTS_reopt.md, "Session 25 (branch hstate25)").
In a plan ownership is 0 or 1: a node the tenant owns holds no other tenant's work.

Here the ownership columns are branched on: each node of the tree is the stays LP with some of them
fixed at 0 or 1, and the bound is the largest LP value among the open leaves (best first: the leaf
with the largest value is split, on its most fractional ownership column). Every plan of the running
state sets ownership integrally and lies in the leaf that agrees with it, whose LP value is at least
the plan's objective (the stays LP's own argument), so the largest leaf value is a bound at every
moment; a leaf whose LP is infeasible holds no plan and is dropped; a leaf whose LP did not finish
keeps its parent's value. A leaf with no fractional ownership column is not split (the bound cannot
fall below it by this branching) and ends the search.

The LPs are solved by one HiGHS instance (:class:`packer.cpsat.bound.KeptLP`), its columns' bounds
changed to the leaf's and re-solved from the last optimal basis by the dual simplex, so a child costs
the pivots its fixings cause, not a cold solve with presolve.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field

import numpy as np

#: Run the branching in the LP child once its LPs are done and time is left (:func:`after_lps`);
#: False: the child ends after its LPs, as before session 25.
OWN_BRANCH = False
#: At most this many LPs (children) per run: the tree's size, not its time, decides its value, so that a
#: run's bound does not depend on the machine's load (the time limit only stops it early).
MAX_LPS = 40
#: A column is fractional when it is this far from an integer.
TOL = 1e-6
#: Not started with less than this many seconds left before the child's deadline.
MIN_S = 4.0

#: The settings an LP child takes from its parent (:data:`packer.cpsat.reopt_late.CHILD_SETTINGS`).
SETTINGS = ("OWN_BRANCH", "MAX_LPS", "TOL", "MIN_S")


@dataclass
class OwnBranch:
    """What a run gave: ``bound`` (objective units: the largest open leaf's value, never above ``root``),
    ``root`` (the LP's), the LPs solved, leaves open and closed (infeasible), seconds, whether it stopped
    on a leaf with integral ownership (then no more branching on ownership can lower the bound), and the
    columns branched on, in order."""

    bound: float
    root: float
    lps: int
    open: int
    closed: int
    s: float
    integral: bool
    branched: list[int] = field(default_factory=list)


def _fractional(x: np.ndarray, cols: np.ndarray, fixed: dict[int, float]) -> int | None:
    """The most fractional of ``cols`` in ``x`` not fixed yet (the first in column order among equals), or None."""
    vals = x[cols]
    dist = np.minimum(vals - np.floor(vals), np.ceil(vals) - vals)
    for k in np.argsort(-dist, kind="stable"):
        if dist[k] <= TOL:
            return None
        if int(cols[k]) not in fixed:
            return int(cols[k])
    return None


class _Tree:
    """The kept HiGHS instance and the column bounds it holds now."""

    def __init__(self, kept, lo: np.ndarray, hi: np.ndarray) -> None:  # type: ignore[no-untyped-def]
        self.kept = kept
        self.h = kept.highs
        self.lo, self.hi = lo, hi
        self.now: dict[int, float] = {}

    def solve(self, fixed: dict[int, float], time_limit: float | None):  # type: ignore[no-untyped-def]
        """The LP with ``fixed`` columns at their values: (value, x), 'infeasible', or None (did not finish)."""
        from scipy.optimize._highspy import _core as hc

        from packer.cpsat.bound import _to_max

        cols = sorted(set(self.now) | set(fixed))
        if cols:
            idx = np.array(cols, dtype=np.int32)
            lo = np.array([fixed.get(c, self.lo[c]) for c in cols], dtype=np.float64)
            hi = np.array([fixed.get(c, self.hi[c]) for c in cols], dtype=np.float64)
            self.h.changeColsBounds(len(cols), idx, lo, hi)
        self.now = dict(fixed)
        if time_limit is not None:
            self.h.setOptionValue("time_limit", float(self.h.getRunTime() + max(0.1, time_limit)))
        if self.h.run() == hc.HighsStatus.kError:
            return None
        st = self.h.getModelStatus()
        if st == hc.HighsModelStatus.kInfeasible:
            return "infeasible"
        if st != hc.HighsModelStatus.kOptimal:
            return None
        value = _to_max(self.kept.form[6], float(self.h.getInfo().objective_function_value))
        return value, np.array(self.h.getSolution().col_value)


def own_branch(form, const: float, model, *, time_limit: float | None = None,  # type: ignore[no-untyped-def]
               max_lps: int | None = None, kept=None, log=None) -> OwnBranch | None:
    """The bound of the module docstring for the stays ``form`` (:func:`packer.cpsat.reopt_stays.stays_form`
    of ``model``, objective constant ``const``), or None when the root LP does not finish, scipy has no
    HiGHS core, or the model has no ownership column. ``kept``: a :class:`~packer.cpsat.bound.KeptLP` of
    ``form`` already solved to optimality (its basis is reused; it is changed here). ``log``: called with a
    line per LP (seconds, value, the bound so far)."""
    from packer.cpsat.bound import KeptLP
    from packer.cpsat.proof import padded_bound

    t0 = time.perf_counter()
    owns = np.array(sorted(v.index for v in model.vars.owns.values()), dtype=np.int64)
    if owns.size == 0:
        return None
    limit = MAX_LPS if max_lps is None else max_lps

    def left() -> float | None:
        return None if time_limit is None else time_limit - (time.perf_counter() - t0)

    if kept is None or kept.highs is None:
        kept = KeptLP(form)
        got = kept.solve(left())
        if got is None or kept.highs is None:
            return None
        root_value, x = got
    else:
        from scipy.optimize._highspy import _core as hc  # noqa: F401

        from packer.cpsat.bound import _to_max

        root_value = _to_max(form[6], float(kept.highs.getInfo().objective_function_value))
        x = np.array(kept.highs.getSolution().col_value)
    _c, _a, _bl, _bh, lo, hi, _obj = form
    tree = _Tree(kept, np.asarray(lo, dtype=float), np.asarray(hi, dtype=float))
    root = padded_bound(model, root_value + const)
    # max-heap of open leaves: (−value, order, fixed columns, solution)
    heap: list[tuple[float, int, dict[int, float], np.ndarray]] = [(-root_value, 0, {}, x)]
    order, lps, closed, integral = 1, 0, 0, False
    branched: list[int] = []
    while heap and lps < limit:
        rem = left()
        if rem is not None and rem <= 0.1:
            break
        neg, _o, fixed, xs = heap[0]
        col = _fractional(xs, owns, fixed)
        if col is None:
            integral = True
            break
        heapq.heappop(heap)
        branched.append(col)
        for val in (0.0, 1.0):
            child = dict(fixed)
            child[col] = val
            rem = left()
            got = tree.solve(child, rem)
            lps += 1
            if log is not None:
                val_s = got if isinstance(got, str) or got is None else f"{padded_bound(model, got[0] + const):.2f}"
                log(f"LP {lps}: column {col} = {val:.0f}: {val_s} ({time.perf_counter() - t0:.1f} s)")
            if got == "infeasible":
                closed += 1
                continue
            if got is None:  # not finished: the parent's value stands for the child
                heapq.heappush(heap, (neg, order, child, xs))
            else:
                value, xc = got
                heapq.heappush(heap, (-min(value, -neg), order, child, xc))
            order += 1
    bound = root if not heap else min(root, padded_bound(model, -heap[0][0] + const))
    return OwnBranch(bound=bound, root=root, lps=lps, open=len(heap), closed=closed,
                     s=time.perf_counter() - t0, integral=integral, branched=branched)


def after_lps(bb, cap: int | None, left, after) -> None:  # type: ignore[no-untyped-def]
    """In the LP child (:mod:`packer.cpsat.reopt_late`), after its LPs (and any branch and bound of
    :mod:`packer.cpsat.reopt_intstays`): with OWN_BRANCH, when the stays LP of ``cap``'s budget finished and
    at least MIN_S seconds are left (``left()``), :func:`own_branch` on its form (the room rows in it, as
    ``reopt_stays.ROOM_CUTS`` says) until a second before the deadline; a bound below the one known
    replaces it in ``bb.stays``, the run is recorded in ``bb.int_stays`` (arm "own_branch"), and ``after()``
    writes the snapshot."""
    from packer.cpsat.reopt import _bound_key
    from packer.cpsat.reopt_stays import stays_form

    if not OWN_BRANCH:
        return
    key = _bound_key(bb, cap)
    if key not in bb.stays or bb._repack is None or not bb._repack.vars.owns:
        return
    rem = left()
    if rem is None or rem < MIN_S:
        return
    got = stays_form(bb.inst, bb._repack, key)
    if got is None:
        return
    form, _col, const = got
    res = own_branch(form, const, bb._repack, time_limit=max(0.1, left() - 1.0))
    if res is None:
        return
    lp = bb.stays[key]
    bb.int_stays = {"arm": "own_branch", "lp": lp, "dual": res.bound, "root": res.root, "lps": res.lps,
                    "open": res.open, "integral": res.integral, "s": round(res.s, 2), "budget": key}
    if res.bound < lp - 1e-9:
        bb.stays[key] = res.bound
    after()


__all__ = ["MAX_LPS", "OWN_BRANCH", "OwnBranch", "after_lps", "own_branch"]
