"""Tests that the library's solve checks an instance built in code as load_instance checks a file
(session 25: a sub-instance built in a bench held a running request on MIG slots another running
request held, and CP-SAT's fallback returned a plan that failed the checker)."""

from __future__ import annotations

import pytest

import packer
from packer.generate import generate


def _overlapping() -> packer.Instance:
    """A small instance with running MIG work, and a copy of one running request on the same slots."""
    inst = generate("haein", seed=0, nodes=8)
    running = [r for r in inst.requests if r.placement is not None and r.kind == "mig"]
    assert running, "the haein generator gives running MIG work"
    clash = running[0].model_copy(update={"id": "clash-0", "movable": False})
    reqs = (*inst.requests, clash)
    return inst.model_copy(update={"requests": reqs})


@pytest.mark.parametrize("solver", ["greedy", "online"])
def test_solve_rejects_overlapping_running_work(solver: str) -> None:
    """Tests that packer.solve raises InputError naming the request's placement, with no plan."""
    inst = _overlapping()
    with pytest.raises(packer.InputError) as err:
        packer.solve(inst, solver=solver)
    assert "placement" in str(err.value) and "overlaps running" in str(err.value)


def test_solve_takes_a_valid_instance_unchanged() -> None:
    """Tests that a valid generated instance still solves to a checked plan."""
    inst = generate("haein", seed=0, nodes=8)
    plan = packer.solve(inst, solver="greedy")
    assert packer.check(inst, plan).ok


def test_check_stays_a_function_after_use() -> None:
    """Tests that packer.check can be called more than once (it was a wrapper importing the module
    packer.check on its first call, which then replaced the function of the same name)."""
    import packer.check  # noqa: F401  - what any import of the checker module does

    inst = generate("haein", seed=0, nodes=8)
    plan = packer.solve(inst, solver="greedy")
    assert callable(packer.check)
    assert packer.check(inst, plan).ok and packer.check(inst, plan).ok
