"""Tests for packer.freeze: a plan's cluster state as a re-optimization instance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.cli import main
from packer.errors import InputError
from packer.formats import instance_from_dict, instance_to_dict, load_instance, save_plan
from packer.freeze import fix_modes, freeze, mark_running, movable_predicate, parse_movable, running_plan
from packer.greedy.solver import solve as greedy
from packer.model import Instance
from tests.conftest import INSTANCES
from tests.strategies import instances

F = INSTANCES / "features"


def _placed(plan) -> dict[str, list]:  # type: ignore[no-untyped-def]
    return {a.request: sorted(u.key() for u in a.units) for a in plan.assignments}


def _running(inst: Instance) -> dict[str, list]:
    return {r.id: sorted(u.key() for u in r.placement) for r in inst.requests if r.placement is not None}


def test_placed_work_runs_where_the_plan_put_it() -> None:
    """Tests that placed requests become running at the plan's units and unplaced ones keep waiting."""
    inst = load_instance(F / "running-movable.json")
    plan = greedy(inst)
    state = freeze(inst, plan)
    assert _running(state) == _placed(plan)
    waiting = {u.request for u in plan.unplaced}
    assert {r.id for r in state.requests if not r.running} == waiting
    assert all(r.movable for r in state.requests if r.running)
    assert state.tenants == inst.tenants and state.topology == inst.topology and state.objective == inst.objective
    assert [r.id for r in state.requests] == [r.id for r in inst.requests]


def test_keep_plan_and_the_unmoving_plan_pass_check() -> None:
    """Tests that the keep-everything plan is valid for the frozen state, and so is the plan itself
    when it moved nothing."""
    inst = load_instance(F / "any-mode.json")
    plan = greedy(inst)
    assert not plan.migrations
    state = freeze(inst, plan)
    assert check(state, running_plan(state)).ok
    rep = check(state, plan)
    assert rep.ok, rep.format()
    assert running_plan(state).objective == pytest.approx(plan.objective)


def test_any_gpus_holding_work_get_their_mode() -> None:
    """Tests that an 'any' GPU holding work takes the plan's mode and unused ones stay 'any'."""
    inst = load_instance(F / "any-mode.json")
    plan = greedy(inst)
    state = freeze(inst, plan)
    chosen = {(m.node, m.gpu): m.mode for m in plan.gpu_modes}
    assert chosen
    for n, g in state.gpus():
        assert n.gpu_mode(g) == chosen.get((n.id, g), "any")


def test_movable_rules() -> None:
    """Tests the movable rule forms: all, none, tenants, kinds (full = gpu), requests, and AND of keys."""
    inst = load_instance(INSTANCES / "default.json")
    plan = greedy(inst)
    running = [a.request for a in plan.assignments]

    def movable(rule) -> set[str]:  # type: ignore[no-untyped-def]
        return {r.id for r in freeze(inst, plan, movable=rule).requests if r.movable}

    assert movable("all") == set(running)
    assert movable("none") == set()
    by_id = {r.id: r for r in inst.requests}
    t0 = by_id[running[0]].tenant
    assert movable({"tenants": [t0]}) == {i for i in running if by_id[i].tenant == t0}
    assert movable({"kinds": ["full"]}) == {i for i in running if by_id[i].kind == "gpu"}
    assert movable({"kinds": ["mig", "share"], "tenants": [t0]}) == {
        i for i in running if by_id[i].kind in ("mig", "share") and by_id[i].tenant == t0}
    assert movable({"requests": running[:1]}) == set(running[:1])
    assert movable(lambda r: r.kind == "mig") == {i for i in running if by_id[i].kind == "mig"}


@pytest.mark.parametrize("rule, field", [
    ("some", "movable"), ({"tenant": ["a"]}, "movable.tenant"), ({"kinds": ["vgpu"]}, "movable.kinds"),
    ({"tenants": ["nobody"]}, "movable.tenants"), ({"requests": "r1"}, "movable.requests"),
])
def test_bad_movable_rules_name_the_field(rule, field) -> None:  # type: ignore[no-untyped-def]
    """Tests that a movable rule with an unknown word, key, kind or tenant is an error naming it."""
    inst = load_instance(INSTANCES / "default.json")
    with pytest.raises(InputError) as e:
        movable_predicate(rule, inst)
    assert e.value.field == field


def test_parse_movable() -> None:
    """Tests the command-line words of a movable rule."""
    assert parse_movable(None) == "all"
    assert parse_movable(["none"]) == "none"
    assert parse_movable(["tenant:a,b", "kind:mig"]) == {"tenants": ["a", "b"], "kinds": ["mig"]}
    for bad in (["tenant:"], ["colour:red"], ["kind:mig", "kind:full"], ["all", "kind:mig"]):
        with pytest.raises(InputError):
            parse_movable(bad)


