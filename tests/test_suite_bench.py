"""Tests of the benchmark suite runner and ``packer bench``."""

from __future__ import annotations

import json

import pytest

from packer.benchsuite import load_results, run_one, run_suite
from packer.benchsuite.runner import ENTRIES, key_of
from packer.benchsuite.tables import best_bounds, gap, markdown
from packer.cli import main


def test_run_one_checks_the_plan():
    """Tests that a run returns a checked result with the plan's objective, time and instance size."""
    r = run_one("training", 1, 100, "greedy")
    assert r["ok"] and r["error"] is None and r["violations"] == []
    assert r["objective"] == pytest.approx(r["check_objective"]) and r["objective"] > 0
    assert (r["family"], r["nodes"], r["gpus"], r["seed"], r["entry"], r["label"]) == ("training", 1, 8, 100, "greedy", "greedy")
    assert r["wall_s"] >= 0 and r["instance"] == "training1-100"
    json.dumps(r)  # plain data, ready to travel (e.g. as a Ray task's result)


def test_lp_bounds_every_plan():
    """Tests that the LP entry gives a bound no plan of the same instance exceeds."""
    lp = run_one("adversarial", 1, 101, "lp")
    assert lp["ok"] and lp["bound"] is not None and lp["objective"] is None
    for entry in ("greedy", "online", "first-fit"):
        assert run_one("adversarial", 1, 101, entry)["objective"] <= lp["bound"] + 1e-6


def test_cpsat_entry_takes_options():
    """Tests that cpsat runs with its time limit and workers, which key and label its result."""
    r = run_one("tenants", 1, 100, "cpsat", {"time_limit": 3, "workers": 1})
    assert r["ok"] and r["bound"] is not None and r["objective"] <= r["bound"] + 1e-6
    assert r["label"] == "cpsat 3s 1w" and r["key"] == "tenants/1/100/cpsat/time_limit=3,workers=1"
    assert key_of("tenants", 1, 100, "greedy", {"time_limit": 3}) == "tenants/1/100/greedy"


def test_failed_plan_is_reported(monkeypatch):
    """Tests that a plan whose objective the checker does not confirm is a failure, not a figure."""
    import packer.dispatch as solvers
    from packer.greedy.solver import solve

    def liar(inst, **kw):
        plan = solve(inst, **kw)
        return plan.model_copy(update={"objective": plan.objective + 1})

    monkeypatch.setattr(solvers, "get_solver", lambda name: liar)
    r = run_one("training", 1, 100, "greedy")
    assert not r["ok"] and "checker" in r["error"]


def test_crashing_solver_is_recorded(monkeypatch):
    """Tests that a solver that raises gives a failed result with the error, and the suite goes on."""
    import packer.dispatch as solvers

    def boom(inst, **kw):
        raise RuntimeError("no room in the model")

    monkeypatch.setattr(solvers, "get_solver", lambda name: boom)
    r = run_one("training", 1, 100, "greedy")
    assert not r["ok"] and "RuntimeError: no room in the model" in r["error"]


def test_resume_skips_done_runs(tmp_path):
    """Tests that runs already in the JSON file are skipped, and rerun with force."""
    path = tmp_path / "r.json"
    calls = []

    def fake(f, n, s, e, options):
        calls.append((f, n, s, e))
        return {"key": key_of(f, n, s, e, options), "family": f, "nodes": n, "seed": s, "entry": e, "label": e,
                "gpus": 8 * n, "ok": True, "objective": float(s), "bound": None, "wall_s": 0.0}

    run_suite(["haein", "training"], [1], [100, 101], ["greedy"], json_path=path, run=fake)
    assert len(calls) == 4 and len(load_results(path)) == 4
    run_suite(["haein", "training"], [1], [100, 101, 102], ["greedy", "first-fit"], json_path=path, run=fake)
    assert len(calls) == 4 + 8  # 2 new seed runs + 6 first-fit runs
    assert len(load_results(path)) == 12
    run_suite(["haein"], [1], [100], ["greedy"], json_path=path, run=fake, force=True)
    assert len(calls) == 13 and len(load_results(path)) == 12


