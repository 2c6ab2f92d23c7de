"""Hypothesis strategies for instances and plans: the one place tests draw random problems from."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from packer.catalog import Catalog
from packer.formats import instance_from_dict
from packer.model import INSTANCE_FORMAT, Instance

MODELS = ["H100-80GB", "A30-24GB", "A100-40GB", "RTX-PRO-6000-96GB", "B200-180GB"]
MODES = ["mig", "full", "shared", "any"]


def _base_profiles(model: str) -> list[str]:
    return [p.name for p in Catalog.builtin()[model].profiles if p.is_base]


@st.composite
def instance_dicts(draw: st.DrawFn, max_nodes: int = 3, max_gpus: int = 4, max_requests: int = 7,
                   host: bool = False) -> dict[str, Any]:
    """A valid instance object without running work: mixed models, modes, tenants and rules.

    With ``host``, requests may also be of kind ``host`` (CPU and memory only) and the cluster may
    have a node without GPUs.
    """
    num_nodes = draw(st.integers(1, max_nodes))
    nodes = []
    models_used = []
    for i in range(num_nodes):
        model = draw(st.sampled_from(MODELS))
        models_used.append(model)
        n = draw(st.integers(1, max_gpus))
        modes = draw(st.lists(st.sampled_from(MODES), min_size=n, max_size=n))
        nodes.append({
            "id": f"n{i}", "gpu_model": model, "num_gpus": n, "mode": "full", "gpu_modes": modes,
            "cpu_milli": draw(st.sampled_from([None, 16000, 64000])),
            "memory_mib": draw(st.sampled_from([None, 65536, 524288])),
            "domains": {"rack": f"r{draw(st.integers(0, 1))}"},
        })
    if host and draw(st.booleans()):
        nodes.append({
            "id": f"n{num_nodes}", "num_gpus": 0, "cpu_milli": draw(st.sampled_from([None, 8000, 32000])),
            "memory_mib": draw(st.sampled_from([None, 65536])), "domains": {"rack": f"r{draw(st.integers(0, 1))}"},
        })
    tenants = [
        {"id": f"t{j}", "max_gpus": draw(st.sampled_from([None, 0.5, 1.0, 2.0, 4.0])),
         "isolation": draw(st.sampled_from(["none", "none", "gpu", "node"]))}
        for j in range(draw(st.integers(1, 3)))
    ]
    requests = []
    for k in range(draw(st.integers(1, max_requests))):
        kind = draw(st.sampled_from(["mig", "gpu", "share", "host"] if host else ["mig", "gpu", "share"]))
        req: dict[str, Any] = {"id": f"r{k}", "tenant": draw(st.sampled_from([t["id"] for t in tenants])),
                               "kind": kind, "count": draw(st.integers(1, 4)),
                               "priority": draw(st.sampled_from([0.5, 1.0, 2.0])),
                               "cpu_milli": draw(st.sampled_from([0, 0, 4000, 16000])),
                               "memory_mib": draw(st.sampled_from([0, 8192]))}
        if kind == "mig":
            model = draw(st.sampled_from(models_used))
            if draw(st.booleans()):
                req["profile"] = draw(st.sampled_from(_base_profiles(model)))
                req["gpu_models"] = [model]
            else:
                req["slices"] = draw(st.sampled_from([1, 2, 3, 4]))
                if req["slices"] > 2 and "A30-24GB" in models_used and len(set(models_used)) == 1:
                    req["slices"] = 1
                if draw(st.booleans()):
                    req["min_memory_gib"] = draw(st.sampled_from([5.0, 15.0]))
                    req["slices"] = 1
        elif kind == "share":
            req["gpu_milli"] = draw(st.sampled_from([100, 250, 500, 700, 1000]))
        if draw(st.booleans()) and req["count"] > 1:
            req["min_count"] = draw(st.integers(1, req["count"]))
        # a host unit holds no GPU: no level 'gpu' for it
        loc_levels, spread_levels = (["node", "rack"], ["node", "rack"]) if kind == "host" else (["gpu", "node", "rack"], ["gpu", "node"])
        if draw(st.integers(0, 3)) == 0:
            req["locality"] = {"level": draw(st.sampled_from(loc_levels)), "required": draw(st.booleans())}
        if draw(st.integers(0, 3)) == 0:
            req["spread"] = {"level": draw(st.sampled_from(spread_levels)), "max_per_domain": draw(st.integers(1, 2))}
        if kind not in ("mig", "host") and draw(st.integers(0, 4)) == 0:
            req["gpu_models"] = [draw(st.sampled_from(models_used))]
        requests.append(req)
    return {
        "format": INSTANCE_FORMAT, "name": "hyp", "catalog": [],
        "topology": {"levels": ["node", "rack"]}, "nodes": nodes, "tenants": tenants, "requests": requests,
        "objective": {"locality_weight": draw(st.sampled_from([0.0, 0.01, 0.5])),
                      "migration_weight": 0.1, "max_migrations": draw(st.sampled_from([None, 0, 1]))},
    }


def _valid(data: dict[str, Any]) -> bool:
    from packer.errors import InputError

    try:
        instance_from_dict(data)
    except InputError:
        return False
    return True


@st.composite
def instances(draw: st.DrawFn, running: bool = True, **kw: Any) -> Instance:
    """A valid instance; with ``running``, some requests run already (placed by the greedy solver)."""
    data = draw(instance_dicts(**kw).filter(_valid))
    inst = instance_from_dict(data)
    if not running:
        return inst
    from packer.greedy.solver import solve

    plan = solve(inst)
    any_gpus = {(n.id, g) for n, g in inst.gpus() if n.gpu_mode(g) == "any"}
    chosen = draw(st.sets(st.sampled_from([a.request for a in plan.assignments]), max_size=3)
                  if plan.assignments else st.just(set()))
    by_id = {a.request: a for a in plan.assignments}
    for rid in chosen:
        units = by_id[rid].units
        if any((u.node, u.gpu) in any_gpus for u in units):
            continue
        req = next(r for r in data["requests"] if r["id"] == rid)
        req["placement"] = [u.model_dump(mode="json") for u in units]
        req["movable"] = draw(st.booleans())
        if req["movable"] and draw(st.booleans()):
            req["migration_cost"] = draw(st.sampled_from([0.0, 0.05, 2.0]))
    return instance_from_dict(data)


@st.composite
def suite_instances(draw: st.DrawFn, max_nodes: int = 3, families: tuple[str, ...] | None = None) -> Instance:
    """An instance of a benchmark-suite family (issue 16) on 1..``max_nodes`` nodes, at a drawn seed and
    demand, keeping a drawn subset of its requests (running ones included or not), so that draws mix
    every family's shapes at sizes a test can solve."""
    from packer.generate import SUITE, generate

    family = draw(st.sampled_from(families or SUITE))
    seed = draw(st.integers(0, 10**6))
    nodes = draw(st.integers(1, max_nodes))
    demand = draw(st.sampled_from([None, 0.3, 0.8, 1.5]))
    inst = generate(family, seed, demand=demand, nodes=nodes)
    if not inst.requests or draw(st.booleans()):
        return inst
    keep = draw(st.lists(st.booleans(), min_size=len(inst.requests), max_size=len(inst.requests)))
    requests = tuple(r for r, k in zip(inst.requests, keep, strict=True) if k)
    return inst.model_copy(update={"requests": requests})


