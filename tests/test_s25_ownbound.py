"""Tests of session 25's bound-side changes to the stays LP: the repack model's node-isolation rows in it
(packer.cpsat.reopt_stays.ISO_CUTS) and the warm branching on node ownership (packer.cpsat.own_branch).
Both must stay bounds: never below the exact optimum of a small running state, never above the LP."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.cpsat import own_branch, reopt, reopt_late, reopt_stays, solve
from packer.generate import generate
from packer.model import Instance, Node, Request, Spread, Tenant, Topology, Unit
from tests.running_states import fragmented_running

H100 = "H100-80GB"


def _spread_against_iso(nodes: int = 2) -> Instance:
    """``nodes`` 2-GPU nodes; node-isolated tenant "iso" runs one movable 1-GPU job on each of the first two;
    tenant "t" waits with a 2-GPU request spread one GPU a node.

    With two nodes every plan keeps iso on at least one node (its jobs must run), so t never fits: the
    optimum is 2.0 (nothing moves). The LP owns each node by half and places half of t on each (3.9,
    session 13). With ownership integral, one node unowned costs a move (0.1) and gives t at most one of
    its two units: at most 2 + 1 − 0.1 = 2.9."""
    ns = tuple(Node(id=f"n{i}", gpu_model=H100, num_gpus=2, mode="full", domains={"rack": "r0"})
               for i in range(nodes))
    reqs = [Request(id=f"iso{i}", kind="gpu", count=1, tenant="iso", placement=(Unit(node=f"n{i}", gpu=0),),
                    movable=True, migration_cost=0.1) for i in range(2)]
    reqs.append(Request(id="spread", kind="gpu", count=2, tenant="t", spread=Spread(level="node", max_per_domain=1)))
    return Instance(name="spread-iso", topology=Topology(levels=("node", "rack")), nodes=ns,
                    requests=tuple(reqs), tenants=(Tenant(id="iso", isolation="node"), Tenant(id="t")))


def _branch(inst: Instance, max_lps: int = 40) -> own_branch.OwnBranch | None:
    model = reopt.repack_model(inst)
    assert model is not None
    form, _col, const = reopt_stays.stays_form(inst, model)
    return own_branch.own_branch(form, const, model, max_lps=max_lps)


def test_branching_on_ownership_cuts_the_half_owned_nodes() -> None:
    """Tests that on the constructed state the branching takes the LP's 3.9 to at most 2.9 and stays at or
    above the proved optimum 2.0; and that a leaf with integral ownership ends it."""
    inst = _spread_against_iso()
    got = _branch(inst)
    assert got is not None
    exact = solve(inst, time_limit=10, workers=1, aggregate=False)
    assert check(inst, exact).ok and exact.objective == pytest.approx(2.0, abs=1e-6)
    assert got.root == pytest.approx(3.9, abs=1e-3)
    assert got.bound <= 2.9 + 1e-3
    assert got.bound >= exact.objective - 1e-6
    assert got.lps >= 2 and got.branched


def test_branching_stops_at_its_lp_count_and_keeps_a_bound() -> None:
    """Tests that one split (two LPs) already gives a value between the optimum and the root, and that
    zero LPs give the root back."""
    inst = _spread_against_iso(3)
    none = _branch(inst, max_lps=0)
    assert none is not None and none.bound == pytest.approx(none.root) and none.lps == 0
    one = _branch(inst, max_lps=2)
    assert one is not None and one.lps == 2
    exact = solve(inst, time_limit=10, workers=1, aggregate=False)
    assert check(inst, exact).ok
    assert exact.objective - 1e-6 <= one.bound <= one.root + 1e-9


def test_no_ownership_column_no_branching() -> None:
    """Tests that without a node-isolated tenant there is nothing to branch on (None)."""
    inst = _spread_against_iso().replace(tenants=(Tenant(id="iso"), Tenant(id="t")))
    assert _branch(inst) is None


def test_iso_cuts_are_read_from_the_model_and_only_with_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that ISO_CUTS adds exactly the repack model's LP-only rows to the stays form, none without it,
    and that the LP child takes the parent's flag."""
    inst = _spread_against_iso()
    model = reopt.repack_model(inst)
    assert model is not None
    sizes = {}
    for flag in (False, True):
        monkeypatch.setattr(reopt_stays, "ISO_CUTS", flag)
        form = reopt_stays.stays_form(inst, model)
        assert form is not None
        sizes[flag] = form[0][1].shape[0]
    assert sizes[True] - sizes[False] == len(model.lp_cuts)
    monkeypatch.setattr(reopt_stays, "ISO_CUTS", True)
    monkeypatch.setattr(own_branch, "MAX_LPS", 7)
    flags = reopt_late.parent_settings()
    assert flags["packer.cpsat.reopt_stays"]["ISO_CUTS"] is True
    assert flags["packer.cpsat.own_branch"]["MAX_LPS"] == 7


