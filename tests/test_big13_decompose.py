"""Session 13: LNS by domain chooses its sub-problems by idle room and gives each a useful budget.

At 16,384 GPUs the sequential LNS by domain shared ~140 s among 128 pod sub-problems (about 1 s each):
on inference2048-0 they added 0.11 to the greedy plan, while one deterministic second per pod added
1.3 (bench/RESULTS_suite.md, session 13). With ``BY_VALUE`` each pass visits the domains with the
most idle room first and gives each at least ``SUB_MIN_S``; offers hold only requests the domain's
GPUs could serve (``OFFER_RULE = "fit"``).
"""

from __future__ import annotations

import time

import pytest

from packer.check import check
from packer.cpsat import decompose
from packer.cpsat.decompose import _servable, _serves, _sub_instance, idle_room, lns_by_domain
from packer.generate import generate
from packer.greedy.solver import solve as greedy
from packer.model import MODE_OF_KIND, Instance, Plan, Request
from packer.plans import build_plan, objective_value


def _pods(inst: Instance) -> dict[str, list[str]]:
    t = inst.cluster_topology
    return t.domains(t.levels[-2])


def _free_room(inst: Instance, nids: list[str], kinds: set[str]) -> int:
    modes = {MODE_OF_KIND[k] for k in kinds} | {"any"}
    node = {n.id: n for n in inst.nodes}
    return sum(1 for nid in nids for g in range(node[nid].num_gpus) if node[nid].gpu_mode(g) in modes)


def test_idle_room_of_an_empty_plan_counts_the_gpus_waiting_work_can_use() -> None:
    inst = generate("haein", seed=1, nodes=64)
    pods = _pods(inst)
    kinds = {r.kind for r in inst.requests if r.kind != "host"}
    room = idle_room(inst, {}, pods)
    assert set(room) == set(pods)
    for d, nids in pods.items():
        assert room[d] == _free_room(inst, nids, kinds)


def test_idle_room_drops_where_work_is_placed_and_only_there() -> None:
    inst = generate("haein", seed=1, nodes=64)
    pods = _pods(inst)
    plan = greedy(inst)
    placed = {a.request: list(a.units) for a in plan.assignments}
    before = idle_room(inst, {}, pods)
    after = idle_room(inst, placed, pods)
    for d in pods:
        assert 0.0 <= after[d] <= before[d] + 1e-9
    # Remove every unit of one pod: that pod gets its empty room back (up to the kinds still waiting),
    # the other pod's room does not change.
    first, second = sorted(pods)
    in_second = {rid: us for rid, us in placed.items() if all(u.node in set(pods[second]) for u in us)}
    only_second = idle_room(inst, in_second, pods)
    assert only_second[second] == pytest.approx(idle_room(inst, in_second, {second: pods[second]})[second])
    kinds = {r.kind for r in inst.requests if r.id not in in_second and r.kind != "host"}
    assert only_second[first] == _free_room(inst, pods[first], kinds)


def _recorder(calls: list[tuple[frozenset[str], float]]):  # type: ignore[no-untyped-def]
    def solve_sub(sub: Instance, hint: Plan | None, budget: float, det: float | None) -> Plan:
        calls.append((frozenset(n.id for n in sub.nodes), budget))
        assert hint is not None
        return hint  # the incumbent: nothing changes, so the room stays as measured
    return solve_sub


def test_passes_visit_the_domains_with_the_most_room_first_each_with_a_useful_budget() -> None:
    inst = generate("haein", seed=1, nodes=128)
    pods = _pods(inst)
    assert len(pods) >= 4
    plan = greedy(inst)
    placed = {a.request: list(a.units) for a in plan.assignments}
    room = idle_room(inst, placed, pods)
    calls: list[tuple[frozenset[str], float]] = []
    # Less time than SUB_MIN_S for each of two passes' sub-problems: the first still gets SUB_MIN_S.
    wall = 4 * decompose.SUB_MIN_S
    lns_by_domain(inst, placed, deadline=time.perf_counter() + wall, solve_sub=_recorder(calls))
    seen = [next(d for d in pods if set(pods[d]) == set(nodes)) for nodes, _ in calls]
    assert len(seen) >= len(pods), "the recorder answers at once: both passes run"
    want = sorted(pods, key=lambda d: (-room[d], d))
    assert seen[:len(pods)] == want  # (the hint comes back unchanged, so the room stays as measured)
    assert calls[0][1] >= decompose.SUB_MIN_S - 0.5
    # Without BY_VALUE (the old rule) the budget is the time over every sub-problem of two passes.
    old = decompose.BY_VALUE
    try:
        decompose.BY_VALUE = False
        calls.clear()
        lns_by_domain(inst, placed, deadline=time.perf_counter() + wall, solve_sub=_recorder(calls))
        seen = [next(d for d in pods if set(pods[d]) == set(nodes)) for nodes, _ in calls]
        assert seen[:len(pods)] == sorted(pods)
        assert calls[0][1] < decompose.SUB_MIN_S
    finally:
        decompose.BY_VALUE = old


