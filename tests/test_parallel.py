"""Tests of packer.parallel (in process and on a local Ray) and of what runs on it: decomposed CP-SAT, replay.

The Ray tests start one local Ray (two CPUs) for this module and skip when the ``packer[ray]``
extra is not installed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import pytest
from conftest import INSTANCES

from packer.check import check
from packer.errors import InputError
from packer.generate import generate
from packer.parallel import LOCAL, TaskPool, add_arguments, address_of, map_tasks


@pytest.fixture(scope="module")
def local_ray():  # type: ignore[no-untyped-def]
    """One local Ray with two CPUs for the module's tests (the pools join it and leave it running)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024 * 1024, log_to_driver=False,
             logging_level="WARNING")
    yield ray
    ray.shutdown()


# ------------------------------------------------------------------------------------- in process


def test_in_process_map_keeps_order_and_stops_starting_at_the_timeout() -> None:
    """Tests that without an address tasks run here, in order, and none starts after the time-out."""
    assert map_tasks(abs, [-3, 2, -1]) == [3, 2, 1]
    with TaskPool() as pool:
        assert not pool.on_ray and pool.parallel == 1
        t0 = time.perf_counter()
        out = pool.map(lambda s: time.sleep(s) or s, [0.3, 0.3, 0.3], timeout=0.1)
        assert out == [0.3, None, None]  # the first one ran, the others never started
        assert time.perf_counter() - t0 < 0.6


def test_flags_give_the_address() -> None:
    """Tests ``--ray`` (local) and ``--ray-address ADDR``, which exclude each other."""
    p = argparse.ArgumentParser()
    add_arguments(p)
    assert address_of(p.parse_args([])) is None
    assert address_of(p.parse_args(["--ray"])) == LOCAL
    assert address_of(p.parse_args(["--ray-address", "10.0.0.1:6379"])) == "10.0.0.1:6379"
    with pytest.raises(SystemExit):
        p.parse_args(["--ray", "--ray-address", "x:1"])


