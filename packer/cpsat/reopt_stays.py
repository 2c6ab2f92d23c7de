"""The repack LP with migration costs: a "stays" column per freed running request.

The repack LP (:func:`packer.cpsat.reopt.repack_model`) bounds re-optimization under any budget by
placing every movable running request afresh, for free. A real plan pays each moved request's
migration cost, and at 1,024 GPUs those costs (0.1 × size a move, tens of moves) are 0.2-1% of the
objective, all of it slack in the bound (bench/RESULTS_reopt.md, "Session 5").

Here each freed running request ``r`` gets a column ``s_r`` in [0, 1] ("stays where it runs") and the
objective pays ``cost_r × (1 − s_r)``. Staying needs its units where they run: for each group ``g``
and GPU class ``c`` of the repack model,

    Σ_{r in g, freed} s_r × (units of r's placement in c with option o)  ≤  x[g, c, o]

(``o``: the unit's MIG profile, or None). With a budget, ``Σ (1 − s_r) ≤ budget``.

Validity: take any plan of the running state that moves at most the budget. As a repack plan it
sets the ``x`` columns; set ``s_r`` = 1 exactly for the requests it keeps where they run. Those
requests' units are in the plan, in their own GPUs' classes with their own options, so every row
above holds; the budget row counts exactly the moved requests; and the objective is the plan's own
(value placed, less the cost of each moved request). So the LP optimum is at least every such plan's
objective. A request that changes GPUs within one class may get ``s_r`` = 1 in the LP: that only
makes the bound weaker, never wrong. It is never above the plain repack LP (same rows plus more, and
an objective at most the plain one's).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from packer.model import Instance
from packer.plans import migration_cost

#: Link each stay column to the node ownership of node-isolated tenants (:func:`_own_links`): a
#: request that stays on a node makes its tenant the node's owner if that tenant is node-isolated, and
#: bars every other node-isolated tenant from owning it. Without these rows the repack model ties a
#: stay to ownership only through the node's load and the group's units there (``own ≥ x / the units
#: the group can have on the node``), so one staying unit of a big group of an isolated tenant claimed
#: only a fraction of its node and the LP gave the rest to other tenants. Measured: the bound of no
#: limit 0.3-2.5 lower on the issue seeds, unchanged on fragmented (bench/RESULTS_reopt.md "Session
#: 11"). False: the rows of sessions 6-10 only (the A/B arm).
OWN_LINKS = True

#: Rounded room rows for whole-GPU gangs with a required locality (:mod:`packer.cpsat.room_cuts`): per
#: topology domain and gang size s, Σ floor(n_g / s) × within ≤ floor(free whole GPUs / s), a
#: Chvátal-Gomory rounding of the domain's whole-GPU capacity over the gangs' integer domain choices.
#: Without them the LP puts 1.3-1.4 16-GPU rack gangs into a rack with 21-23 free GPUs (session 23).
#: Rows of the LP bound only: the CP-SAT model and its search are unchanged.
ROOM_CUTS = True
#: With them the LP is solved without the rows first (its solution is the guide) and, only where that
#: solution breaks a row, with them after it for the bound (:func:`rows_bound`): the rows' solution places
#: fewer of the gangs the LP splits, and the gang steps drawn by its weights lost on fragmented-1 (session 23's
#: ROOM_GUIDE, one solve with the rows, and session 24's WARM_ROWS, the second solve warm from a kept HiGHS
#: solver, were measured, left off and removed in session 27).

#: The settings an LP child process takes from its parent (:data:`packer.cpsat.reopt_late.CHILD_SETTINGS`):
#: a fresh interpreter would not see a flag set in the parent.
SETTINGS = ("OWN_LINKS", "ROOM_CUTS")


def _own_links(model, freed, col, node_ix, r_idx, c_idx, vals, rhs: list[float]) -> None:  # type: ignore[no-untyped-def]
    """Appends the rows ``own[n, t] − s_r ≥ 0`` (r of node-isolated tenant t runs on node n) and
    ``own[n, t] + s_r ≤ 1`` (r of another tenant runs on n) as ``s_r − own ≤ 0`` and ``s_r + own ≤ 1``
    (row index = ``len(rhs)``, its upper side appended to ``rhs``). Valid: a plan that keeps r where
    it runs has r's units on n, so n holds work of r's tenant, which the repack model's isolation
    rows allow only with ``own[n, t]`` = 1 for t = that tenant and 0 for every other node-isolated t
    (ownership is integral in every plan)."""
    owns = model.vars.owns
    if not owns:
        return
    tenants = sorted({t for (_ni, t) in owns})
    for r in freed:
        for ni in sorted({node_ix[u.node] for u in r.placement or () if u.node in node_ix}):
            for t in tenants:
                var = owns.get((ni, t))
                if var is None:
                    continue
                r_idx.extend((len(rhs), len(rhs)))
                c_idx.extend((col[r.id], var.index))
                vals.extend((1.0, -1.0 if r.tenant == t else 1.0))
                rhs.append(0.0 if r.tenant == t else 1.0)


@dataclass
class StaysLP:
    """The solved LP: bound (objective units), the repack model's column values, and stay shares."""

    bound: float
    x: np.ndarray
    #: freed running request id → its stay column's value (1: the LP keeps it where it runs).
    stays: dict[str, float]
    budget: int | None
    #: With the room rows (ROOM_CUTS): the rows the LP's solution without them broke (then ``bound`` is the
    #: LP's with them, ``x`` and ``stays`` the solution without them); else None.
    rows_broken: int | None = None
    #: The LP's linear form (without the room rows) and its objective constant, kept when the rows' LP
    #: is still to be solved (:func:`rows_bound` adds the rows to it and drops it); else None.
    form: tuple | None = None