def test_a_deterministic_budget_keeps_name_order() -> None:
    inst = generate("haein", seed=1, nodes=128)
    pods = _pods(inst)
    placed = {a.request: list(a.units) for a in greedy(inst).assignments}
    calls: list[tuple[frozenset[str], float]] = []
    _, stats = lns_by_domain(inst, placed, deadline=time.perf_counter() + 60, solve_sub=_recorder(calls),
                             rounds=1, det=1.0)
    seen = [next(d for d in pods if set(pods[d]) == set(nodes)) for nodes, _ in calls]
    assert seen == sorted(pods)
    assert stats["subproblems"] == len(pods)


def test_only_restricts_the_domains() -> None:
    inst = generate("haein", seed=1, nodes=128)
    pods = _pods(inst)
    one = sorted(pods)[1]
    placed = {a.request: list(a.units) for a in greedy(inst).assignments}
    calls: list[tuple[frozenset[str], float]] = []
    _, stats = lns_by_domain(inst, placed, deadline=time.perf_counter() + 60, solve_sub=_recorder(calls),
                             only=[one, "no-such-domain"])
    assert stats["domains"] == 1
    assert {nodes for nodes, _ in calls} == {frozenset(pods[one])}


def _mig(**kw: object) -> Request:
    return Request(id="x", kind="mig", **kw)  # type: ignore[arg-type]


def test_servable_needs_kind_mode_model_and_profile() -> None:
    inst = generate("inference", seed=1, nodes=64)
    serves = {("mig", "H100-80GB"), ("host", None)}
    assert _servable(inst, _mig(profile="1g.10gb"), serves)
    assert not _servable(inst, _mig(profile="1g.18gb"), serves)  # an H200 profile
    assert not _servable(inst, _mig(profile="1g.10gb", gpu_models=("H200-141GB",)), serves)
    assert _servable(inst, _mig(slices=7), serves)
    assert not _servable(inst, _mig(slices=7, min_memory_gib=120.0), serves)  # only H200's 7g has the memory
    assert not _servable(inst, Request(id="g", kind="gpu"), serves)  # no full or any GPU here
    assert _servable(inst, Request(id="g", kind="gpu"), serves | {("gpu", "H100-80GB")})
    assert _servable(inst, Request(id="h", kind="host", cpu_milli=1000), serves)


def test_serves_reads_the_configured_modes() -> None:
    inst = generate("hetero", seed=1, nodes=64)
    for nids in _pods(inst).values():
        got = _serves(inst, set(nids))
        node = {n.id: n for n in inst.nodes}
        for nid in nids:
            n = node[nid]
            for g in range(n.num_gpus):
                mode = n.gpu_mode(g)
                for kind, m in MODE_OF_KIND.items():
                    has_mig = inst.model_of(n) is not None and inst.model_of(n).has_mig  # type: ignore[union-attr]
                    if mode in (m, "any") and (kind != "mig" or has_mig):
                        assert (kind, n.gpu_model) in got
        assert all(kind == "host" or any(node[nid].gpu_model == model for nid in nids) for kind, model in got)


def test_fit_offers_only_servable_requests_and_the_merged_plan_checks() -> None:
    inst = generate("hetero", seed=1, nodes=64)
    plan = greedy(inst)
    placed = {a.request: list(a.units) for a in plan.assignments}
    for d, nids in _pods(inst).items():
        serves = _serves(inst, set(nids))
        sub, _ = _sub_instance(inst, placed, set(nids), offset=0, rule="fit")
        offered = [r for r in sub.requests if r.id not in placed]
        assert offered, d
        assert all(_servable(inst, r, serves) for r in offered)
    # A full run with CP-SAT sub-problems: the merged plan is valid and worth at least the greedy's.
    from packer.cpsat.search import solve_monolithic

    def solve_sub(sub: Instance, hint: Plan | None, budget: float, det: float | None) -> Plan:
        t0 = time.perf_counter()
        return solve_monolithic(sub, hint, seed=0, workers=1, start=t0, left=lambda: budget - (time.perf_counter() - t0),
                                info={}, lp=False, det=None)

    out, stats = lns_by_domain(inst, placed, deadline=time.perf_counter() + 12, solve_sub=solve_sub)
    assert stats["subproblems"] >= 1
    assert objective_value(inst, out) >= objective_value(inst, placed) - 1e-9
    from packer.cpsat.result import modes_of

    merged = build_plan(inst, solver="test", placed=out, unplaced={r.id: "x" for r in inst.requests if r.id not in out},
                        gpu_modes=modes_of(inst, out))
    assert check(inst, merged).ok
