"""Tests of session 20's clear-step gate (packer.cpsat.reopt_clear): a domain's price counts the whole-GPU
room its running whole-GPU work needs elsewhere (free GPUs cost nothing, GPUs of placed waiting work that
work's value per GPU, GPUs of running work are no room), and move_steps builds no CP-SAT clear step
where no gang has a domain so priced below its value; where one has, it does. Every plan valid, within
the cap and never worse (hypothesis over small fragmented states)."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.cpsat import reopt, reopt_clear, reopt_gang, reopt_spread
from packer.generate import generate
from packer.model import Instance, Locality, Node, Request, Tenant, Topology, Unit
from packer.plans import objective_value
from tests.test_reopt_clear_s19 import _ok, _placed

H100 = "H100-80GB"


def _state(waiting_priority: float) -> tuple[Instance, dict[str, list[Unit]]]:
    """Two 4-GPU full nodes. n0: three movable running 1-GPU jobs (cost 0.1 each) and a free GPU; n1: four
    placed waiting 1-GPU jobs of ``waiting_priority``. A 4-GPU node gang of priority 1.5 (worth 6) waits.
    Placing it on n0 moves the three jobs into n1's room (giving up three waiting jobs); on n1 gives up all
    four: worth it only when the waiting jobs are worth less than 1.5 - 0.1 a GPU."""
    nodes = tuple(Node(id=f"n{i}", gpu_model=H100, num_gpus=4, mode="full") for i in range(2))
    reqs = [Request(id=f"r{g}", kind="gpu", count=1, tenant="t", placement=(Unit(node="n0", gpu=g),), movable=True,
                    migration_cost=0.1) for g in range(3)]
    reqs += [Request(id=f"w{g}", kind="gpu", count=1, tenant="t", priority=waiting_priority) for g in range(4)]
    reqs.append(Request(id="gang", kind="gpu", count=4, priority=1.5, tenant="g",
                        locality=Locality(level="node", required=True)))
    inst = Instance(name="gate", topology=Topology(levels=("node",)), nodes=nodes, requests=tuple(reqs),
                    tenants=(Tenant(id="t"), Tenant(id="g")))
    cur = _placed(inst)
    for g in range(4):
        cur[f"w{g}"] = [Unit(node="n1", gpu=g)]
    return inst, cur


def test_room_has_free_gpus_and_covers_with_whole_waiting_requests() -> None:
    """Tests that the room is n0's free GPU and n1's waiting jobs (covering j GPUs costs j × 2); that with
    one free GPU outside the gang's, 3 units need 2 GPUs given up (4), 1 unit none, and with that GPU
    taken 3 need 3 (6); and that a 2-GPU waiting request covers 1 GPU only whole (at its value 4)."""
    inst, cur = _state(2.0)
    room = reopt_clear.Room(inst, cur, reopt_clear.gpu_prices(inst, cur)[0])
    assert room.free["*"] == {("n0", 3)} and room.cover["*"] == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert room.cost({"*": 3}, set()) == 4.0 and room.cost({"*": 1}, set()) == 0.0
    assert room.cost({"*": 3}, {("n0", 3)}) == 6.0 and room.cost({"*": 6}, set()) == float("inf")
    w = Request(id="w4", kind="gpu", count=2, tenant="t", priority=2.0)
    inst2 = inst.model_copy(update={"requests": tuple(r for r in inst.requests if r.id not in ("w2", "w3")) + (w,)})
    cur2 = {k: v for k, v in cur.items() if k not in ("w2", "w3")}
    cur2["w4"] = [Unit(node="n1", gpu=2), Unit(node="n1", gpu=3)]
    room2 = reopt_clear.Room(inst2, cur2, set())
    assert room2.cover["*"] == [0.0, 2.0, 4.0, 6.0, 8.0]
    cur3 = {k: v for k, v in cur2.items() if k not in ("w0", "w1")}
    assert reopt_clear.Room(inst2, cur3, set()).cover["*"] == [0.0, 4.0, 4.0]


@pytest.mark.parametrize("waiting_priority,want", [(2.0, None), (1.0, 0.3 + 3 * 1.0)])
def test_room_priced_domains(waiting_priority: float, want: float | None) -> None:
    """Tests that with waiting work of 2.0 a GPU no domain is worth clearing (n0: 0.3 + 3 × 2 ≥ 6, n1: 8),
    though session 19's price (what leaves alone, 0.3) called n0 worth it; with 1.0 a GPU n0 is, at
    0.3 + 3 (three of n1's jobs given up for room), and n1 at 3 (one of its four jobs lands on n0's free
    GPU, three are given up)."""
    inst, cur = _state(waiting_priority)
    gang = inst.request("gang")
    got = reopt_clear.prices(inst, cur, gang)
    reopt_clear.ROOM_PRICE = False
    try:
        old = reopt_clear.prices(inst, cur, gang)
    finally:
        reopt_clear.ROOM_PRICE = True
    assert [c[1] for c in old][:1] == ["n0"] and abs(old[0][0] - 0.3) < 1e-9
    if want is None:
        assert got == [] and reopt_clear.worth(inst, cur, [gang]) == []
    else:
        assert [(c[1], round(c[0], 9)) for c in got] == [("n1", 3.0), ("n0", want)]
        assert reopt_clear.worth(inst, cur, [gang]) == [gang]


def _steps(inst: Instance, cur, cap=None, steps: int = 2, seed: int = 0):  # type: ignore[no-untyped-def]
    """``steps`` deterministic move steps with clear steps on and drawn first (SHARE 1), no gang or
    spread steps."""
    keep = reopt_clear.CLEAR, reopt_clear.SHARE, reopt_gang.GANG, reopt_spread.SPREAD
    reopt_clear.CLEAR, reopt_clear.SHARE, reopt_gang.GANG, reopt_spread.SPREAD = True, 1.0, False, False
    try:
        return reopt.move_steps(inst, cur, cap=cap, deadline=time.perf_counter() + 60, seed=seed, workers=1,
                                max_steps=steps, det=0.3)
    finally:
        reopt_clear.CLEAR, reopt_clear.SHARE, reopt_gang.GANG, reopt_spread.SPREAD = keep


def test_the_gate_builds_no_clear_step_where_nothing_is_worth_clearing() -> None:
    """Tests that where no domain is worth clearing every clear draw is turned away before a CP-SAT step
    is built (and the iteration goes on as another step); without the gate session 19's step is built."""
    inst, cur = _state(2.0)
    got, stats = _steps(inst, cur)
    assert "clear" not in stats["by_kind"] and stats.get("clear_gated", 0) >= 2
    assert objective_value(inst, got) >= objective_value(inst, cur) - 1e-9 and _ok(inst, got)
    reopt_clear.GATE = reopt_clear.ROOM_PRICE = False
    try:
        _got, stats0 = _steps(inst, cur)
    finally:
        reopt_clear.GATE = reopt_clear.ROOM_PRICE = True
    assert stats0["by_kind"]["clear"]["steps"] >= 1 and not stats0.get("clear_gated")