def test_without_the_extra_the_flag_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that asking for Ray where it is not installed names the flag and the extra."""
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now fails
    with pytest.raises(InputError, match=r"--ray.*packer\[ray\]"):
        TaskPool(LOCAL)


def test_nothing_imports_ray_by_default() -> None:
    """Tests that the command line and the solvers do not import ray unless asked to."""
    import subprocess

    code = ("import sys, packer.cli, packer.cpsat, packer.replay.runner; "
            "packer.cli.build_parser(); print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------------------------- on Ray


def test_unreachable_address_fails_fast_naming_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    """Tests that an address nobody listens on gives exit 2 and a line naming --ray-address, in seconds."""
    pytest.importorskip("ray")
    from packer.cli import main

    t0 = time.perf_counter()
    with pytest.raises(InputError, match="--ray-address"):
        TaskPool("127.0.0.1:1")
    with pytest.raises(InputError, match="--ray-address"):
        TaskPool("not an address")
    rc = main(["solve", str(INSTANCES / "default.json"), "-o", "/nonexistent/plan.json", "--solver", "cpsat",
               "--ray-address", "127.0.0.1:1", "-q"])
    assert rc == 2 and "--ray-address" in capsys.readouterr().err
    assert time.perf_counter() - t0 < 20


def test_a_running_cluster_address_passes_the_check(local_ray) -> None:  # type: ignore[no-untyped-def]
    """Tests that the address of a running Ray (the module's, joined by a child process) is accepted."""
    from packer.parallel import check_address

    check_address(local_ray.get_runtime_context().gcs_address)


def test_ray_flag_is_for_cpsat(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Tests that --ray with a solver that has no sub-problems is refused, and nothing is written."""
    from packer.cli import main

    out = tmp_path / "plan.json"
    assert main(["solve", str(INSTANCES / "default.json"), "-o", str(out), "--ray"]) == 2
    assert "--solver cpsat" in capsys.readouterr().err and not out.exists()


def test_ray_map_keeps_order_cancels_at_the_timeout_and_raises(local_ray) -> None:  # type: ignore[no-untyped-def]
    """Tests Ray tasks: results in order, a task past the time-out cancelled (None), a task's error raised."""
    with TaskPool(LOCAL) as pool:
        assert pool.on_ray and pool.parallel == 2
        assert pool.map(abs, [-3, 2, -1, 0]) == [3, 2, 1, 0]
        t0 = time.perf_counter()
        assert pool.map(time.sleep, [60, 0], timeout=2.0) == [None, None]
        assert time.perf_counter() - t0 < 10
        with pytest.raises(ValueError):
            pool.map(math.sqrt, [4.0, -1.0])
    assert local_ray.is_initialized()  # a Ray the pool did not start is left running
    with TaskPool(LOCAL, max_parallel=1) as pool:
        assert pool.parallel == 1


def test_ctrl_c_cancels_the_tasks_still_running(local_ray) -> None:  # type: ignore[no-untyped-def]
    """Tests that an interrupt while waiting cancels outstanding tasks: their cores are free at once."""

    def interrupt(i: int, result: object) -> None:
        raise KeyboardInterrupt

    with TaskPool(LOCAL) as pool:
        t0 = time.perf_counter()
        with pytest.raises(KeyboardInterrupt):
            pool.map(time.sleep, [0, 60, 60], on_done=interrupt)
        assert pool.map(abs, [-1, -2]) == [1, 2]  # would wait a minute if the sleepers held both CPUs
        assert time.perf_counter() - t0 < 20


def _merged_plan(inst, placed):  # type: ignore[no-untyped-def]
    from packer.cpsat.reasons import unplaced_reasons
    from packer.cpsat.result import modes_of as _modes_of
    from packer.plans import build_plan

    modes = _modes_of(inst, placed)
    return build_plan(inst, solver="cpsat", placed=placed, unplaced=unplaced_reasons(inst, placed, modes),
                      gpu_modes=modes, seed=0, wall_s=0.0, status="feasible")


def test_parallel_rounds_are_valid_and_reproducible(local_ray) -> None:  # type: ignore[no-untyped-def]
    """Tests that LNS rounds on Ray merge into a valid plan, no worse, the same with one or two at a time."""
    from packer.cpsat.decompose import lns_by_domain_parallel
    from packer.cpsat.search import SubTask as _SubTask
    from packer.greedy.solver import solve as greedy_solve

    inst = generate("haein", 1, nodes=64)  # two pods
    hint = greedy_solve(inst)
    start = {a.request: list(a.units) for a in hint.assignments}
    task = _SubTask(seed=0, workers=1, params=None)
    runs = []
    for width in (1, 2):
        with TaskPool(LOCAL, max_parallel=width) as pool:
            placed, stats = lns_by_domain_parallel(
                inst, start, deadline=time.perf_counter() + 300, parallel=pool.parallel, det=1.0,
                solve_batch=lambda jobs, timeout, pool=pool: pool.map(task, jobs, timeout=timeout))
        assert stats["domains"] == 2 and stats["subproblems"] == 4 and stats["rejected"] == 0
        runs.append(placed)
    assert runs[0] == runs[1]
    plan = _merged_plan(inst, runs[0])
    rep = check(inst, plan)
    assert rep.ok, [(v.kind, v.message) for v in rep.violations]
    assert plan.objective >= hint.objective - 1e-9


def test_short_rounds_solve_fewer_domains_in_turn() -> None:
    """Tests that a round with too little time for every domain solves some, the next ones after, validly."""
    from packer.cpsat.decompose import MIN_SUB_S, lns_by_domain_parallel
    from packer.cpsat.search import SubTask as _SubTask
    from packer.greedy.solver import solve as greedy_solve

    inst = generate("haein", 0, nodes=128)  # four pods
    hint = greedy_solve(inst)
    task = _SubTask(seed=0, workers=1, params=None)
    placed, stats = lns_by_domain_parallel(
        inst, {a.request: list(a.units) for a in hint.assignments}, parallel=1, rounds=2,
        deadline=time.perf_counter() + 2.5 * MIN_SUB_S, solve_batch=lambda jobs, timeout: [task(j) for j in jobs])
    assert stats["domains"] == 4 and 1 <= stats["chosen"] < 4 and stats["timed_out"] == 0
    plan = _merged_plan(inst, placed)
    assert check(inst, plan).ok and plan.objective >= hint.objective - 1e-9


def test_round_shares_split_the_slack() -> None:
    """Tests that a round's domains get disjoint offers and slack parts that add up to no more than the slack."""
    from packer.cpsat.decompose import _round_shares, _totals
    from packer.greedy.solver import solve as greedy_solve

    inst = generate("haein", 2, nodes=96, demand=1.6)  # three pods
    placed = {a.request: list(a.units) for a in greedy_solve(inst).assignments}
    domains: dict[str, list[str]] = {}
    for n in inst.nodes:
        domains.setdefault(inst.domain(n, "pod"), []).append(n.id)
    order = sorted(domains)
    used, _ = _totals(inst, placed)
    for rnd in (0, 1):
        shares = _round_shares(inst, placed, domains, order, "pod", rnd)
        offered = [r.id for d in order for r in shares[d].offer]
        assert offered and len(offered) == len(set(offered))
        assert not set(offered) & set(placed)
        for t in inst.tenants:
            slack = (t.max_gpus or 0) - used[t.id]
            if t.max_gpus is None or slack <= 0:
                continue
            given = sum(slack - shares[d].withheld.get(t.id, slack) for d in order)
            assert given <= slack + 1e-9


def test_decomposed_cpsat_on_ray(local_ray, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Tests a decomposed CP-SAT solve on Ray: valid plan, bound above it, no worse than the hint."""
    import packer.cpsat.solver as cpsat
    from packer.cpsat import tuning
    from packer.greedy.solver import solve as greedy_solve

    monkeypatch.setattr(tuning, "DECOMPOSE_ABOVE", 0)
    inst = generate("small", seed=3)
    plan = cpsat.solve(inst, time_limit=10, workers=1, ray_address=LOCAL)
    rep = check(inst, plan)
    assert rep.ok, [(v.kind, v.message) for v in rep.violations]
    dec = plan.solver.model_extra["decomposed"]  # type: ignore[index]
    assert dec["parallel"] == 2 and dec["subproblems"] >= 2
    assert plan.objective >= greedy_solve(inst).objective - 1e-9
    assert plan.bound is not None and plan.objective <= plan.bound + 1e-9
    monkeypatch.setattr(tuning, "DECOMPOSE_ABOVE", 10**9)  # one model: Ray is not used, and says so
    plan = cpsat.solve(inst, time_limit=2, workers=1, ray_address=LOCAL)
    assert check(inst, plan).ok and "not used" in plan.solver.model_extra["ray"]  # type: ignore[index]


def test_replay_seeds_on_ray_match_threads(local_ray, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Tests that `packer replay --ray` gives the same seeds' results as the threaded run."""
    from packer.cli import main

    nodes = tmp_path / "n.csv"
    nodes.write_text("sn,cpu_milli,memory_mib,gpu,model\n" + "".join(f"n-{i},96000,393216,8,G2\n" for i in range(3)))
    head = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time"
    rows = [f"p-{i},{1000 + 100 * (i % 5)},1024,1,{(50, 110, 160, 230)[i % 4]},,LS,Running,0,1,0" for i in range(60)]
    pods = tmp_path / "p.csv"
    pods.write_text(head + "\n" + "\n".join(rows) + "\n")
    out = {}
    for flag in ([], ["--ray"]):
        path = tmp_path / f"out{len(flag)}.json"
        rc = main(["replay", "--nodes", str(nodes), "--pods", str(pods), "--policy", "fgd,firstfit", "--seeds", "1-3",
                   "--json", str(path), "--quiet", *flag])
        assert rc == 0
        out[len(flag)] = json.loads(path.read_text())["runs"]
    for a, b in zip(out[0], out[1]):
        assert a["seeds"] == b["seeds"] == [1, 2, 3]
        assert a["curves"] == b["curves"]
        assert [r["used_milli"] for r in a["per_seed"]] == [r["used_milli"] for r in b["per_seed"]]


def test_bench_on_ray_matches_in_process(local_ray, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Tests that `packer bench --ray` runs the suite as Ray tasks with the same checked figures."""
    from packer.benchsuite import load_results
    from packer.cli import main

    out = {}
    for flag in ([], ["--ray"]):
        js = tmp_path / f"b{len(flag)}.json"
        assert main(["bench", "--families", "haein,fragmented", "--nodes", "1", "--seeds", "100,101",
                     "--solvers", "greedy,first-fit", "--json", str(js), "--quiet", *flag]) == 0
        out[len(flag)] = {r["key"]: r for r in load_results(js)}
    assert set(out[0]) == set(out[1]) and len(out[0]) == 8
    for key, r in out[0].items():
        assert out[1][key]["ok"] and out[1][key]["objective"] == r["objective"]
        assert out[1][key]["ray_parallel"] == 2 and "ray_parallel" not in r
