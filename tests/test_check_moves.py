"""Tests for packer.check_moves: the independent replay checker of move sequences."""

from __future__ import annotations

import ast
from collections.abc import Callable

import pytest

from packer.check_moves import KINDS, check_moves
from packer.formats import instance_from_dict
from packer.model import INSTANCE_FORMAT, Instance, Plan, Unit
from packer.moves.format import Create, Destroy, Moves, SetMode, Start, Stop, Wave
from packer.moves.planner import plan_moves
from packer.plans import build_plan
from tests.conftest import ROOT


def test_checker_imports_no_planner() -> None:
    """Tests that packer/check_moves.py imports nothing from the planner, solvers, geometry or exports."""
    tree = ast.parse((ROOT / "packer" / "check_moves.py").read_text())
    names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert names <= {"__future__", "collections", "dataclasses", "packer.model", "packer.moves.format"}, names


def _u(gpu: int, profile: str | None = None, start: int | None = None, milli: int | None = None,
       node: str = "n0") -> Unit:
    return Unit(node=node, gpu=gpu, profile=profile, start=start, gpu_milli=milli)


def _cluster() -> tuple[Instance, Plan]:
    """Node n0, GPUs: 0 mig (a: 3g.40gb@0 of tenant q, gpu-isolated, quota 0.5), 1 'any', 2 and 3 shared
    (s: 600 milli on 2), 4 full (w runs there). Target: a to GPU 1 (made mig) at @4, s to GPU 3, new n
    (700 milli) on GPU 2; m waits. a cannot make-before-break: its quota holds one copy only."""
    inst = instance_from_dict({
        "format": INSTANCE_FORMAT, "name": "c",
        "nodes": [{"id": "n0", "gpu_model": "H100-80GB", "num_gpus": 5, "mode": "full",
                   "gpu_modes": ["mig", "any", "shared", "shared", "full"], "cpu_milli": 10000}],
        "tenants": [{"id": "q", "max_gpus": 0.5, "isolation": "gpu"}, {"id": "o"}],
        "requests": [
            {"id": "a", "tenant": "q", "kind": "mig", "profile": "3g.40gb", "movable": True,
             "placement": [{"node": "n0", "gpu": 0, "profile": "3g.40gb", "start": 0}]},
            {"id": "s", "tenant": "o", "kind": "share", "gpu_milli": 600, "cpu_milli": 4000, "movable": True,
             "placement": [{"node": "n0", "gpu": 2, "gpu_milli": 600}]},
            {"id": "w", "tenant": "o", "kind": "gpu", "placement": [{"node": "n0", "gpu": 4}]},
            {"id": "n", "tenant": "o", "kind": "share", "gpu_milli": 700, "cpu_milli": 4000},
            {"id": "m", "tenant": "o", "kind": "mig", "profile": "1g.10gb"},
        ],
        "objective": {"max_migrations": None}})
    plan = build_plan(inst, solver="t", placed={"a": [_u(1, "3g.40gb", 4)], "s": [_u(3, milli=600)],
                                                "w": [_u(4)], "n": [_u(2, milli=700)]},
                      unplaced={"m": "waiting"}, gpu_modes={("n0", 1): "mig"})
    return inst, plan


def _valid() -> tuple[Instance, Plan, Moves]:
    inst, plan = _cluster()
    moves = plan_moves(inst, plan)
    return inst, plan, moves


def _with(moves: Moves, waves: list[list]) -> Moves:  # type: ignore[type-arg]
    return moves.model_copy(update={"waves": tuple(Wave(steps=tuple(w)) for w in waves), "stats": {}})


def test_planned_sequence_is_valid() -> None:
    """Tests that the hand-made cluster's planned sequence passes and its statistics are recounted."""
    inst, plan, moves = _valid()
    rep = check_moves(inst, plan, moves)
    assert rep.ok, rep.format()
    assert rep.stats["moved_requests"] == 2 and rep.stats["new_requests"] == 1
    assert "valid move sequence" in rep.format()


A = Create(node="n0", gpu=1, profile="3g.40gb", start=4)
SM = SetMode(node="n0", gpu=1, mode="mig")
START_A = Start(request="a", unit=_u(1, "3g.40gb", 4))
STOP_A = Stop(request="a", unit=_u(0, "3g.40gb", 0), temporary=True)
DESTROY_A = Destroy(node="n0", gpu=0, profile="3g.40gb", start=0)
START_S = Start(request="s", unit=_u(3, milli=600))
STOP_S = Stop(request="s", unit=_u(2, milli=600))
START_N = Start(request="n", unit=_u(2, milli=700))
ME = "1g.10gb+me"
GOOD = [[SM, START_S], [A, STOP_S, STOP_A], [START_A, START_N, DESTROY_A]]

