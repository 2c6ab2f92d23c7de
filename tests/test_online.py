"""Tests of the online placer: kernels against the pure-Python reference, checker, rebuilds, churn."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.generate import generate
from packer.model import Instance, Locality, Request, Spread, Unit
from packer.online import POLICIES, OnlinePlacer, TargetWorkload
from packer.online import kernels as K
from packer.online.solver import solve
from packer.online.state import (
    ANY,
    FULL,
    G_BASE,
    G_MODE,
    G_UNITS,
    N_CPU,
    N_DOMKEY,
    N_GPU0,
    N_ISON,
    N_ISOT,
    N_MEM,
    N_NGPU,
    N_PODS,
    N_UNITS,
    NTW,
)
from tests.online_reference import ReferenceKernels
from tests.strategies import instances

POLICY_NAMES = sorted(POLICIES)
#: g32 columns (all but the configured mode) and n64 columns the reference keeps up to date.
G_COLS = [c for c in range(10) if c != G_BASE]
N_BASE_COLS = [N_CPU, N_MEM, N_UNITS, N_ISOT, N_ISON, N_PODS]


def _tiny(modes: list[str], model: str = "B200-180GB", cpu: int | None = None, tenants=()) -> Instance:  # type: ignore[no-untyped-def]
    return Instance.model_validate({
        "name": "t", "topology": {"levels": ["node", "rack"]},
        "nodes": [{"id": "n0", "gpu_model": model, "num_gpus": len(modes), "gpu_modes": modes, "cpu_milli": cpu,
                   "domains": {"rack": "r0"}}],
        "tenants": list(tenants),
    })


def _mutable_equal(a: OnlinePlacer, b: OnlinePlacer, full: bool = True) -> None:
    np.testing.assert_array_equal(a.a.g32[:, G_COLS], b.a.g32[:, G_COLS])
    np.testing.assert_array_equal(a.a.gpc, b.a.gpc)
    np.testing.assert_array_equal(a.a.ntag, b.a.ntag)
    if full:
        np.testing.assert_array_equal(a.a.n64, b.a.n64)
        np.testing.assert_array_equal(a.a.nbest, b.a.nbest)
        np.testing.assert_array_equal(a.a.b64, b.a.b64)
        np.testing.assert_array_equal(a.a.bbest, b.a.bbest)
    else:
        np.testing.assert_array_equal(a.a.n64[:, N_BASE_COLS], b.a.n64[:, N_BASE_COLS])


def _aggregates_fresh(p: OnlinePlacer) -> None:
    """The incrementally kept node aggregates equal a recomputation from the GPUs."""
    a = p.a
    n64, nbest, b64, bbest = a.n64.copy(), a.nbest.copy(), a.b64.copy(), a.bbest.copy()
    K._refresh_all(a.g32, a.gpc, n64, nbest, b64, bbest, a.mp, a.minfo, a.gstart, a.gscore, a.pp)
    np.testing.assert_array_equal(n64, a.n64)
    np.testing.assert_array_equal(nbest, a.nbest)
    np.testing.assert_array_equal(b64, a.b64)
    np.testing.assert_array_equal(bbest, a.bbest)


def _rebuild(p: OnlinePlacer) -> OnlinePlacer:
    """A new placer on the same cluster, with everything placed now given as running work."""
    inst = p.inst
    modes = p.gpu_modes()
    nodes = []
    for n in inst.nodes:
        gm = [modes.get((n.id, g), n.gpu_mode(g)) for g in range(n.num_gpus)]
        nodes.append(n.model_copy(update={"gpu_modes": tuple(gm)}))
    reqs = [p._placed[rid].req.model_copy(update={"placement": p.units(rid), "movable": False,
                                                    "migration_cost": None})
            for rid in p.placed_ids()]
    inst2 = Instance.model_validate({**inst.model_dump(), "nodes": [n.model_dump() for n in nodes],
                                     "requests": [r.model_dump() for r in reqs]})
    return OnlinePlacer(inst2, p.policy, target=p.target, domain_key=p.domain_key)


def _domain_key_fresh(p: OnlinePlacer) -> None:
    """N_DOMKEY equals its definition from scratch: free whole GPUs per domain, finest level first."""
    inst = p.inst
    a = p.a
    free = np.array([sum(1 for g in range(int(a.n64[n, N_GPU0]), int(a.n64[n, N_GPU0] + a.n64[n, N_NGPU]))
                         if a.g32[g, G_MODE] in (FULL, ANY) and a.g32[g, G_UNITS] == 0) for n in range(len(inst.nodes))])
    want = np.zeros(len(inst.nodes), dtype=np.int64)
    if p.domain_key:
        levels = [lv for lv in inst.topology.all_levels if lv not in ("gpu", "node", "cluster")]
        for lv in levels:
            doms = [inst.domain(n, lv) for n in inst.nodes]
            if len(set(doms)) < 2:
                continue
            cap = max(sum(n.num_gpus for n, d in zip(inst.nodes, doms, strict=True) if d == e) for e in set(doms))
            per = {e: sum(int(f) for f, d in zip(free, doms, strict=True) if d == e) for e in set(doms)}
            want = want * (cap + 1) + np.array([per[d] for d in doms])
    np.testing.assert_array_equal(a.n64[:, N_DOMKEY], want)


def _assert_valid(inst: Instance, plan) -> None:  # type: ignore[no-untyped-def]
    """check() passes (it reads level 'gpu' as one GPU, as SPEC says)."""
    rep = check(inst, plan)
    assert rep.ok, rep.format()


def _ops(inst: Instance, rnd: random.Random, n: int) -> list[tuple[str, str]]:
    new = [r.id for r in inst.requests if r.placement is None]
    running = [r.id for r in inst.requests if r.placement is not None]
    rnd.shuffle(new)
    ops: list[tuple[str, str]] = []
    live = list(running)
    pending = list(new)
    for _ in range(n):
        if pending and (not live or rnd.random() < 0.65):
            rid = pending.pop()
            ops.append(("place", rid))
            live.append(rid)
        elif live:
            rid = live.pop(rnd.randrange(len(live)))
            ops.append(("release", rid))
            if rnd.random() < 0.5:
                pending.insert(0, rid)
    return ops


@settings(max_examples=25)
@given(inst=instances(running=True, max_nodes=4, max_gpus=4, max_requests=10, host=True),
       policy=st.sampled_from(POLICY_NAMES), seed=st.integers(0, 2**16))
def test_kernels_match_reference_and_plans_pass_check(inst: Instance, policy: str, seed: int) -> None:
    """Tests that the Numba placer gives exactly the reference placer's answers and valid snapshots."""
    fast = OnlinePlacer(inst, policy, seed=seed)
    slow = OnlinePlacer(inst, policy, seed=seed, _kernels=ReferenceKernels())
    rnd = random.Random(seed)
    for op, rid in _ops(inst, rnd, 25):
        if op == "place":
            req = inst.request(rid).model_copy(update={"placement": None, "movable": False, "migration_cost": None})
            u = (rnd.random(), rnd.random())
            ra, rb = fast.place(req, uniforms=u), slow.place(req, uniforms=u)
            assert (ra.ok, ra.reason) == (rb.ok, rb.reason)
            assert ra.units == rb.units
        else:
            assert fast.release(rid) == slow.release(rid)
        _mutable_equal(fast, slow, full=False)
    _aggregates_fresh(fast)
    _domain_key_fresh(fast)
    _assert_valid(fast.snapshot_instance(), fast.snapshot())
    _mutable_equal(fast, _rebuild(fast))