@st.composite
def running_targets(draw: st.DrawFn, **kw: Any) -> tuple[Instance, Any]:
    """A running cluster and a valid target plan for it that moves some running work and starts some
    waiting work: a greedy plan frozen (everything movable), then a chosen set of running requests
    re-placed first, in a drawn order and policy, by the online placer (so they may swap places)."""
    from hypothesis import assume

    from packer.check import check
    from packer.freeze import freeze
    from packer.greedy.solver import solve
    from packer.online import OnlinePlacer
    from packer.plans import build_plan

    inst = draw(instances(running=True, **kw))
    state = freeze(inst, solve(inst), movable="all", max_migrations=None)
    running = [r.id for r in state.requests if r.running]
    movers = draw(st.sets(st.sampled_from(running), min_size=1)) if running else set()
    free = state.replace(requests=[
        r.model_copy(update={"placement": None, "movable": False, "migration_cost": None}) if r.id in movers else r
        for r in state.requests])
    waiting = [r for r in free.requests if r.placement is None]
    first = draw(st.permutations([r for r in waiting if r.id in movers]))
    rest = draw(st.permutations([r for r in waiting if r.id not in movers]))
    policy = draw(st.sampled_from(["first-fit", "best-fit", "random"]))
    pl = OnlinePlacer(free, policy, seed=draw(st.integers(0, 3)))
    for r in [*first, *rest]:
        pl.place(r)
    placed = {rid: pl.units(rid) for rid in pl.placed_ids()}
    assume(all(rid in placed for rid in movers))
    unplaced = {r.id: "not placed" for r in state.requests if r.id not in placed}
    plan = build_plan(state, solver="test", placed=placed, unplaced=unplaced, gpu_modes=pl.gpu_modes())
    assume(check(state, plan).ok)
    return state, plan
