"""Property tests: the decomposed solve's sub-instances give valid sub-plans.

The decomposed solve (16,384 GPUs and up) builds sub-instances in memory that no file can express: a
request crossing the sub-problem's border is pinned where its units are (`_sub_instance`), also on GPUs
configured 'any'. A bug of that kind (a whole-GPU unit beside a pinned share on an 'any' GPU, in an
aggregated class) was found only by a 300 s run at 16,384 GPUs, because no other test decomposes and
no file can pin work on an 'any' GPU. Two draws here: pinned work on 'any' GPUs with waiting work that
wants those GPUs, and small suite instances cut at a random set of nodes by `_sub_instance` itself.
"""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.cpsat.decompose import _sub_instance
from packer.cpsat.search import solve_monolithic
from packer.greedy.solver import solve as greedy_solve
from packer.model import Instance, Node, ObjectiveWeights, Request, Tenant, Topology, Unit
from tests.strategies import suite_instances

MODELS = ("H100-80GB", "A100-40GB", "B200-180GB")


def _solve_and_check(sub: Instance, hint, aggregate: bool) -> None:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    plan = solve_monolithic(sub, hint, seed=0, workers=1, start=t0, det=0.5, info={}, lp=False,
                            aggregate=aggregate, left=lambda: 20 - (time.perf_counter() - t0))
    rep = check(sub, plan)
    assert rep.ok, [(v.kind, v.message) for v in rep.violations][:5]


@st.composite
def pinned_on_any(draw: st.DrawFn) -> Instance:
    """'any' nodes whose GPUs hold pinned shares (immovable, as a border-crossing request is), and
    waiting whole-GPU, share and MIG work of drawn priorities that wants the same GPUs."""
    nodes = tuple(Node(id=f"n{i}", gpu_model=draw(st.sampled_from(MODELS)), num_gpus=draw(st.integers(1, 6)),
                       mode="any") for i in range(draw(st.integers(1, 2))))
    reqs: list[Request] = []
    for n in nodes:
        for g in sorted(draw(st.sets(st.integers(0, n.num_gpus - 1), min_size=1))):
            milli = draw(st.sampled_from([100, 250, 460, 500, 700]))
            reqs.append(Request(id=f"pin-{n.id}-{g}", kind="share", gpu_milli=milli, priority=draw(st.sampled_from([0.1, 1.0])),
                                placement=(Unit(node=n.id, gpu=g, gpu_milli=milli),), movable=False))
    for i in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["gpu", "gpu", "share", "mig"]))
        prio = draw(st.sampled_from([0.5, 2.0, 5.0]))
        count = draw(st.integers(1, 8))
        if kind == "gpu":
            reqs.append(Request(id=f"w{i}", kind="gpu", count=count, min_count=1, priority=prio))
        elif kind == "share":
            reqs.append(Request(id=f"w{i}", kind="share", gpu_milli=draw(st.sampled_from([300, 600, 900])),
                                count=count, min_count=1, priority=prio))
        else:
            reqs.append(Request(id=f"w{i}", kind="mig", slices=draw(st.sampled_from([1, 2, 3])), count=count,
                                min_count=1, priority=prio))
    return Instance(name="pinned-on-any", topology=Topology(levels=("node",)), nodes=nodes,
                    tenants=(Tenant(id="default"),), requests=tuple(reqs), objective=ObjectiveWeights())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=pinned_on_any(), aggregate=st.booleans())
def test_work_pinned_on_any_gpus_gives_a_valid_plan(inst: Instance, aggregate: bool) -> None:
    """Tests that the plan passes the checker (no overlap beside a pinned share, modes, pinned units kept)."""
    _solve_and_check(inst, None, aggregate)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=suite_instances(max_nodes=4), data=st.data(), aggregate=st.booleans())
def test_a_suite_instance_cut_at_random_nodes_gives_a_valid_sub_plan(inst: Instance, data: st.DataObject,
                                                                     aggregate: bool) -> None:
    """Tests the same on `_sub_instance`'s own cut of a suite-family instance (running work included)
    at a random set of nodes, with the greedy's plan as the incumbent and hint."""
    placed = {a.request: list(a.units) for a in greedy_solve(inst).assignments}
    ids = [n.id for n in inst.nodes]
    if len(ids) < 2:
        return
    nodes = set(data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=len(ids) - 1, unique=True)))
    sub, hint = _sub_instance(inst, placed, nodes, offset=0)
    if sub.requests:
        _solve_and_check(sub, hint, aggregate)
