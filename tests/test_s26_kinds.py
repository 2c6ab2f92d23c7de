"""Random streams per LNS step kind (lns.KIND_STREAMS, session 26).

With one stream for every draw, turning a step kind on changed every later draw, and A/Bs of a kind
measured that drift as much as the kind. With KIND_STREAMS the kind draw and each kind's neighbourhood
have streams of their own and the overlay kinds (reach, tie) step on top of the base sequence: a kind
whose steps never improve must leave every base step, and the plan, as they were without it.
"""

from __future__ import annotations

import time

import pytest

from packer.cpsat import lns as lns_mod
from packer.cpsat.hints import hint_plan
from packer.cpsat.lns_portfolio import ADAPT_FLOOR, Portfolio
from packer.cpsat.model import CpsatModel
from packer.cpsat.search import lns_plan
from packer.generate import generate
from packer.model import Instance


@pytest.fixture(scope="module")
def inst() -> Instance:
    return generate("tenants", seed=0, nodes=8)


def _run(inst: Instance, steps: int, seed: int = 0) -> tuple[CpsatModel, list[list[object]]]:
    """``steps`` reproducible sequential LNS steps from the greedy hint; the model and the step log."""
    model = CpsatModel(inst)
    hint = hint_plan(inst, 0, None, online=False)
    assert hint is not None
    model.hint(hint)
    model.solve(time_limit=None, seed=0, workers=1, params={"max_deterministic_time": 0.001})
    plan = lns_plan(inst, 60.0, None)
    assert plan is not None
    lns_mod.lns(model, level=plan[0], domains_per_step=plan[1], step_s=3600.0, deadline=time.perf_counter() + 3600.0,
                seed=seed, workers=1, steps=steps, det_step=0.1)
    return model, list(model.lns_stats.get("log", []))  # type: ignore[arg-type]