def test_after_lps_lowers_the_childs_bound_only_with_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests the LP child's side: with OWN_BRANCH off nothing runs; on, the constructed state's bound falls
    from the LP's 3.9 to the proved optimum's neighbourhood (≤ 2.9), a snapshot is written, the run recorded."""
    inst = _spread_against_iso()
    bb = reopt.BudgetBound(inst)
    reopt._budget_bounds(bb, None, lambda: None)
    lp = bb.stays[None]
    assert lp == pytest.approx(3.9, abs=1e-3)
    calls: list[int] = []
    monkeypatch.setattr(own_branch, "OWN_BRANCH", False)
    own_branch.after_lps(bb, None, lambda: 20.0, lambda: calls.append(1))
    assert not calls and bb.stays[None] == lp and bb.int_stays is None
    monkeypatch.setattr(own_branch, "OWN_BRANCH", True)
    own_branch.after_lps(bb, None, lambda: 2.0, lambda: calls.append(1))  # under MIN_S: nothing
    assert not calls
    own_branch.after_lps(bb, None, lambda: 20.0, lambda: calls.append(1))
    assert calls == [1] and bb.int_stays is not None and bb.int_stays["arm"] == "own_branch"
    assert 2.0 - 1e-6 <= bb.stays[None] <= 2.9 + 1e-3


@pytest.mark.parametrize(("family", "seed", "nodes"), [("tenants", 24, 3), ("tenants", 30, 2), ("haein", 12, 3),
                                                      ("haein", 36, 3)])
def test_branching_lowers_the_bound_and_stays_above_the_proved_optimum(family: str, seed: int, nodes: int) -> None:
    """Tests generated running states where the LP owns nodes by fractions (found by a scan of the hypothesis
    test's space: the branching lowers about a third of them): the bound falls below the LP's and stays at or
    above the exact model's proved optimum (on tenants-30 and haein-12 it reaches it)."""
    inst = generate(family, seed, nodes=nodes)
    if not any(r.placement for r in inst.requests):
        inst = fragmented_running(inst, release=0.3, seed=seed)
    got = _branch(inst, max_lps=12)
    assert got is not None
    exact = solve(inst, time_limit=10, workers=1, aggregate=False)
    assert check(inst, exact).ok and exact.status == "optimal"
    assert got.bound < got.root - 1e-3
    assert got.bound >= exact.objective - 1e-6


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 60), family=st.sampled_from(["fragmented", "tenants", "adversarial", "haein"]),
       nodes=st.sampled_from([2, 3]), release=st.sampled_from([0.3, 0.6]))
def test_both_stay_bounds_on_small_running_states(seed: int, family: str, nodes: int, release: float) -> None:
    """Tests on small generated running states (node-isolated tenants where the family has them) that the
    stays LP with ISO_CUTS and the ownership branching are both at least the exact model's plan and at most
    the plain stays LP."""
    inst = generate(family, seed, nodes=nodes)
    if not any(r.placement for r in inst.requests):
        inst = fragmented_running(inst, release=release, seed=seed)
    model = reopt.repack_model(inst)
    if model is None:
        return
    plain = reopt_stays.stays_lp(inst, model)
    if plain is None:
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reopt_stays, "ISO_CUTS", True)
        iso = reopt_stays.stays_lp(inst, model)
    assert iso is not None
    form, _col, const = reopt_stays.stays_form(inst, model)
    br = own_branch.own_branch(form, const, model, max_lps=12)
    exact = solve(inst, time_limit=5, workers=1, aggregate=False)
    assert check(inst, exact).ok
    assert iso.bound <= plain.bound + 1e-6
    assert iso.bound >= exact.objective - 1e-6
    if br is not None:
        assert br.bound <= plain.bound + 1e-6
        assert br.bound >= exact.objective - 1e-6
