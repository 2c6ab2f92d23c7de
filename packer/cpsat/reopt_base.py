"""One online placer kept loaded with the re-optimizer's plan across move steps, and the plan's value kept
per request (session 22).

The placer-based move steps (spread, gang, pack: :mod:`packer.cpsat.reopt_spread`, ``reopt_gang``,
``reopt_pack``) each start from a placer holding the whole current plan and fork it per try. Loading
that placer anew every step (``_place_exact`` of ~1,100 requests at 1,024 GPUs), reading every request's
units back out of each try's fork and summing the whole plan's objective per try cost more than the
step's own placing: on fragmented-104's no-move plan four spread steps took 4.1 s, of which 2.1 s
reading units back, 0.9 s objectives and 0.5 s loading placers (bench/RESULTS_reopt.md, session 22).

:class:`BaseCache` keeps one placer and the plan it holds; :meth:`BaseCache.get` brings it to a new plan
by releasing and re-placing only the requests whose units changed, then sets what a fresh load would
have set that depends on the order of the loads (the order of placed requests, each tenant's use summed
in the plan's order), so that the placer it returns is the same as a fresh one loaded with the plan
(tests/test_reopt_base_s22.py compares every array). :meth:`BaseCache.objective` is
:func:`packer.plans.objective_value` with each request's part remembered for its units: the same sum,
in the same order, to the last bit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from packer.model import Instance, Unit

#: The placers' policy (reopt_spread.POLICY, reopt_gang.POLICY and reopt_pack.POLICY are all best-fit).
POLICY = "best-fit"
#: Gang and pack steps also take their placer from the move steps' :class:`BaseCache` (instead of loading
#: one with the plan per step), and pack and CP-SAT move steps their objective from its remembered parts
#: (the CP-SAT step's merged plan: 40 ms a step at 1,024 GPUs, load 8, against 0.2 ms). Same plans
#: (bench/RESULTS_reopt.md, session 22). False: each loads its own (the A/B arm). Spread steps: INCREMENTAL
#: in :mod:`packer.cpsat.reopt_spread`.
SHARED = True
#: Session 23: each request's unit sizes remembered by its units (:meth:`BaseCache.unit_sizes`), so that what
#: every move-step iteration sums over the whole plan (the running work's use per tenant for the spread and
#: gang candidates, summed once an iteration instead of twice; the room per GPU of ``reopt._View``; the
#: gang step's GPU use) reads them instead of working each unit's size out again (``Instance.unit_size``,
#: ~7 us a unit, ~2,600 units at 1,024 GPUs). The same numbers summed in the same order: the same floats.
#: False: sizes worked out per unit each time (the A/B arm).
SIZES = True


def fresh(inst: Instance, cur: Mapping[str, Sequence[Unit]], policy: str = POLICY):  # type: ignore[no-untyped-def]
    """A new placer (``policy``, running work not placed by itself) loaded with ``cur`` in its order."""
    from packer.online import OnlinePlacer

    placer = OnlinePlacer(inst, policy=policy, place_running=False)
    for rid, units in cur.items():
        placer._place_exact(inst.request(rid), units)
    return placer


class BaseCache:
    """A placer that holds a plan, brought to the next plan by its difference (module doc)."""

    def __init__(self, inst: Instance, policy: str = POLICY) -> None:
        self.inst = inst
        self.policy = policy
        self.placer = None  # type: ignore[var-annotated]
        self.held: dict[str, tuple[Unit, ...]] = {}
        self.values: dict[str, tuple[tuple[Unit, ...], float]] = {}
        self.sizes: dict[str, tuple[tuple[Unit, ...], tuple[float, ...]]] = {}
        self.stats = {"loads": 0, "syncs": 0, "released": 0, "placed": 0}

    def get(self, cur: Mapping[str, Sequence[Unit]]):  # type: ignore[no-untyped-def]
        """The placer holding exactly ``cur``, as a fresh load of it would be. Callers may place and
        release on it (e.g. :func:`packer.cpsat.reopt_spread.openings` tries releases) as long as they
        leave it holding the same requests on the same units; forks of it are theirs."""
        inst = self.inst
        p = self.placer
        if p is None or p._placed.keys() != self.held.keys():
            self.placer = p = fresh(inst, cur, self.policy)
            self.held = {rid: tuple(units) for rid, units in cur.items()}
            self.stats["loads"] += 1
            return p
        self.stats["syncs"] += 1
        now = {rid: tuple(units) for rid, units in cur.items()}
        held = self.held
        gone = [rid for rid, units in held.items() if now.get(rid) != units]
        for rid in gone:
            p.release(rid)
        changed = set(gone)
        for rid, units in cur.items():
            if rid in changed or rid not in held:
                p._place_exact(inst.request(rid), units)
                self.stats["placed"] += 1
        self.stats["released"] += len(gone)
        # what a fresh load sets by its order: the placed requests in cur's order, each tenant's use
        # summed in that order from 0 (release and re-place may leave a float a last bit off)
        placed = p._placed
        p._placed = {rid: placed[rid] for rid in cur}
        used = {t: 0.0 for t in inst.tenant_map}
        for rec in p._placed.values():
            if rec.req.kind != "host":
                used[rec.req.tenant] += rec.size
        p._used = used
        p._reasons = {}
        p._released_running = set()
        self.held = now
        return p

    def unit_sizes(self, rid: str, units: Sequence[Unit]) -> tuple[float, ...]:
        """``Instance.unit_size`` of each of ``units`` of request ``rid``, remembered by the units (SIZES)."""
        key = tuple(units)
        hit = self.sizes.get(rid)
        if hit is None or hit[0] != key:
            inst = self.inst
            r = inst.request(rid)
            hit = self.sizes[rid] = (key, tuple(inst.unit_size(r, u) for u in key))
        elif hit[0] is not key:
            # equal units, maybe other objects (a step that reads every request back from a placer): keep
            # these, so that the next plan holding them compares by identity (pydantic's == is ~4 us a unit)
            self.sizes[rid] = (key, hit[1])
        return hit[1]

    def running_use(self, cur: Mapping[str, Sequence[Unit]]) -> dict[str, float]:
        """:func:`packer.cpsat.reopt_gang.running_use` of ``cur`` from the remembered sizes (the same sums)."""
        from packer.cpsat.reopt_gang import running_use

        return running_use(self.inst, cur, self.unit_sizes)

    def objective(self, placed: Mapping[str, Sequence[Unit]]) -> float:
        """:func:`packer.plans.objective_value` of ``placed``: each request's part remembered by its units."""
        from packer.plans import request_value

        inst = self.inst
        vals = self.values
        total = 0.0
        for rid, units in placed.items():
            key = tuple(units)
            hit = vals.get(rid)
            if hit is None or hit[0] != key:
                hit = vals[rid] = (key, request_value(inst, inst.request(rid), units))
            elif SIZES and hit[0] is not key:
                vals[rid] = (key, hit[1])  # equal units as other objects: compared by identity next (unit_sizes)
            total += hit[1]
        return total


__all__ = ["POLICY", "BaseCache", "fresh"]
