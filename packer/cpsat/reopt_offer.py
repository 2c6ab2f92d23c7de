"""Session 26 (offer26): a move step's offer drawn among the waiting requests that can fit its region.

A CP-SAT move step (:func:`packer.cpsat.reopt.move_steps`) frees a region of nodes and offers it
``reopt.OFFER`` = 20 waiting requests: the aim and a random slice, by priority, of the ~120 waiting
ones (``reopt._offer``), whatever the region holds room for. An offered request that cannot fit the
region at all (a GPU model it may not use, no GPU in a mode its kind can take, a tenant isolated from
the pinned work there, no domain of its required locality with room, more units than the region has
once its movable work is free) costs the step one of its twenty places and gives it nothing.

:func:`fit` is a cheap static test of that, a necessary condition only (it never says "no" to a request
some plan of the region could place): per region node, the GPUs that pinned work leaves room on (the
work that crosses the region's border and running work that may not move stay where they are; movable
work and waiting work placed inside are free), in the request's mode, model and isolation pool; the units
that room holds, capped per spread domain and counted inside one domain of a required locality; and the
request's least size against the region's room once the running work that must stay inside is counted.

:func:`offer` (``OFFER_FIT``) keeps the slice's random draw exactly as without it (the same rotation of
the same list by priority, the same single draw from the step's stream) and skips the requests that cannot
fit, so that where every request fits, the offer and every draw are those of off. With ``OFFER_BUDGET``
the offer goes beyond ``reopt.OFFER`` requests while it stays within the model size a fixed offer of
``reopt.OFFER`` requests could have: ``reopt.OFFER`` × the region's nodes (variables of one request that
may use every node), each request costing the (node, MIG profile) pairs it can use (identical requests,
one CP-SAT group, once).
"""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from packer.model import MILLI_PER_GPU, MODE_OF_KIND, Instance, Node, Request

#: The offer of a CP-SAT move step skips waiting requests that cannot fit its region (:func:`fit`).
#: False: the offer of sessions 1-25 (the A/B arm: ``bench/bench_reopt_gang.py --ab reopt_offer.OFFER_FIT``).
OFFER_FIT = False
#: With OFFER_FIT: the offer may hold more than reopt.OFFER requests, up to the variables budget
#: reopt.OFFER × region nodes (each request costed by the (node, profile) pairs it can use).
OFFER_BUDGET = True
#: Counts per step of how many offered requests fit (set to a dict to measure; None: nothing recorded).
MEASURE: dict[str, float] | None = None
#: What the last call of :func:`offer` / :func:`measure_offer` did (read by :func:`note` after the step).
LAST: dict[str, object] | None = None

_EPS = 1e-9


@dataclass
class _Gpu:
    mode: str  # configured mode, fixed by pinned work on an 'any' GPU
    room: float = 1.0  # GPU-equivalents pinned work leaves
    whole: bool = True  # no pinned unit at all
    tenants: set[str] = field(default_factory=set)  # tenants of pinned units


