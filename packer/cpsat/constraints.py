"""The rules of SPEC §2-3 as CP-SAT constraints: one small method per rule, named after it."""

from __future__ import annotations

import math
from collections import defaultdict

from ortools.sat.python import cp_model

from packer.cpsat.data import SHARED_POOL, Data, domain_of, pool_of, scaled, share_room
from packer.cpsat.deadline import NEVER, Deadline
from packer.cpsat.variables import LinearExpr, Variables, _unit_cap, stay_of
from packer.model import MILLI_PER_GPU

#: Node isolation, the other tenants' side: a spread request of another tenant has at most
#: max_per_domain units on a node times (1 - the owner's share of the node), where the two tenants' spread
#: replicas cannot all have nodes of their own. Without it the LP splits a node between the owner and
#: everyone's spread replicas (session 22, hetero-102: 1253.90 -> 1248.71). "lp": the rows go to the LP
#: bound only (:attr:`Constraints.lp_cuts`; the CP-SAT model, hence the search, is unchanged); "model":
#: to the CP-SAT model too (its search lost on hetero 0-4 in a deterministic A/B: the rows cost each
#: step's model time); False: neither.
ISOLATION_OTHERS: str | bool = "lp"

#: Node isolation across nodes: a request of a node-isolated tenant t and a request of another tenant
#: cannot both be placed when the nodes each needs (the fewest of its own nodes that hold its units,
#: spread and locality counted) do not fit, disjoint, in the nodes either may use: a row
#: placed[g] / |g| + placed[h] / |h| <= 1 (:meth:`Constraints._isolation_conflicts`). The rows above
#: and the LP's node shares cannot see it: each node is split between the two at a fraction, and a
#: spread of 8 one a node and another of 4 both fit in 10 nodes' shares (session 23, hetero-102:
#: 1248.71 -> 1247.02). "lp": the bound's LP only (as ISOLATION_OTHERS); "model": the CP-SAT model
#: too; False: neither.
ISOLATION_CONFLICTS: str | bool = "lp"