def test_tables():
    """Tests the markdown: the smallest bound per instance, each entry's gap, medians and FAIL cells."""
    rows = [
        {"family": "training", "nodes": 1, "gpus": 8, "seed": 100, "entry": "lp", "label": "lp", "ok": True,
         "objective": None, "bound": 10.0, "wall_s": 1.0, "key": "a"},
        {"family": "training", "nodes": 1, "gpus": 8, "seed": 100, "entry": "greedy", "label": "greedy", "ok": True,
         "objective": 9.0, "bound": None, "wall_s": 0.1, "key": "b"},
        {"family": "training", "nodes": 1, "gpus": 8, "seed": 100, "entry": "first-fit", "label": "first-fit",
         "ok": True, "objective": 8.0, "bound": None, "wall_s": 0.1, "key": "c"},
        {"family": "training", "nodes": 1, "gpus": 8, "seed": 100, "entry": "online", "label": "online", "ok": False,
         "objective": None, "bound": None, "wall_s": 0.1, "key": "d", "error": "2 violation(s)"},
    ]
    assert best_bounds(rows) == {("training", 1, 100): 10.0}
    assert gap(9.0, 10.0) == pytest.approx(0.1) and gap(9.0, None) is None
    md = markdown(rows, command="packer bench")
    assert "9.00 (10.00%" in md and "8.00 (20.00%" in md and "FAIL (2 violation(s))" in md
    assert "greedy vs first-fit, worst" in md and "+12.50%" in md
    assert "1 failed run(s)" in md


def test_cli_bench(tmp_path, capsys):
    """Tests `packer bench` end to end: JSON and markdown written, exit 0, and a rerun skips everything."""
    js, md = tmp_path / "b.json", tmp_path / "b.md"
    args = ["bench", "--families", "haein,fragmented", "--nodes", "1", "--seeds", "100", "--solvers",
            "greedy,first-fit", "--json", str(js), "--md", str(md), "--quiet"]
    assert main(args) == 0
    results = load_results(js)
    assert len(results) == 4 and all(r["ok"] for r in results)
    assert "### fragmented, 8 GPUs (1 nodes)" in md.read_text()
    before = js.read_text()
    assert main(args) == 0 and js.read_text() == before


@pytest.mark.parametrize("bad", [
    ["--families", "nope"], ["--nodes", "0"], ["--nodes", "x"], ["--seeds", "9-3"], ["--solvers", "magic"],
    ["--time-limit", "0"], ["--workers", "0"],
])
def test_cli_bench_bad_input(bad, tmp_path, capsys):
    """Tests that malformed arguments exit 2 naming the option, with nothing written."""
    js = tmp_path / "b.json"
    assert main(["bench", "--json", str(js), "--quiet", *bad]) == 2
    assert bad[0] in capsys.readouterr().err
    assert not js.exists()


def test_cli_bench_bad_results_file(tmp_path, capsys):
    """Tests that a results file that is not one is an input error naming the file."""
    js = tmp_path / "b.json"
    js.write_text('{"results": 3}')
    assert main(["bench", "--json", str(js), "--quiet", "--nodes", "1", "--seeds", "100"]) == 2
    assert str(js) in capsys.readouterr().err
    assert js.read_text() == '{"results": 3}'


def test_entries_named():
    """Tests that the baseline and the three online policies of issue 16 are entries."""
    assert {"greedy", "online", "first-fit", "best-fit", "fgd", "cpsat", "lp"} <= set(ENTRIES)


def test_lp_without_bound_is_no_failure():
    """Tests that an LP that runs out of time gives no bound and is not counted as a failed run."""
    from packer.benchsuite.runner import is_failure

    lp = {"entry": "lp", "status": "unknown", "ok": False, "bound": None}
    assert not is_failure(lp)
    assert is_failure({"entry": "greedy", "status": "feasible", "ok": False})
    assert not is_failure({"entry": "greedy", "status": "feasible", "ok": True})
