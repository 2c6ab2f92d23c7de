"""The capacity LP: every request as a fraction, GPUs as capacity per mode, tenants' quotas.

A bound in milliseconds at any size, and its prices: what a GPU-equivalent of each kind of work and of
each tenant's quota is worth at the margin (the duals of the capacity and quota rows). The CP-SAT back
end proves with the bound and steers value steps with the prices (:mod:`packer.cpsat.lns_value`); the
greedy orders a quota-bound tenant's work by them (:mod:`packer.greedy.solver`) and the online
forecast keeps that tenant's quota for its work of higher net value (:mod:`packer.online.reserve`).
Uses scipy's HiGHS, no CP-SAT.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

#: Tolerance for comparing sizes and prices.
_EPS = 1e-9


def capacity_bound(inst) -> float | None:  # type: ignore[no-untyped-def]
    """A quick upper bound: requests as fractions, GPUs as capacity per mode, tenants' quotas.

    Relaxes everything about where units go (geometry, locality, spread, isolation, host
    resources), counts movable running work at its best value in the capacity of its kind (staying
    or moved, it takes at least its smallest size there), and drops every penalty, so it is an upper
    bound however loose. It takes milliseconds at any size.
    """
    got = capacity_lp(inst)
    return None if got is None else got[0]


def capacity_lp(inst) -> tuple[float, dict[str, float], dict[str, float]] | None:  # type: ignore[no-untyped-def]
    """:func:`capacity_bound` with the LP's prices: (bound, price of a GPU-equivalent per request kind
    (its capacity row's dual), price of a GPU-equivalent of each tenant with a quota (its quota row's
    dual)); the prices are nonnegative (0 for a row that does not bind). None where scipy is missing
    or the LP fails."""
    try:
        from scipy.optimize import linprog
    except ImportError:  # pragma: no cover
        return None
    from packer.model import MILLI_PER_GPU, MODE_OF_KIND
    from packer.plans import extra_domains

    cat = inst.gpu_catalog
    gpus = {"mig": 0, "full": 0, "shared": 0, "any": 0}
    for n, g in inst.gpus():
        gpus[n.gpu_mode(g)] += 1
    models = {cat.canonical(n.gpu_model): cat[n.gpu_model] for n in inst.nodes if n.num_gpus and n.gpu_model}
    kinds = ["gpu", "mig", "share"]
    used = {k: 0.0 for k in kinds}
    quota_used: dict[str, float] = {}
    const = 0.0
    cols: list[tuple[str, str, float, float]] = []  # (kind, tenant, size per request, value per request)
    for r in inst.requests:
        if r.kind == "host":
            continue  # worth 0 (a locality penalty can only lower it): leaving it out keeps a bound
        if r.placement is not None and not r.movable:
            size = sum(inst.unit_size(r, u) for u in r.placement)
            used[r.kind] += size
            quota_used[r.tenant] = quota_used.get(r.tenant, 0.0) + size
            const += r.priority * size - inst.objective.locality_weight * extra_domains(inst, r, r.placement)
            continue
        allowed = inst.allowed_models(r)
        sizes = []
        for name, m in models.items():
            if allowed is not None and name not in allowed:
                continue
            if r.kind == "mig":
                sizes += [p.gpu_equivalents for p in inst.profile_choices(r, m)]
            elif r.kind == "gpu":
                sizes.append(1.0)
            else:
                sizes.append((r.gpu_milli or 0) / MILLI_PER_GPU)
        if not sizes:
            continue
        unit = max(sizes)
        quota = inst.tenant_map[r.tenant].max_gpus if r.tenant in inst.tenant_map else None
        if quota is not None and r.placement is None and min(sizes) * r.need_count > quota + 1e-9:
            continue  # bigger than its tenant's whole quota: it never fits (worth 0, a bound still)
        if r.placement is not None:
            # Movable running work stays or moves, and takes capacity of its kind either way (at least
            # its smallest size); it is worth at most its best value, and never pays less than nothing.
            run = sum(inst.unit_size(r, u) for u in r.placement)
            least = min(run, min(sizes) * r.count)
            cols.append((r.kind, r.tenant, least, max(r.priority * run, r.priority * unit * r.count)))
            continue
        cols.append((r.kind, r.tenant, unit * r.count, r.priority * unit * r.count))
    n = len(cols)
    if n == 0:
        return const, {k: 0.0 for k in kinds}, {}
    # Variables: y per request (0..1), then the 'any' GPUs given to each kind.
    c = np.array([-v for _, _, _, v in cols] + [0.0, 0.0, 0.0])
    a_rows: list[np.ndarray] = []
    b: list[float] = []
    for k, kind in enumerate(kinds):
        row = np.zeros(n + 3)
        for i, (kd, _, size, _) in enumerate(cols):
            if kd == kind:
                row[i] = size
        row[n + k] = -1.0
        a_rows.append(row)
        b.append(gpus[MODE_OF_KIND[kind]] - used[kind])
    row = np.zeros(n + 3)
    row[n:] = 1.0
    a_rows.append(row)
    b.append(gpus["any"])
    quota_rows: list[str] = []
    for t in inst.tenant_map.values():
        if t.max_gpus is None:
            continue
        quota_rows.append(t.id)
        row = np.zeros(n + 3)
        for i, (_, tt, size, _) in enumerate(cols):
            if tt == t.id:
                row[i] = size
        a_rows.append(row)
        b.append(t.max_gpus - quota_used.get(t.id, 0.0))
    bounds = [(0.0, 1.0)] * n + [(0.0, None)] * 3
    res = linprog(c, A_ub=np.array(a_rows), b_ub=np.array(b), bounds=bounds, method="highs-ds")
    if res.status != 0:
        return None
    duals = np.maximum(0.0, -np.asarray(res.ineqlin.marginals, dtype=float))
    kind_price = {k: float(duals[i]) for i, k in enumerate(kinds)}
    quota_price = {t: float(duals[len(kinds) + 1 + i]) for i, t in enumerate(quota_rows)}
    return const - float(res.fun) + 1e-9, kind_price, quota_price


def kind_prices(inst) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Price of a GPU-equivalent of each request kind's capacity: its capacity row's dual in
    :func:`capacity_lp` (empty when that LP cannot be solved: every price 0)."""
    got = capacity_lp(inst)
    return {} if got is None else dict(got[1])


