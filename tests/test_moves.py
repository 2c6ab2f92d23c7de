"""Tests for packer.moves: the move planner, the packer.moves/v1 file and its command line."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings

from packer.check_moves import check_moves
from packer.errors import InputError
from packer.formats import instance_from_dict
from packer.freeze import freeze, running_plan
from packer.greedy.solver import solve as greedy
from packer.model import INSTANCE_FORMAT, Instance, Plan, Unit
from packer.moves.format import Create, Destroy, Moves, SetMode, Start, Stop, moves_from_dict
from packer.moves.planner import plan_moves
from packer.plans import build_plan
from tests.conftest import INSTANCES
from tests.strategies import running_targets


def _inst(nodes: list[dict], requests: list[dict], tenants: list[dict] | None = None) -> Instance:
    return instance_from_dict({"format": INSTANCE_FORMAT, "name": "t", "nodes": nodes, "requests": requests,
                               "tenants": tenants or [], "objective": {"max_migrations": None}})


def _plan(inst: Instance, placed: dict[str, list[dict]], modes: dict | None = None) -> Plan:
    units = {rid: [Unit(**u) for u in us] for rid, us in placed.items()}
    unplaced = {r.id: "waiting" for r in inst.requests if r.id not in units}
    return build_plan(inst, solver="test", placed=units, unplaced=unplaced, gpu_modes=modes)


def _ops(moves: Moves) -> list[list[str]]:
    return [[f"{s.op}:{getattr(s, 'request', '')}" for s in w.steps] for w in moves.waves]


def test_whole_gpu_swap_needs_one_temporary_stop() -> None:
    """Tests that two whole-GPU jobs swapping GPUs take one temporary stop and one make-before-break move."""
    inst = _inst([{"id": "n0", "gpu_model": "H100-80GB", "num_gpus": 2, "mode": "full"}], [
        {"id": "a", "kind": "gpu", "placement": [{"node": "n0", "gpu": 0}], "movable": True, "migration_cost": 1.0},
        {"id": "b", "kind": "gpu", "placement": [{"node": "n0", "gpu": 1}], "movable": True, "migration_cost": 0.2},
    ])
    plan = _plan(inst, {"a": [{"node": "n0", "gpu": 1}], "b": [{"node": "n0", "gpu": 0}]})
    moves = plan_moves(inst, plan)
    rep = check_moves(inst, plan, moves)
    assert rep.ok, rep.format()
    assert moves.stats["temporary_stops"] == 1 and moves.stats["make_before_break"] == 1
    stops = [s for _, _, s in moves.steps() if isinstance(s, Stop)]
    assert [(s.request, s.temporary) for s in stops][0] == ("b", True), "the cheaper job breaks the cycle"
    assert _ops(moves) == [["stop:b"], ["start:a"], ["stop:a"], ["start:b"]]


def test_free_room_gives_make_before_break() -> None:
    """Tests that a move into free room starts at the destination before it stops at the source."""
    inst = _inst([{"id": "n0", "gpu_model": "H100-80GB", "num_gpus": 8, "mode": "mig"}], [
        {"id": "a", "kind": "mig", "profile": "3g.40gb", "placement": [{"node": "n0", "gpu": 0, "profile": "3g.40gb",
                                                                        "start": 4}], "movable": True},
    ])
    plan = _plan(inst, {"a": [{"node": "n0", "gpu": 1, "profile": "3g.40gb", "start": 0}]})
    moves = plan_moves(inst, plan)
    assert check_moves(inst, plan, moves).ok
    assert [[s.op for s in w.steps] for w in moves.waves] == [["create"], ["start"], ["stop"], ["destroy"]]
    assert moves.stats["make_before_break"] == 1 and moves.stats["temporary_stops"] == 0


def test_mig_swap_reuses_instances() -> None:
    """Tests that two MIG jobs swapping instances of one profile reuse them (no create or destroy)."""
    unit = lambda s: {"node": "n0", "gpu": 0, "profile": "3g.40gb", "start": s}  # noqa: E731
    inst = _inst([{"id": "n0", "gpu_model": "H100-80GB", "num_gpus": 1, "mode": "mig"}], [
        {"id": "a", "kind": "mig", "profile": "3g.40gb", "placement": [unit(0)], "movable": True},
        {"id": "b", "kind": "mig", "profile": "3g.40gb", "placement": [unit(4)], "movable": True},
    ])
    plan = _plan(inst, {"a": [unit(4)], "b": [unit(0)]})
    moves = plan_moves(inst, plan)
    assert check_moves(inst, plan, moves).ok
    assert moves.stats["creates"] == moves.stats["destroys"] == 0
    assert moves.stats["temporary_stops"] == 1


def test_modes_are_set_before_use() -> None:
    """Tests that an 'any' GPU gets its mode in a wave before its MIG instances and units."""
    inst = _inst([{"id": "n0", "gpu_model": "H100-80GB", "num_gpus": 2, "mode": "any"}], [
        {"id": "x", "kind": "mig", "profile": "1g.10gb", "count": 2},
        {"id": "y", "kind": "share", "gpu_milli": 500},
    ])
    plan = greedy(inst)
    moves = plan_moves(inst, plan)
    assert check_moves(inst, plan, moves).ok
    ops = [[s.op for s in w.steps] for w in moves.waves]
    assert ops[0] == ["set_mode", "set_mode"] and "create" in ops[1]
    assert moves.stats["mode_changes"] == 2 and moves.stats["new_requests"] == 2


def test_new_work_waits_for_moves_on_shared_capacity() -> None:
    """Tests that new work does not take the room a make-before-break move needs for its overlap."""
    inst = _inst([{"id": "n0", "gpu_model": "H100-80GB", "num_gpus": 2, "mode": "shared"}], [
        {"id": "old", "kind": "share", "gpu_milli": 600, "placement": [{"node": "n0", "gpu": 0, "gpu_milli": 600}],
         "movable": True},
        {"id": "new", "kind": "share", "gpu_milli": 700},
    ])
    plan = _plan(inst, {"old": [{"node": "n0", "gpu": 1, "gpu_milli": 600}],
                        "new": [{"node": "n0", "gpu": 0, "gpu_milli": 700}]})
    moves = plan_moves(inst, plan)
    assert check_moves(inst, plan, moves).ok
    assert moves.stats["temporary_stops"] == 0
    assert _ops(moves) == [["start:old"], ["stop:old"], ["start:new"]]


def test_keep_everything_plan_needs_no_steps() -> None:
    """Tests that the plan that keeps everything where it is has an empty sequence."""
    from packer.formats import load_instance

    inst = load_instance(INSTANCES / "default.json")
    state = freeze(inst, greedy(inst))
    plan = running_plan(state)
    moves = plan_moves(state, plan)
    assert moves.waves == () and check_moves(state, plan, moves).ok


def test_invalid_target_is_refused() -> None:
    """Tests that the planner refuses a target plan that is not valid for the instance."""
    inst = _inst([{"id": "n0", "gpu_model": "H100-80GB", "num_gpus": 1, "mode": "full"}], [
        {"id": "a", "kind": "gpu", "placement": [{"node": "n0", "gpu": 0}]},
    ])
    plan = _plan(inst, {"a": [{"node": "n0", "gpu": 0}]})
    bad = plan.model_copy(update={"assignments": ()})
    with pytest.raises(InputError, match="not valid"):
        plan_moves(inst, bad)


@settings(max_examples=25)
@given(running_targets(host=True))
def test_every_step_of_every_sequence_is_valid(case: tuple[Instance, Plan]) -> None:
    """Tests that for random running clusters and target plans every step of the planned sequence is valid
    per the independent checker, waves are parallel-safe, stop flags are right, and the end is the plan."""
    inst, plan = case
    moves = plan_moves(inst, plan)
    rep = check_moves(inst, plan, moves)
    assert rep.ok, rep.format()
    assert {k: moves.stats[k] for k in rep.stats} == rep.stats
    assert moves_from_dict(json.loads(json.dumps(moves.to_json_dict()))) == moves
    moved = sum(1 for m in plan.migrations)
    assert moves.stats["moved_requests"] == moved
    assert moves.stats["make_before_break"] + moves.stats["temporary_stops"] == moved


@settings(max_examples=12)
@given(running_targets())
def test_dropping_any_step_is_caught(case: tuple[Instance, Plan]) -> None:
    """Tests that the checker rejects the sequence with any one step left out (no step is superfluous)."""
    inst, plan = case
    moves = plan_moves(inst, plan)
    for w, k, _ in list(moves.steps())[:25]:
        steps = list(moves.waves[w].steps)
        del steps[k]
        waves = list(moves.waves)
        waves[w] = waves[w].model_copy(update={"steps": tuple(steps)})
        broken = moves.model_copy(update={"waves": tuple(waves), "stats": {}})
        assert not check_moves(inst, plan, broken).ok


def test_creates_follow_the_driver_rule_where_they_can() -> None:
    """Tests that creates on an empty GPU come in an order the inferred driver rule places as planned."""
    inst = _inst([{"id": "n0", "gpu_model": "A100-40GB", "num_gpus": 1, "mode": "mig"}], [
        {"id": "a", "kind": "mig", "profile": "1g.5gb", "count": 2},
        {"id": "b", "kind": "mig", "profile": "2g.10gb"},
        {"id": "c", "kind": "mig", "profile": "3g.20gb"},
    ])
    u = lambda p, s: {"node": "n0", "gpu": 0, "profile": p, "start": s}  # noqa: E731
    plan = _plan(inst, {"a": [u("1g.5gb", 0), u("1g.5gb", 1)], "b": [u("2g.10gb", 2)], "c": [u("3g.20gb", 4)]})
    moves = plan_moves(inst, plan)
    creates = [s for _, _, s in moves.steps() if isinstance(s, Create)]
    assert creates[0].profile == "3g.20gb", "3g first (the driver's known issue)"
    assert all(c.driver_start for c in creates)
    assert Counter((c.profile, c.start) for c in creates) == Counter(
        [("1g.5gb", 0), ("1g.5gb", 1), ("2g.10gb", 2), ("3g.20gb", 4)])


def test_step_types_round_trip(tmp_path: Path) -> None:
    """Tests that every step type reads back from its file form, and that a bad op is an error naming it."""
    from packer.moves.format import load_moves, save_moves

    m = Moves(instance="t", waves=({"steps": (
        SetMode(node="n", gpu=0, mode="mig"), Create(node="n", gpu=0, profile="1g.10gb", start=0),
        Start(request="r", unit=Unit(node="n", gpu=0, profile="1g.10gb", start=0)),
        Stop(request="r", unit=Unit(node="n", gpu=0, profile="1g.10gb", start=0), temporary=True),
        Destroy(node="n", gpu=0, profile="1g.10gb", start=0))},))  # type: ignore[arg-type]
    save_moves(m, tmp_path / "m.json")
    assert load_moves(tmp_path / "m.json") == m
    data = m.to_json_dict()
    data["waves"][0]["steps"][0]["op"] = "reboot"
    with pytest.raises(InputError, match="waves"):
        moves_from_dict(data, file="m.json")


def test_cli_moves_check_and_exports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Tests `packer freeze`, `packer moves --export` and `packer check --moves` end to end, as a new user
    would run them, and that a corrupted sequence exits 1 and a malformed one 2."""
    from packer.cli import main
    from packer.formats import load_instance, save_plan

    inst_path = INSTANCES / "features" / "any-mode.json"
    base = tmp_path / "base.json"
    save_plan(running_plan(load_instance(inst_path)), base)
    state = tmp_path / "state.json"
    assert main(["freeze", str(base), "--instance", str(inst_path), "-o", str(state)]) == 0
    target = tmp_path / "target.json"
    assert main(["solve", str(state), "-o", str(target), "--quiet"]) == 0
    out = tmp_path / "moves.json"
    assert main(["moves", str(state), str(target), "-o", str(out), "--export", str(tmp_path / "waves")]) == 0
    assert "steps in" in capsys.readouterr().out
    assert main(["check", str(state), str(target), "--moves", str(out)]) == 0
    assert "valid move sequence" in capsys.readouterr().out
    scripts = sorted((tmp_path / "waves").glob("wave-*.sh"))
    assert scripts and all(p.read_text().startswith("#!/bin/sh") for p in scripts)
    yamls = sorted((tmp_path / "waves").glob("wave-*.migparted.yaml"))
    from packer.export.migparted import load_migparted_text

    for y in yamls:
        assert load_migparted_text(y.read_text(), file=str(y))
    data = json.loads(out.read_text())
    data["waves"] = data["waves"][:-1]
    out.write_text(json.dumps(data))
    assert main(["check", str(state), str(target), "--moves", str(out), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["moves"]["ok"] is False
    out.write_text('{"format": "packer.moves/v1", "instance": "x", "waves": [{"steps": [{"op": "jump"}]}]}')
    assert main(["check", str(state), str(target), "--moves", str(out)]) == 2
    assert main(["schema", "moves"]) == 0
    assert "packer.moves/v1" in capsys.readouterr().out


def test_wave_exports_follow_the_layout() -> None:
    """Tests that the per-wave mig-parted configs hold the MIG layout after each wave, and scripts the stops."""
    from packer.export.migparted import load_migparted_text
    from packer.moves.export import unit_label, wave_layouts, wave_migparted, wave_script

    inst = _inst([{"id": "n0", "gpu_model": "H100-80GB", "num_gpus": 2, "mode": "mig"}], [
        {"id": "a", "kind": "mig", "profile": "3g.40gb", "placement": [{"node": "n0", "gpu": 0, "profile": "3g.40gb",
                                                                        "start": 4}], "movable": True},
    ])
    plan = _plan(inst, {"a": [{"node": "n0", "gpu": 1, "profile": "3g.40gb", "start": 0}]})
    moves = plan_moves(inst, plan)
    layouts = wave_layouts(inst, moves)
    assert layouts[-1].gpu("n0", 0).mig_instances() == [] and layouts[-1].gpu("n0", 1).mig_instances() == [
        ("3g.40gb", 0)]
    yamls = wave_migparted(inst, moves)
    assert yamls[0] is not None and yamls[1] is None  # wave 2 only starts
    cfg = load_migparted_text(yamls[0])
    assert "packer-n0-w01" in cfg
    stop_wave = next(k for k, w in enumerate(moves.waves, start=1) if any(isinstance(s, Stop) for s in w.steps))
    script = wave_script(inst, moves, stop_wave)
    assert f"packer.io/unit={unit_label(inst.request('a').placement[0])}" in script
    first = wave_script(inst, moves, 1)  # a runs on the node: MIG changes live, not through the node label
    assert "kubectl label" not in first
    assert "create 3g.40gb at start 0 on GPU 1 with an explicit placement" in first  # the driver would pick 4


def test_free_room_turns_a_swap_into_two_make_before_break_moves() -> None:
    """Tests that with a free GPU the swap parks one job there instead of stopping it (no temporary stop)."""
    inst = _inst([{"id": "n0", "gpu_model": "H100-80GB", "num_gpus": 3, "mode": "full"}], [
        {"id": "a", "kind": "gpu", "placement": [{"node": "n0", "gpu": 0}], "movable": True, "migration_cost": 1.0},
        {"id": "b", "kind": "gpu", "placement": [{"node": "n0", "gpu": 1}], "movable": True, "migration_cost": 0.2},
    ])
    plan = _plan(inst, {"a": [{"node": "n0", "gpu": 1}], "b": [{"node": "n0", "gpu": 0}]})
    moves = plan_moves(inst, plan)
    rep = check_moves(inst, plan, moves)
    assert rep.ok, rep.format()
    assert moves.stats["temporary_stops"] == 0 and moves.stats["parked"] == 1
    assert not any(isinstance(s, Stop) and s.temporary for _, _, s in moves.steps())
    assert _ops(moves) == [["start:b"], ["stop:b"], ["start:a"], ["stop:a"], ["start:b"], ["stop:b"]]


def _snapshot(state) -> dict:  # type: ignore[no-untyped-def]
    """Every table of a planner state as plain, comparable values."""
    out = {}
    for name in ("mode", "gis", "gi_user", "units", "on_gpu", "on_node", "milli", "whole", "cpu", "mem", "used",
                 "gpu_tenants", "node_tenants"):
        table = getattr(state, name)
        out[name] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in table.items() if v}
    return out


@settings(max_examples=25)
@given(running_targets(host=True))
def test_a_wave_copy_never_changes_the_state_it_copies(case: tuple[Instance, Plan]) -> None:
    """Tests the copy-on-write state: applying a whole sequence to a copy leaves the original as it was,
    and the copy ends where a fresh state that runs the same steps ends."""
    from packer.moves.planner import MovePlanner

    inst, plan = case
    moves = plan_moves(inst, plan)
    planner = MovePlanner(inst, plan)
    before = _snapshot(planner.state)
    joint = planner.state.copy()
    fresh = MovePlanner(inst, plan).state
    for wave in moves.waves:
        for step in wave.steps:
            joint.apply(step)
            fresh.apply(step)
    assert _snapshot(planner.state) == before
    assert _snapshot(joint) == _snapshot(fresh)