def test_migration_costs_and_cap() -> None:
    """Tests migration costs (default, a number, by request id) and the max_migrations override."""
    inst = load_instance(INSTANCES / "default.json")
    plan = greedy(inst)
    running = [a.request for a in plan.assignments]
    default = freeze(inst, plan)
    own = {r.id: r.migration_cost for r in inst.requests}
    assert any(own.values()), "the fixture should have a running request with its own cost"
    assert all(r.migration_cost == own[r.id] for r in default.requests)
    flat = freeze(inst, plan, migration_cost=0.25, max_migrations=3)
    assert {r.migration_cost for r in flat.requests if r.running} == {0.25}
    assert flat.objective.max_migrations == 3
    one = freeze(inst, plan, migration_cost={running[0]: 1.5}, max_migrations=None)
    assert one.request(running[0]).migration_cost == 1.5 and one.objective.max_migrations is None
    assert all(r.migration_cost == own[r.id] for r in one.requests if r.id != running[0])
    # costs go on movable work only
    assert all(r.migration_cost is None for r in freeze(inst, plan, movable="none", migration_cost=1).requests)
    with pytest.raises(InputError):
        freeze(inst, plan, migration_cost=-1.0)


def test_running_work_that_moved_runs_at_its_destination() -> None:
    """Tests that a running request the plan moves is frozen at its destination."""
    inst = load_instance(F / "running-movable.json")
    plan = greedy(inst)
    run = next(r for r in inst.requests if r.running and r.movable)
    data = plan.to_json_dict()
    state0 = freeze(inst, plan)
    # move the running request onto a free spot found by the greedy solver on a copy without it
    free = greedy(state0.replace(requests=[r for r in state0.requests if r.id != run.id]
                                 + [run.model_copy(update={"id": "probe", "placement": None, "movable": False,
                                                           "migration_cost": None})]))
    probe = next((a for a in free.assignments if a.request == "probe"), None)
    if probe is None:
        pytest.skip("no room to move the running request in this fixture")
    data["assignments"] = [a if a["request"] != run.id else {"request": run.id, "units": [
        u.model_dump(mode="json") for u in probe.units]} for a in data["assignments"]]
    data["migrations"] = [{"request": run.id, "from": [u.model_dump(mode="json") for u in run.placement],
                           "to": [u.model_dump(mode="json") for u in probe.units]}]
    from packer.formats import plan_from_dict

    moved = plan_from_dict(data)
    state = freeze(inst, moved)
    assert sorted(u.key() for u in state.request(run.id).placement) == sorted(u.key() for u in probe.units)


def test_invalid_plan_is_refused() -> None:
    """Tests that freeze refuses a plan for another instance or one whose layout is invalid."""
    inst = load_instance(INSTANCES / "default.json")
    plan = greedy(inst)
    with pytest.raises(InputError, match="is for instance"):
        freeze(inst, plan.model_copy(update={"instance": "other"}))
    data = plan.to_json_dict()
    a = next(x for x in data["assignments"] if x["units"][0].get("profile"))
    twin = dict(a, request=next(x["request"] for x in data["assignments"] if x is not a and x["units"][0].get("profile")))
    data["assignments"] = [x if x["request"] != twin["request"] else dict(x, units=a["units"]) for x in data["assignments"]]
    from packer.formats import plan_from_dict

    with pytest.raises(InputError, match="not valid"):
        freeze(inst, plan_from_dict(data))


def test_fix_modes_and_mark_running() -> None:
    """Tests the two steps the import commands share with freeze."""
    inst = load_instance(F / "any-mode.json")
    plan = greedy(inst)
    placed = {a.request: a.units for a in plan.assignments}
    data = instance_to_dict(inst)
    for rd in data["requests"]:
        if rd["id"] in placed:
            rd["placement"] = [u.model_dump(mode="json") for u in placed[rd["id"]]]
    with pytest.raises(InputError, match="mode 'any'"):
        instance_from_dict(data)
    raw = Instance.model_validate(data)
    fixed = fix_modes(raw)
    assert fixed == freeze(inst, plan, movable="none")
    marked = mark_running(fixed, movable={"kinds": ["full"]}, migration_cost=0.5)
    assert all(r.movable == (r.kind == "gpu") for r in marked.requests if r.running)


def test_online_placer_running_instance() -> None:
    """Tests that OnlinePlacer.running_instance is freeze of its snapshot."""
    from packer.online import OnlinePlacer

    inst = load_instance(INSTANCES / "default.json")
    pl = OnlinePlacer(inst, "first-fit")
    for r in inst.requests[::2]:
        pl.place(r)
    state = pl.running_instance(movable={"kinds": ["mig"]}, migration_cost=0.2)
    snap = pl.snapshot_instance()
    assert state == freeze(snap, pl.snapshot(instance=snap), movable={"kinds": ["mig"]}, migration_cost=0.2)
    assert {r.id for r in state.requests if r.running} == set(pl.placed_ids())
    assert check(state, running_plan(state)).ok


