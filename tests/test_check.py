"""Tests of the independent checker: valid plans pass, each corruption is named by its kind."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packer.check import KINDS, check
from packer.formats import load_instance
from packer.greedy.solver import solve
from packer.model import Plan
from tests.conftest import INSTANCES, ROOT
from tests.strategies import instances

F = INSTANCES / "features"


def _plan(path: str) -> tuple:
    inst = load_instance(F / f"{path}.json")
    return inst, solve(inst)


def _edit(plan: Plan, fn) -> Plan:
    data = plan.to_json_dict()
    fn(data)
    return Plan.model_validate(data)


def _units(data, rid):
    return next(a for a in data["assignments"] if a["request"] == rid)["units"]


def test_checker_imports_no_solver():
    """Tests that packer/check.py imports nothing from the solvers or the geometry helpers."""
    tree = ast.parse(Path(ROOT / "packer" / "check.py").read_text())
    names = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    for forbidden in ("packer.greedy", "packer.dispatch", "packer.plans", "packer.online", "packer.cpsat", "packer.geometry"):
        assert not any(n and n.startswith(forbidden) for n in names), forbidden


def test_default_plan_is_valid():
    """Tests that the greedy plan of the bundled default instance passes."""
    inst = load_instance(INSTANCES / "default.json")
    rep = check(inst, solve(inst))
    assert rep.ok, rep.format()


# Each corruption: (instance, how to break the plan, the kind the checker must report).
CORRUPTIONS = {
    "missing_request": ("share", lambda d: d["assignments"].pop(0)),
    "duplicate_request": ("share", lambda d: d["unplaced"].append({"request": d["assignments"][0]["request"], "reason": "x"})),
    "unknown_request": ("share", lambda d: d["unplaced"].append({"request": "ghost", "reason": "x"})),
    "unit_count": ("whole-gpu-locality", lambda d: _units(d, "gang").pop()),
    "unknown_gpu": ("share", lambda d: _units(d, "a")[0].update(gpu=9)),
    "unit_shape": ("share", lambda d: _units(d, "a")[0].update(gpu_milli=100)),
    "mode": ("any-mode", lambda d: _units(d, "a")[0].update(gpu=_units(d, "b")[0]["gpu"])),
    "allowed_models": ("allowed-models", lambda d: d["assignments"].append(
        {"request": "b", "units": [{"node": "n0", "gpu": 0}]}) or d["unplaced"].clear()),
    "profile": ("mig-profile", lambda d: _units(d, "a")[0].update(profile="4g.40gb", start=0)),
    "mig_start": ("mig-profile", lambda d: _units(d, "a")[0].update(start=2)),
    "mig_overlap": ("mig-profile", lambda d: d["assignments"].append(
        {"request": "b", "units": [{"node": "n0", "gpu": 0, "profile": "1g.10gb", "start": 5}]}) or d["unplaced"].clear()),
    "mig_max_count": ("mig-slices", lambda d: _units(d, "a").append(dict(_units(d, "a")[0], start=6))),
    "gpu_exclusive": ("whole-gpu-locality", lambda d: _units(d, "small").append(dict(_units(d, "gang")[0]))),
    "share_capacity": ("share", lambda d: _units(d, "c").__setitem__(0, dict(_units(d, "a")[0], gpu_milli=400))
                       or _units(d, "a").__setitem__(0, dict(_units(d, "a")[0])) or d["assignments"].append(
                           {"request": "b", "units": [dict(_units(d, "a")[0], gpu_milli=500)]}) or d["unplaced"].clear()),
    "host_cpu": ("host-resources", lambda d: _units(d, "a").extend([{"node": "n0", "gpu": 2}])),
    "locality": ("whole-gpu-locality", lambda d: _units(d, "gang")[0].update(node="n0", gpu=3)),
    "spread": ("spread", lambda d: [u.update(node="n0") for u in _units(d, "replicas")]),
    "quota": ("quota", lambda d: d["assignments"].append({"request": "b", "units": [{"node": "n0", "gpu": 3}, {"node": "n0", "gpu": 2}]})
              or d["unplaced"].clear()),
    "isolation_gpu": ("isolation-gpu", lambda d: d["assignments"].append(
        {"request": "b", "units": [{"node": "n0", "gpu": 0, "gpu_milli": 200}]}) or d["unplaced"].clear()),
    "isolation_node": ("isolation-node", lambda d: _units(d, "b").__setitem__(0, {"node": _units(d, "a")[0]["node"], "gpu": 1 - _units(d, "a")[0]["gpu"]})),
    "running_moved": ("running-movable", lambda d: _units(d, "stay")[0].update(start=3)),
    "migration_record": ("running-movable", lambda d: d["migrations"].append(
        {"request": "old", "from": _units(d, "old"), "to": _units(d, "old")})),
    "running_dropped": ("running-movable", lambda d: d["assignments"].pop(0) and d["unplaced"].append({"request": "old", "reason": "x"})),
    "objective": ("share", lambda d: d.update(objective=d["objective"] + 0.5)),
    "bound": ("share", lambda d: d.update(bound=d["objective"] - 0.5)),
    "status": ("share", lambda d: d.update(status="optimal", bound=None)),
    "instance_name": ("share", lambda d: d.update(instance="other")),
    "gpu_modes": ("any-mode", lambda d: d["gpu_modes"].clear()),
    "host_unit_gpu": ("host", lambda d: _units(d, "sidecar")[0].update(gpu=0)),
    "missing_gpu": ("host", lambda d: _units(d, "train")[0].pop("gpu")),
}


def test_every_kind_has_a_corruption():
    """Tests that every violation kind the checker knows is provoked by one corruption below."""
    missing = set(KINDS) - set(CORRUPTIONS) - {"host_memory", "max_migrations"}
    assert not missing


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corruption_is_named(kind):
    """Tests that each corruption of a valid plan is reported under its own kind."""
    name, fn = CORRUPTIONS[kind]
    inst, plan = _plan(name)
    assert check(inst, plan).ok
    bad = _edit(plan, fn)
    rep = check(inst, bad)
    assert kind in rep.kinds(), rep.format()


def test_max_migrations_and_host_memory():
    """Tests the two kinds that need a custom instance: max_migrations and host_memory."""
    inst = load_instance(F / "running-movable.json").replace(objective={"max_migrations": 0})
    plan = solve(inst)
    moved = _edit(plan, lambda d: (_units(d, "old")[0].update(node="n1", start=4),
                                   d["migrations"].append({"request": "old", "from": [{"node": "n0", "gpu": 0, "profile": "3g.40gb", "start": 4}],
                                                           "to": _units(d, "old")})))
    rep = check(inst, moved)
    assert "max_migrations" in rep.kinds() and "objective" in rep.kinds()
    inst2 = load_instance(F / "host-resources.json")
    data = json.loads(json.dumps(inst2.model_dump(mode="json")))
    data["requests"][0]["memory_mib"] = 40000
    from packer.formats import instance_from_dict

    inst2 = instance_from_dict(data)
    plan2 = _edit(solve(inst2), lambda d: None)
    if len(plan2.assignments) and len(plan2.assignments[0].units) < 2:
        plan2 = _edit(plan2, lambda d: _units(d, "a").append({"node": "n0", "gpu": 3}))
    assert "host_memory" in check(inst2, plan2).kinds()


def test_host_units_are_checked():
    """Tests that host units count for host resources, node isolation, spread and locality."""
    inst, plan = _plan("host")
    rep = check(inst, plan)
    assert rep.ok, rep.format()
    assert rep.allocated == pytest.approx(sum(inst.unit_size(inst.request(a.request), u)
                                              for a in plan.assignments for u in a.units))
    crowded = _edit(plan, lambda d: [u.update(node="cpu1") for u in _units(d, "etl")])
    assert {"host_cpu", "host_memory", "isolation_node"} <= check(inst, crowded).kinds()
    stacked = _edit(plan, lambda d: [u.update(node="g0") for u in _units(d, "prep")])
    assert "spread" in check(inst, stacked).kinds()
    apart = _edit(plan, lambda d: (_units(d, "etl")[0].update(node="g0"), _units(d, "etl")[1].update(node="g1")))
    assert "locality" in check(inst, apart).kinds()
    ghost = _edit(plan, lambda d: _units(d, "sidecar")[0].update(node="nowhere"))
    assert "unknown_gpu" in check(inst, ghost).kinds()


def test_host_units_cost_soft_locality_but_add_no_size():
    """Tests that a host request adds priority × 0 and pays locality_weight per extra domain."""
    inst, plan = _plan("host")
    base = check(inst, plan).objective
    split = _edit(plan, lambda d: (_units(d, "prep").__setitem__(slice(None), [{"node": "cpu0"}, {"node": "g1"}, {"node": "g1"}])))
    rep = check(inst, split)
    w = inst.objective.locality_weight
    before = len({inst.domain(inst.node(u.node), "rack") for a in plan.assignments if a.request == "prep" for u in a.units})
    assert rep.objective == pytest.approx(base - w * (2 - before))


def test_objective_recomputation_counts_migrations():
    """Tests that a legal move is charged its migration cost in the recomputed objective."""
    inst = load_instance(F / "running-movable.json")
    plan = solve(inst)
    new = [{"node": "n1", "gpu": 0, "profile": "3g.40gb", "start": 4}]
    moved = _edit(plan, lambda d: (_units(d, "old").__setitem__(0, new[0]),
                                   d["migrations"].append({"request": "old", "from": [{"node": "n0", "gpu": 0, "profile": "3g.40gb", "start": 4}], "to": new}),
                                   d.update(objective=d["objective"] - 0.05)))
    rep = check(inst, moved)
    assert rep.ok, rep.format()


@settings(max_examples=30)  # a greedy solve and three checks an example: half the default
@given(instances(host=True), st.data())
def test_random_corruptions_are_caught(inst, data):
    """Tests that dropping a placed request or inflating the objective is always caught."""
    plan = solve(inst)
    assert check(inst, plan).ok
    if plan.assignments:
        i = data.draw(st.integers(0, len(plan.assignments) - 1))
        bad = _edit(plan, lambda d: d["assignments"].pop(i))
        assert "missing_request" in check(inst, bad).kinds()
    bad = _edit(plan, lambda d: d.update(objective=d["objective"] + 1.0))
    assert "objective" in check(inst, bad).kinds()