def test_the_gate_lets_a_worthwhile_clear_step_through() -> None:
    """Tests that where a domain is worth clearing the clear step is built and places the gang, giving up
    three waiting jobs of 1.0 for it (on n1: +6 - 3; on n0: +6 - 3 - 0.3)."""
    inst, cur = _state(1.0)
    before = objective_value(inst, cur)
    got, stats = _steps(inst, cur, steps=1)
    assert stats["by_kind"]["clear"]["steps"] == 1 and not stats.get("clear_gated")
    assert "gang" in got and objective_value(inst, got) >= before + 6 - 3 - 0.3 - 1e-6 and _ok(inst, got)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 80), nodes=st.sampled_from([2, 3, 4]), cap=st.sampled_from([0, 1, None]))
def test_gated_clear_steps_keep_only_valid_better_plans(seed: int, nodes: int, cap: int | None) -> None:
    """Tests, on small states of the fragmented family, that room pricing only drops domains or raises their
    price (it adds what the room costs), and that gated move steps with clear steps drawn first return a
    plan the checker accepts, within the cap, never worse than the start."""
    inst = generate("fragmented", seed, nodes=nodes)
    cur = _placed(inst)
    use = reopt_clear.gpu_prices(inst, cur)
    for gang in reopt_clear.gangs(inst, cur):
        got = {c[1]: c[0] for c in reopt_clear.prices(inst, cur, gang, use)}
        reopt_clear.ROOM_PRICE = False
        try:
            old = {c[1]: c[0] for c in reopt_clear.prices(inst, cur, gang, use)}
        finally:
            reopt_clear.ROOM_PRICE = True
        assert set(got) <= set(old) and all(got[d] >= old[d] - 1e-9 for d in got)
    before = objective_value(inst, cur)
    out, _stats = _steps(inst, cur, cap=cap, seed=seed)
    assert objective_value(inst, out) >= before - 1e-9 and _ok(inst, out)
    assert cap is None or reopt.moves(inst, out) <= cap