@settings(max_examples=25)
@given(inst=instances(running=True, max_nodes=3, max_gpus=4, max_requests=8, host=True), policy=st.sampled_from(POLICY_NAMES))
def test_solver_plans_pass_check(inst: Instance, policy: str) -> None:
    """Tests that solve(--solver online) gives checker-valid plans under every policy and order."""
    for order in ("file", "size-desc", "priority"):
        plan = solve(inst, policy=policy, order=order)
        _assert_valid(inst, plan)
        for u in plan.unplaced:
            assert u.reason


def test_mig_start_keeps_valuable_slots() -> None:
    """Tests that packer puts a lone 1g on the B200 slot that keeps 2g/3g/4g/7g placements, first-fit does not."""
    inst = _tiny(["mig"])
    req = Request(id="a", kind="mig", profile="1g.23gb")
    assert OnlinePlacer(inst, "packer").place(req).units[0].start == 6
    assert OnlinePlacer(inst, "first-fit").place(req).units[0].start == 0


def test_mig_prefers_used_gpu_and_fills_holes() -> None:
    """Tests that a second 1g goes next to the first one instead of opening a fresh GPU."""
    inst = _tiny(["mig", "mig"])
    p = OnlinePlacer(inst, "packer")
    a = p.place(Request(id="a", kind="mig", profile="1g.23gb")).units[0]
    b = p.place(Request(id="b", kind="mig", profile="1g.23gb")).units[0]
    assert a.gpu == b.gpu and b.start in (4, 5)