def _never_improving_ties(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tie steps run as usual (their model is built and solved) but their answer is thrown away."""
    last: list[str] = [""]
    choose_overlay, choose_kind, step = lns_mod._Space.choose_overlay, lns_mod._Space.choose_kind, lns_mod._step

    def overlay(self, streams, kind, pool, base):  # type: ignore[no-untyped-def]
        got = choose_overlay(self, streams, kind, pool, base)
        last[0] = "" if got is None else got[3]
        return got

    def base_kind(self, rng, pool, k, base, streams=None):  # type: ignore[no-untyped-def]
        last[0] = ""
        return choose_kind(self, rng, pool, k, base, streams)

    def solve(*args, **kwargs):  # type: ignore[no-untyped-def]
        found = step(*args, **kwargs)
        return None if last[0] == "tie" else found

    monkeypatch.setattr(lns_mod._Space, "choose_overlay", overlay)
    monkeypatch.setattr(lns_mod._Space, "choose_kind", base_kind)
    monkeypatch.setattr(lns_mod, "_step", solve)


def test_an_overlay_kind_that_never_improves_leaves_the_base_steps_and_the_plan_as_without_it(
        inst: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that with KIND_STREAMS a run with tie steps forced never to improve takes the same base steps
    (kind and gain, in order) as a run without them, and ends at the plan of a run without them that takes
    as many steps as its base steps."""
    monkeypatch.setattr(lns_mod, "KIND_STREAMS", True)
    monkeypatch.setattr(lns_mod, "STEP_LOG", True)
    monkeypatch.setattr(lns_mod, "TIE_SHARE", 0.5)
    monkeypatch.setattr(lns_mod, "TIE_STEPS", False)
    _, log_off = _run(inst, 14)
    assert sum(1 for _, gain in log_off if gain > 0) >= 2  # the base steps do improve here
    _never_improving_ties(monkeypatch)
    monkeypatch.setattr(lns_mod, "TIE_STEPS", True)
    model_on, log_on = _run(inst, 14)
    base_on = [entry for entry in log_on if entry[0] != "tie"]
    ties = [entry for entry in log_on if entry[0] == "tie"]
    assert len(ties) >= 2 and all(gain == 0.0 for _, gain in ties)
    assert base_on == log_off[:len(base_on)]
    monkeypatch.setattr(lns_mod, "TIE_STEPS", False)
    model_short, log_short = _run(inst, len(base_on))
    assert log_short == base_on
    assert model_on.values == model_short.values


def test_an_overlay_kind_that_improves_is_kept_apart_from_the_base_shares(
        inst: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that tie steps with KIND_STREAMS are recorded in the run's kinds but not in the base portfolio,
    and that without KIND_STREAMS they are drawn among the base kinds (the shipped behaviour)."""
    monkeypatch.setattr(lns_mod, "TIE_STEPS", True)
    monkeypatch.setattr(lns_mod, "TIE_SHARE", 0.5)
    seen = {}
    record = Portfolio.record

    def spy(self, kind, gain, cost):  # type: ignore[no-untyped-def]
        seen.setdefault(id(self), set()).add(kind)
        record(self, kind, gain, cost)

    monkeypatch.setattr(Portfolio, "record", spy)
    for streams in (True, False):
        seen.clear()
        monkeypatch.setattr(lns_mod, "KIND_STREAMS", streams)
        model, _ = _run(inst, 12)
        kinds = model.lns_stats["kinds"]
        assert "tie" in kinds  # type: ignore[operator]
        with_tie = [kinds_ for kinds_ in seen.values() if "tie" in kinds_]
        assert len(with_tie) == 1
        assert (with_tie[0] == {"tie"}) is streams  # alone in its own portfolio only with KIND_STREAMS


def test_streams_are_stable_and_apart() -> None:
    """Tests that a kind's stream depends on the seed, the thread and the kind only (the same in two
    objects), and that kinds, threads and seeds get different streams."""
    a, b = lns_mod._Streams(7), lns_mod._Streams(7)
    assert [a.of("tie").random() for _ in range(3)] == [b.of("tie").random() for _ in range(3)]
    firsts = {lns_mod._Streams(seed, tid).of(kind).random()
              for seed in (0, 1) for tid in (0, 1) for kind in ("draw", "value", "tie")}
    assert len(firsts) == 12
    assert lns_mod._Streams(3).insert("tie").random() != lns_mod._Streams(3).of("tie").random()
    s = lns_mod._Streams(5)
    assert [s.step_seed("value", False), s.step_seed("tie", True), s.step_seed("domains", False)] == \
        [5, 5 + 100_003 * lns_mod.KIND_NUMBERS["tie"], 6]


def test_the_overlay_share_follows_its_rate_against_the_base_kinds() -> None:
    """Tests Portfolio.factor: 1 before the base kinds gain, the floor for a kind that never gains, above 1
    for a kind that gains more per unit of cost than the base kinds."""
    base, over = Portfolio(base={}), Portfolio(base={})
    assert over.factor("tie", base) == 1.0
    for _ in range(10):
        base.record("value", 1.0, 1.0)
    for _ in range(40):
        over.record("tie", 0.0, 1.0)
    assert over.factor("tie", base) == ADAPT_FLOOR
    rich = Portfolio(base={})
    rich.record("reach", 20.0, 1.0)
    assert rich.factor("reach", base) > 1.0
    assert Portfolio(base={}, adapt=False).factor("reach", base) == 1.0


def test_parallel_steps_with_kind_streams_give_a_valid_incumbent(inst: Instance, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that two threads with KIND_STREAMS and tie steps run and end at least at the start."""
    monkeypatch.setattr(lns_mod, "KIND_STREAMS", True)
    monkeypatch.setattr(lns_mod, "TIE_STEPS", True)
    monkeypatch.setattr(lns_mod, "TIE_SHARE", 0.5)
    model = CpsatModel(inst)
    hint = hint_plan(inst, 0, None, online=False)
    assert hint is not None
    model.hint(hint)
    model.solve(time_limit=None, seed=0, workers=1, params={"max_deterministic_time": 0.001})
    start = lns_mod._space(model, "node")
    assert start is not None
    lns_mod.lns(model, level="node", domains_per_step=1, step_s=0.3, deadline=time.perf_counter() + 2.0, seed=1,
                workers=2)
    assert model.lns_stats["steps"] > 0
    assert model.lns_stats.get("threads") == 2
    if model.values is not None:
        assert model._raw_objective(model.values) >= start.best_obj
        assert lns_mod._space(model, "node") is not None