def _class_map(data) -> tuple[dict[tuple[int, int], int], dict[int, int]]:  # type: ignore[no-untyped-def]
    """(node index, GPU) → class index, and node index → its host class."""
    by_gpu: dict[tuple[int, int], int] = {}
    host: dict[int, int] = {}
    for c in data.classes:
        if c.host:
            host[c.node] = c.index
        for g in c.gpus:
            by_gpu[(c.node, g)] = c.index
    return by_gpu, host


def stays_form(inst: Instance, model, budget: int | None = None,  # type: ignore[no-untyped-def]
               cuts: bool | None = None):
    """The repack model's linear form with a stays column per freed running request appended.

    Returns (form, stay column by request id, the objective's constant in model units) or None when
    the model is not linear. ``model``: :func:`packer.cpsat.reopt.repack_model` of ``inst``.
    ``cuts``: append :func:`packer.cpsat.room_cuts.room_cuts`'s rows (None: ROOM_CUTS).
    """
    from scipy.sparse import csr_matrix, hstack, vstack

    form = model.linear_form
    if form is None:
        return None
    c, a, bl, bh, lo, hi, obj = form
    data = model.data
    rp = data.inst
    node_ix = {n.id: i for i, n in enumerate(rp.nodes)}
    by_gpu, host = _class_map(data)
    freed = [r for r in inst.requests if r.placement is not None and r.movable]
    n0 = a.shape[1]
    col = {r.id: n0 + k for k, r in enumerate(freed)}
    sf = obj.scaling_factor or 1.0
    scale = data.scale
    c_new = np.zeros(len(freed))
    const = 0.0
    # (group, class, option) → [(stay column, units)]
    rows: dict[tuple[int, int, object], list[tuple[int, int]]] = defaultdict(list)
    req_ix = {r.id: i for i, r in enumerate(rp.requests)}
    for k, r in enumerate(freed):
        cost = migration_cost(inst, r) * scale
        const -= cost
        c_new[k] = cost / sf  # maximized value = sf × (c·x + offset)
        gi = data.group_of[req_ix[r.id]]
        per: dict[tuple[int, object], int] = defaultdict(int)
        for u in r.placement or ():
            ni = node_ix.get(u.node)
            ci = None if ni is None else (host.get(ni) if u.gpu is None else by_gpu.get((ni, u.gpu)))
            if ci is None:
                per = {}
                break
            per[(ci, u.profile)] += 1
        for (ci, prof), k_units in per.items():
            rows[(gi, ci, prof)].append((col[r.id], k_units))
    want = {(gi, ci) for (gi, ci, _p) in rows}
    xs_of: dict[tuple[int, int], list[tuple[object, int]]] = defaultdict(list)
    for (g2, c2, o), var in model.vars.x.items():
        if (g2, c2) in want:
            xs_of[(g2, c2)].append((o, var.index))
    r_idx: list[int] = []
    c_idx: list[int] = []
    vals: list[float] = []
    n_rows = 0
    for (gi, ci, prof), entries in rows.items():
        xs = [xi for o, xi in xs_of[(gi, ci)] if o == prof]
        if not xs:  # the option is not modelled (a plan that keeps r would have it): every option, to stay valid
            xs = [xi for _o, xi in xs_of[(gi, ci)]]
        if not xs:
            continue  # no column at all: no row (weaker, never invalid)
        for cix, k_units in entries:
            r_idx.append(n_rows)
            c_idx.append(cix)
            vals.append(float(k_units))
        for xi in xs:
            r_idx.append(n_rows)
            c_idx.append(xi)
            vals.append(-1.0)
        n_rows += 1
    rhs = [0.0] * n_rows
    if OWN_LINKS:
        _own_links(model, freed, col, node_ix, r_idx, c_idx, vals, rhs)
        n_rows = len(rhs)
    if ROOM_CUTS if cuts is None else cuts:
        from packer.cpsat.room_cuts import room_cuts

        for idxs, coefs, ub in room_cuts(model):
            row = len(rhs)
            r_idx.extend([row] * len(idxs))
            c_idx.extend(idxs)
            vals.extend(coefs)
            rhs.append(ub)
        n_rows = len(rhs)
    n = n0 + len(freed)
    extra = csr_matrix((vals, (r_idx, c_idx)), shape=(n_rows, n))
    a2 = hstack([a, csr_matrix((a.shape[0], len(freed)))]).tocsr()
    blocks = [a2, extra]
    bl2 = [bl, np.full(n_rows, -np.inf)]
    bh2 = [bh, np.array(rhs, dtype=float)]
    if budget is not None and freed:
        # Σ (1 − s_r) ≤ budget  ⇔  Σ s_r ≥ len(freed) − budget.
        row = csr_matrix((np.ones(len(freed)), (np.zeros(len(freed), dtype=np.int64), list(col.values()))),
                         shape=(1, n))
        blocks.append(row)
        bl2.append(np.array([float(len(freed) - budget)]))
        bh2.append(np.array([np.inf]))
    form2 = (np.concatenate([c, c_new]), vstack(blocks).tocsr(), np.concatenate(bl2), np.concatenate(bh2),
             np.concatenate([lo, np.zeros(len(freed))]), np.concatenate([hi, np.ones(len(freed))]), obj)
    return form2, col, const