@dataclass
class Region:
    """The room a step's region offers once its free work is free."""

    nodes: list[Node]
    gpus: dict[str, list[_Gpu]]
    node_tenants: dict[str, set[str]]  # tenants of pinned units per node (host units included)
    cpu: dict[str, float]
    mem: dict[str, float]
    room: float  # GPU-equivalents left by pinned work, minus the free running work that must stay inside
    build_s: float = 0.0  # seconds :meth:`of` took (session 27: what the fit offer costs a step)

    @classmethod
    def of(cls, inst: Instance, nodes: set[str], fixed_modes: Mapping[tuple[str, int], str],
           reqs: Sequence[Request]) -> Region:
        """``reqs``: the sub-instance's requests so far (pinned: placement and not movable; free running:
        movable; waiting work placed inside: no placement)."""
        t0 = time.perf_counter()
        ns = [n for n in inst.nodes if n.id in nodes]
        gpus = {n.id: [_Gpu(fixed_modes.get((n.id, g), n.gpu_mode(g))) for g in range(n.num_gpus)] for n in ns}
        node_tenants: dict[str, set[str]] = defaultdict(set)
        cpu = {n.id: math.inf if n.cpu_milli is None else float(n.cpu_milli) for n in ns}
        mem = {n.id: math.inf if n.memory_mib is None else float(n.memory_mib) for n in ns}
        stay = 0.0
        for r in reqs:
            if r.placement is None:
                continue
            if r.movable:
                stay += sum(inst.unit_size(r, u) for u in r.placement if u.node in gpus)
                continue
            for u in r.placement:
                if u.node not in gpus:
                    continue
                node_tenants[u.node].add(r.tenant)
                cpu[u.node] -= r.cpu_milli
                mem[u.node] -= r.memory_mib
                if u.gpu is None:
                    continue
                g = gpus[u.node][u.gpu]
                g.room -= inst.unit_size(r, u)
                g.whole = False
                g.tenants.add(r.tenant)
                if g.mode == "any":
                    g.mode = MODE_OF_KIND[r.kind]
        room = sum(max(0.0, g.room) for gs in gpus.values() for g in gs) - stay
        return cls(ns, gpus, node_tenants, cpu, mem, room, time.perf_counter() - t0)


def _node_ok(inst: Instance, region: Region, r: Request, n: Node) -> bool:
    """Isolation and host resources: can ``r`` put a unit on ``n`` beside its pinned work at all?"""
    tmap = inst.tenant_map
    iso = tmap[r.tenant].isolation if r.tenant in tmap else "none"
    others = region.node_tenants.get(n.id, set()) - {r.tenant}
    if iso == "node" and others:
        return False
    if any(tmap[t].isolation == "node" for t in others if t in tmap):
        return False
    return region.cpu[n.id] >= r.cpu_milli and region.mem[n.id] >= r.memory_mib