@st.composite
def _rules(draw: st.DrawFn, inst: Instance):  # type: ignore[no-untyped-def]
    kind = draw(st.sampled_from(["all", "none", "tenants", "kinds"]))
    if kind in ("all", "none"):
        return kind
    if kind == "tenants":
        return {"tenants": draw(st.lists(st.sampled_from(sorted(inst.tenant_map)), max_size=2))}
    return {"kinds": draw(st.lists(st.sampled_from(["mig", "full", "share", "host"]), max_size=2))}


@settings(max_examples=20)  # the greedy and the checker twice an example: a third of the default
@given(st.data())
def test_freeze_any_valid_plan(data: st.DataObject) -> None:
    """Tests that freezing any valid plan of a random instance validates, round-trips through JSON, keeps
    the plan's units, is idempotent, and that its keep-everything plan passes check."""
    inst = data.draw(instances(host=True))
    plan = greedy(inst)
    assert check(inst, plan).ok
    rule = data.draw(_rules(inst))
    state = freeze(inst, plan, movable=rule, migration_cost=data.draw(st.sampled_from([None, 0.0, 0.3])))
    assert instance_from_dict(json.loads(json.dumps(instance_to_dict(state)))) == state
    assert _running(state) == _placed(plan)
    keep = running_plan(state)
    rep = check(state, keep)
    assert rep.ok, rep.format()
    assert not any(n.gpu_mode(g) == "any" for r in state.requests for u in r.placement or ()
                   if u.gpu is not None for n in [state.node(u.node)] for g in [u.gpu])
    if not plan.migrations:
        assert check(state, plan).ok
    test = movable_predicate(rule)
    assert all(r.movable == test(r) for r in state.requests if r.running)
    assert freeze(state, keep, movable=rule) == state


def test_cli_freeze(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Tests `packer freeze` end to end: state written, rules applied, bad rules exit 2 with nothing written."""
    inst_path = INSTANCES / "default.json"
    plan_path = tmp_path / "plan.json"
    save_plan(greedy(load_instance(inst_path)), plan_path)
    out = tmp_path / "state.json"
    assert main(["freeze", str(plan_path), "--instance", str(inst_path), "-o", str(out),
                 "--movable", "kind:mig,share", "--migration-cost", "0.5", "--max-migrations", "4"]) == 0
    assert "running" in capsys.readouterr().out
    state = load_instance(out)
    assert state.objective.max_migrations == 4
    assert all(r.movable == (r.kind in ("mig", "share")) for r in state.requests if r.running)
    assert main(["check", str(out), str(tmp_path / "keep.json")]) == 2
    save_plan(running_plan(state), tmp_path / "keep.json")
    assert main(["check", str(out), str(tmp_path / "keep.json")]) == 0
    bad = tmp_path / "bad.json"
    for extra in (["--movable", "tenant:nobody"], ["--migration-cost", "cheap"], ["--max-migrations", "-1"]):
        assert main(["freeze", str(plan_path), "--instance", str(inst_path), "-o", str(bad), *extra]) == 2
        assert not bad.exists()
    assert "--movable" in capsys.readouterr().err


def test_cli_import_ends_in_frozen_form(tmp_path: Path, shared: Path) -> None:
    """Tests that `packer import nvidia-smi` writes running work with modes fixed and the movable rule
    applied, the form freeze writes (freezing it again changes nothing)."""
    lgi = shared / "mig" / "fixtures" / "nvidia-smi" / "a100-sxm4-40gb_lgi_guide_3-2-1-1.txt"
    out = tmp_path / "smi.json"
    assert main(["import", "nvidia-smi", "--lgi", str(lgi), "--model", "A100-40GB", "-o", str(out),
                 "--movable", "--migration-cost", "0.7"]) == 0
    inst = load_instance(out)
    assert inst.requests and all(r.running and r.movable and r.migration_cost == 0.7 for r in inst.requests)
    assert freeze(inst, running_plan(inst), movable="all") == inst
    assert main(["import", "nvidia-smi", "--lgi", str(lgi), "--model", "A100-40GB", "-o", str(out)]) == 0
    assert not any(r.movable for r in load_instance(out).requests)


def test_library_name() -> None:
    """Tests that packer.freeze stays the function after the module of that name is imported."""
    import importlib
    import sys

    import packer

    importlib.import_module("packer.freeze")
    assert packer.freeze is sys.modules["packer.freeze"].freeze