def test_mig_second_3g_does_not_strand_a_compute_slice() -> None:
    """Tests the stranding key on B200 (two nodes of one GPU): a second 3g.90gb beside the first would
    fill all 8 memory positions with 6 of 7 compute slices, so it opens the other node instead; the
    four 2g.45gb then complete both GPUs (3g + 2g + 2g = 7 slices each). Without the key the second
    3g stays on the used node (a new node costs more) and the fourth 2g finds no room."""
    inst = Instance.model_validate({
        "name": "t", "topology": {"levels": ["node", "rack"]},
        "nodes": [{"id": f"n{i}", "gpu_model": "B200-180GB", "num_gpus": 1, "mode": "mig",
                   "domains": {"rack": "r0"}} for i in range(2)],
    })
    p = OnlinePlacer(inst, "packer")
    first = p.place(Request(id="a", kind="mig", profile="3g.90gb")).units[0]
    second = p.place(Request(id="b", kind="mig", profile="3g.90gb")).units[0]
    assert first.node != second.node
    assert all(p.place(Request(id=f"c{i}", kind="mig", profile="2g.45gb")).units for i in range(4))


def test_slices_request_chooses_profile_and_any_mode() -> None:
    """Tests that a slices request gets a base profile and an 'any' GPU's chosen mode is in the plan."""
    inst = _tiny(["any", "full"])
    p = OnlinePlacer(inst)
    res = p.place(Request(id="m", kind="mig", slices=3))
    assert res.ok and res.units[0].profile == "3g.90gb" and res.units[0].gpu == 0
    assert p.gpu_modes() == {("n0", 0): "mig"}
    plan = p.snapshot()
    assert [(m.gpu, m.mode) for m in plan.gpu_modes] == [(0, "mig")]
    assert check(p.snapshot_instance(), plan).ok
    p.release("m")
    assert p.gpu_modes() == {}


def test_whole_gpu_gang_picks_tightest_node() -> None:
    """Tests that a node-local gang goes to the fullest node that fits, not the first."""
    inst = Instance.model_validate({
        "name": "g", "nodes": [{"id": f"n{i}", "gpu_model": "H100-80GB", "num_gpus": 4, "mode": "full"} for i in range(3)],
        "requests": [{"id": "busy", "kind": "gpu", "count": 2, "placement": [{"node": "n2", "gpu": 0}, {"node": "n2", "gpu": 1}]}],
    })
    p = OnlinePlacer(inst)
    res = p.place(Request(id="x", kind="gpu", count=2, locality=Locality(level="node", required=True)))
    assert {u.node for u in res.units} == {"n2"}
    res = p.place(Request(id="y", kind="gpu", count=3, locality=Locality(level="node", required=True)))
    assert {u.node for u in res.units} == {"n0"}


