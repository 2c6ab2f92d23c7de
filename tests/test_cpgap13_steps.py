"""LNS step settings of session 13: CP-SAT parameters for every step (STEP_PARAMS) and the count of
steps proven optimal in the LNS statistics."""

from __future__ import annotations

import time

import pytest

from packer.cpsat import lns as lns_mod
from packer.cpsat.model import CpsatModel
from packer.generate import generate


def _model(family: str = "sharing", nodes: int = 6) -> CpsatModel:
    model = CpsatModel(generate(family, seed=2, nodes=nodes))
    model.solve(time_limit=None, seed=0, workers=1, params={"max_deterministic_time": 0.05})
    return model


def _spy(monkeypatch: pytest.MonkeyPatch, seen: list[tuple[int, int, int]]) -> None:
    real = lns_mod.solve_guarded

    def spy(solver, model, *args):  # type: ignore[no-untyped-def]
        p = solver.parameters
        seen.append((p.cp_model_probing_level, p.symmetry_level, p.linearization_level))
        return real(solver, model, *args)

    monkeypatch.setattr(lns_mod, "solve_guarded", spy)


def test_step_params_reach_every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that every step's CP-SAT gets the STEP_PARAMS values (and the step's own linearization level
    is what STEP_PARAMS says when it names it), and that the steps still improve on a weak start."""
    seen: list[tuple[int, int, int]] = []
    _spy(monkeypatch, seen)
    monkeypatch.setattr(lns_mod, "STEP_PARAMS", {"cp_model_probing_level": 1, "symmetry_level": 0,
                                                  "linearization_level": 1})
    model = _model()
    start = lns_mod._space(model, "node")
    assert start is not None
    lns_mod.lns(model, level="node", domains_per_step=2, step_s=1.0, deadline=time.perf_counter() + 30.0,
                seed=0, workers=1, steps=3, det_step=0.2)
    assert seen == [(1, 0, 1)] * 3


def test_no_step_params_leave_cpsat_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that with STEP_PARAMS empty a step keeps CP-SAT's probing and symmetry defaults and the
    LNS's own linearization level."""
    seen: list[tuple[int, int, int]] = []
    _spy(monkeypatch, seen)
    monkeypatch.setattr(lns_mod, "STEP_PARAMS", {})
    defaults = type(lns_mod.cp_model.CpSolver().parameters)()
    lns_mod.lns(_model(), level="node", domains_per_step=2, step_s=1.0, deadline=time.perf_counter() + 30.0,
                seed=0, workers=1, steps=2, det_step=0.1)
    assert seen == [(defaults.cp_model_probing_level, defaults.symmetry_level, lns_mod.STEP_LINEARIZATION)] * 2


def test_an_unknown_step_param_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that a misspelt parameter name fails loudly instead of being ignored."""
    monkeypatch.setattr(lns_mod, "STEP_PARAMS", {"cp_model_probing_levle": 1})
    with pytest.raises(AttributeError):
        lns_mod.lns(_model(), level="node", domains_per_step=2, step_s=1.0, deadline=time.perf_counter() + 30.0,
                    seed=0, workers=1, steps=1, det_step=0.1)


@pytest.mark.parametrize("workers", [1, 2])
def test_proven_steps_are_counted(workers: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that the LNS statistics count the steps whose sub-problem CP-SAT proved optimal: at most the
    steps, and exactly the steps whose solve ended OPTIMAL (one-node steps of a small model all are)."""
    codes: list[int] = []
    real = lns_mod.solve_guarded

    def spy(solver, model, *args):  # type: ignore[no-untyped-def]
        code = real(solver, model, *args)
        codes.append(code)
        return code

    monkeypatch.setattr(lns_mod, "solve_guarded", spy)
    model = _model()
    _one_node_lns(model, workers, steps=4, det_step=0.5, step_s=0.5, seconds=2.0)
    st = model.lns_stats
    assert st["steps"] == len(codes) >= 2
    assert st["proven"] == sum(code == lns_mod.cp_model.OPTIMAL for code in codes)
    assert 0 < st["proven"] <= st["steps"]


@pytest.mark.parametrize("min_rows", [0, 10**9])
def test_lite_params_only_on_step_models_with_many_rows(min_rows: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that LITE_PARAMS reach a step's CP-SAT when its model has at least LITE_MIN_ROWS rows and not
    otherwise, that the LNS counts the steps that had them, and that STEP_PARAMS still win over them."""
    seen: list[tuple[int, int, int]] = []
    _spy(monkeypatch, seen)
    monkeypatch.setattr(lns_mod, "STEP_PARAMS", {"linearization_level": 1})
    monkeypatch.setattr(lns_mod, "LITE_PARAMS", {"cp_model_probing_level": 0, "symmetry_level": 0,
                                                  "linearization_level": 0})
    monkeypatch.setattr(lns_mod, "LITE_MIN_ROWS", min_rows)
    defaults = type(lns_mod.cp_model.CpSolver().parameters)()
    model = _model()
    lns_mod.lns(model, level="node", domains_per_step=2, step_s=1.0, deadline=time.perf_counter() + 30.0,
                seed=0, workers=1, steps=2, det_step=0.1)
    if min_rows == 0:
        assert seen == [(0, 0, 1)] * 2
        assert model.lns_stats["lite"] == 2
    else:
        assert seen == [(defaults.cp_model_probing_level, defaults.symmetry_level, 1)] * 2
        assert model.lns_stats["lite"] == 0


def test_whole_steps_keep_cpsat_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that a step called as a whole step (lite=False) gets no LITE_PARAMS whatever its size."""
    seen: list[tuple[int, int, int]] = []
    _spy(monkeypatch, seen)
    monkeypatch.setattr(lns_mod, "LITE_MIN_ROWS", 0)
    model = _model()
    space = lns_mod._space(model, "node")
    assert space is not None
    sub = space.sub_model(space.best, set(space.names[:2]), [])
    info: dict[str, float] = {}
    lns_mod._step(sub, space.best_obj, seconds=5.0, det=0.1, seed=0, workers=1, info=info, lite=False)
    lns_mod._step(sub, space.best_obj, seconds=5.0, det=0.1, seed=0, workers=1, info=info, lite=True)
    defaults = type(lns_mod.cp_model.CpSolver().parameters)()
    assert seen[0][:2] == (defaults.cp_model_probing_level, defaults.symmetry_level)
    assert seen[1][:2] == (0, 0)
    assert info["lite"] == 1.0


def _one_node_lns(model, workers: int, *, steps: int, det_step: float, step_s: float,  # type: ignore[no-untyped-def]
                  seconds: float) -> None:
    """LNS over one-node steps: with one worker the reproducible run (``steps`` steps of ``det_step``,
    twice ``det_step`` wall seconds each, a long safety deadline), with two the threaded run of
    ``step_s`` wall seconds a step for ``seconds``."""
    if workers == 1:
        lns_mod.lns(model, level="node", domains_per_step=1, step_s=2 * det_step, deadline=time.perf_counter() + 60.0,
                    seed=0, workers=1, steps=steps, det_step=det_step)
    else:
        lns_mod.lns(model, level="node", domains_per_step=1, step_s=step_s, deadline=time.perf_counter() + seconds,
                    seed=0, workers=2)
