"""The online batch run with and without the forecast (``forecast`` option, ``--no-forecast``)."""

from __future__ import annotations

import json

import pytest

from packer.cli import main
from packer.dispatch import solve
from packer.errors import InputError
from packer.formats import save_instance
from packer.generate import generate
from packer.online.placer import OnlinePlacer, requests_in_order


def _assignments(plan):  # type: ignore[no-untyped-def]
    return {a.request: a.units for a in plan.assignments}


def test_without_forecast_the_batch_run_is_request_by_request():
    inst = generate("adversarial", seed=0, nodes=8)
    plan = solve(inst, solver="online", forecast=False)
    placer = OnlinePlacer(inst, "packer")
    for req in requests_in_order(inst.requests, "file", inst):
        placer.place(req)
    assert _assignments(plan) == _assignments(placer.snapshot(instance=inst))
    assert plan.solver.forecast is False
    assert solve(inst, solver="online").solver.forecast is True


def test_the_flag_reaches_the_online_solver_and_no_other(tmp_path):
    inst = generate("tenants", seed=0, nodes=8)
    path = tmp_path / "i.json"
    save_instance(inst, path)
    out = tmp_path / "p.json"
    assert main(["solve", str(path), "--solver", "online", "--no-forecast", "-o", str(out), "-q"]) == 0
    assert json.loads(out.read_text())["solver"]["forecast"] is False
    with pytest.raises(InputError, match="forecast"):
        solve(inst, solver="greedy", forecast=False)
