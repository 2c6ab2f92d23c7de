"""The one option protocol (packer.options, packer.dispatch): the same answers for every back end."""

from __future__ import annotations

import inspect
import json

import pytest

import packer
from packer.check import check
from packer.cli import main
from packer.dispatch import SOLVERS, accepted_options, get_solver, solve
from packer.errors import InputError
from packer.generate import generate
from packer.options import OPTIONS, check_options
from packer.progress import Progress

#: An option value each back end does not take (the first one it lacks, in this order).
OTHER = {"workers": 2, "policy": "first-fit", "order": "priority", "hint": False}


@pytest.fixture(scope="module")
def tiny():  # type: ignore[no-untyped-def]
    return generate("tiny", 0)


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_each_back_end_declares_what_its_solve_takes(name: str) -> None:
    """Tests that a back end's OPTIONS are exactly its solve's keywords, all of them known options."""
    import importlib

    mod = importlib.import_module(SOLVERS[name])
    params = inspect.signature(mod.solve).parameters
    keywords = {p for p, v in params.items() if v.kind is inspect.Parameter.KEYWORD_ONLY}
    assert keywords == set(mod.OPTIONS) == set(accepted_options(name))
    assert set(mod.OPTIONS) <= set(OPTIONS)
    assert not any(v.kind is inspect.Parameter.VAR_KEYWORD for v in params.values())  # no silent **kwargs
    assert {"time_limit", "seed", "progress"} <= set(mod.OPTIONS)


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_each_back_end_solves_with_the_options_it_takes(name: str, tiny) -> None:  # type: ignore[no-untyped-def]
    """Tests that every back end answers with the common options and None for the rest."""
    nones = {k: None for k in OPTIONS if k not in ("time_limit", "seed", "progress")}
    plan = solve(tiny, solver=name, time_limit=20, seed=1, progress=Progress(name, enabled=False), **nones)
    assert plan.solver.name == name and check(tiny, plan).ok


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_an_unknown_option_is_an_input_error_for_every_back_end(name: str, tiny) -> None:  # type: ignore[no-untyped-def]
    """Tests that a misspelt option fails the same way for all (even when None), naming it."""
    for value in (3, None):
        with pytest.raises(InputError) as e:
            solve(tiny, solver=name, time_limt=value)
        assert "time_limt" in str(e.value) and e.value.field == "--time-limt"


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_an_option_the_back_end_does_not_take_is_an_input_error(name: str, tiny) -> None:  # type: ignore[no-untyped-def]
    """Tests that a known option the back end lacks fails when given, naming option and back end."""
    option = next(k for k in OTHER if k not in accepted_options(name))
    with pytest.raises(InputError) as e:
        get_solver(name)(tiny, **{option: OTHER[option]})
    assert repr(option) in str(e.value) and f"the {name} solver" in str(e.value)
    assert e.value.field == "--" + option.replace("_", "-")
    # the same through the package's own entry point
    with pytest.raises(InputError):
        packer.solve(tiny, solver=name, **{option: OTHER[option]})


def test_check_options_drops_none_and_keeps_the_taken() -> None:
    """Tests the rule itself: taken options kept (None too), untaken None dropped."""
    out = check_options("greedy", frozenset({"seed", "time_limit"}),
                        {"seed": 3, "time_limit": None, "workers": None, "policy": None})
    assert out == {"seed": 3, "time_limit": None}


def test_unknown_solver_is_an_input_error(tiny) -> None:  # type: ignore[no-untyped-def]
    """Tests that a back end name not in SOLVERS is an InputError on --solver."""
    with pytest.raises(InputError) as e:
        solve(tiny, solver="magic")
    assert e.value.field == "--solver"


def test_cli_rejects_a_flag_the_back_end_does_not_take(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Tests that ``packer solve --solver greedy --workers 2`` is exit 2 naming the flag, nothing written."""
    inst = tmp_path / "i.json"
    inst.write_text(json.dumps(json.loads(generate("tiny", 0).model_dump_json(by_alias=True))))
    out = tmp_path / "p.json"
    assert main(["solve", str(inst), "-o", str(out), "--solver", "greedy", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert "--workers" in err and "greedy" in err and not out.exists()
    assert main(["solve", str(inst), "-o", str(out), "--solver", "cpsat", "--policy", "fgd", "-q"]) == 2
    assert "--policy" in capsys.readouterr().err and not out.exists()
    assert main(["solve", str(inst), "-o", str(out), "--solver", "online", "--policy", "first-fit", "-q"]) == 0
    assert out.exists()