def quota_net(inst) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Priorities to order by for the waiting work of tenants whose quota binds: each request's priority
    less the price of a GPU-equivalent of its kind in the capacity LP (:func:`kind_prices`).

    A tenant at its quota places one request only by leaving another of its own out, so what a unit of
    its quota buys is the request's value less what other tenants' waiting work would have paid for the
    same capacity: nothing where the kind's capacity is not contested, up to the marginal priority where
    it is (quota-100 at 1,024 GPUs: whole GPUs priced 1.0, MIG slices 0; in priority order its two tight
    tenants spent their quota on gangs others would have filled while their MIG work waited beside idle
    MIG GPUs). A tenant's quota binds when its work, running and waiting, asks for more than it (the
    LP's quota prices would say so too, but a degenerate LP may price a binding row at 0). Empty where
    no quota binds, every kind has the same price, or the LP cannot be solved. The greedy orders by it
    (:mod:`packer.greedy.solver`); the online forecast keys each tenant's quota claims by it
    (:mod:`packer.online.reserve`).
    """
    bound = quota_bound(inst)
    if not bound:
        return {}
    kind_price = kind_prices(inst)
    if not kind_price or max(kind_price.values()) - min(kind_price.values()) <= _EPS:
        return {}
    return {r.id: r.priority - kind_price.get(r.kind, 0.0) for r in inst.requests
            if r.placement is None and r.tenant in bound and r.kind in kind_price}


def quota_bound(inst) -> set[str]:  # type: ignore[no-untyped-def]
    """The tenants whose work, running and waiting, asks for more than their quota."""
    asked: dict[str, float] = defaultdict(float)
    for r in inst.requests:
        asked[r.tenant] += inst.request_size(r)
    return {t.id for t in inst.tenants if t.max_gpus is not None and asked[t.id] > t.max_gpus + _EPS}
