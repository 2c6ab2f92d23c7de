"""Turns CP-SAT's values back into units: a layout per MIG GPU, slots per instance, shares per GPU."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from packer.cpsat.data import Data, layout_of, pool_of
from packer.cpsat.variables import Variables
from packer.model import MILLI_PER_GPU, Unit

Value = Callable[[object], int]


def extract(data: Data, v: Variables, value: Value) -> tuple[dict[str, list[Unit]], dict[tuple[str, int], str], set[str]]:
    """(request id → units, (node, gpu) → mode of ``any`` GPUs, ids dropped by share packing)."""
    inst = data.inst
    group_units: dict[int, list[Unit]] = defaultdict(list)
    modes: dict[tuple[str, int], str] = {}
    by_class: dict[int, list[tuple[int, str | None, int]]] = defaultdict(list)
    for (gi, ci, o), var in v.x.items():
        n = value(var)
        if n > 0:
            by_class[ci].append((gi, o, n))
    for c in data.classes:
        node = inst.nodes[c.node]
        if c.host:
            for gi, _, n in by_class[c.index]:
                group_units[gi] += [Unit(node=node.id) for _ in range(n)]
            continue
        gpus = list(c.gpus)
        stays = {(ri, u.key()) for ri, u in c.running if _stays(data, v, value, ri)}
        for pool in data.pools[c.index]:
            slots: list[tuple[int, str, int]] = []  # (gpu, profile, start) free MIG slots
            full: list[int] = []
            shared: dict[int, int] = {}
            share_slots: list[tuple[int, int, int]] = []  # (gpu, milli, k) slots of pattern GPUs
            for mode in c.modes():
                n = value(v.mode[(c.index, pool, mode)])
                mine, gpus = gpus[:n], gpus[n:]
                for g in mine:
                    modes[(node.id, g)] = mode
                if mode == "mig" and mine:
                    lays = _layouts(data, v, value, c.index, pool)
                    for g, lay in zip(mine, lays, strict=False):
                        taken = {(u.profile, u.start) for ri, u in c.running
                                 if u.gpu == g and (ri, u.key()) in stays and u.profile is not None}
                        slots += [(g, name, start) for name, start in lay if (name, start) not in taken]
                elif mode == "full":
                    busy = {u.gpu for ri, u in c.running
                            if (ri, u.key()) in stays and inst.requests[ri].kind == "gpu"}
                    full += [g for g in mine if g not in busy]
                elif mode == "shared" and c.index in v.patterns and mine:
                    pats = v.patterns[c.index]
                    todo = [k for k in range(len(pats)) for _ in range(value(v.pattern[(c.index, pool, k)]))]
                    for i, (g, k) in enumerate(zip(mine, todo, strict=False)):
                        for size, cnt in sorted(pats[k].items(), reverse=True):
                            share_slots += [(g, size, j) for j in range(cnt)]
                        _ = i
                elif mode == "shared":
                    for g in mine:
                        used = sum(inst.requests[ri].gpu_milli or 0 for ri, u in c.running
                                   if u.gpu == g and (ri, u.key()) in stays and inst.requests[ri].kind == "share")
                        shared[g] = MILLI_PER_GPU - used
            items = [(gi, o, n) for gi, o, n in by_class[c.index] if pool_of(inst, data.groups[gi].req) == pool]
            share_items: list[tuple[int, int]] = []
            for gi, o, n in items:
                r = data.groups[gi].req
                for _ in range(n):
                    if r.kind == "mig":
                        k = next(i for i, s in enumerate(slots) if s[1] == o)
                        g, name, start = slots.pop(k)
                        group_units[gi].append(Unit(node=node.id, gpu=g, profile=name, start=start))
                    elif r.kind == "gpu":
                        group_units[gi].append(Unit(node=node.id, gpu=full.pop(0)))
                    else:
                        share_items.append((r.gpu_milli or 0, gi))
            # Pattern slots first (exact); else first fit decreasing (exact whenever the class has one GPU).
            for milli, gi in sorted(share_items, key=lambda t: (-t[0], t[1])):
                k = next((i for i, s in enumerate(share_slots) if s[1] == milli), None)
                if k is not None:
                    g = share_slots.pop(k)[0]
                    group_units[gi].append(Unit(node=node.id, gpu=g, gpu_milli=milli))
                    continue
                g = next((g for g in sorted(shared) if shared[g] >= milli), None)
                if g is None:
                    continue
                shared[g] -= milli
                group_units[gi].append(Unit(node=node.id, gpu=g, gpu_milli=milli))
    placed: dict[str, list[Unit]] = {}
    dropped: set[str] = set()
    for gr in data.groups:
        r = gr.req
        if r.placement is not None:
            if _stays(data, v, value, gr.requests[0]):
                placed[r.id] = list(r.placement)
                continue
        units = group_units.get(gr.index, [])
        if not units:
            continue
        for ri, us in _distribute(data, v, value, gr.index, units).items():
            req = inst.requests[ri]
            if len(us) >= req.need_count:
                placed[req.id] = us
            else:
                dropped.add(req.id)
    for gr in data.groups:
        r = gr.req
        if r.placement is not None and r.id not in placed:
            # A running request is never dropped: if its new units did not pack, it keeps its place.
            placed[r.id] = list(r.placement)
    return placed, modes, dropped


def _stays(data: Data, v: Variables, value: Value, ri: int) -> bool:
    gi = data.group_of[ri]
    return gi not in v.stay or bool(value(v.stay[gi]))


def _layouts(data: Data, v: Variables, value: Value, ci: int, pool: str) -> list[tuple[tuple[str, int], ...]]:
    c = data.classes[ci]
    out = []
    for k, cfg in enumerate(v.configs.get(ci, [])):
        n = value(v.config[(ci, pool, k)])
        if not n:
            continue
        if ci in v.layouts:
            lay = v.layouts[ci][k]
        else:
            lay = layout_of(c.model, v.profiles[ci], tuple(sorted(cfg.items())))
        out += [lay] * n
    return out


def _distribute(data: Data, v: Variables, value: Value, gi: int, units: list[Unit]) -> dict[int, list[Unit]]:
    """Deals a group's units to its requests so each gets count units within its domains."""
    gr = data.groups[gi]
    inst = data.inst
    if gr.size == 1:
        return {gr.requests[0]: units}
    r = gr.req

    def dom(u: Unit, level: str) -> str:
        if level == "gpu":
            return f"{u.node}/{u.gpu}"
        return inst.domain(inst.node(u.node), level)

    def key(u: Unit) -> tuple[object, ...]:
        sp = dom(u, r.spread.level) if r.spread is not None else ""
        return (sp, inst.node_index[u.node], u.gpu, u.start or 0)

    out: dict[int, list[Unit]] = defaultdict(list)
    todo = list(gr.requests)
    if r.locality is not None and r.locality.required:
        per: dict[str, list[Unit]] = defaultdict(list)
        for u in units:
            per[dom(u, r.locality.level)].append(u)
        for d in sorted(per):
            k = max(1, -(-len(per[d]) // r.count))
            mine, todo = todo[:k], todo[k:]
            for i, u in enumerate(sorted(per[d], key=key)):
                out[mine[i % k]].append(u)
    else:
        k = max(1, -(-len(units) // r.count))
        mine = todo[:k]
        for i, u in enumerate(sorted(units, key=key)):
            out[mine[i % k]].append(u)
    return out
