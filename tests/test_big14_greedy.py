"""Session 14: the greedy's caches at 16,384 GPUs give the answers a fresh computation gives."""

from __future__ import annotations

from packer.check import check
from packer.greedy.solver import _mode_set, _Placer, _State, solve
from packer.model import Instance, Node, Request, Unit


def test_mode_set_follows_apply_and_undo() -> None:
    """Tests that a node of 'any' GPUs has no mode set until a unit chooses one, and none after the undo."""
    inst = Instance(name="m", nodes=(Node(id="n", gpu_model="H100-80GB", num_gpus=2, mode="any"),),
                    requests=(Request(id="r", kind="gpu"),))
    st = _State(inst)
    n = st.nodes[0]
    assert not _mode_set(n)
    mark = st.mark()
    st.apply(inst.requests[0], n.gpus[0], Unit(node="n", gpu=0), 1.0, "full")
    assert _mode_set(n)
    st.undo(mark)
    assert not _mode_set(n)
    assert _mode_set(n) == any(g.mode is not None for g in n.gpus)


def test_failure_reasons_see_the_work_placed_since_the_last_of_their_gpu_shape() -> None:
    """Tests that requests of one GPU shape and different CPU are explained with the room left at
    their turn: host resources while a GPU is free, capacity once a later request took it."""
    inst = Instance(name="r", nodes=(Node(id="n", gpu_model="H100-80GB", num_gpus=2, mode="full", cpu_milli=16000),),
                    requests=(Request(id="a", kind="gpu", cpu_milli=12000, priority=5.0),
                              Request(id="b", kind="gpu", cpu_milli=8000, priority=4.0),
                              Request(id="c", kind="gpu", cpu_milli=2000, priority=3.0),
                              Request(id="e", kind="gpu", cpu_milli=1000, priority=1.0)))
    plan = solve(inst)
    assert check(inst, plan).ok
    assert sorted(a.request for a in plan.assignments) == ["a", "c"]
    why = {u.request: u.reason.split(":")[0] for u in plan.unplaced}
    assert why == {"b": "host resources", "e": "capacity"}


def test_cached_bounds_with_host_ignored_match_fresh_ones() -> None:
    """Tests that the bounds kept with host resources ignored equal a fresh computation after changes."""
    inst = Instance(name="b", nodes=tuple(Node(id=f"n{i}", gpu_model="H100-80GB", num_gpus=4, mode="full",
                                               cpu_milli=8000) for i in range(3)),
                    requests=(Request(id="x", kind="gpu", count=3, cpu_milli=1000),
                              Request(id="y", kind="gpu", count=1, cpu_milli=9000)))
    pl = _Placer(inst)
    st = pl.state
    y = inst.requests[1]
    st.ignore_host = True
    before = dict(pl.bounds(y))
    st.ignore_host = False
    assert before == {"n0": 4, "n1": 4, "n2": 4}
    assert pl.bounds(y) == {"n0": 0, "n1": 0, "n2": 0}  # 9,000 milli-CPU fit on no node
    for g in range(3):
        st.apply(inst.requests[0], st.nodes[1].gpus[g], Unit(node="n1", gpu=g), 1.0, "full")
    st.ignore_host = True
    try:
        assert pl.bounds(y) == {n.spec.id: pl._node_bound(y, n) for n in st.nodes} == {"n0": 4, "n1": 1, "n2": 4}
    finally:
        st.ignore_host = False
