"""Tests of the replica region (packer.cpsat.reopt_spread.replica_region, session 16): the nodes of a
CP-SAT step for a waiting spread request: where a unit fits now or once one freeable request leaves
(a request that itself fits on another node now), one domain at a time up to the spread's limit, plus
those destinations; and move_steps with replica steps keeps valid plans within the cap."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.cpsat import reopt, reopt_spread
from packer.cpsat.result import modes_of
from packer.model import Instance, Node, Request, Spread, Tenant, Topology, Unit
from packer.plans import build_plan, objective_value

H100 = "H100-80GB"


def _ok(inst: Instance, placed) -> bool:  # type: ignore[no-untyped-def]
    plan = build_plan(inst, solver="t", placed=placed, gpu_modes=modes_of(inst, placed),
                      unplaced={r.id: "waiting" for r in inst.requests if r.id not in placed})
    return bool(check(inst, plan).ok)


def _state(n_open: int = 3, n_full: int = 3, room: int = 2, count: int = 3, per: int = 1,
           level: str = "node") -> tuple[Instance, dict[str, list[Unit]]]:
    """``n_open`` 2-GPU nodes o*, each a movable 1-GPU job on GPU 0 and pinned work on GPU 1; ``n_full``
    2-GPU nodes f* with pinned work on both GPUs; one node ``room`` with ``room`` free GPUs (when > 0).
    Each node its own rack. A request of ``count`` units, at most ``per`` a ``level`` domain, waits
    (priority 3): it fits only on the o* nodes once their jobs move to ``room``."""
    nodes = [Node(id=f"o{i}", gpu_model=H100, num_gpus=2, mode="full", domains={"rack": f"ro{i}"})
             for i in range(n_open)]
    nodes += [Node(id=f"f{i}", gpu_model=H100, num_gpus=2, mode="full", domains={"rack": f"rf{i}"})
              for i in range(n_full)]
    reqs = [
        *[Request(id=f"job{i}", kind="gpu", tenant="t", placement=(Unit(node=f"o{i}", gpu=0),), movable=True,
                  migration_cost=0.1) for i in range(n_open)],
        *[Request(id=f"pin{i}", kind="gpu", tenant="t", placement=(Unit(node=f"o{i}", gpu=1),), movable=False)
          for i in range(n_open)],
        *[Request(id=f"full{i}", kind="gpu", count=2, tenant="t", movable=False,
                  placement=(Unit(node=f"f{i}", gpu=0), Unit(node=f"f{i}", gpu=1))) for i in range(n_full)],
    ]
    if room:
        # the room node takes the jobs, not a unit of ``rep``: its GPUs are of a model ``rep`` does not allow
        nodes.append(Node(id="room", gpu_model="A100-80GB", num_gpus=room, mode="full", domains={"rack": "rroom"}))
    reqs.append(Request(id="rep", kind="gpu", count=count, priority=3.0, tenant="t", gpu_models=(H100,),
                        spread=Spread(level=level, max_per_domain=per)))
    inst = Instance(name="replica", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes),
                    requests=tuple(reqs), tenants=(Tenant(id="t"),))
    return inst, {r.id: list(r.placement) for r in inst.requests if r.placement is not None}


def test_region_takes_the_openings_and_their_destination_not_the_full_nodes() -> None:
    """Tests that the region of ``rep`` holds the three o* nodes (each opens by moving its job), the room
    node (where the jobs fit now), and none of the f* nodes (nothing there can leave)."""
    inst, cur = _state()
    nodes, info = reopt_spread.replica_region(inst, cur, inst.request("rep"), random.Random(0))
    assert nodes == {"o0", "o1", "o2", "room"}, info
    assert info["units"] == 3 and sorted(info["release"]) == ["job0", "job1", "job2"]  # type: ignore[arg-type]


def test_no_region_when_the_displaced_work_fits_nowhere() -> None:
    """Tests that without the room node (the jobs fit nowhere else) no opening counts: the region is empty."""
    inst, cur = _state(room=0)
    nodes, info = reopt_spread.replica_region(inst, cur, inst.request("rep"), random.Random(0))
    assert nodes == set() and info["open_nodes"] == 0


def test_region_without_destinations_takes_room_by_free_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests REPLICA_DEST off: openings count without a destination and the region takes nodes with free room."""
    monkeypatch.setattr(reopt_spread, "REPLICA_DEST", False)
    inst, cur = _state()
    nodes, _info = reopt_spread.replica_region(inst, cur, inst.request("rep"), random.Random(0))
    assert {"o0", "o1", "o2", "room"} <= nodes


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_open=st.integers(1, 6), n_full=st.integers(0, 3), room=st.integers(0, 4), count=st.integers(2, 6),
       per=st.integers(1, 2), level=st.sampled_from(["node", "rack"]), seed=st.integers(0, 1000))
