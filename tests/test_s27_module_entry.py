"""``python -m packer`` runs the same command line as the ``packer`` console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_python_dash_m_packer_generates_and_checks(tmp_path: Path) -> None:
    inst = tmp_path / "tiny.json"
    run = subprocess.run([sys.executable, "-m", "packer", "generate", "tiny", "--seed", "1", "-o", str(inst)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(inst.read_text())["nodes"]
    bad = subprocess.run([sys.executable, "-m", "packer", "check", str(inst), str(tmp_path / "missing.json")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2  # the same exit codes as the console script
