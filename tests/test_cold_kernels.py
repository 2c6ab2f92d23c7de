"""A first run on a machine: the online placer's kernels are not compiled yet (hints.online_ready).

A fresh checkout's first 60 s solves of inference-1 and sharing-1 came back empty (objective 0): the
hint's online placers spent the limit compiling their kernels. Timed solves now leave them out until
the kernels are on disk.
"""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from packer.check import check
from packer.cpsat import reopt, reopt_gang, reopt_spread, solver
from packer.generate import generate
from packer.online._jit import compiled_on_disk


def _kernel(index: object) -> object:
    def load() -> object:
        if isinstance(index, Exception):
            raise index
        return index

    return SimpleNamespace(_cache=SimpleNamespace(_cache_file=SimpleNamespace(_load_index=load)))


def test_compiled_on_disk_reads_the_cache_index() -> None:
    """Tests that a kernel with an empty index is cold, one with an entry warm, and that a cache laid
    out otherwise counts as warm (the behaviour before the check)."""
    assert compiled_on_disk(_kernel({"sig": 1}), _kernel({"sig": 2}))
    assert not compiled_on_disk(_kernel({"sig": 1}), _kernel({}))
    assert compiled_on_disk(_kernel(AttributeError("other layout")))


def test_an_empty_cache_dir_is_cold(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Tests, in a fresh process whose Numba cache is an empty folder, that the kernels are reported
    not compiled (without compiling them: the check only reads the index)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", "from packer.cpsat.hints import online_ready; print(online_ready())"],
                         env=env, capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False"
    assert not any(tmp_path.rglob("*.nbc"))  # nothing was compiled


def test_a_timed_solve_leaves_cold_online_placers_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that with the kernels cold a timed CP-SAT solve never runs the online placer (greedy's
    file-order runs included) and still returns a valid plan."""
    import packer.online.solver as online_solver

    def no_online(*_a: object, **_k: object) -> object:
        raise AssertionError("the online placer ran")

    monkeypatch.setattr(solver, "online_ready", lambda: False)
    monkeypatch.setattr(online_solver, "solve", no_online)
    monkeypatch.setattr(solver.tuning, "ONLINE_HINT_MIN_GPUS", 0)
    inst = generate("inference", seed=0, nodes=4)
    plan = solver.solve(inst, time_limit=5, workers=2)
    assert plan.objective > 0
    assert check(inst, plan).ok


def test_timed_move_steps_leave_placer_steps_out_while_cold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that timed move steps take no gang or spread step while the kernels are cold, and that
    reproducible ones (det) still do (their draws must not depend on the cache)."""
    inst = generate("fragmented", seed=0, nodes=8)
    start = reopt.no_move_plan(inst, time_limit=5, workers=1)
    placed = {a.request: list(a.units) for a in start.assignments}
    monkeypatch.setattr(reopt, "online_ready", lambda: False)
    monkeypatch.setattr(reopt_gang, "GANG_SHARE", 1.0)
    seen = {"gangs": 0, "spreads": 0}
    gangs0, spreads0 = reopt_gang.gangs, reopt_spread.spreads

    def gangs(*a, **k):  # type: ignore[no-untyped-def]
        seen["gangs"] += 1
        return gangs0(*a, **k)

    def spreads(*a, **k):  # type: ignore[no-untyped-def]
        seen["spreads"] += 1
        return spreads0(*a, **k)

    monkeypatch.setattr(reopt_gang, "gangs", gangs)
    monkeypatch.setattr(reopt_spread, "spreads", spreads)
    import time

    reopt.move_steps(inst, placed, cap=None, deadline=time.perf_counter() + 3.0, seed=0, workers=1)
    assert seen == {"gangs": 0, "spreads": 0}
    reopt.move_steps(inst, placed, cap=None, deadline=time.perf_counter() + 60.0, seed=0, workers=1,
                     max_steps=1, det=0.2)
    assert seen["gangs"] + seen["spreads"] > 0
