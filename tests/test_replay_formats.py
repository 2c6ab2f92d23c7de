"""Tests that every openb pod-list format reads and replays (optional gpu_spec and times)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from packer.errors import InputError
from packer.replay.openb import NEVER, read_nodes, read_pods

NODES = "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\nn1,32000,131072,4,V100M16\nn2,16000,65536,0,\n"
FIVE = "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,4000,1024,1,500\np1,8000,2048,2,1000\np2,1000,512,0,0\n"
SIX = ("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\np0,4000,1024,1,500,V100M16\n"
       "p1,8000,2048,2,1000,\np2,1000,512,0,0,\n")
ELEVEN = ("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,"
          "scheduled_time\np0,4000,1024,1,500,P100|V100M16,LS,Running,0,100,0\n"
          "p1,8000,2048,2,1000,,BE,Failed,10,,10\np2,1000,512,0,0,,LS,Pending,20,25,\n")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("text", [FIVE, SIX, ELEVEN], ids=["5-columns", "6-columns", "11-columns"])
def test_every_pod_list_format_reads(tmp_path: Path, text: str) -> None:
    """Tests that the multi-GPU (5 columns), spec-only and full (11 columns) formats give the same pods."""
    cluster = read_nodes(_write(tmp_path, "nodes.csv", NODES))
    pods = read_pods(_write(tmp_path, "pods.csv", text), cluster)
    assert pods.names == ("p0", "p1", "p2")
    assert pods.cpu.tolist() == [4000, 8000, 1000] and pods.mem.tolist() == [1024, 2048, 512]
    assert pods.num_gpu.tolist() == [1, 2, 0] and pods.gpu_milli.tolist() == [500, 1000, 0]
    v100 = 1 << cluster.models.index("V100M16")
    want_spec = {FIVE: [0, 0, 0], SIX: [v100, 0, 0], ELEVEN: [v100 | 1 << cluster.models.index("P100"), 0, 0]}
    assert pods.spec.tolist() == want_spec[text]
    assert pods.has_times == (text is ELEVEN)
    if text is ELEVEN:
        assert pods.created.tolist() == [0, 10, 20] and pods.deleted.tolist() == [100, NEVER, 25]
    # the times survive a reordering
    assert pods.take(np.array([2, 0])).created.tolist() == ([20, 0] if text is ELEVEN else [])


def test_pod_list_errors_name_the_file_and_field(tmp_path: Path) -> None:
    """Tests that a missing required column, a half pair of times and a deletion before creation are errors."""
    cluster = read_nodes(_write(tmp_path, "nodes.csv", NODES))
    with pytest.raises(InputError, match="gpu_milli"):
        read_pods(_write(tmp_path, "a.csv", "name,cpu_milli,memory_mib,num_gpu\np0,1,1,0\n"), cluster)
    with pytest.raises(InputError, match="deletion_time") as e:
        read_pods(_write(tmp_path, "b.csv", FIVE.replace("gpu_milli\n", "gpu_milli,creation_time\n", 1)
                         .replace(",500\n", ",500,1\n")), cluster)
    assert "b.csv" in str(e.value)
    bad = ELEVEN.replace("Running,0,100,0", "Running,50,40,0")
    with pytest.raises(InputError, match="row 2.deletion_time"):
        read_pods(_write(tmp_path, "c.csv", bad), cluster)


def test_cli_replays_the_five_column_format(tmp_path: Path) -> None:
    """Tests that ``packer replay`` accepts a multi-GPU-style list (no gpu_spec, no times) and refuses
    ``--protocol deferral`` on it with exit 2."""
    from packer.cli import main

    nodes = _write(tmp_path, "nodes.csv", NODES)
    pods = _write(tmp_path, "pods.csv", FIVE)
    assert main(["replay", "--nodes", str(nodes), "--pods", str(pods), "--policy", "packer,fgd", "--seeds", "1-2",
                 "--inflation", "1.0", "--quiet"]) == 0
    out = tmp_path / "d.json"
    assert main(["replay", "--nodes", str(nodes), "--pods", str(pods), "--protocol", "deferral", "--quiet",
                 "--json", str(out)]) == 2
    assert not out.exists()
    timed = _write(tmp_path, "timed.csv", ELEVEN)
    assert main(["replay", "--nodes", str(nodes), "--pods", str(timed), "--protocol", "deferral", "--seeds", "1",
                 "--compress", "1", "--inflation", "1.0", "--quiet", "--json", str(out)]) == 0
    assert out.exists()
