"""Session 10's cheaper paths give the same placements as the ones they replace.

- A spread gang's units in one kernel call (:func:`kernels.place_units` closes and reopens the
  spread's domains itself) = the loop of one ``pick_unit`` and one ``apply_unit`` call per unit with
  :class:`packer.online.domains.SpreadLimit`, units and state arrays (``nallow`` included) equal.
- MIG units and shares of packer, best-fit and FGD with each node's bound and score kept within a
  request (until a unit lands on the node) = the scan per unit, and = the unpruned reference placer.
- Plan files one assignment per line (:func:`packer.formats.dumps_plan`): the same JSON value as
  the indented dump.
"""

from __future__ import annotations

import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.formats import dumps, dumps_plan, load_plan, save_plan
from packer.generate import SUITE, generate
from packer.online import OnlinePlacer
from packer.online.domains import SpreadLimit
from packer.online.solver import solve
from tests.online_reference import ReferenceKernels
from tests.test_online_prune import _part_filled


def _same_run(inst, fast: OnlinePlacer, slow: OnlinePlacer, limit: int) -> int:  # type: ignore[no-untyped-def]
    """Places the first ``limit`` new requests on both placers; asserts equal results; returns the
    number of placed units."""
    units = 0
    for r in [r for r in inst.requests if r.placement is None][:limit]:
        ra, rb = fast.place(r), slow.place(r)
        assert (ra.ok, ra.units, ra.reason) == (rb.ok, rb.units, rb.reason), r.id
        units += len(ra.units or ())
    return units


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(family=st.sampled_from(["inference", "haein", "hetero", "tenants", "adversarial"]), seed=st.integers(0, 10_000),
       fill=st.sampled_from([0.0, 0.5]), policy=st.sampled_from(["packer", "first-fit", "best-fit", "fgd"]))
def test_spread_gangs_in_one_kernel_call_place_as_one_by_one(family: str, seed: int, fill: float, policy: str) -> None:
    """Tests that spread gangs placed by one kernel call equal the per-unit loop with the Python
    spread limit: same units request by request, same state arrays (domains reopened)."""
    inst = _part_filled(family, seed, 24, fill)
    fast = OnlinePlacer(inst, policy)
    slow = OnlinePlacer(inst, policy)
    slow._place_units_k = None
    _same_run(inst, fast, slow, 80)
    for x, y in zip(fast.a, slow.a, strict=True):
        np.testing.assert_array_equal(x, y)


def test_the_kernel_spread_closes_a_domain_at_its_limit() -> None:
    """Tests the spread arguments themselves: a node spread of at most 1 per node puts each unit on
    another node, and every node is open again after the call."""
    inst = generate("inference", 3, nodes=8)
    req = next(r for r in inst.requests if r.spread is not None and r.spread.level == "node"
               and r.kind == "mig")
    req = req.model_copy(update={"spread": req.spread.model_copy(update={"max_per_domain": 1}), "min_count": None,
                                    "count": 4, "cpu_milli": 0, "memory_mib": 0})
    p = OnlinePlacer(inst, "first-fit")
    lim = SpreadLimit(p.domains, req.spread, p._nallow, ("gpu", "cluster"))
    sdom, smax, ptr, flat, cnt = lim.kernel_args()
    assert smax == 1 and len(cnt) == len(inst.nodes) and list(flat[ptr[:-1]]) == list(range(len(inst.nodes)))
    res = p.place(req)
    assert res.ok
    nodes = [u.node for u in res.units]
    assert len(set(nodes)) == len(nodes) == req.count
    assert (p._nallow == 1).all()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(family=st.sampled_from(["sharing", "haein", "fragmented", "hetero", "tenants", "inference"]),
       seed=st.integers(0, 10_000), fill=st.sampled_from([0.0, 0.4, 0.8]), nodes=st.sampled_from([24, 40, 72]),
       policy=st.sampled_from(["packer", "best-fit", "fgd"]))
def test_node_scores_kept_within_a_request_place_as_per_unit(family: str, seed: int, fill: float, nodes: int,
                                                             policy: str) -> None:
    """Tests that MIG and share gangs with each node's bound and score kept between units (until a
    unit lands on it) equal the per-unit scan, with the same final state, and, for best-fit and FGD,
    the unpruned reference; 72 nodes: three blocks, so block bounds are crossed."""
    inst = _part_filled(family, seed, nodes, fill)
    fast = OnlinePlacer(inst, policy)
    slow = OnlinePlacer(inst, policy)
    slow._place_units_k = None
    ref = OnlinePlacer(inst, policy, _kernels=ReferenceKernels()) if policy != "packer" else None
    todo = [r for r in inst.requests if r.placement is None][:60]
    for r in todo:
        ra, rb = fast.place(r), slow.place(r)
        assert (ra.ok, ra.units, ra.reason) == (rb.ok, rb.units, rb.reason), r.id
        if ref is not None:
            rc = ref.place(r)
            assert (ra.ok, ra.units) == (rc.ok, rc.units), r.id
    for x, y in zip(fast.a, slow.a, strict=True):
        np.testing.assert_array_equal(x, y)


def test_plan_file_one_assignment_per_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Tests that a plan file holds one assignment and one unplaced request per line, the same JSON
    value as the indented dump, and reads back as the same plan."""
    inst = generate("haein", 2, nodes=8)
    plan = solve(inst, rollout=False)
    obj = plan.to_json_dict()
    text = dumps_plan(obj)
    assert json.loads(text) == json.loads(dumps(obj))
    lines = text.splitlines()
    for a in obj["assignments"]:
        assert sum(1 for ln in lines if f'"request": "{a["request"]}"' in ln) == 1
    assert len(lines) < len(dumps(obj).splitlines())
    save_plan(plan, tmp_path / "p.json")
    assert load_plan(tmp_path / "p.json").model_dump() == plan.model_dump()
    empty = {"assignments": [], "unplaced": [], "x": {"y": [1, {"z": "a\nb"}]}}
    assert json.loads(dumps_plan(empty)) == empty


def test_suite_plans_unchanged_by_the_kernels_in_one_call(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Tests that a whole solve (rollout: all four bases, every kind of gang) gives the same plan with
    the one-call gang kernel and with the per-unit loop, on every family."""
    orig = OnlinePlacer.__init__

    def slow_init(self, *a, **k):  # type: ignore[no-untyped-def]
        orig(self, *a, **k)
        self._place_units_k = None

    for fam in SUITE:
        inst = generate(fam, 7, nodes=8)
        fast = solve(inst).model_dump(exclude={"solver"})
        with monkeypatch.context() as m:
            m.setattr(OnlinePlacer, "__init__", slow_init)
            slow = solve(inst).model_dump(exclude={"solver"})
        assert fast == slow, fam


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(family=st.sampled_from(list(SUITE)), seed=st.integers(0, 10_000))
def test_snapshot_units_from_one_table_equal_per_request_units(family: str, seed: int) -> None:
    """Tests that the snapshot's units (every GPU's node and index read once) equal each request's
    own units, node names, GPU indexes, profiles and starts included, and that the plan checks."""
    from packer.check import check

    inst = generate(family, seed, nodes=24)
    p = OnlinePlacer(inst, "packer")
    for r in inst.requests:
        if r.placement is None:
            p.place(r, explain=False)
    plan = p.snapshot()
    got = {a.request: a.units for a in plan.assignments}
    assert set(got) == set(p._placed)
    for rid in p._placed:
        assert got[rid] == p.units(rid), rid
    assert check(p.snapshot_instance(), plan).ok