def test_node_isolated_tenant_leaves_any_node_to_a_gang() -> None:
    """Tests that a node-isolated tenant's MIG unit opens the MIG node, not the 'any' node an 8-GPU
    node gang of another tenant needs afterwards (first-fit places both; the old packer did not)."""
    inst = Instance.model_validate({
        "name": "iso-any", "nodes": [{"id": "m", "gpu_model": "B200-180GB", "num_gpus": 8, "mode": "mig"},
                                     {"id": "a", "gpu_model": "B200-180GB", "num_gpus": 8, "mode": "any"}],
        "tenants": [{"id": "secure", "isolation": "node"}, {"id": "train"}],
        "requests": [{"id": "x", "tenant": "secure", "kind": "mig", "profile": "1g.23gb"},
                     {"id": "g", "tenant": "train", "kind": "gpu", "count": 8,
                      "locality": {"level": "node", "required": True}}],
    })
    for policy in ("packer", "first-fit"):
        plan = solve(inst, policy=policy)
        _assert_valid(inst, plan)
        assert not plan.unplaced, (policy, plan.unplaced)
        assert {u.node for a in plan.assignments if a.request == "x" for u in a.units} == {"m"}


def test_whole_gpu_work_keeps_an_empty_rack_for_a_rack_gang() -> None:
    """Tests that of equally empty nodes a node gang takes the one in the fuller rack, so a later
    rack gang still finds an empty rack (the lowest-index node would split the empty rack)."""
    nodes = [{"id": f"n{i}", "gpu_model": "H100-80GB", "num_gpus": 4, "mode": "full", "domains": {"rack": f"r{i // 2}"}}
             for i in range(4)]
    inst = Instance.model_validate({
        "name": "racks", "topology": {"levels": ["node", "rack"]}, "nodes": nodes,
        "requests": [{"id": "busy", "kind": "gpu", "count": 4, "placement": [{"node": "n3", "gpu": g} for g in range(4)]},
                     {"id": "node4", "kind": "gpu", "count": 4, "locality": {"level": "node", "required": True}},
                     {"id": "one", "kind": "gpu", "count": 1},
                     {"id": "rack8", "kind": "gpu", "count": 7, "locality": {"level": "rack", "required": True}}],
    })
    plan = solve(inst)
    _assert_valid(inst, plan)
    assert not plan.unplaced, plan.unplaced
    where = {a.request: {u.node for u in a.units} for a in plan.assignments}
    assert where["node4"] == {"n2"} and where["rack8"] == {"n0", "n1"}


def test_unplaced_reasons_name_the_constraint() -> None:
    """Tests that quota, locality and host-resource failures say what is missing."""
    inst = _tiny(["full", "full"], model="H100-80GB", cpu=10000, tenants=[{"id": "q", "max_gpus": 1.0}])
    p = OnlinePlacer(inst)
    r = p.place(Request(id="a", tenant="q", kind="gpu", count=2))
    assert not r.ok and "quota" in (r.reason or "")
    r = p.place(Request(id="b", kind="gpu", count=3, locality=Locality(level="node", required=True)))
    assert not r.ok and "node" in (r.reason or "")
    r = p.place(Request(id="c", kind="gpu", count=1, cpu_milli=20000))
    assert not r.ok and "host" in (r.reason or "")


def test_isolation_and_spread() -> None:
    """Tests gpu isolation (no sharing a GPU with another tenant) and spread (max per GPU)."""
    inst = _tiny(["shared", "shared"], model="H100-80GB", tenants=[{"id": "iso", "isolation": "gpu"}, {"id": "o"}])
    p = OnlinePlacer(inst)
    a = p.place(Request(id="a", tenant="o", kind="share", gpu_milli=100)).units[0]
    b = p.place(Request(id="b", tenant="iso", kind="share", gpu_milli=100)).units[0]
    assert a.gpu != b.gpu
    c = p.place(Request(id="c", tenant="iso", kind="share", gpu_milli=100))
    assert c.units[0].gpu == b.gpu
    p2 = OnlinePlacer(_tiny(["mig"], model="H100-80GB"))
    res = p2.place(Request(id="s", kind="mig", profile="1g.10gb", count=2, spread=Spread(level="gpu", max_per_domain=1)))
    assert not res.ok


def test_same_seed_same_plan() -> None:
    """Tests that the same seed gives the same plan (random policy included)."""
    inst = generate("small", seed=3)
    for pol in ("packer", "random"):
        a = solve(inst, policy=pol, seed=5)
        b = solve(inst, policy=pol, seed=5)
        assert a.assignments == b.assignments and a.unplaced == b.unplaced


