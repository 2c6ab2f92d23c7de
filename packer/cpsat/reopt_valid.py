"""Validity of the move steps' results by their difference from the last plan found valid (session 23).

Every result a move step keeps is checked first (``reopt._valid``: the plan built and passed through the
independent checker :func:`packer.check.check`). At 1,024 GPUs that costs ~200 ms a kept result (building
the ~1,100-request plan ~110 ms, checking it ~90 ms; bench/RESULTS_reopt.md, session 23), while a step
changes tens of requests.

:class:`Memo` remembers the last plan it found valid (``ref``) and checks the next one, ``trial``, as the
checker itself would see it, restricted to what can have changed. Every rule of the checker is either

* about one request (unit counts, unit shapes, modes, models, profiles, MIG starts, locality, spread,
  running work moved or dropped): a request whose units are the same as in ``ref`` passed it there and
  passes it again; the changed ones (added, moved, dropped) are checked;
* about one GPU or one node (MIG overlap and counts, whole-GPU exclusivity, share capacity, host CPU and
  memory, GPU and node isolation, the chosen mode of an ``any`` GPU): a GPU or node holding no unit of a
  changed request holds a subset of what it held in ``ref`` (changed requests only left it), and each of
  these rules that held for a set holds for its subsets; the nodes where a changed request has a unit are
  checked with everything on them;
* global: quotas and the migration cap, which are sums: the sub-instance's tenants get their quota less
  what their requests outside it use, its cap the cap less the moves outside it.

So the restricted check is the checker run (unchanged) on a sub-instance: the nodes where changed requests
now have units, every request with a unit there or changed, and those requests' other nodes and the nodes
where they run (holding only their units: a subset again). It gives the full check's verdict whenever ``ref`` was valid
(tests/test_reopt_s23.py compares the two after random step sequences, valid and invalid). A plan
that changes more than half the requests, or the first plan, is checked whole.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from packer.model import Instance, ObjectiveWeights, Request, Tenant, Unit

#: ``reopt._valid`` with a :class:`Memo` checks a plan by its difference from the last plan found valid
#: (module doc): the same verdicts, a fraction of the time. False: every plan checked whole (the A/B arm).
DIFF = True


class Memo:
    """The last plan found valid, and each request's size and whether it moved, by its units."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.ref: dict[str, tuple[Unit, ...]] | None = None
        self.parts: dict[str, tuple[tuple[Unit, ...], float, bool]] = {}
        self.stats = {"whole": 0, "diff": 0, "same": 0, "requests": 0, "nodes": 0}

    def _part(self, rid: str, key: tuple[Unit, ...]) -> tuple[float, bool]:
        """(GPU-equivalents, whether it moved from where it runs) of ``rid`` on ``key``."""
        from packer.plans import units_equal

        hit = self.parts.get(rid)
        if hit is None or hit[0] != key:
            inst = self.inst
            r = inst.request(rid)
            size = sum(inst.unit_size(r, u) for u in key)
            moved = r.placement is not None and not units_equal(r.placement, key)
            hit = self.parts[rid] = (key, size, moved)
        elif hit[0] is not key:
            self.parts[rid] = (key, hit[1], hit[2])  # the same units as other objects: compared by identity next
        return hit[1], hit[2]

    def valid(self, placed: Mapping[str, Sequence[Unit]]) -> bool:
        """Whether ``placed`` passes the checker (module doc); remembered as ``ref`` when it does."""
        now = {rid: tuple(units) for rid, units in placed.items()}
        ref = self.ref
        if ref is None:
            ok = whole(self.inst, placed)
            self.stats["whole"] += 1
        else:
            changed = [rid for rid, units in now.items() if ref.get(rid) != units]
            changed += [rid for rid in ref if rid not in now]
            if not changed:
                self.stats["same"] += 1
                return True
            ok = self._diff(now, changed)
        if ok:
            self.ref = now
        return ok

    def _diff(self, now: dict[str, tuple[Unit, ...]], changed: list[str]) -> bool:
        inst = self.inst
        hot = {u.node for rid in changed for u in now.get(rid, ())}
        members = set(changed)
        for rid, units in now.items():
            if rid not in members and any(u.node in hot for u in units):
                members.add(rid)
        if 2 * len(members) > len(inst.requests):
            self.stats["whole"] += 1
            return whole(inst, now)
        self.stats["diff"] += 1
        self.stats["requests"] += len(members)
        # quotas and the migration cap: what lies outside the sub-instance is unchanged since ref
        used_out: dict[str, float] = defaultdict(float)
        moved_out = 0
        limited = {t.id for t in inst.tenants if t.max_gpus is not None}
        for rid, units in now.items():
            if rid in members:
                continue
            r = inst.request(rid)
            if r.tenant in limited or r.placement is not None:
                size, moved = self._part(rid, units)
                used_out[r.tenant] += size
                moved_out += int(moved)
        tenants = []
        for t in inst.tenants:
            if t.max_gpus is not None:
                left = t.max_gpus - used_out[t.id]
                if left < -1e-9:
                    return False  # cannot happen while ref was valid: the work outside is ref's
                t = Tenant(id=t.id, isolation=t.isolation, max_gpus=max(0.0, left))
            tenants.append(t)
        cap = inst.objective.max_migrations
        if cap is not None and moved_out > cap:
            return False
        weights = ObjectiveWeights(locality_weight=inst.objective.locality_weight,
                                   migration_weight=inst.objective.migration_weight,
                                   max_migrations=None if cap is None else cap - moved_out)
        reqs: list[Request] = [r for r in inst.requests if r.id in members]
        where = set(hot)
        for r in reqs:  # their other nodes, and where running work runs (its migration is priced there)
            where.update(u.node for u in now.get(r.id, ()))
            where.update(u.node for u in r.placement or ())
        nodes = tuple(n for n in inst.nodes if n.id in where)
        self.stats["nodes"] += len(nodes)
        sub = Instance(name=inst.name, catalog=inst.catalog, topology=inst.topology, nodes=nodes,
                       tenants=tuple(tenants), requests=tuple(reqs), objective=weights)
        # the same catalog and topology lookups as the whole instance's (built from the same fields)
        sub.__dict__["gpu_catalog"] = inst.gpu_catalog
        sub.__dict__["cluster_topology"] = inst.cluster_topology
        return whole(sub, {rid: now[rid] for rid in (r.id for r in reqs) if rid in now})


def whole(inst: Instance, placed: Mapping[str, Sequence[Unit]]) -> bool:
    """Whether ``placed`` passes the independent checker (units, modes, quotas, isolation, host resources)."""
    from packer.check import check
    from packer.cpsat.result import modes_of
    from packer.plans import build_plan

    plan = build_plan(inst, solver="reopt", placed=placed, gpu_modes=modes_of(inst, placed),  # type: ignore[arg-type]
                      unplaced={r.id: "waiting" for r in inst.requests if r.id not in placed})
    return bool(check(inst, plan).ok)


__all__ = ["DIFF", "Memo", "whole"]
