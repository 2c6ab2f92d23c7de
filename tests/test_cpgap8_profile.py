"""Step profiling of the LNS (lns.PROFILE_STEPS): where each step's time goes, without changing the search."""

from __future__ import annotations

import pytest

from packer.cpsat import lns as lns_mod
from packer.cpsat.model import CpsatModel
from packer.generate import generate


def _run(family: str, profile: bool, monkeypatch: pytest.MonkeyPatch) -> CpsatModel:
    """Four reproducible (one worker, deterministic budget) rack steps on a small instance; the first
    solve is on a deterministic budget too, so a loaded machine cannot hand the steps another start."""
    monkeypatch.setattr(lns_mod, "PROFILE_STEPS", profile)
    model = CpsatModel(generate(family, seed=0, nodes=16))
    model.solve(time_limit=None, seed=0, workers=1, params={"max_deterministic_time": 0.3})
    lns_mod.lns(model, level="rack", domains_per_step=1, step_s=1.0, deadline=1e18, seed=3, workers=1,
                steps=4, det_step=0.2)
    return model


@pytest.mark.parametrize("family", ["sharing", "haein"])
def test_profile_has_one_entry_a_step_and_consistent_totals(family: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that every step gets an entry with non-negative build/presolve/solve times whose sums are the
    totals, and that the steps marked improved are the ones the search counted."""
    model = _run(family, True, monkeypatch)
    stats = model.lns_stats
    assert stats is not None
    prof = stats["profile"]
    assert len(prof) == stats["steps"] == 4
    for entry in prof:
        assert min(entry["build_s"], entry["presolve_s"], entry["solve_s"]) >= 0.0
        assert entry["presolve_s"] > 0.0  # the log callback saw the presolve end
    for key in ("build_s", "presolve_s", "solve_s"):
        assert stats[key] == pytest.approx(sum(e[key] for e in prof))
    assert sum(e["improved"] for e in prof) == stats["improved"]


def test_profiling_does_not_change_a_reproducible_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that turning the step log on leaves the reproducible steps' answers as they were."""
    off = _run("sharing", False, monkeypatch)
    on = _run("sharing", True, monkeypatch)
    assert off.lns_stats is not None and on.lns_stats is not None
    assert "profile" not in off.lns_stats
    assert off.lns_stats["improved"] == on.lns_stats["improved"]
    assert off.values == on.values