@pytest.mark.parametrize("policy", POLICY_NAMES)
def test_generated_instances_all_policies(policy: str) -> None:
    """Tests that every policy's plan for a generated haein instance passes the checker."""
    inst = generate("haein", seed=1)
    plan = solve(inst, policy=policy)
    report = check(inst, plan)
    assert report.ok, [(v.kind, v.message) for v in report.violations][:5]
    assert plan.solver.name == "online" and plan.solver.policy == policy  # type: ignore[attr-defined]


@pytest.mark.parametrize("domain_key", [False, True])
def test_churn_batch_equals_single_calls_and_rebuild(domain_key: bool) -> None:
    """Tests that the batch kernel, single calls and a rebuild from scratch end in the same state
    (without packer's rack/pod tie-break, which churn keeps fixed during the call; with it, that the
    batch's state is still valid and its tie-break refreshed)."""
    inst = generate("small", seed=1).replace(requests=[])
    shapes = [Request(id="a", kind="mig", slices=1, cpu_milli=1000), Request(id="b", kind="share", gpu_milli=300),
              Request(id="c", kind="gpu"), Request(id="d", kind="mig", profile="3g.40gb"),
              Request(id="e", kind="share", gpu_milli=700, memory_mib=4096)]
    rnd = np.random.default_rng(0)
    num_slots, n = 400, 20000
    ops = np.zeros((n, 2), dtype=np.int64)
    ops[:, 0] = np.where(rnd.random(n) < 0.55, rnd.integers(0, len(shapes), n), -1)
    ops[:, 1] = rnd.integers(0, num_slots, n)
    batch = OnlinePlacer(inst, domain_key=domain_key)
    res = batch.churn(shapes, ops, num_slots=num_slots)
    assert res.placed > 1000 and res.released > 1000
    _domain_key_fresh(batch)
    if domain_key:
        _aggregates_fresh(batch)
        assert check(batch.snapshot_instance(), batch.snapshot()).ok
        return
    single = OnlinePlacer(inst, domain_key=False)
    slots: dict[int, str] = {}
    for k, (sh, sl) in enumerate(ops.tolist()):
        if sh >= 0:
            if sl in slots:
                continue
            rid = f"{shapes[sh].id}#{sl}#{k}"
            if single.place(shapes[sh].model_copy(update={"id": rid})).ok:
                slots[sl] = rid
        elif sl in slots:
            single.release(slots.pop(sl))
    _mutable_equal(batch, single)
    _aggregates_fresh(batch)
    _mutable_equal(batch, _rebuild(batch))
    assert check(batch.snapshot_instance(), batch.snapshot()).ok


def test_target_workload_and_state_size() -> None:
    """Tests that a given FGD target is used and the state stays small."""
    inst = generate("small", seed=0)
    tw = TargetWorkload(shares=[(0.0, 500.0, 1.0, 1.0)], mig=[(1, 1.0)])
    p = OnlinePlacer(inst, "fgd", target=tw)
    assert p.a.tws.shape == (1, NTW) and p.state_bytes() < 2_000_000


def test_unknown_policy_is_rejected() -> None:
    """Tests that an unknown policy name raises with the list of choices."""
    with pytest.raises(ValueError, match="first-fit"):
        OnlinePlacer(_tiny(["full"]), "worst-fit")


def test_units_on_request_objects() -> None:
    """Tests that place() results convert to SPEC units and release frees them."""
    p = OnlinePlacer(_tiny(["shared"], model="H100-80GB"))
    r = p.place(Request(id="s", kind="share", gpu_milli=400))
    assert r.units == (Unit(node="n0", gpu=0, gpu_milli=400),)
    assert p.release("s") and not p.release("s")


