"""Tests of the η ranges of the share solves (block_bound.ETA_RANGES, session 20): each block's range of
optimal import-row duals holds its share solution optimal, also with the import rows folded (the
folded family's own row dual freed), and the bound by blocks at the prices taken from the ranges stays
above the exact plan, imports folded or not."""

from __future__ import annotations

import math
import random
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.cpsat import block_fold, solve
from packer.cpsat.block_bound import block_bound, block_lps, eta_top, lagrangian, merge_level
from tests.test_block_bound import _parts, _state


def _lps(inst, parts, tags, merge=None):  # type: ignore[no-untyped-def]
    was = block_fold.FOLD_TAGS
    try:
        block_fold.FOLD_TAGS = tags
        return block_lps(inst, parts, merge=merge)
    finally:
        block_fold.FOLD_TAGS = was


def _share(lps, big_u):  # type: ignore[no-untyped-def]
    """Each block's share solve (as block_bound's): its λ, η, the share LP's value and U_k / n_k."""
    n_k: dict[object, int] = defaultdict(int)
    for lp in lps:
        for key in lp.U:
            n_k[key] += 1
    out = []
    for lp in lps:
        caps = {key: big_u[key] / n_k[key] for key in lp.U}
        lam, eta = lp.share_duals(caps)
        x = np.asarray(lp.h.getSolution().col_value, dtype=float)
        value = (lp.sf * (float(lp.c0 @ x) + lp.offset) + lp.const) / lp.scale + lp.mconst
        out.append((lam, eta, value, caps))
    return out


@pytest.mark.parametrize(("tags", "merged"), [(("w", "f"), False), (("w", "i", "f"), False), (("w", "f"), True)])
def test_share_solution_stays_optimal_across_the_eta_range(tags: tuple[str, ...], merged: bool) -> None:
    """Tests on a 16-node fragmented state in 2 blocks (own nodes with imports folded or not; merged, whose
    LPs fold imports: FOLD_TAGS_MERGED): each block's vertex η lies in its range, and at either finite
    end of the range (the other multipliers at the vertex) the block's Lagrangian (its LP at those
    prices + Σ λ × its caps) equals the share LP's value, i.e. the share solution is still optimal
    there; with imports folded, some range is wider than the folded LP's own reduced costs allow (the
    family row's dual freed)."""
    inst = _state("fragmented", 0, 16, 0.5)
    parts = _parts(inst, 2)
    lps, big_u = _lps(inst, parts, tags, merge_level(inst, "auto") if merged else None)
    if "i" in tags or merged:
        assert any(lp.fam_cols for lp in lps)
    checked = 0
    for lp, (lam, eta, value, caps) in zip(lps, _share(lps, big_u), strict=True):
        assert set(lp.eta_ranges) == set(eta)
        for j, (lo, hi) in lp.eta_ranges.items():
            assert lo - 1e-6 <= eta[j] <= hi + 1e-6
            for end in (lo, hi):
                if not math.isfinite(end) or abs(end - eta[j]) < 1e-6:
                    continue
                got = lp.solve(lam, {**eta, j: end})[0] + sum(lam.get(key, 0.0) * c for key, c in caps.items())
                assert got == pytest.approx(value, abs=2e-3), (j, end)
                checked += 1
    assert checked > 0
    if "i" in tags or merged:
        # Without the family rows' duals freed the ranges are narrower somewhere (never wider).
        wider = 0
        for lp, (_lam, _eta, _value, caps) in zip(lps, _share(lps, big_u), strict=True):
            full = dict(lp.eta_ranges)
            lp.fam_cols = []
            lp.share_duals(caps)
            for j, (lo, hi) in lp.eta_ranges.items():
                assert full[j][0] <= lo + 1e-9 and hi <= full[j][1] + 1e-9
                wider += (full[j][0] < lo - 1e-6) or (hi < full[j][1] - 1e-6)
        if not merged:  # on this state's merged blocks no family is placed nowhere with a folded import
            assert wider > 0


def test_eta_top_takes_the_finite_top_else_the_bottom() -> None:
    """Tests the per-block η the ranges give: the top of the range, or its bottom where the top is open."""
    assert eta_top((0.2, 0.5)) == 0.5
    assert eta_top((0.2, math.inf)) == 0.2
    assert eta_top((-math.inf, -0.3)) == -0.3


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 60), family=st.sampled_from(["fragmented", "haein"]),
       nodes=st.sampled_from([2, 3, 4]), k=st.sampled_from([2, 3]), draw=st.integers(0, 10**6))
def test_bound_at_range_prices_is_above_the_exact_plan(seed: int, family: str, nodes: int, k: int, draw: int) -> None:
    """Tests the bound by blocks with η from the ranges (ETA_RANGES), every round of it, and the
    Lagrangian at a random draw of λ ≥ 0, η, are ≥ the exact plan, with the own-node block LPs'
    import rows folded and not, and with merged block LPs (imports folded)."""
    inst = _state(family, seed, nodes, 0.6)
    parts = _parts(inst, k)
    exact = solve(inst, time_limit=5, workers=1, aggregate=False)
    assert check(inst, exact).ok
    rng = random.Random(draw)
    lvl = merge_level(inst, "auto")
    for tags, merge in ((("w", "f"), None), (("w", "i", "f"), None), (("w", "f"), lvl)):
        was = block_fold.FOLD_TAGS
        try:
            block_fold.FOLD_TAGS = tags
            got = block_bound(inst, parts, iterations=2, merge=merge, eta_ranges=True)
            lps, big_u = block_lps(inst, parts, merge=merge)
        finally:
            block_fold.FOLD_TAGS = was
        assert min(got.values) >= exact.objective - 1e-6, (tags, merge)
        js = sorted({j for lp in lps for j in (*lp.imports, *lp.exports)}, key=repr)
        for _ in range(1):
            lam = {key: rng.uniform(0.0, 3.0) * rng.choice([0.0, 1.0]) for key in big_u}
            eta = {j: rng.uniform(-3.0, 3.0) for j in js}
            assert lagrangian(lps, big_u, lam, eta) >= exact.objective - 1e-6, (tags, merge)
