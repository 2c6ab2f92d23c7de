"""The LP beside the search at a lower OS priority (tuning.LP_NICE, issue 16 part 3, session 11)."""

from __future__ import annotations

import os
import threading

import pytest

from packer.check import check
from packer.cpsat.background import Background, lower_priority
from packer.cpsat.lpchild import lp_value_in_child
from packer.cpsat.model import CpsatModel
from packer.generate import generate

linux_only = pytest.mark.skipif(not hasattr(os, "setpriority") or not hasattr(threading, "get_native_id"),
                                reason="per-thread niceness is a Linux feature")


def _nice_of(tid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, tid)


@linux_only
def test_lower_priority_changes_the_calling_thread_alone() -> None:
    """Tests that the thread that asks is niced by the amount asked (capped at 19), its caller is not."""
    main_tid = threading.get_native_id()
    before_main = _nice_of(main_tid)
    seen: dict[str, object] = {}

    def body() -> None:
        tid = threading.get_native_id()
        before = _nice_of(tid)
        seen["took"] = lower_priority(3)
        seen["delta"] = _nice_of(tid) - before
        seen["expected"] = min(19, before + 3) - before

    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert seen["took"] is True and seen["delta"] == seen["expected"]
    assert _nice_of(main_tid) == before_main


def test_lower_priority_by_nothing_does_nothing() -> None:
    """Tests that 0 or a negative amount changes no priority and says so."""
    assert lower_priority(0) is False
    assert lower_priority(-4) is False


@linux_only
def test_background_nices_its_thread_and_counts_its_cpu() -> None:
    """Tests Background(nice=...): the value, the niced flag, the thread's CPU seconds, and the niceness
    seen from inside the function."""
    main_before = _nice_of(threading.get_native_id())

    def work() -> tuple[int, int]:
        tid = threading.get_native_id()
        return tid, sum(i * i for i in range(20000))

    job = Background(work, nice=2)
    tid, value = job.result(timeout=30)
    assert value == sum(i * i for i in range(20000))
    assert job.niced is True and job.cpu_s is not None and job.cpu_s >= 0.0
    assert job.done.is_set() and job.ended is not None
    assert _nice_of(threading.get_native_id()) == main_before
    plain = Background(lambda: 7)
    assert plain.result(timeout=30) == 7 and plain.niced is False


def test_the_niced_child_gives_the_same_lp_value() -> None:
    """Tests that the LP child started with a niceness answers exactly what an un-niced child does."""
    model = CpsatModel(generate("haein", seed=0, nodes=2))
    plain = lp_value_in_child(model.linear_form, None)  # no limit: a loaded machine cannot make it None
    niced = lp_value_in_child(model.linear_form, None, nice=5)
    assert plain is not None and niced == plain


def _small_lns_run(monkeypatch: pytest.MonkeyPatch, nice: int, calls: list[dict[str, object]]):  # type: ignore[no-untyped-def]
    import packer.cpsat.search as search
    import packer.cpsat.solver as cpsat
    from packer.cpsat import tuning

    monkeypatch.setattr(tuning, "LNS_MIN_VARIABLES", 0)
    monkeypatch.setattr(tuning, "LNS_MIN_S", 0.5)
    monkeypatch.setattr(tuning, "LNS_FIRST_MIN_S", 0.2)
    monkeypatch.setattr(tuning, "LP_NICE", nice)
    real = search.lns_on_model
    real_solve = CpsatModel.solve

    def spy(model, **kw):  # type: ignore[no-untyped-def]
        calls.append({"lns": kw})
        return real(model, **kw)

    def spy_solve(self, **kw):  # type: ignore[no-untyped-def]
        calls.append({"first": kw})
        # The first run must not prove the small model optimal (on an idle machine it did, in CI, and no
        # LNS followed): a tiny deterministic budget leaves the LNS its steps.
        kw = {**kw, "params": {**(kw.get("params") or {}), "max_deterministic_time": 0.01}}
        return real_solve(self, **kw)

    monkeypatch.setattr(search, "lns_on_model", spy)
    monkeypatch.setattr(CpsatModel, "solve", spy_solve)
    inst = generate("haein", seed=1, nodes=16)
    plan = cpsat.solve(inst, time_limit=7, workers=2)
    rep = check(inst, plan)
    assert rep.ok, [(v.kind, v.message) for v in rep.violations]
    return plan


def test_a_niced_lp_gives_the_search_every_core_and_keeps_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests a run with LP_NICE on (the LP in a thread): the first run and the LNS get both workers from
    the start (no wait for the LP), the LP's bound is the un-niced run's, the plan is valid."""
    base_calls: list[dict[str, object]] = []
    base = _small_lns_run(monkeypatch, 0, base_calls)
    niced_calls: list[dict[str, object]] = []
    niced = _small_lns_run(monkeypatch, 10, niced_calls)
    b_info, n_info = base.solver.model_extra, niced.solver.model_extra  # type: ignore[union-attr]
    assert b_info["lp_beside_search"] is True and n_info["lp_beside_search"] is True, (b_info, n_info)
    assert b_info["lp_nice"] == 0 and n_info["lp_nice"] == 10
    assert b_info["lp_gate"] is True and n_info["lp_gate"] is False
    first_b = next(c["first"] for c in base_calls if "first" in c)
    first_n = next(c["first"] for c in niced_calls if "first" in c)
    assert first_b["workers"] == 1 and first_n["workers"] == 2
    lns_b = [c["lns"] for c in base_calls if "lns" in c]
    lns_n = [c["lns"] for c in niced_calls if "lns" in c]
    assert lns_b and lns_n
    assert lns_b[0]["one_until"] is not None and lns_n[0]["one_until"] is None
    # The small LP ends long before the limit whatever its priority: the same bound to the digit.
    assert b_info["lp_bound"] is not None and n_info["lp_bound"] == b_info["lp_bound"]
    assert niced.bound is not None and niced.objective <= niced.bound + 1e-9
    assert n_info["lp_cpu_s"] is not None and n_info["lp_cpu_s"] >= 0.0


def test_an_open_gate_runs_every_thread_beside_an_unniced_lp(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests LP_GATE off with LP_NICE 0, the LP in a child: both workers from the start, the LP not
    niced, a valid plan under a valid bound."""
    from packer.cpsat import tuning

    monkeypatch.setattr(tuning, "LP_IN_CHILD", True)
    monkeypatch.setattr(tuning, "LP_GATE", False)
    calls: list[dict[str, object]] = []
    plan = _small_lns_run(monkeypatch, 0, calls)
    info = plan.solver.model_extra  # type: ignore[union-attr]
    assert info["lp_beside_search"] is True and info["lp_nice"] == 0 and info["lp_gate"] is False
    assert next(c["first"] for c in calls if "first" in c)["workers"] == 2
    lns = [c["lns"] for c in calls if "lns" in c]
    assert lns and lns[0]["one_until"] is None
    assert plan.bound is not None and plan.objective <= plan.bound + 1e-9