def test_region_property(n_open: int, n_full: int, room: int, count: int, per: int, level: str, seed: int) -> None:
    """Property: a non-empty region covers the request's units within its spread limit (per domain), holds
    every node of the work it releases, and holds a node where each released running request fits;
    an empty one means the openings cannot hold the request."""
    inst, cur = _state(n_open, n_full, room, count, per, level)
    r = inst.request("rep")
    nodes, info = reopt_spread.replica_region(inst, cur, r, random.Random(seed))
    opened = set(info.get("clear", ()))  # type: ignore[arg-type]
    if not nodes:
        # every o* node opens one GPU once its job leaves (one unit); the jobs' destination is the room node
        assert room == 0 or n_open < r.need_count
        return
    assert opened <= nodes and opened <= {f"o{i}" for i in range(n_open)}
    assert len(opened) >= r.need_count  # one unit counted per opened node
    assert room > 0
    assert {u.node for q in info["release"] for u in cur[q]} <= nodes  # type: ignore[attr-defined]
    assert "room" in nodes


@pytest.mark.parametrize("on", [False, True])
def test_move_steps_with_replica_regions(on: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that move_steps with the aim made wide (REGION_NODES 2) takes replica regions when REPLICA is
    on (none when off), places ``rep`` (the only waiting request) and keeps a valid plan within the cap."""
    monkeypatch.setattr(reopt, "REPLICA", on)
    monkeypatch.setattr(reopt, "REGION_NODES", 2)
    monkeypatch.setattr(reopt, "AIMED_SHARE", 1.0)
    monkeypatch.setattr(reopt_spread, "SPREAD", False)
    inst, cur = _state(n_open=4, n_full=6, room=4, count=3)
    start = objective_value(inst, cur)
    got, stats = reopt.move_steps(inst, cur, cap=3, deadline=time.perf_counter() + 60, seed=0, workers=1,
                                  max_steps=2, det=0.5)
    assert _ok(inst, got)
    assert reopt.moves(inst, got) <= 3
    assert bool(stats.get("replica", 0)) == on
    assert objective_value(inst, got) >= start
    if on:
        assert "rep" in got and len({u.node for u in got["rep"]}) == 3


def _iso_wide_state(n: int = 20) -> tuple[Instance, dict[str, list[Unit]]]:
    """``n`` 2-GPU nodes of a node-isolated tenant ``iso``: a movable request spread one a node over all of
    them (GPU 0) and nothing on GPU 1; ``n`` full 2-GPU nodes of tenant ``t``; a 2-GPU job of ``t`` waits.
    Only packing iso's replicas two a node (or moving them) frees a node for it."""
    nodes = [Node(id=f"i{k:02d}", gpu_model=H100, num_gpus=2, mode="full", domains={"rack": f"r{k % 4}"})
             for k in range(n)]
    nodes += [Node(id=f"t{k:02d}", gpu_model=H100, num_gpus=2, mode="full", domains={"rack": f"r{k % 4}"})
              for k in range(n)]
    reqs = [
        Request(id="iso-rep", kind="gpu", count=n, tenant="iso", movable=True, migration_cost=0.1,
                placement=tuple(Unit(node=f"i{k:02d}", gpu=0) for k in range(n))),
        *[Request(id=f"full{k}", kind="gpu", count=2, tenant="t", movable=False,
                  placement=(Unit(node=f"t{k:02d}", gpu=0), Unit(node=f"t{k:02d}", gpu=1))) for k in range(n)],
        Request(id="job", kind="gpu", count=2, priority=2.0, tenant="t",
                locality=None),
    ]
    inst = Instance(name="isowide", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes),
                    requests=tuple(reqs), tenants=(Tenant(id="t"), Tenant(id="iso", isolation="node")))
    return inst, {r.id: list(r.placement) for r in inst.requests if r.placement is not None}


@pytest.mark.parametrize("on", [False, True])
def test_tenant_step_takes_all_the_tenants_nodes(on: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests TENANT_ALL: a tenant step's region holds all 20 of iso's nodes when on, at most
    REGION_MAX_NODES plus the fill's room when off; either way the plan stays valid, within the cap and
    no worse than the start."""
    monkeypatch.setattr(reopt, "TENANT_ALL", on)
    monkeypatch.setattr(reopt, "AIMED_SHARE", 0.0)
    monkeypatch.setattr(reopt, "TENANT_SHARE", 1.0)
    monkeypatch.setattr(reopt_spread, "SPREAD", False)
    monkeypatch.setattr(reopt.reopt_gang, "GANG", False)
    inst, cur = _iso_wide_state()
    start = objective_value(inst, cur)
    got, stats = reopt.move_steps(inst, cur, cap=1, deadline=time.perf_counter() + 60, seed=0, workers=1,
                                  max_steps=1, det=0.5)
    rec = stats["by_kind"]["tenant"]
    assert rec["steps"] == 1
    if on:
        assert rec["nodes"] >= 20
    else:
        assert rec["nodes"] < 20
    assert _ok(inst, got) and reopt.moves(inst, got) <= 1 and objective_value(inst, got) >= start
    if on:  # all of iso's replicas are free: packing them frees a node for the job
        assert "job" in got