def _host_cluster(tenants=()) -> Instance:  # type: ignore[no-untyped-def]
    return Instance.model_validate({
        "name": "h", "topology": {"levels": ["node", "rack"]}, "tenants": list(tenants),
        "nodes": [{"id": "g", "gpu_model": "H100-80GB", "num_gpus": 2, "mode": "full", "cpu_milli": 64000,
                   "domains": {"rack": "r0"}},
                  {"id": "c0", "num_gpus": 0, "cpu_milli": 8000, "memory_mib": 16384, "domains": {"rack": "r0"}},
                  {"id": "c1", "num_gpus": 0, "cpu_milli": 8000, "domains": {"rack": "r1"}}],
    })


def test_host_requests_place_and_release() -> None:
    """Tests host requests: GPU-less nodes first, node-only units, spread, locality, isolation, release."""
    inst = _host_cluster([{"id": "iso", "isolation": "node"}, {"id": "o"}])
    for kernels in (None, ReferenceKernels()):
        p = OnlinePlacer(inst, _kernels=kernels)
        r = p.place(Request(id="a", tenant="o", kind="host", count=2, cpu_milli=4000))
        assert r.ok and r.units == (Unit(node="c0"), Unit(node="c0"))
        r = p.place(Request(id="b", tenant="o", kind="host", count=2, cpu_milli=1000,
                            spread=Spread(level="node", max_per_domain=1)))
        assert [u.node for u in r.units] == ["c1", "g"]
        r = p.place(Request(id="c", tenant="o", kind="host", count=2, cpu_milli=4000,
                            locality=Locality(level="rack", required=True)))
        assert {u.node for u in r.units} <= {"g", "c0"}
        iso = p.place(Request(id="i", tenant="iso", kind="host", cpu_milli=1000))
        assert not iso.ok and "node isolation" in (iso.reason or "")
        big = p.place(Request(id="x", tenant="o", kind="host", cpu_milli=100_000))
        assert not big.ok and "100000 milli-CPU" in (big.reason or "")
        assert p.release("b") and p.release("a")
        assert p.place(Request(id="i", tenant="iso", kind="host", cpu_milli=1000)).units == (Unit(node="c0"),)  # least memory left
        # node isolation: the isolated tenant's host unit closes its node to the other tenant
        assert p.place(Request(id="o2", tenant="o", kind="host", cpu_milli=1000)).units == (Unit(node="c1"),)
        assert p.place(Request(id="w", tenant="o", kind="gpu")).units == (Unit(node="g", gpu=0),)
        plan = p.snapshot()
        _assert_valid(p.snapshot_instance(), plan)
        assert plan.metrics["allocated_gpu_equivalents"] == pytest.approx(1.0)
        _mutable_equal(p, _rebuild(p), full=kernels is None)
        if kernels is None:
            _aggregates_fresh(p)


def test_host_only_cluster_and_cli(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Tests a cluster without any GPU (host requests only) and ``packer solve --solver online`` on host.json."""
    from packer.cli import main
    from packer.formats import load_instance, load_plan
    from tests.conftest import INSTANCES

    inst = Instance.model_validate({"name": "cpu", "nodes": [{"id": "c", "num_gpus": 0, "cpu_milli": 2000}],
                                    "requests": [{"id": "a", "kind": "host", "cpu_milli": 1000, "count": 2},
                                                 {"id": "b", "kind": "host", "cpu_milli": 1000}]})
    plan = solve(inst)
    _assert_valid(inst, plan)
    assert [u.request for u in plan.unplaced] == ["b"] and plan.metrics["utilization"] == 0.0
    with pytest.raises(ValueError, match="host"):
        OnlinePlacer(inst).churn([inst.requests[1]], np.zeros((1, 2), dtype=np.int64), num_slots=1)
    src = INSTANCES / "features" / "host.json"
    for pol in ("packer", "random", "first-fit"):
        out = tmp_path / f"{pol}.json"
        assert main(["solve", str(src), "--solver", "online", "--policy", pol, "-o", str(out)]) == 0
        assert main(["check", str(src), str(out)]) == 0
    got = {a.request: a.units for a in load_plan(tmp_path / "packer.json").assignments}
    assert got["audit"] == (Unit(node="cpu1"),) and all(u.gpu is None for u in got["prep"])
    assert load_instance(src).request("audit").kind == "host"