def test_the_region_holds_the_room_the_price_counted() -> None:
    """Tests that the room the price counts (a placed waiting job of the gang's own priority, given up) is
    in the region: n0 has two movable running jobs and two free GPUs, n1 a waiting 2-GPU job of priority 1
    and two pinned jobs; the 4-GPU gang of priority 1 (worth 4) goes on n0 once the running jobs take the
    waiting job's GPUs (+4 - 2 - 0.2)."""
    nodes = tuple(Node(id=f"n{i}", gpu_model=H100, num_gpus=4, mode="full") for i in range(2))
    reqs = (Request(id="r0", kind="gpu", count=1, tenant="t", placement=(Unit(node="n0", gpu=0),), movable=True,
                    migration_cost=0.1),
            Request(id="r1", kind="gpu", count=1, tenant="t", placement=(Unit(node="n0", gpu=1),), movable=True,
                    migration_cost=0.1),
            Request(id="p", kind="gpu", count=2, tenant="t", placement=(Unit(node="n1", gpu=2), Unit(node="n1", gpu=3))),
            Request(id="w", kind="gpu", count=2, tenant="t"),
            Request(id="gang", kind="gpu", count=4, tenant="g", locality=Locality(level="node", required=True)))
    inst = Instance(name="sameprio", topology=Topology(levels=("node",)), nodes=nodes, requests=reqs,
                    tenants=(Tenant(id="t"), Tenant(id="g")))
    cur = _placed(inst)
    cur["w"] = [Unit(node="n1", gpu=0), Unit(node="n1", gpu=1)]
    got = reopt_clear.prices(inst, cur, inst.request("gang"))
    assert [(c[1], round(c[0], 9)) for c in got] == [("n0", 2.2)]
    before = objective_value(inst, cur)
    out, stats = _steps(inst, cur, steps=1)
    assert stats["by_kind"]["clear"]["improved"] == 1 and "gang" in out and "w" not in out
    assert abs(objective_value(inst, out) - (before + 4 - 2 - 0.2)) < 1e-6 and _ok(inst, out)


def test_order_s19_keeps_the_room_test_and_session_19s_order() -> None:
    """Tests ORDER_S19: the candidate domains are those the room price keeps (none with waiting work of 2.0 a
    GPU), priced and ordered by what leaves alone (with 1.0 a GPU: n1 at 4, its four jobs, after n0 at 0.3)."""
    reopt_clear.ORDER_S19 = True
    try:
        inst, cur = _state(2.0)
        assert reopt_clear.prices(inst, cur, inst.request("gang")) == []
        inst, cur = _state(1.0)
        got = reopt_clear.prices(inst, cur, inst.request("gang"))
    finally:
        reopt_clear.ORDER_S19 = False
    assert [(c[1], round(c[0], 9)) for c in got] == [("n0", 0.3), ("n1", 4.0)]
