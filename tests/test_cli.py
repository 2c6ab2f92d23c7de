"""End-to-end tests of the command line, as a new user would run it."""

from __future__ import annotations

import json
import subprocess
import sys

from packer.cli import main
from tests.conftest import INSTANCES

DEFAULT = INSTANCES / "default.json"


def test_solve_then_check(tmp_path, capsys):
    """Tests `packer solve` then `packer check` on the bundled default: exit 0, valid plan."""
    plan = tmp_path / "plan.json"
    assert main(["solve", str(DEFAULT), "-o", str(plan)]) == 0
    assert main(["check", str(DEFAULT), str(plan)]) == 0
    assert "valid" in capsys.readouterr().out
    data = json.loads(plan.read_text())
    assert data["format"] == "packer.plan/v1" and data["instance"] == "default-h100"


def test_check_exit_1_lists_violations(tmp_path, capsys):
    """Tests that `packer check` exits 1 and lists every violation of a broken plan."""
    plan = tmp_path / "plan.json"
    main(["solve", str(DEFAULT), "-o", str(plan), "--quiet"])
    capsys.readouterr()
    data = json.loads(plan.read_text())
    data["objective"] += 3
    data["assignments"].pop()
    plan.write_text(json.dumps(data))
    assert main(["check", str(DEFAULT), str(plan), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert {v["kind"] for v in out["violations"]} == {"objective", "missing_request"}


def test_check_exit_2_on_malformed_plan(tmp_path, capsys):
    """Tests that a malformed plan file gives exit 2 with the file named."""
    plan = tmp_path / "plan.json"
    plan.write_text('{"format": "packer.plan/v1", "instance": 3')
    assert main(["check", str(DEFAULT), str(plan)]) == 2
    assert str(plan) in capsys.readouterr().err


def test_unknown_solver_exit_2(tmp_path, capsys):
    """Tests that an unknown solver name is an input error, not a crash."""
    assert main(["solve", str(DEFAULT), "-o", str(tmp_path / "p.json"), "--solver", "magic"]) == 2
    assert "magic" in capsys.readouterr().err


def test_schema_and_version(capsys):
    """Tests `packer schema instance` prints a JSON Schema; `packer --version` the version."""
    assert main(["schema", "instance"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "requests" in schema["properties"]
    proc = subprocess.run([sys.executable, "-m", "packer.cli", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("packer ")


def test_installed_console_script(tmp_path):
    """Tests that the installed `packer` command runs the main job on the bundled default."""
    plan = tmp_path / "plan.json"
    proc = subprocess.run(["packer", "solve", str(DEFAULT), "-o", str(plan)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run(["packer", "check", str(DEFAULT), str(plan)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout
