"""Session 24 (lead): a whole step cut by its time is retried with twice the time (lns.WHOLE_RETRY); one
proven to find nothing, or any with the flag off, ends whole steps for the run."""

from __future__ import annotations

import random

import pytest

from packer.cpsat import lns
from packer.cpsat.model import CpsatModel
from packer.generate import generate
from packer.greedy.solver import solve as greedy_solve


def _space():  # type: ignore[no-untyped-def]
    inst = generate("adversarial", seed=1, nodes=16)
    model = CpsatModel(inst)
    model.hint(greedy_solve(inst, seed=0))
    model.solve(time_limit=None, seed=0, workers=1, params={"max_deterministic_time": 0.01})
    space = lns._space(model, "rack")
    assert space is not None
    return space


@pytest.mark.parametrize("retry", [True, False])
def test_an_unproven_empty_whole_step_doubles_the_next_ones_time_and_a_proven_one_ends_them(
        monkeypatch: pytest.MonkeyPatch, retry: bool) -> None:
    monkeypatch.setattr(lns, "WHOLE_RETRY", retry)
    space = _space()
    assert space.whole_scale == 1.0 and not space.whole_off
    lns._whole_found_nothing(space, {"proven": 0.0})  # cut by its time
    if retry:
        assert not space.whole_off and space.whole_scale == 2.0
        lns._whole_found_nothing(space, {"proven": 0.0})
        assert not space.whole_off and space.whole_scale == 4.0
    else:
        assert space.whole_off and space.whole_scale == 1.0
    lns._whole_found_nothing(space, {"proven": 1.0})  # its nodes hold nothing better: no more
    assert space.whole_off


def test_a_retried_whole_steps_time_doubles_within_half_of_what_is_left() -> None:
    s = lns.WHOLE_STEP_S
    assert lns._step_seconds("whole", 2.0, 1000.0) == s
    assert lns._step_seconds("whole", 2.0, 1000.0, 2.0) == 2 * s
    assert lns._step_seconds("whole", 2.0, 3 * s, 4.0) == 1.5 * s  # half of what is left
    assert lns._step_seconds("whole", 2.0, 1.0, 4.0) == 2.0  # never below a random step's time
    assert lns._step_seconds("domains", 2.0, 1000.0, 4.0) == 2.0  # other kinds keep theirs
    assert lns._det_factors(2.0)["whole"] == 2 * lns.WHOLE_DET_FACTOR
    assert lns._det_factors(2.0)["model"] == lns.MODEL_DET_FACTOR


def test_whole_steps_are_drawn_again_after_an_unproven_empty_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """After the first whole step found nothing without proof, later draws may be whole again (the
    portfolio's floor keeps the kind); with the flag off, never."""
    monkeypatch.setattr(lns, "WHOLE_SHARE", 0.1)
    for retry in (True, False):
        monkeypatch.setattr(lns, "WHOLE_RETRY", retry)
        space = _space()
        base = list(space.best)  # every whole GPU idle and every big whole-GPU group waiting
        for xs in space.whole_x.values():
            for i in xs.tolist():
                base[i] = 0
        for i, _, _ in space.big_whole:
            base[i] = 0
        assert space.choose_kind(random.Random(0), space.names, 2, base)[3] == "whole"
        space.portfolio.record("whole", 0.0, 10.0)
        lns._whole_found_nothing(space, {"proven": 0.0})
        kinds = []
        for s in range(200):
            space.whole_seen = None  # the values change between real steps
            kinds.append(space.choose_kind(random.Random(s), space.names, 2, base)[3])
        assert ("whole" in kinds) is retry
