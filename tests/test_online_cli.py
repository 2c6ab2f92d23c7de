"""Tests of `packer solve --solver online` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from packer.cli import main
from packer.formats import instance_to_dict
from packer.generate import generate


@pytest.fixture()
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.json"
    path.write_text(json.dumps(instance_to_dict(generate("small", seed=2))))
    return path


@pytest.mark.parametrize("extra", [[], ["--policy", "fgd", "--order", "size-desc"], ["--policy", "gpupacking"]])
def test_cli_solve_online_then_check(small: Path, tmp_path: Path, extra: list[str]) -> None:
    """Tests that the online solver writes a plan that `packer check` accepts, with and without options."""
    plan = tmp_path / "plan.json"
    assert main(["solve", str(small), "-o", str(plan), "--solver", "online", "-q", *extra]) == 0
    data = json.loads(plan.read_text())
    assert data["solver"]["name"] == "online"
    assert all(u["reason"] for u in data["unplaced"])
    assert main(["check", str(small), str(plan)]) == 0


@pytest.mark.parametrize("bad", [["--policy", "worst-fit"], ["--order", "random"]])
def test_cli_rejects_unknown_policy_or_order(small: Path, tmp_path: Path, bad: list[str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Tests that an unknown policy or order exits 2 with a message naming the option."""
    code = main(["solve", str(small), "-o", str(tmp_path / "p.json"), "--solver", "online", *bad])
    assert code == 2
    assert bad[0] in capsys.readouterr().err
