"""Tests of the folded block LPs (packer.cpsat.block_fold, session 19): each block's waiting and import
work of one shape folded into one request, with a column per original model group, gives the same LP
as the block's own (at any multipliers, own nodes and merged), so the bound by blocks is unchanged and
stays a bound (tests/test_block_bound.py runs the folded form, FOLD being on)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.cpsat import block_fold, solve
from packer.cpsat.block_bound import block_lps, lagrangian, merge_level
from packer.generate import generate
from packer.model import Instance
from tests.running_states import fragmented_running


def _state(family: str, seed: int, nodes: int, release: float = 0.5) -> Instance:
    inst = generate(family, seed, nodes=nodes)
    if not any(r.placement for r in inst.requests):
        inst = fragmented_running(inst, release=release, seed=seed)
    return inst


def _parts(inst: Instance, k: int) -> list[list[str]]:
    ids = [n.id for n in inst.nodes]
    step = -(-len(ids) // k)
    return [ids[i:i + step] for i in range(0, len(ids), step)]


def _both(inst: Instance, parts, merge):  # type: ignore[no-untyped-def]
    was = block_fold.FOLD
    try:
        block_fold.FOLD = True
        folded = block_lps(inst, parts, merge=merge)
        block_fold.FOLD = False
        plain = block_lps(inst, parts, merge=merge)
    finally:
        block_fold.FOLD = was
    return folded, plain


def _draws(rng: random.Random, big_u, lps):  # type: ignore[no-untyped-def]
    js = sorted({j for lp in lps for j in (*lp.imports, *lp.exports)}, key=repr)
    yield {}, {}
    for _ in range(2):
        yield ({k: rng.uniform(0.0, 3.0) * rng.choice([0.0, 1.0]) for k in big_u},
               {j: rng.uniform(-3.0, 3.0) for j in js})


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 60), family=st.sampled_from(["fragmented", "tenants", "haein", "sharing", "inference"]),
       nodes=st.sampled_from([6, 8, 12]), k=st.sampled_from([1, 2, 3]), merged=st.booleans(),
       draw=st.integers(0, 10**6))
def test_folded_block_lps_have_the_plain_lps_value(seed: int, family: str, nodes: int, k: int, merged: bool,
                                                   draw: int) -> None:
    """Tests the Lagrangian of the folded block LPs equals the plain ones' (to 1e-6) at λ = η = 0 and two
    random draws, with the same coupled classes and units U_k, on the blocks' own nodes or merged, with
    the tenants' quotas dropped; with them it may only be lower (the model's per-group quota cut on a
    folded group of gangs, "at most ⌊room / gang⌋ of them", holds for the family at once: a valid cut
    that the plain LP makes per group)."""
    inst = _state(family, seed, nodes)
    free = inst.replace(tenants=tuple(t.model_copy(update={"max_gpus": None}) for t in inst.tenants))
    for state, equal in ((free, True), (inst, False)):
        parts = _parts(state, k)
        merge = merge_level(state, "auto") if merged else None
        (fl, fu), (pl, pu) = _both(state, parts, merge)
        assert fu == pu
        assert [sorted(lp.units, key=repr) for lp in fl] == [sorted(lp.units, key=repr) for lp in pl]
        rng = random.Random(draw)
        for lam, eta in _draws(rng, pu, pl):
            got, want = lagrangian(fl, fu, lam, eta), lagrangian(pl, pu, lam, eta)
            if equal:
                assert got == pytest.approx(want, abs=1e-6)
            else:
                assert got <= want + 1e-6


@pytest.mark.parametrize(("family", "seed"), [("fragmented", 0), ("haein", 1), ("tenants", 1)])
def test_folding_shrinks_the_lp_and_keeps_the_share_prices_value(family: str, seed: int) -> None:
    """Tests folding happens on 16-node states (fewer LP columns), and each block's value at its own share
    prices (block_bound's first round) is the plain LP's at the plain LP's share prices."""
    inst = _state(family, seed, 16)
    parts = _parts(inst, 2)
    (fl, _fu), (pl, _pu) = _both(inst, parts, None)
    assert sum(len(lp.folds) for lp in fl) > 0
    assert sum(lp.a.shape[1] for lp in fl) < sum(lp.a.shape[1] for lp in pl)
    for f, p in zip(fl, pl, strict=True):
        caps = {key: u / 2 for key, u in p.U.items()}
        vf = f.solve(*f.share_duals(caps))[0]
        vp = p.solve(*p.share_duals(caps))[0]
        assert vf == pytest.approx(vp, abs=1e-6)


def test_folded_bound_is_above_a_plan() -> None:
    """Tests the folded Lagrangian at random multipliers is ≥ a checked CP-SAT plan on a 6-node state
    in 2 blocks where families are folded."""
    inst = _state("tenants", 1, 6)
    plan = solve(inst, time_limit=3, workers=1)
    assert check(inst, plan).ok
    lps, big_u = block_lps(inst, _parts(inst, 2))
    assert sum(len(lp.folds) for lp in lps) > 0
    rng = random.Random(7)
    for lam, eta in _draws(rng, big_u, lps):
        assert lagrangian(lps, big_u, lam, eta) >= plan.objective - 1e-6


def test_an_elastic_origin_without_quota_room_gets_no_units() -> None:
    """Tests z_upper mirrors the model's per-group quota cut: a group of equal requests is held to
    ⌊room / (count × size)⌋ requests, an elastic request only barred when not one unit fits."""
    from packer.model import Request

    one = Request(id="a", kind="gpu")
    gang = Request(id="g", kind="gpu", count=4)
    r = Request(id="e", kind="gpu", count=4, min_count=1)
    grouped = block_fold.Origin(("a",), ("w", None), 5, 1.0, True, one)
    assert block_fold.z_upper(grouped, 1.0, 2.5) == 2.0
    assert block_fold.z_upper(grouped, 1.0, None) == 5.0
    gangs = block_fold.Origin(("g", "h", "k"), ("w", None), 12, 1.0, True, gang)
    assert block_fold.z_upper(gangs, 1.0, 9.0) == 8.0  # two whole 4-unit requests fit
    elastic = block_fold.Origin(("e",), ("w", None), 4, 1.0, False, r)
    assert block_fold.z_upper(elastic, 1.0, 2.5) == 4.0
    assert block_fold.z_upper(elastic, 1.0, 0.5) == 0.0