def with_rows(form, rows):  # type: ignore[no-untyped-def]
    """``form`` (a linear form) with ``rows`` ((column indices, coefficients, upper side) each) below."""
    from scipy.sparse import csr_matrix, vstack

    if not rows:
        return form
    c, a, bl, bh, lo, hi, obj = form
    r_idx = [k for k, (idxs, _c, _u) in enumerate(rows) for _ in idxs]
    c_idx = [i for idxs, _c, _u in rows for i in idxs]
    vals = [v for _i, coefs, _u in rows for v in coefs]
    extra = csr_matrix((vals, (r_idx, c_idx)), shape=(len(rows), a.shape[1]))
    return (c, vstack([a, extra]).tocsr(), np.concatenate([bl, np.full(len(rows), -np.inf)]),
            np.concatenate([bh, np.array([u for _i, _c, u in rows], dtype=float)]), lo, hi, obj)


def violated(rows, x, tol: float = 1e-6) -> int:  # type: ignore[no-untyped-def]
    """How many of ``rows`` the point ``x`` breaks by more than ``tol``."""
    return sum(1 for idxs, coefs, ub in rows if float(np.dot(x[idxs], coefs)) > ub + tol)


def stays_lp(inst: Instance, model, *, budget: int | None = None,  # type: ignore[no-untyped-def]
             time_limit: float | None = None, cuts: bool | None = None) -> StaysLP | None:
    """The repack LP with migration costs (and ``budget``'s row) solved, or None when it does not
    finish in ``time_limit`` or the model is not linear. ``cuts`` (None: ROOM_CUTS): with the room rows,
    the LP without them is solved first (its solution is the one returned: the guide's ``x`` and
    ``stays``) and, only where its solution breaks a row, the LP with them after it for the bound (a
    second solve, :func:`rows_bound`; the first's bound stands if it does not finish)."""
    import time

    from packer.cpsat.bound import lp_solve
    from packer.cpsat.proof import padded_bound

    use = ROOM_CUTS if cuts is None else cuts
    t0 = time.perf_counter()
    got = stays_form(inst, model, budget, False)
    if got is None:
        return None
    form, col, const = got
    res = lp_solve(model.model, time_limit=time_limit, form=form)
    if res is None:
        return None
    value, x = res
    stays = {rid: float(x[ci]) for rid, ci in col.items()}
    n_model = form[1].shape[1] - len(col)
    out = StaysLP(bound=padded_bound(model, value + const), x=x[:n_model], stays=stays, budget=budget,
                  form=(form, const) if use else None)
    if use:
        rem = None if time_limit is None else time_limit - (time.perf_counter() - t0)
        got2 = rows_bound(inst, model, out, time_limit=rem)
        if got2 is not None:
            out.bound = got2
    return out


def rows_bound(inst: Instance, model, lp: StaysLP, *,  # type: ignore[no-untyped-def]
               time_limit: float | None = None) -> float | None:
    """The bound of the stays LP with the room rows (:mod:`packer.cpsat.room_cuts`), given ``lp``, the
    same LP solved without them (``lp.x``: its solution; ``lp.form``: its form, built again when not
    kept): where that solution breaks no row it is optimal with them too (``lp.bound``); else the LP
    with the rows is solved (None when it does not
    finish in ``time_limit``). Sets ``lp.rows_broken``. Never above ``lp.bound``."""
    from packer.cpsat.bound import lp_solve
    from packer.cpsat.proof import padded_bound
    from packer.cpsat.room_cuts import room_cuts

    rows = room_cuts(model)
    lp.rows_broken = violated(rows, lp.x)
    kept, lp.form = lp.form, None
    if not lp.rows_broken:
        return lp.bound
    if time_limit is not None and time_limit <= 0.1:
        return None
    if kept is None:
        got = stays_form(inst, model, lp.budget, False)
        if got is None:
            return None
        kept = got[0], got[2]
    form, const = kept
    res = lp_solve(model.model, time_limit=time_limit, form=with_rows(form, rows))
    if res is None:
        return None
    return min(lp.bound, padded_bound(model, res[0] + const))


__all__ = ["StaysLP", "rows_bound", "stays_form", "stays_lp", "violated", "with_rows"]
