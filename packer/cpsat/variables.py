"""The decision variables of the CP-SAT model, created from :class:`~packer.cpsat.data.Data`."""

from __future__ import annotations

from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from packer.cpsat.data import (
    Data,
    Option,
    domain_of,
    mig_configs,
    mig_layouts,
    movable,
    share_patterns,
    share_room,
)
from packer.cpsat.deadline import NEVER, Deadline
from packer.model import MILLI_PER_GPU

LinearExpr = cp_model.LinearExprT

#: Remember what the build computes more than once, per build (session 24): each (group, class)'s unit
#: cap (:func:`_unit_cap`, read by :func:`_usable_classes` and again for the variable's domain), each
#: placement variable's upper bound (:attr:`Variables.x_ub`, read by the rules instead of asking OR-Tools'
#: proto for the domain, ~4 µs a call, ~4,000 calls a 1,024-GPU move step's model), and each objective
#: coefficient per (group, GPU model, option) (:func:`packer.cpsat.objective.set_objective`). The same
#: numbers in the same order: the same model proto to the byte (tests/test_frag24_build.py). Off: it saves
#: 0-10 % of a step's build on fragmented-104's and -4's regions (1-2 % of a step),
#: and the timed pairs showed no gain (bench/RESULTS_reopt.md "Session 24 (branch frag24)"). False: compute
#: each where it is read.
MEMO = False

#: The settings an LP child process takes from its parent (:data:`packer.cpsat.reopt_late.CHILD_SETTINGS`).
SETTINGS = ("MEMO",)


@dataclass
class Variables:
    """All variables, keyed by the indices of :class:`Data`."""

    #: (group, class, option) → units of the group placed on the class with that option.
    x: dict[tuple[int, int, Option], cp_model.IntVar] = field(default_factory=dict)
    #: group → requests of the group placed (new requests) / moved (a movable running request).
    active: dict[int, LinearExpr] = field(default_factory=dict)
    #: group → Boolean "stays where it runs" for movable running requests.
    stay: dict[int, cp_model.IntVar] = field(default_factory=dict)
    #: (class, pool, mode) → GPUs of the class given to that pool in that mode.
    mode: dict[tuple[int, str, str], cp_model.IntVar] = field(default_factory=dict)
    #: (class, pool, config) → GPUs of the class in that MIG configuration (multiset, or layout if dirty).
    config: dict[tuple[int, str, int], cp_model.IntVar] = field(default_factory=dict)
    #: class → the configurations' profile counts (and layouts for dirty classes).
    configs: dict[int, list[dict[str, int]]] = field(default_factory=dict)
    layouts: dict[int, list[tuple[tuple[str, int], ...]]] = field(default_factory=dict)
    profiles: dict[int, tuple[str, ...]] = field(default_factory=dict)
    #: (class, pool, pattern) → shared GPUs of an aggregated class filled with that share pattern.
    pattern: dict[tuple[int, str, int], cp_model.IntVar] = field(default_factory=dict)
    #: class → share patterns (milli size → count per GPU) of aggregated classes.
    patterns: dict[int, list[dict[int, int]]] = field(default_factory=dict)
    #: (group, domain) → requests of the group placed within the domain (required locality).
    within: dict[tuple[int, str], cp_model.IntVar] = field(default_factory=dict)
    #: (group, domain) → the request uses the domain (soft locality).
    uses: dict[tuple[int, str], cp_model.IntVar] = field(default_factory=dict)
    #: (node, tenant) → the node-isolated tenant owns the node.
    owns: dict[tuple[int, str], cp_model.IntVar] = field(default_factory=dict)
    #: With MEMO: id of each placement variable (``x``'s values) → its upper bound; else empty.
    x_ub: dict[int, int] = field(default_factory=dict)


def stay_of(data: Data, v: Variables, ri: int) -> LinearExpr:
    """1 when running request ``ri`` keeps its placement (always, unless movable)."""
    gi = data.group_of[ri]
    return v.stay[gi] if gi in v.stay else 1


#: Placement variables created between two looks at a build's deadline.
DEADLINE_EVERY = 4096