#: kind -> a sequence (waves of steps) that breaks exactly that rule.
CORRUPTIONS: dict[str, Callable[[], list[list]]] = {  # type: ignore[type-arg]
    "unknown_request": lambda: GOOD + [[Stop(request="zz", unit=_u(0))]],
    "unknown_gpu": lambda: GOOD + [[SetMode(node="n0", gpu=9, mode="full")]],
    "unit_shape": lambda: [[SM, START_S], [A, STOP_S, STOP_A], [Start(request="n", unit=_u(2, "1g.10gb", 0))]],
    "mode": lambda: [[A]],
    "set_mode": lambda: [[SetMode(node="n0", gpu=0, mode="full")]],
    "profile": lambda: [[SM], [Create(node="n0", gpu=1, profile="9g.1tb", start=0)]],
    "mig_start": lambda: [[SM], [Create(node="n0", gpu=1, profile="3g.40gb", start=2)]],
    "mig_overlap": lambda: [[Create(node="n0", gpu=0, profile="1g.10gb", start=1)]],
    "mig_max_count": lambda: [[SM], [Create(node="n0", gpu=1, profile=ME, start=0)],
                              [Create(node="n0", gpu=1, profile=ME, start=1)]],
    "mig_missing": lambda: [[SM], [START_A]],
    "mig_busy": lambda: [[DESTROY_A]],
    "gpu_exclusive": lambda: [[Start(request="w", unit=_u(4))]],
    "share_capacity": lambda: [[START_N]],
    "host_cpu": lambda: [[START_S, Start(request="n", unit=_u(3, milli=700))], [STOP_S]],
    "quota": lambda: [[SM], [A], [START_A]],
    "isolation_gpu": lambda: [[Create(node="n0", gpu=0, profile="1g.10gb", start=4)],
                              [Start(request="m", unit=_u(0, "1g.10gb", 4))]],
    "not_running": lambda: [[STOP_S], [STOP_S]],
    "wave_parallel": lambda: [[SM, A]],
    "temporary_flag": lambda: [[SM, STOP_S], [A, START_S]],
    "end_state": lambda: GOOD[:-1],
}


def test_every_kind_has_a_corruption() -> None:
    """Tests that the table covers every violation kind but those shown elsewhere or built like a covered one."""
    assert set(KINDS) - set(CORRUPTIONS) == {"instance_name", "stats", "host_memory", "isolation_node",
                                             "allowed_models"}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corruption_is_named(kind: str) -> None:
    """Tests that each corrupted sequence is reported with the kind of rule it breaks."""
    inst, plan, moves = _valid()
    assert check_moves(inst, plan, _with(moves, GOOD)).ok, check_moves(inst, plan, _with(moves, GOOD)).format()
    rep = check_moves(inst, plan, _with(moves, CORRUPTIONS[kind]()))
    assert kind in rep.kinds(), rep.format()


def test_wave_parallel_needs_no_step_of_its_own_wave() -> None:
    """Tests that a start using room a stop of the same wave frees is not parallel-safe, even listed after it."""
    inst, plan, moves = _valid()
    waves = [[SM, START_S], [A, STOP_A], [START_A, DESTROY_A], [STOP_S, START_N]]
    rep = check_moves(inst, plan, _with(moves, waves))
    assert rep.kinds() == {"wave_parallel"} and len(rep.violations) == 1, rep.format()
    waves = [[SM, START_S], [A, STOP_A], [START_A, DESTROY_A], [STOP_S], [START_N]]
    assert check_moves(inst, plan, _with(moves, waves)).ok


def test_instance_name_and_stats() -> None:
    """Tests that a sequence for another instance, or with wrong statistics, is reported."""
    inst, plan, moves = _valid()
    assert "instance_name" in check_moves(inst, plan, moves.model_copy(update={"instance": "x"})).kinds()
    stats = dict(moves.stats, temporary_stops=7)
    assert "stats" in check_moves(inst, plan, moves.model_copy(update={"stats": stats})).kinds()


def test_checker_loads_no_planner_at_run_time() -> None:
    """Tests that importing the checker (and the file format) loads no planner, solver or geometry module."""
    import subprocess
    import sys

    code = ("import sys, packer.check_moves; "
            "print(sorted(m for m in sys.modules if m.startswith(('packer.moves.planner', 'packer.greedy', 'packer.dispatch', 'packer.plans', "
            "'packer.geometry', 'packer.export', 'packer.online', 'packer.cpsat'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