class Constraints:
    """Adds the constraints of one instance to one model."""

    def __init__(self, data: Data, m: cp_model.CpModel, v: Variables) -> None:
        self.data = data
        self.m = m
        self.v = v
        self.inst = data.inst
        # Index x by class and by group once; every rule below walks one of them.
        self.by_class: dict[int, list[tuple[int, str | None, cp_model.IntVar]]] = defaultdict(list)
        self.by_group: dict[int, list[tuple[int, str | None, cp_model.IntVar]]] = defaultdict(list)
        for (gi, ci, o), var in v.x.items():
            self.by_class[ci].append((gi, o, var))
            self.by_group[gi].append((ci, o, var))
        self._units_cache: dict[tuple[int, str], list[tuple[int, str | None, cp_model.IntVar]]] = {}
        self._pool_cache: dict[int, str] = {}
        #: Valid rows for the LP bound only, each (variable indices, coefficients, upper bound): the
        #: row sum(coefficient x variable) <= upper bound (see ISOLATION_OTHERS "lp").
        self.lp_cuts: list[tuple[list[int], list[int], int]] = []
        #: Columns (placed counts of node-isolated tenants' groups in a conflict, the most nodes needed
        #: first) that the bound may branch on (:func:`packer.cpsat.bound.branch_value`).
        self.lp_branch: list[int] = []
        self._need: dict[int, tuple[int, frozenset[int]]] = {}
        #: Placement variables' upper bounds as create_variables made them (variables.MEMO; else empty).
        self._x_ub = v.x_ub

    def _ubx(self, var: cp_model.IntVar) -> int:
        """A placement variable's upper bound: remembered (variables.MEMO), else read from the proto."""
        got = self._x_ub.get(id(var))
        return _ub(var) if got is None else got

    def add_all(self, deadline: Deadline = NEVER) -> None:
        """Adds every rule; ``deadline`` is checked after each (raises
        :class:`~packer.cpsat.deadline.BuildAbandoned` once it has passed)."""
        for rule in (self.one_mode_per_gpu, self.mig_layout_per_gpu, self.mig_capacity,
                     self.mig_running_slots, self.whole_gpu_capacity, self.share_capacity,
                     self.host_resources, self.units_per_request, self.required_locality,
                     self.soft_locality, self.spread, self.quota, self.node_isolation,
                     self.max_migrations):
            rule()
            deadline.check(rule.__name__)

    # ----------------------------------------------------------------------------- GPU rules

    def _pool_units(self, ci: int, pool: str) -> list[tuple[int, str | None, cp_model.IntVar]]:
        """The class's placement variables of groups in ``pool``, in ``by_class`` order (listed once per
        class and pool: the MIG rule reads them once per profile, 333 k reads on inference at 1,024 GPUs)."""
        key = (ci, pool)
        got = self._units_cache.get(key)
        if got is None:
            got = [(gi, o, var) for gi, o, var in self.by_class[ci] if self._group_pool(gi) == pool]
            self._units_cache[key] = got
        return got

    def _group_pool(self, gi: int) -> str:
        got = self._pool_cache.get(gi)
        if got is None:
            got = self._pool_cache[gi] = pool_of(self.inst, self.data.groups[gi].req)
        return got

    def _running(self, ci: int, pool: str):  # type: ignore[no-untyped-def]
        for ri, u in self.data.classes[ci].running:
            if pool_of(self.inst, self.inst.requests[ri]) == pool:
                yield ri, u

    def one_mode_per_gpu(self) -> None:
        """Each GPU is in exactly one mode and belongs to exactly one pool."""
        for c in self.data.classes:
            if c.host:
                continue
            self.m.add(
                sum(self.v.mode[(c.index, p, md)] for p in self.data.pools[c.index] for md in c.modes()) == c.size
            )

    def mig_layout_per_gpu(self) -> None:
        """Each MIG GPU takes one maximal layout (a valid set of non-overlapping instances)."""
        for c in self.data.classes:
            if "mig" not in c.modes():
                continue
            for p in self.data.pools[c.index]:
                cfgs = [var for (ci, pool, _), var in self._configs(c.index, p)]
                if cfgs:
                    self.m.add(sum(cfgs) == self.v.mode[(c.index, p, "mig")])

    def _configs(self, ci: int, pool: str):  # type: ignore[no-untyped-def]
        n = len(self.v.configs.get(ci, []))
        return [((ci, pool, k), self.v.config[(ci, pool, k)]) for k in range(n) if (ci, pool, k) in self.v.config]

    def mig_capacity(self) -> None:
        """Instances of each profile fit in the slots of the chosen layouts (memory slices, max counts)."""
        for c in self.data.classes:
            if "mig" not in c.modes() or not self.v.profiles.get(c.index):
                continue
            cfgs = self.v.configs[c.index]
            for pool in self.data.pools[c.index]:
                by_profile: dict[str | None, list[cp_model.IntVar]] = defaultdict(list)
                for _, o, var in self._pool_units(c.index, pool):
                    by_profile[o].append(var)
                for name in self.v.profiles[c.index]:
                    used = by_profile.get(name, [])
                    stays = [stay_of(self.data, self.v, ri) for ri, u in self._running(c.index, pool) if u.profile == name]
                    if not used and not stays:
                        continue
                    slots = sum(cfgs[k].get(name, 0) * self.v.config[(c.index, pool, k)] for k in range(len(cfgs)))
                    self.m.add(sum(used) + sum(stays) <= slots)

    def mig_running_slots(self) -> None:
        """A running MIG instance that stays keeps its exact start: its layout must contain it.

        Counted per (profile, start) over the class: as many of its GPUs take a layout with that
        slot as instances there stay (two instances at one slot are on two GPUs). Exact for a class
        of one GPU and for GPUs with the same fixed work, a relaxation for a relaxed build.
        """
        for c in self.data.classes:
            if c.index not in self.v.layouts:
                continue
            lays = self.v.layouts[c.index]
            for pool in self.data.pools[c.index]:
                stays: dict[tuple[str, int | None], list[object]] = defaultdict(list)
                for ri, u in self._running(c.index, pool):
                    if u.profile is not None:
                        stays[(u.profile, u.start)].append(stay_of(self.data, self.v, ri))
                for slot, st in stays.items():
                    have = [self.v.config[(c.index, pool, k)] for k, lay in enumerate(lays) if slot in lay]
                    self.m.add(sum(have) >= sum(st))  # type: ignore[arg-type]

    def whole_gpu_capacity(self) -> None:
        """A full-mode GPU holds at most one whole-GPU unit."""
        for c in self.data.classes:
            if "full" not in c.modes():
                continue
            for pool in self.data.pools[c.index]:
                used = [var for gi, _, var in self._pool_units(c.index, pool) if self.data.groups[gi].req.kind == "gpu"]
                stays = [stay_of(self.data, self.v, ri) for ri, _ in self._running(c.index, pool)
                         if self.inst.requests[ri].kind == "gpu"]
                if used or stays:
                    self.m.add(sum(used) + sum(stays) <= self.v.mode[(c.index, pool, "full")])

    def share_capacity(self) -> None:
        """Shares on a shared-mode GPU sum to at most 1000 milli (per GPU; aggregated classes add bin cuts)."""
        for c in self.data.classes:
            if "shared" not in c.modes():
                continue
            for pool in self.data.pools[c.index]:
                units = [(self.data.groups[gi].req.gpu_milli or 0, var) for gi, _, var in self._pool_units(c.index, pool)
                         if self.data.groups[gi].req.kind == "share"]
                stays = [(self.inst.requests[ri].gpu_milli or 0, stay_of(self.data, self.v, ri))
                         for ri, _ in self._running(c.index, pool) if self.inst.requests[ri].kind == "share"]
                if not units and not stays:
                    continue
                n_shared = self.v.mode[(c.index, pool, "shared")]
                # A GPU that keeps a running share is in mode shared, whatever the milli: a pinned share
                # on an 'any' GPU (a sub-problem's border) must not let its GPU become 'full' or 'mig'.
                on_gpu: dict[int, list[LinearExpr]] = defaultdict(list)
                for ri, u in self._running(c.index, pool):
                    if self.inst.requests[ri].kind == "share" and u.gpu is not None:
                        on_gpu[u.gpu].append(stay_of(self.data, self.v, ri))
                if any(not isinstance(s, int) for ss in on_gpu.values() for s in ss):
                    for ss in on_gpu.values():
                        for s in ss:
                            self.m.add(n_shared >= s)  # movable running work: a class of one GPU
                elif on_gpu:
                    self.m.add(n_shared >= len(on_gpu))
                pats = self.v.patterns.get(c.index)
                if pats:
                    # Aggregated class: each shared GPU takes one maximal pattern of share sizes.
                    pv = [self.v.pattern[(c.index, pool, k)] for k in range(len(pats))]
                    self.m.add(sum(pv) == n_shared)
                    by_size: dict[int, list[cp_model.IntVar]] = defaultdict(list)
                    for mi, var in units:
                        by_size[mi].append(var)
                    for size in sorted(by_size):
                        slots = sum(p.get(size, 0) * var for p, var in zip(pats, pv, strict=True))
                        self.m.add(sum(by_size[size]) <= slots)
                    continue
                self.m.add(sum(mi * var for mi, var in units + stays) <= MILLI_PER_GPU * n_shared)
                if c.size <= 1:
                    continue
                # Relaxation for classes with too many patterns: big shares never share a GPU, at most
                # two mid ones do. Where fixed running shares leave the same room on every GPU (data.py)
                # the same cuts hold for that room, and a new share larger than it fits nowhere (with no
                # size fitting it there are no patterns, and the milli sum alone let a 600-milli share in
                # beside two 460s on two GPUs: found by tests/test_decompose_subinstances.py).
                cuts = [(MILLI_PER_GPU, units + stays)]
                room = share_room(self.data, c)
                if room is not None and room < MILLI_PER_GPU and c.running:
                    for mi, var in units:
                        if mi > room:
                            self.m.add(var == 0)
                    self.m.add(sum(mi * var for mi, var in units) <= room * n_shared)
                    cuts.append((room, units))
                for cap, items in cuts:
                    big = [var for mi, var in items if 2 * mi > cap]
                    if big:
                        self.m.add(sum(big) <= n_shared)
                    mid = [var for mi, var in items if 3 * mi > cap]
                    if mid:
                        self.m.add(sum(mid) <= 2 * n_shared)

    def host_resources(self) -> None:
        """Units on a node fit its CPU and memory, running units that stay included."""
        per_node: dict[int, list[tuple[int, int, object]]] = defaultdict(list)
        for (gi, ci, _), var in self.v.x.items():
            r = self.data.groups[gi].req
            if r.cpu_milli or r.memory_mib:
                per_node[self.data.classes[ci].node].append((r.cpu_milli, r.memory_mib, var))
        for ri, r in enumerate(self.inst.requests):
            if r.cpu_milli or r.memory_mib:
                for u in r.placement or ():
                    per_node[self.inst.node_index[u.node]].append((r.cpu_milli, r.memory_mib, stay_of(self.data, self.v, ri)))
        for ni, terms in per_node.items():
            node = self.inst.nodes[ni]
            if node.cpu_milli is not None and any(cpu for cpu, _, _ in terms):
                self.m.add(sum(cpu * var for cpu, _, var in terms) <= node.cpu_milli)
            if node.memory_mib is not None and any(mem for _, mem, _ in terms):
                self.m.add(sum(mem * var for _, mem, var in terms) <= node.memory_mib)

    # -------------------------------------------------------------------------- request rules

    def units_per_request(self) -> None:
        """A placed request gets between min_count and count units; an unplaced one gets none."""
        for gi, act in self.v.active.items():
            gr = self.data.groups[gi]
            r = gr.req
            total = sum(var for _, _, var in self.by_group[gi])
            per_class: dict[int, list[cp_model.IntVar]] = defaultdict(list)
            for ci, _, var in self.by_group[gi]:
                per_class[ci].append(var)
            if gr.size == 1:
                for xs in per_class.values():
                    ub = min(r.count, sum(self._ubx(var) for var in xs))
                    self.m.add(sum(xs) <= ub * act)
            if r.need_count == r.count:
                self.m.add(total == r.count * act)
            else:
                self.m.add(total >= r.need_count * act)
                self.m.add(total <= r.count * act)

    def _by_domain(self, gi: int, level: str) -> dict[str, list[cp_model.IntVar]]:
        out: dict[str, list[cp_model.IntVar]] = defaultdict(list)
        for ci, _, var in self.by_group[gi]:
            out[domain_of(self.data, self.data.classes[ci], level)].append(var)
        return out

    def required_locality(self) -> None:
        """All units of a request with a required locality lie in one domain of its level."""
        for gi, act in self.v.active.items():
            r = self.data.groups[gi].req
            if r.locality is None or not r.locality.required:
                continue
            doms = self._by_domain(gi, r.locality.level)
            self.m.add(sum(self.v.within[(gi, d)] for d in doms) == act)
            for ci, _, var in self.by_group[gi]:
                # Linking each class to its domain's choice keeps the LP from smearing the request.
                d = domain_of(self.data, self.data.classes[ci], r.locality.level)
                self.m.add(var <= min(self._ubx(var), r.count) * self.v.within[(gi, d)])
            for d, xs in doms.items():
                w = self.v.within[(gi, d)]
                if r.need_count == r.count:
                    self.m.add(sum(xs) == r.count * w)
                else:
                    self.m.add(sum(xs) <= r.count * w)

    def soft_locality(self) -> None:
        """A request with a soft locality marks each domain it uses (the objective counts them)."""
        for gi in self.v.active:
            r = self.data.groups[gi].req
            if r.locality is None or r.locality.required:
                continue
            for d, xs in self._by_domain(gi, r.locality.level).items():
                u = self.v.uses[(gi, d)]
                self.m.add(sum(xs) <= r.count * u)
                self.m.add(sum(xs) >= u)

    def spread(self) -> None:
        """At most max_per_domain units of each request per domain of its spread level."""
        for gi, act in self.v.active.items():
            gr = self.data.groups[gi]
            r = gr.req
            if r.spread is None:
                continue
            k = r.spread.max_per_domain
            if k >= r.count:
                continue
            loc_req = r.locality is not None and r.locality.required
            for d, xs in self._by_domain(gi, r.spread.level).items():
                if loc_req and gr.size > 1:
                    # Grouped requests with a locality: the spread domain sits inside one locality domain.
                    ci = next(ci for ci, _, var in self.by_group[gi] if domain_of(self.data, self.data.classes[ci], r.spread.level) == d)
                    ld = domain_of(self.data, self.data.classes[ci], r.locality.level)  # type: ignore[union-attr]
                    self.m.add(sum(xs) <= k * self.v.within[(gi, ld)])
                else:
                    self.m.add(sum(xs) <= k * act)

    def quota(self) -> None:
        """A tenant's GPU-equivalents, running and new, stay within max_gpus."""
        s = self.data.scale
        for t in self.inst.tenant_map.values():
            if t.max_gpus is None:
                continue
            terms = []
            const = 0
            for (gi, ci, o), var in self.v.x.items():
                r = self.data.groups[gi].req
                if r.tenant == t.id:
                    terms.append(scaled(_value(self.data, r, ci, o), s) * var)
            for ri, r in enumerate(self.inst.requests):
                if r.tenant != t.id or r.placement is None:
                    continue
                size = scaled(sum(self.inst.unit_size(r, u) for u in r.placement), s)
                st = stay_of(self.data, self.v, ri)
                if isinstance(st, int):
                    const += size * st
                else:
                    terms.append(size * st)
            if terms:
                self.m.add(sum(terms) + const <= int(t.max_gpus * s + 1e-6))
                self._quota_per_group(t.id, (t.max_gpus * s - const) / s)

    def _quota_per_group(self, tenant: str, room: float) -> None:
        """No group places more requests than fit in its tenant's quota one by one.

        The quota row alone lets the LP relaxation place a fraction of a request bigger than the
        quota left (haein-4: three quarters of a 64-GPU gang of a tenant with 51 GPUs, worth 96).
        A request needs at least min_count units of its smallest size, so at most
        floor(room / that) requests of a group fit: a valid bound that is also the LP's.
        """
        for gi, act in self.v.active.items():
            gr = self.data.groups[gi]
            r = gr.req
            if r.tenant != tenant or gi in self.v.stay or not self.by_group[gi]:
                continue
            unit = min(_value(self.data, r, ci, o) for ci, o, _ in self.by_group[gi])
            need = r.need_count * unit
            if need <= 0:
                continue
            most = math.floor(max(0.0, room) / need + 1e-9)
            if most < gr.size:
                self.m.add(act <= most)

    def node_isolation(self) -> None:
        """A node-isolated tenant's node holds no other tenant's units.

        Written so that the LP relaxation keeps most of the rule: a node is shared out by GPU
        capacity (the owner's units fill at most ``own`` of each class, everyone else's at most
        ``1 − own``), each request of the owner is linked to ``own`` node by node with the most
        units it can have there (one spread replica per node needs the whole node), and running
        work decides the owner request by request. Sums with a large common bound instead let the
        LP give a node to everybody at once.
        """
        if not self.v.owns:
            return
        d, inst = self.data, self.inst
        classes_on: dict[int, list[int]] = defaultdict(list)
        for c in d.classes:
            classes_on[c.node].append(c.index)
        running_on: dict[int, set[int]] = defaultdict(set)
        for ri, r in enumerate(inst.requests):
            for u in r.placement or ():
                running_on[inst.node_index[u.node]].add(ri)
        group_node: dict[tuple[int, int], list[cp_model.IntVar]] = defaultdict(list)
        for (gi, ci, _), var in self.v.x.items():
            group_node[(gi, d.classes[ci].node)].append(var)
        groups_on: dict[int, list[int]] = defaultdict(list)
        for (gi, ni) in group_node:
            groups_on[ni].append(gi)
        contested = self._contested(group_node) if ISOLATION_OTHERS else set()
        for (ni, t), own in self.v.owns.items():
            for ri in sorted(running_on.get(ni, ())):
                st = stay_of(d, self.v, ri)
                if inst.requests[ri].tenant == t:
                    self.m.add(own >= st)
                else:
                    self.m.add(own <= 1 - st)
            for ci in classes_on[ni]:
                mine, other, cap = self._class_load(ci, t)
                if mine:
                    self.m.add(sum(mine) <= cap * own)
                if other:
                    self.m.add(sum(other) <= cap * (1 - own))
            for gi in sorted(groups_on[ni]):
                r = d.groups[gi].req
                if r.tenant != t and not ISOLATION_OTHERS:
                    continue
                xs = group_node[(gi, ni)]
                ub = min(sum(self._ubx(var) for var in xs), r.count * d.groups[gi].size)
                if r.spread is not None and r.spread.level != "gpu":
                    ub = min(ub, r.spread.max_per_domain * d.groups[gi].size)
                if r.tenant == t:
                    self.m.add(sum(xs) <= ub * own)
                elif (t, gi) in contested and ub < self._node_units(gi, classes_on[ni]):
                    # The other side of the same rule: another tenant's spread replicas on the node
                    # need it unowned, at most max_per_domain of them. The class capacities alone
                    # let a node owned at 0.8 take a replica into its 0.2 (a spread request of 8 one per
                    # node then crowds no one out); they imply this only where ub replicas fill the node.
                    if ISOLATION_OTHERS == "lp":
                        self.lp_cuts.append(([var.index for var in xs] + [own.index], [1] * len(xs) + [ub], ub))
                    else:
                        self.m.add(sum(xs) <= ub * (1 - own))
        if ISOLATION_CONFLICTS:
            pairs = self._isolation_conflicts()
            owners_in = sorted({g for g, _ in pairs}, key=lambda g: (-self._need[g][0], g))
            self.lp_branch = [self.v.active[g].index for g in owners_in]  # type: ignore[union-attr]
            for g, h in pairs:
                ag, ah = self.v.active[g], self.v.active[h]
                sg, sh = d.groups[g].size, d.groups[h].size
                if ISOLATION_CONFLICTS == "lp":
                    self.lp_cuts.append(([ag.index, ah.index], [sh, sg], sg * sh))  # type: ignore[union-attr]
                else:
                    self.m.add(sh * ag + sg * ah <= sg * sh)

    def _nodes_needed(self, owners: list[str]) -> dict[int, tuple[int, frozenset[int]]]:
        """New group -> (the fewest nodes one of its requests can be placed on, the nodes it may use), for
        the groups that can be in a conflict with ``owners`` (the node-isolated tenants).

        A node holds at most the units its placement variables allow (their upper bounds), no more
        than the request's count and, under a spread at any level that contains nodes, max_per_domain;
        with a required locality the nodes must lie in one domain of its level (the best domain
        counts). Enough nodes must hold min_count units. Groups of running requests are left out.
        A group needs at most min_count nodes, so one whose nodes outnumber that plus the most the other
        side can need is in no conflict: it is left out before its variables' bounds are read (at
        16,384 GPUs reading them all took seconds)."""
        d, inst = self.data, self.inst
        nodes_of: dict[int, set[int]] = {}
        for gi, xs in self.by_group.items():
            r = d.groups[gi].req
            if gi in self.v.stay or isinstance(self.v.active.get(gi), int) or r.need_count <= 0:
                continue
            nodes_of[gi] = {d.classes[ci].node for ci, _, _ in xs}
        most = {t: max((d.groups[g].req.need_count for g in nodes_of if d.groups[g].req.tenant == t), default=0)
                for t in owners}
        most_other = {t: max((d.groups[g].req.need_count for g in nodes_of if d.groups[g].req.tenant != t), default=0)
                      for t in owners}
        out: dict[int, tuple[int, frozenset[int]]] = {}
        for gi, nodes in nodes_of.items():
            r = d.groups[gi].req
            # as an owner's group: what the others can need; as another tenant's: what an owner can
            slack = max([most_other[r.tenant] if r.tenant in most else 0] + [most[t] for t in owners if t != r.tenant])
            if len(nodes) >= r.need_count + slack:
                continue
            per_node: dict[int, int] = defaultdict(int)
            for ci, _, var in self.by_group[gi]:
                per_node[d.classes[ci].node] += self._ubx(var)
            k = r.spread.max_per_domain if r.spread is not None and r.spread.level != "gpu" else r.count
            level = r.locality.level if r.locality is not None and r.locality.required else None
            doms: dict[str, list[int]] = defaultdict(list)
            for ni, u in per_node.items():
                key = "" if level is None else (inst.nodes[ni].id if level == "gpu" else inst.domain(inst.nodes[ni], level))
                doms[key].append(min(u, r.count, k))
            best = None
            for units in doms.values():
                units.sort(reverse=True)
                held = used = 0
                for u in units:
                    if held >= r.need_count:
                        break
                    held += u
                    used += 1
                if held >= r.need_count and (best is None or used < best):
                    best = used
            if best:
                out[gi] = (best, frozenset(per_node))
        return out

    def _isolation_conflicts(self) -> list[tuple[int, int]]:
        """(group g of a node-isolated tenant t, group h of another tenant) that no plan places both:
        the nodes holding g's units hold no other tenant's, so g's and h's nodes are disjoint, and g
        needs n_g of its nodes S_g, h needs n_h of S_h, with n_g + n_h > |S_g | S_h|."""
        owners = sorted({t for (_, t) in self.v.owns})
        if not owners:
            return []
        need = self._need = self._nodes_needed(owners)
        out = []
        for t in owners:
            mine = [(g, *need[g]) for g in sorted(need) if self.data.groups[g].req.tenant == t]
            other = [(h, *need[h]) for h in sorted(need) if self.data.groups[h].req.tenant != t]
            # A pair needs n_g + n_h > |S_g| and > |S_h|: only groups with few nodes for what the other
            # side can need take part (at 16,384 GPUs most groups may use thousands of nodes).
            most_mine = max((n for _, n, _ in mine), default=0)
            most_other = max((n for _, n, _ in other), default=0)
            mine = [(g, n, sg) for g, n, sg in mine if len(sg) < n + most_other]
            other = [(h, n, sh) for h, n, sh in other if len(sh) < n + most_mine]
            for g, ng, sg in mine:
                for h, nh, sh in other:
                    if ng + nh > max(len(sg), len(sh)) and ng + nh > len(sg | sh):
                        out.append((g, h))
        return out

    def _contested(self, group_node: dict[tuple[int, int], list[cp_model.IntVar]]) -> set[tuple[str, int]]:
        """(node-isolated tenant t, another tenant's spread group g) where g's replicas and t's own spread
        replicas cannot all have nodes of their own: g needs ceil(units / max_per_domain) nodes, each of
        t's spread groups whose nodes all lie among g's needs its own count, and together they need more
        than g's nodes. Only there can the owner's share of a node push g's replicas out; elsewhere the
        LP places both on nodes of their own at no cost, the rows never bind (haein: the same LP with
        7-9k more rows, its LP twice as slow)."""
        d = self.data
        owners = {t for (_, t) in self.v.owns}
        nodes_of: dict[int, set[int]] = defaultdict(set)
        for (gi, ni) in group_node:
            nodes_of[gi].add(ni)

        def need(gi: int) -> int:
            r = d.groups[gi].req
            k = r.spread.max_per_domain if r.spread is not None and r.spread.level != "gpu" else None
            return -(-r.count * d.groups[gi].size // k) if k else 0

        spread = [gi for gi in nodes_of if need(gi) > 1]
        out: set[tuple[str, int]] = set()
        for t in owners:
            mine = [h for h in spread if d.groups[h].req.tenant == t]
            for gi in spread:
                if d.groups[gi].req.tenant == t:
                    continue
                ng = nodes_of[gi]
                held = sum(need(h) for h in mine if nodes_of[h] <= ng)
                if held and need(gi) + held > len(ng):
                    out.add((t, gi))
        return out

    def _node_units(self, gi: int, classes: list[int]) -> int:
        """Most units of group ``gi`` the GPUs of ``classes`` (one node's) can hold, by size alone."""
        d = self.data
        r = d.groups[gi].req
        return sum(_unit_cap(r, d.classes[ci], d.options[(gi, ci)]) for ci in classes if (gi, ci) in d.options)

    def _class_load(self, ci: int, t: str) -> tuple[list, list, int]:  # type: ignore[type-arg]
        """(tenant ``t``'s load terms, everyone else's, the class's capacity) on one class.

        Load is in a unit common to every mode: a GPU holds ``per_gpu`` of it, whole-GPU units take
        all of it, shares their milli fraction, MIG instances their compute slices' fraction (a MIG
        GPU's instances never use more compute slices than its largest configuration). A host class
        counts units against a bound of its own (host units take no GPU).
        """
        d, inst = self.data, self.inst
        c = d.classes[ci]
        mine: list[object] = []
        other: list[object] = []
        if c.host:
            terms = [(d.groups[gi].req.tenant, var, self._ubx(var)) for gi, _, var in self.by_class[ci]]
            terms += [(inst.requests[ri].tenant, stay_of(d, self.v, ri), 1) for ri, _ in c.running]
            cap = sum(ub for _, _, ub in terms)
            for tt, var, _ in terms:
                (mine if tt == t else other).append(var)
            return mine, other, cap
        assert c.model is not None
        slices = c.model.compute_slices or 1
        for cfg in self.v.configs.get(ci, []):  # the catalogue's rule, checked against the layouts used
            slices = max(slices, sum(n * c.model.profile(name).spec.compute for name, n in cfg.items()))  # type: ignore[union-attr]
        per_gpu = slices * MILLI_PER_GPU

        def load(r, profile: str | None) -> int:  # type: ignore[no-untyped-def]
            if r.kind == "gpu":
                return per_gpu
            if r.kind == "share":
                return (r.gpu_milli or 0) * slices
            if r.kind == "mig" and profile is not None:
                p = c.model.profile(profile)  # type: ignore[union-attr]
                return p.spec.compute * MILLI_PER_GPU if p is not None else 0
            return 0

        for gi, o, var in self.by_class[ci]:
            r = d.groups[gi].req
            w = load(r, o)
            if w:
                (mine if r.tenant == t else other).append(w * var)
        for ri, u in c.running:
            r = inst.requests[ri]
            w = load(r, u.profile)
            if w:
                (mine if r.tenant == t else other).append(w * stay_of(d, self.v, ri))
        return mine, other, c.size * per_gpu

    def max_migrations(self) -> None:
        """At most max_migrations running requests move."""
        cap = self.inst.objective.max_migrations
        counted = [s for gi, s in self.v.stay.items() if gi not in self.data.uncounted]
        if cap is not None and counted:
            self.m.add(sum(1 - s for s in counted) <= cap)


def _ub(var: cp_model.IntVar) -> int:
    d = var.proto.domain
    return int(d[len(d) - 1])


def _value(data: Data, r, ci: int, o: str | None) -> float:  # type: ignore[no-untyped-def]
    from packer.cpsat.data import unit_value

    return unit_value(data.inst, r, data.classes[ci].model, o)


__all__ = ["Constraints", "SHARED_POOL"]