def create_variables(data: Data, m: cp_model.CpModel, deadline: Deadline = NEVER) -> Variables:
    """Creates every variable with tight domains; ``deadline`` is checked every DEADLINE_EVERY
    placement variables (raises :class:`~packer.cpsat.deadline.BuildAbandoned` once it has passed)."""
    v = Variables()
    inst = data.inst
    for gr in data.groups:
        r = gr.req
        if r.placement is not None and not r.movable:
            continue
        if movable(r):
            s = m.new_bool_var(f"stay[{r.id}]")
            v.stay[gr.index] = s
            v.active[gr.index] = 1 - s
        elif gr.size == 1:
            v.active[gr.index] = m.new_bool_var(f"placed[{r.id}]")
        else:
            v.active[gr.index] = m.new_int_var(0, gr.size, f"placed[{r.id}+{gr.size - 1}]")
    caps: dict[tuple[int, int], int] | None = {} if MEMO else None
    usable = _usable_classes(data, caps)
    for (gi, ci), opts in data.options.items():
        if gi not in v.active or ci not in usable.get(gi, ()):
            continue
        gr = data.groups[gi]
        c = data.classes[ci]
        r = gr.req
        cap = caps[(gi, ci)] if caps is not None else _unit_cap(r, c, opts)
        ub = min(cap, r.count * gr.size)
        for o in opts:
            var = v.x[(gi, ci, o)] = m.new_int_var(0, ub, f"x[{r.id},{ci},{o}]")
            if caps is not None:
                v.x_ub[id(var)] = ub
            if len(v.x) % DEADLINE_EVERY == 0:
                deadline.check("variables")
    opts_on: dict[int, set[str]] = {}
    share_on: dict[int, set[int]] = {}
    classes_of: dict[int, set[int]] = {}
    for (gi, ci, o) in v.x:
        classes_of.setdefault(gi, set()).add(ci)
        if o is not None:
            opts_on.setdefault(ci, set()).add(o)
        elif data.groups[gi].req.kind == "share":
            share_on.setdefault(ci, set()).add(data.groups[gi].req.gpu_milli or 0)
    for c in data.classes:
        if c.host:
            continue  # no GPU: no mode, configuration or pattern
        relevant = set(opts_on.get(c.index, ()))
        relevant |= {u.profile for _, u in c.running if u.profile is not None}
        prof = tuple(sorted(relevant))
        v.profiles[c.index] = prof
        if c.dirty and prof:
            lays = mig_layouts(c.model, prof)
            v.layouts[c.index] = lays
            v.configs[c.index] = [_count(lay) for lay in lays]
        elif prof:
            v.configs[c.index] = mig_configs(c.model, prof)
        for pool in data.pools[c.index]:
            for mode in c.modes():
                v.mode[(c.index, pool, mode)] = m.new_int_var(0, c.size, f"mode[{c.index},{pool},{mode}]")
            if "mig" in c.modes() and prof:
                for k in range(len(v.configs[c.index])):
                    v.config[(c.index, pool, k)] = m.new_int_var(0, c.size, f"cfg[{c.index},{pool},{k}]")
    for c in data.classes:
        if c.size <= 1 or "shared" not in c.modes():
            continue
        # Fixed running shares take the same room on every GPU of the class: patterns fill the rest.
        room = share_room(data, c)
        if room is None:
            continue  # the GPUs' running work differs: no common room to cut into patterns
        sizes = tuple(sorted(share_on.get(c.index, ())))
        pats = share_patterns(sizes, room) if sizes and room > 0 else None
        if pats:
            v.patterns[c.index] = pats
            for pool in data.pools[c.index]:
                for k in range(len(pats)):
                    v.pattern[(c.index, pool, k)] = m.new_int_var(0, c.size, f"pat[{c.index},{pool},{k}]")
    for gr in data.groups:
        if gr.index not in v.active:
            continue
        r = gr.req
        classes = sorted(classes_of.get(gr.index, ()))
        if r.locality is not None:
            doms = sorted({domain_of(data, data.classes[ci], r.locality.level) for ci in classes})
            for d in doms:
                if r.locality.required:
                    v.within[(gr.index, d)] = m.new_int_var(0, gr.size, f"within[{r.id},{d}]")
                else:
                    v.uses[(gr.index, d)] = m.new_bool_var(f"uses[{r.id},{d}]")
    isolated = [t.id for t in inst.tenant_map.values() if t.isolation == "node"]
    if isolated:
        for ni in sorted({c.node for c in data.classes}):
            for t in isolated:
                v.owns[(ni, t)] = m.new_bool_var(f"owns[{inst.nodes[ni].id},{t}]")
    return v


def _usable_classes(data: Data, caps: dict[tuple[int, int], int] | None = None) -> dict[int, set[int]]:
    """Group → classes worth a variable: those in a domain that could hold one whole request alone.

    A required-locality request needs one domain with at least min_count units of room (counting
    the spread cap per spread domain); domains without that room are left out. This is what keeps
    the LP relaxation from spreading a 32-GPU gang thinly over every rack. ``caps``: receives each
    (group, class)'s :func:`_unit_cap`.
    """
    per_group: dict[int, list[int]] = {}
    for (gi, ci) in data.options:
        per_group.setdefault(gi, []).append(ci)
    out: dict[int, set[int]] = {}
    for gi, cis in per_group.items():
        r = data.groups[gi].req
        loc = r.locality.level if r.locality is not None and r.locality.required else "cluster"
        room: dict[str, dict[str, int]] = {}
        for ci in cis:
            c = data.classes[ci]
            d = domain_of(data, c, loc) if loc != "cluster" else "cluster"
            sd = domain_of(data, c, r.spread.level) if r.spread is not None else ci
            room.setdefault(d, {}).setdefault(str(sd), 0)
            cap = _unit_cap(r, c, data.options[(gi, ci)])
            if caps is not None:
                caps[(gi, ci)] = cap
            room[d][str(sd)] += cap
        ok = set()
        for d, per in room.items():
            k = r.spread.max_per_domain if r.spread is not None else None
            total = sum(min(k, n) if k is not None else n for n in per.values())
            if total >= r.need_count:
                ok.add(d)
        out[gi] = {ci for ci in cis
                   if (domain_of(data, data.classes[ci], loc) if loc != "cluster" else "cluster") in ok}
    return out


def _unit_cap(r, c, opts) -> int:  # type: ignore[no-untyped-def]
    """Most units of ``r`` a class can hold (a loose bound for the variable's domain)."""
    if r.kind == "host":
        return r.count * 10**6  # any number per node, as CPU and memory allow (capped by the caller)
    if r.kind == "gpu":
        return c.size
    if r.kind == "share":
        return c.size * (MILLI_PER_GPU // (r.gpu_milli or MILLI_PER_GPU))
    most = max((p.max_count for p in (c.model.profile(o) for o in opts) if p is not None), default=0)
    return c.size * most


def _count(layout: tuple[tuple[str, int], ...]) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, _ in layout:
        out[name] = out.get(name, 0) + 1
    return out
