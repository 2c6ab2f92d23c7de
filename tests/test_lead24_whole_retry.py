"""Whole steps (lns.WHOLE_SHARE): one that found nothing ends whole steps for the run, proven or not.

Session 24's retry with twice the time after an unproven one (WHOLE_RETRY) tied and was removed in
session 27 (git tag flags-s26)."""

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


@pytest.mark.parametrize("proven", [0.0, 1.0])
def test_an_empty_whole_step_ends_whole_steps(proven: float) -> None:
    space = _space()
    assert not space.whole_off
    lns._whole_found_nothing(space, {"proven": proven})
    assert space.whole_off


def test_a_whole_steps_time_is_its_own_within_half_of_what_is_left() -> None:
    s = lns.WHOLE_STEP_S
    assert lns._step_seconds("whole", 2.0, 1000.0) == s
    assert lns._step_seconds("whole", 2.0, s) == s / 2  # half of what is left
    assert lns._step_seconds("whole", 2.0, 1.0) == 2.0  # never below a random step's time
    assert lns._step_seconds("domains", 2.0, 1000.0) == 2.0  # other kinds keep theirs
    assert lns._det_factors()["whole"] == lns.WHOLE_DET_FACTOR
    assert lns._det_factors()["model"] == lns.MODEL_DET_FACTOR


def test_whole_steps_are_never_drawn_again_after_an_empty_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lns, "WHOLE_SHARE", 0.1)
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
    assert "whole" not in kinds
