"""Owner candidates that a step would not retry are left out (``lns.OWNER_FRESH``).

An ownership-exchange anchor whose last step saw the same nodes, values and growing counts is never
stepped again on them; with OWNER_FRESH it is no candidate, so an owner draw cannot fall back to a
random step (session 24: haein-101's 4 ``owner_none``, each shifting the draws after it).
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from packer.cpsat import lns as lns_mod
from packer.cpsat import lns_owner
from packer.cpsat.model import CpsatModel
from packer.generate import generate
from tests.test_hetero24_owner import _exchange, _incumbent, _space


def _kinds(space: lns_mod._Space, n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [space.choose_kind(rng, space.names, 1, space.best)[3] for _ in range(n)]


def test_a_tried_anchor_is_no_candidate_until_its_values_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that after oth's anchor was stepped on the incumbent, candidates() with the nodes' variables
    leaves it out (and without them still lists it), and that it is a candidate again once a value on its
    nodes differs."""
    monkeypatch.setattr(lns_mod, "OWNER_EXCHANGE", True)
    inst = _exchange()
    model = CpsatModel(inst)
    space = _space(model, _incumbent(inst))
    ix = space.owner
    assert ix is not None
    vals = np.asarray(space.best, dtype=np.int64)
    assert len(lns_owner.candidates(ix, vals, space.per_node)) == 1  # nothing tried yet
    assert lns_owner.pick_owner(ix, random.Random(0), space.best, set(space.names), space.node_domain,
                                space.per_node) is not None
    assert lns_owner.candidates(ix, vals, space.per_node) == []
    assert len(lns_owner.candidates(ix, vals)) == 1
    # sec's unit on n3 moved to n4 (still one a node): a new view of the anchor's nodes.
    moved = list(space.best)
    n3, n4 = inst.node_index["n3"], inst.node_index["n4"]
    on3 = [i for i in space.per_node[n3] if moved[i] > 0]
    assert on3
    for i in on3:
        moved[i] = 0
    moved[space.per_node[n4][0]] = 1
    assert len(lns_owner.candidates(ix, np.asarray(moved, dtype=np.int64), space.per_node)) == 1


@pytest.mark.parametrize("fresh", [False, True])
def test_owner_draws_fall_back_only_without_fresh(fresh: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that on an unchanged incumbent, once the one anchor was stepped, owner draws keep coming and fall
    back to random steps without OWNER_FRESH ("owner_none"), and that with it the kind leaves the draw: no
    fallback, and the owner kind is not in the shares."""
    monkeypatch.setattr(lns_mod, "OWNER_EXCHANGE", True)
    monkeypatch.setattr(lns_mod, "OWNER_FRESH", fresh)
    monkeypatch.setattr(lns_mod, "OWNER_SHARE", 0.5)
    inst = _exchange()
    model = CpsatModel(inst)
    space = _space(model, _incumbent(inst))
    kinds = _kinds(space, 40, 1)
    assert kinds.count("owner") == 1
    if fresh:
        assert space.stats.get("owner_none", 0) == 0
        assert "owner" not in space.portfolio.base
    else:
        assert space.stats.get("owner_none", 0) > 0
        assert "owner" in space.portfolio.base


@pytest.mark.parametrize(("fam", "seed", "nodes", "isolation"),
                         [("sharing", 0, 8, False), ("haein", 1, 8, True), ("isolated", 3, 8, True)])
def test_fresh_changes_nothing_until_an_anchor_repeats(fam: str, seed: int, nodes: int, isolation: bool,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that an LNS of 8 deterministic steps gives the same plan and steps with OWNER_FRESH on and off
    wherever no owner draw met only tried anchors (always without node isolation), and otherwise that the on
    arm never falls back from an owner draw."""
    inst = generate(fam, seed, nodes=nodes)
    assert any(t.isolation == "node" for t in inst.tenants) is isolation
    from packer.cpsat.hints import hint_plan

    start = hint_plan(inst, 0, None, online=False)
    assert start is not None
    got = {}
    monkeypatch.setattr(lns_mod, "OWNER_EXCHANGE", True)
    for fresh in (False, True):
        monkeypatch.setattr(lns_mod, "OWNER_FRESH", fresh)
        model = CpsatModel(inst)
        _space(model, start)
        lns_mod.lns(model, level="rack", domains_per_step=1, step_s=5.0, deadline=1e18, seed=0, workers=1,
                    steps=8, det_step=0.2)
        st = model.lns_stats
        got[fresh] = (None if model.values is None else list(model.values), st.get("kinds"), st.get("owner_none", 0))
    assert got[True][2] == 0
    if got[False][2] == 0:
        assert got[True] == got[False]