def _units_on(inst: Instance, region: Region, r: Request, n: Node) -> tuple[int, int]:
    """(most units of ``r`` on ``n`` by its GPUs' room, (node, profile) choices: the variables it costs)."""
    if not _node_ok(inst, region, r, n):
        return 0, 0
    if r.kind == "host":
        c = r.cpu_milli and region.cpu[n.id] / r.cpu_milli
        m = r.memory_mib and region.mem[n.id] / r.memory_mib
        most = min(x for x in (c or math.inf, m or math.inf))
        return (r.count if most == math.inf else int(most)), 1
    model = inst.model_of(n)
    if model is None:
        return 0, 0
    allowed = inst.allowed_models(r)
    if allowed is not None and model.name not in allowed:
        return 0, 0
    want = MODE_OF_KIND[r.kind]
    choices = 1
    if r.kind == "mig":
        profs = inst.profile_choices(r, model)
        if not profs:
            return 0, 0
        size = min(p.gpu_equivalents for p in profs)
        choices = len(profs)
    elif r.kind == "share":
        size = (r.gpu_milli or MILLI_PER_GPU) / MILLI_PER_GPU
    else:
        size = 1.0
    tmap = inst.tenant_map
    iso_gpu = r.tenant in tmap and tmap[r.tenant].isolation == "gpu"
    units = 0
    for g in region.gpus[n.id]:
        if g.mode != want and not (g.mode == "any" and (want != "mig" or model.has_mig)):
            continue
        others = g.tenants - {r.tenant}
        if others and (iso_gpu or any(t in tmap and tmap[t].isolation == "gpu" for t in others)):
            continue
        if r.kind == "gpu":
            units += int(g.whole)
        elif size > 0:
            units += int((g.room + _EPS) // size)
    cpu_most = region.cpu[n.id] // r.cpu_milli if r.cpu_milli else math.inf
    mem_most = region.mem[n.id] // r.memory_mib if r.memory_mib else math.inf
    units = int(min(units, cpu_most, mem_most))
    return units, (choices if units else 0)


def fit(inst: Instance, region: Region, r: Request) -> tuple[bool, int]:
    """Whether some plan of the region might place ``r`` (a necessary condition), and the (node,
    profile) choices it would cost the step's model."""
    per_node = {n.id: _units_on(inst, region, r, n) for n in region.nodes}
    cost = sum(c for _, c in per_node.values())
    if not cost:
        return False, 0
    if inst.request_unit_size(r) * r.need_count > region.room + _EPS:
        return False, cost
    loc = r.locality.level if r.locality is not None and r.locality.required else None
    doms: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for n in region.nodes:
        k = per_node[n.id][0]
        if not k:
            continue
        d = "cluster" if loc is None else ("" if loc == "gpu" else inst.domain(n, loc))
        if loc == "gpu":  # one GPU: the most units any single GPU of the node holds is not tracked; by node
            d = n.id
        sd = n.id if r.spread is None or r.spread.level == "gpu" else inst.domain(n, r.spread.level)
        doms[d][sd] += k
    cap = r.spread.max_per_domain if r.spread is not None and r.spread.level != "gpu" else None
    best = max((sum(min(cap, v) if cap is not None else v for v in per.values()) for per in doms.values()), default=0)
    return best >= r.need_count, cost


def why(inst: Instance, region: Region, r: Request) -> str:
    """Why ``r`` cannot fit the region (for measurements): ``model`` (no region node has a GPU of a model,
    mode or MIG profile it can use), ``isolation`` (only nodes or GPUs its tenant is isolated from, or
    without the host resources), ``gpus`` (no room on its GPUs: pinned work holds them), ``size`` (its
    least size is above the region's room once the running work inside is counted), ``locality`` (no
    domain of its required locality, or spread, holds its units); "" when it may fit."""
    ok, cost = fit(inst, region, r)
    if ok:
        return ""
    if cost:
        return "size" if inst.request_unit_size(r) * r.need_count > region.room + _EPS else "locality"
    free = Region(region.nodes, {nid: [_Gpu(g.mode) for g in gs]
                                 for nid, gs in region.gpus.items()},
                  {}, {nid: math.inf for nid in region.cpu}, {nid: math.inf for nid in region.mem}, math.inf)
    if not any(_units_on(inst, free, r, n)[0] for n in region.nodes):
        return "model"
    if not any(_node_ok(inst, region, r, n) for n in region.nodes):
        return "isolation"
    return "gpus"


def offer(inst: Instance, region: Region, rest: Sequence[Request], aim: Request | None, rng: random.Random,
          want: int, nodes: int, base: int) -> list[Request]:
    """The aim (whether it fits or not: the region was built for it), then the random slice of ``rest``
    (by priority, rotated by the same single draw as ``reopt._offer``) without the requests that cannot
    fit: ``want`` requests, or with OFFER_BUDGET more while their cost stays within ``base`` × ``nodes``
    (``base``: the fixed offer's size, reopt.OFFER)."""
    global LAST
    t0 = time.perf_counter()
    out = [aim] if aim is not None else []
    pool = [r for r in rest if aim is None or r.id != aim.id]
    pool.sort(key=lambda r: (-r.priority, r.id))
    if not pool:
        LAST = {"offered": len(out), "fit": len(out), "skipped": 0, "changed": False, "tested": 0,
                "fit_s": region.build_s + time.perf_counter() - t0}
        return out[:want]
    k = rng.randrange(len(pool))  # the draw of reopt._offer: the stream goes on as without OFFER_FIT
    rot = pool[k:] + pool[:k]
    budget = base * max(1, nodes)
    spent = 0
    seen: set[object] = set()
    skipped = tested = 0
    plain = (out + rot)[:want]  # what reopt._offer would have offered
    for r in rot:
        if len(out) >= want and not (OFFER_BUDGET and spent < budget):
            break
        ok, cost = fit(inst, region, r)
        tested += 1
        if not ok:
            skipped += 1
            continue
        key = _group_key(r)
        add = 0 if key in seen else cost
        if len(out) >= want and spent + add > budget:
            break
        seen.add(key)
        spent += add
        out.append(r)
    LAST = {"offered": len(out), "fit": len(out), "skipped": skipped,
            "changed": [r.id for r in out] != [r.id for r in plain], "tested": tested,
            "fit_s": region.build_s + time.perf_counter() - t0}  # the region's room and the fit tests
    return out


def measure_offer(inst: Instance, region: Region, offered: Sequence[Request], aim: Request | None,
                  waiting: Sequence[Request] = ()) -> None:
    """Without OFFER_FIT: records in MEASURE how many of the step's offered requests can fit its region
    (and how many of all ``waiting`` requests could)."""
    global LAST
    n_fit = sum(1 for r in offered if fit(inst, region, r)[0])
    aim_fit = aim is None or fit(inst, region, aim)[0]
    LAST = {"offered": len(offered), "fit": n_fit, "skipped": 0, "changed": False}
    if MEASURE is None:
        return
    MEASURE["steps"] = MEASURE.get("steps", 0) + 1
    MEASURE["offered"] = MEASURE.get("offered", 0) + len(offered)
    MEASURE["fit"] = MEASURE.get("fit", 0) + n_fit
    MEASURE["aim_nofit"] = MEASURE.get("aim_nofit", 0) + int(not aim_fit)
    MEASURE["waiting"] = MEASURE.get("waiting", 0) + len(waiting)
    MEASURE["waiting_fit"] = MEASURE.get("waiting_fit", 0) + waiting_fit(inst, region, waiting)
    hist = MEASURE.setdefault("hist", {})  # type: ignore[assignment]
    hist[n_fit] = hist.get(n_fit, 0) + 1  # type: ignore[union-attr]


def waiting_fit(inst: Instance, region: Region, waiting: Sequence[Request]) -> int:
    """How many of ``waiting`` can fit the region (for the measurement: what a fit offer could draw from)."""
    return sum(1 for r in waiting if fit(inst, region, r)[0])


def note(stats: dict, kind: str, gain: float) -> None:
    """After a CP-SAT move step: what its offer did (LAST) and what the step gained, in stats['offer']."""
    global LAST
    if LAST is None:
        return
    rec = stats.setdefault("offer", {"steps": 0, "offered": 0, "fit": 0, "skipped": 0, "changed": 0,
                                      "changed_improved": 0, "changed_gain": 0.0, "same_improved": 0,
                                      "same_gain": 0.0})
    rec["steps"] += 1
    rec["offered"] += int(LAST["offered"])  # type: ignore[call-overload]
    rec["fit"] += int(LAST["fit"])  # type: ignore[call-overload]
    rec["skipped"] += int(LAST["skipped"])  # type: ignore[call-overload]
    if "fit_s" in LAST:  # session 27: what the fit offer cost the step (its region's room and its tests)
        rec["tested"] = rec.get("tested", 0) + int(LAST["tested"])  # type: ignore[call-overload]
        rec["fit_s"] = round(rec.get("fit_s", 0.0) + float(LAST["fit_s"]), 6)  # type: ignore[arg-type]
    tag = "changed" if LAST["changed"] else "same"
    if LAST["changed"]:
        rec["changed"] += 1
    if gain > 1e-9:
        rec[f"{tag}_improved"] += 1
        rec[f"{tag}_gain"] = round(rec[f"{tag}_gain"] + gain, 6)
    LAST = None


def _group_key(r: Request) -> tuple[object, ...]:
    """Requests that differ only by id cost the model once (one CP-SAT group)."""
    return (r.tenant, r.kind, r.profile, r.slices, r.min_memory_gib, r.gpu_milli, r.count, r.min_count, r.priority,
            r.gpu_models, r.cpu_milli, r.memory_mib, r.locality, r.spread)
