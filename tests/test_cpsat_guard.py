"""packer.cpsat.guard: an internal CP-SAT IndexError (OR-Tools issue #5288) costs one solve, not the run."""

from __future__ import annotations

from ortools.sat.python import cp_model

from packer.cpsat import guard


def _model() -> tuple[cp_model.CpModel, cp_model.IntVar]:
    m = cp_model.CpModel()
    x = m.new_int_var(0, 10, "x")
    m.add(x <= 7)
    m.maximize(x)
    m.add_hint(x, 3)
    return m, x


class _Flaky(cp_model.CpSolver):
    """Raises like OR-Tools' presolve does: on a hinted solve when ``fail`` >= 1, on any when ``fail`` is 2."""

    def __init__(self, fail: int) -> None:
        super().__init__()
        self.fail, self.calls = fail, []

    def solve(self, model, callback=None):  # type: ignore[no-untyped-def, override]
        hinted = len(model.proto.solution_hint.vars) > 0
        self.calls.append(hinted)
        if (hinted and self.fail >= 1) or self.fail >= 2:
            raise IndexError("absl::btree_map::at")
        return super().solve(model, callback)


def test_a_clean_solve_runs_once_with_its_hint():
    m, x = _model()
    s = _Flaky(0)
    assert guard.solve_guarded(s, m) == cp_model.OPTIMAL and s.value(x) == 7
    assert s.calls == [True]


def test_the_error_is_retried_without_the_hint_and_the_model_keeps_it():
    m, x = _model()
    s, before = _Flaky(1), guard.errors
    assert guard.solve_guarded(s, m) == cp_model.OPTIMAL and s.value(x) == 7
    assert s.calls == [True, False]
    assert guard.errors == before + 1
    assert len(m.proto.solution_hint.vars) == 1  # the caller's model is untouched


def test_two_errors_answer_unknown():
    m, _ = _model()
    s, before = _Flaky(2), guard.errors
    assert guard.solve_guarded(s, m) == cp_model.UNKNOWN
    assert s.calls == [True, False] and guard.errors == before + 2
