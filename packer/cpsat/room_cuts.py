"""Rounded room rows for whole-GPU gangs with a required locality (rows for the LP bound only).

The LP relaxation of a running cluster's model places a fraction of a rack-local 16-GPU gang in every
rack that has some free whole GPUs: a rack with 21 free GPUs takes 1.31 gangs' worth (fragmented-104 at
1,024 GPUs: three priority-2.0 rack gangs at shares 0.6-0.67 spread over several racks, 6.6-9.2 of the
bound; bench/RESULTS_reopt.md "Session 21 (branch frag21)"). A plan puts whole requests in a domain.

For a topology domain ``D`` (a node, rack, pod, ...) and a size ``s``, every plan satisfies

    Σ_g floor(n_g / s) × w[g, D]  ≤  floor(room(D, s) / s)

where ``g`` runs over the model groups of whole-GPU (``gpu`` kind) requests with a required locality
whose domains lie inside ``D``, ``n_g`` is a request's fewest units (``need_count``), ``w[g, D]`` is the
number of g's requests placed in domains inside ``D`` (the sum of the model's ``within`` columns of
those domains), and ``room(D, s)`` counts the GPUs of ``D`` that can hold a whole-GPU unit of one of
those groups with ``n_g ≥ s``: the GPUs of the classes in ``D`` where such a group has a column, whose
mode may be ``full``, less those that hold running work that cannot move.

Validity: in a plan, each placed request of such a group puts at least ``n_g`` whole-GPU units inside
its domain, on GPUs of ``D``; a whole-GPU unit takes a GPU of its own, in full mode, on which no other
work runs, and work that cannot move holds its GPUs in every plan; a group's units can only be where
its columns are (the model's claim). So ``Σ_g n_g × w[g, D] ≤ room(D, s)`` with every ``w`` a
non-negative integer. Multiplying by ``1 / s`` and rounding down each coefficient (the ``w`` are
non-negative) and then the right side (the left side is an integer) is a Chvátal-Gomory rounding: the
row holds in every plan, and the LP with it is still an upper bound. A row is kept only where it can
cut the LP: its left side can exceed its right side, and the rounding loses something (``room`` not a
multiple of ``s`` or some ``n_g`` not a multiple of ``s``); otherwise the LP's capacity rows imply it.

Freed running requests (the repack model's) are new requests of their groups there: their units are
columns like any other, and the GPUs they run on count as room (they may move away).
"""

from __future__ import annotations

from collections import defaultdict

#: Levels a cut's domain may be at (a gang's own level or any coarser one); ``gpu`` has no gangs.
SKIP_LEVELS = ("gpu",)


def _gangs(model) -> dict[int, int]:  # type: ignore[no-untyped-def]
    """Model group → fewest units of one of its requests, for whole-GPU groups with a required
    locality (with ``within`` columns)."""
    data, v = model.data, model.vars
    have = {gi for (gi, _d) in v.within}
    out: dict[int, int] = {}
    for gi in have:
        r = data.groups[gi].req
        if r.kind != "gpu" or r.locality is None or not r.locality.required or r.locality.level in SKIP_LEVELS:
            continue
        n = int(r.need_count)
        if n >= 2:
            out[gi] = n
    return out


def _free_gpus(c) -> int:  # type: ignore[no-untyped-def]
    """GPUs of class ``c`` that may hold a new whole-GPU unit: none unless its mode may be ``full``;
    else its GPUs less those holding running work (in the repack model: work that cannot move)."""
    if c.host or "full" not in c.modes():
        return 0
    held = {u.gpu for _ri, u in c.running if u.gpu is not None}
    return max(0, c.size - len(held))


def room_cuts(model) -> list[tuple[list[int], list[float], float]]:  # type: ignore[no-untyped-def]
    """The rows of the module docstring for ``model`` (a :class:`~packer.cpsat.model.CpsatModel`),
    each (column indices, coefficients, upper side): ``Σ coefficient × column ≤ upper side``."""
    from packer.cpsat.data import domain_of

    gangs = _gangs(model)
    if not gangs:
        return []
    data, v = model.data, model.vars
    inst = data.inst
    levels = [lv for lv in inst.topology.all_levels if lv not in SKIP_LEVELS]
    rank = {lv: i for i, lv in enumerate(levels)}
    # (group, within domain) → the classes of the group's columns in it.
    classes_in: dict[tuple[int, str], set[int]] = defaultdict(set)
    for (gi, ci, _o) in v.x:
        if gi in gangs:
            r = data.groups[gi].req
            classes_in[(gi, domain_of(data, data.classes[ci], r.locality.level))].add(ci)
    # (level, domain D) → [(group, within column index, its upper bound)], and → classes the groups reach.
    terms: dict[tuple[str, str], list[tuple[int, int, int]]] = defaultdict(list)
    reach: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)  # class → largest n_g reaching it
    for (gi, d), w in v.within.items():
        if gi not in gangs:
            continue
        cis = classes_in.get((gi, d))
        if not cis:
            continue
        lv0 = data.groups[gi].req.locality.level
        if lv0 not in rank:
            continue
        dm = w.proto.domain
        ub = int(dm[len(dm) - 1])
        for lv in levels[rank[lv0]:]:
            doms = {domain_of(data, data.classes[ci], lv) for ci in cis}
            if len(doms) != 1:
                continue  # domains not nested: the term is left out (a smaller left side, still valid)
            key = (lv, doms.pop())
            terms[key].append((gi, w.index, ub))
            for ci in cis:
                seen = reach[key].get(ci, 0)
                reach[key][ci] = max(seen, gangs[gi])
    out: list[tuple[list[int], list[float], float]] = []
    for key, ts in terms.items():
        sizes = sorted({gangs[gi] for gi, _i, _u in ts})
        for s in sizes:
            room = sum(_free_gpus(data.classes[ci]) for ci, top in reach[key].items() if top >= s)
            rhs = room // s
            cols: dict[int, float] = {}
            most: dict[int, int] = defaultdict(int)
            exact = room % s == 0
            for gi, idx, ub in ts:
                k = gangs[gi] // s
                if k <= 0:
                    continue
                if gangs[gi] % s:
                    exact = False
                cols[idx] = float(k)
                most[gi] += ub
            if not cols or exact:
                continue
            top = sum((gangs[gi] // s) * min(data.groups[gi].size, m) for gi, m in most.items())
            if top <= rhs:
                continue  # never binds
            idxs = sorted(cols)
            out.append((idxs, [cols[i] for i in idxs], float(rhs)))
    return out


__all__ = ["room_cuts"]
