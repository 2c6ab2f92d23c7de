"""Tests of the openb replay: reader, FGD protocol, KPIs, bound, CLI and the MIG variant."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import INSTANCES, SHARED

from packer.errors import InputError
from packer.replay.kpi import curves
from packer.replay.openb import Cluster, Pods, read_nodes, read_pods, to_instance
from packer.replay.protocol import make_stream, parse_seeds, typical_pods

TRACE = SHARED / "traces" / "alibaba-gpu-v2023" / "csv"
NODES = TRACE / "openb_node_list_gpu_node.csv"
PODS = TRACE / "openb_pod_list_default.csv"
needs_trace = pytest.mark.skipif(not PODS.exists(), reason="shared traces not available")


@pytest.fixture(scope="module")
def trace() -> tuple[Cluster, Pods]:
    cluster = read_nodes(NODES)
    return cluster, read_pods(PODS, cluster)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


SMALL_NODES = """sn,cpu_milli,memory_mib,gpu,model
n-0,32000,131072,2,T4
n-1,16000,65536,1,P100
n-2,64000,262144,4,V100M16
"""
SMALL_PODS = """name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time
p-0,4000,8192,1,470,,LS,Running,0,10,0
p-1,8000,8192,1,1000,,LS,Running,0,10,0
p-2,2000,4096,0,0,,BE,Running,0,10,0
p-3,12000,16384,2,1000,V100M16,LS,Running,0,10,0
p-4,1000,1024,1,810,T4|P100,LS,Running,0,10,0
"""


@needs_trace
def test_reads_the_default_trace(trace: tuple[Cluster, Pods]) -> None:
    """Tests that the reader sees the README's totals (§1.1, §1.2, §5.7)."""
    cluster, pods = trace
    assert cluster.num_nodes == 1213 and cluster.num_gpus == 6212
    assert int(cluster.cpu.sum()) == 107_018_000 and int(cluster.mem.sum()) == 503_828_480
    assert len(pods) == 8152 and int(pods.gpu_demand.sum()) == 6_086_800
    assert int((pods.gpu_milli == 0).sum()) == 1088
    assert len(typical_pods(pods)) == 35


def test_reader_rejects_bad_files(tmp_path: Path) -> None:
    """Tests that malformed CSVs raise InputError naming the file and field."""
    bad = _write(tmp_path / "n.csv", "sn,cpu_milli,gpu,model\nn0,1,1,T4\n")
    with pytest.raises(InputError, match="memory_mib"):
        read_nodes(bad)
    nodes = read_nodes(_write(tmp_path / "ok.csv", SMALL_NODES))
    with pytest.raises(InputError, match="row 2.gpu_milli"):
        read_pods(_write(tmp_path / "p.csv", "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\np,1,1,2,500,\n"), nodes)
    with pytest.raises(InputError, match="not a number"):
        read_pods(_write(tmp_path / "q.csv", "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\np,x,1,1,500,\n"), nodes)
    with pytest.raises(InputError, match="file not found"):
        read_nodes(tmp_path / "missing.csv")


def test_gpu_spec_becomes_a_model_mask(tmp_path: Path) -> None:
    """Tests that gpu_spec selects models by bit and an empty spec allows any model."""
    nodes = read_nodes(_write(tmp_path / "n.csv", SMALL_NODES))
    pods = read_pods(_write(tmp_path / "p.csv", SMALL_PODS), nodes)
    assert nodes.models == ("P100", "T4", "V100M16")
    assert pods.spec.tolist() == [0, 0, 0, 4, 3]


def test_to_instance_builds_a_valid_packer_instance(tmp_path: Path) -> None:
    """Tests that the openb instance uses shared GPUs, shares (1000 milli for whole GPUs), node gangs and host requests."""
    from packer.check import check
    from packer.formats import instance_from_dict
    from packer.greedy.solver import solve

    nodes = read_nodes(_write(tmp_path / "n.csv", SMALL_NODES))
    pods = read_pods(_write(tmp_path / "p.csv", SMALL_PODS), nodes)
    inst = to_instance(nodes, pods)
    inst = instance_from_dict(inst.model_dump(mode="json"))  # validated again, cross-references too
    kinds = {r.id: r.kind for r in inst.requests}
    assert kinds == {"p-0": "share", "p-1": "share", "p-2": "host", "p-3": "share", "p-4": "share"}
    assert (inst.request("p-1").gpu_milli, inst.request("p-3").gpu_milli) == (1000, 1000)
    cpu_pod = inst.request("p-2")
    assert (cpu_pod.count, cpu_pod.cpu_milli, cpu_pod.memory_mib) == (1, int(pods.cpu[2]), int(pods.mem[2]))
    assert cpu_pod.gpu_models is None and cpu_pod.locality is None
    plan = solve(inst)
    assert check(inst, plan).ok
    assert not plan.unplaced  # the small cluster holds every pod: whole-GPU pods included
    gang = inst.request("p-3")
    assert gang.count == 2 and gang.locality is not None and gang.locality.required
    assert gang.cpu_milli == 6000 and gang.gpu_models == ("openb-V100M16",)
    assert all(n.mode == "shared" for n in inst.nodes)


@needs_trace
def test_stream_follows_the_tuning_rule(trace: tuple[Cluster, Pods]) -> None:
    """Tests shuffle + tuning to 130% (§5.3): copies appended, stop rule, same seed same stream."""
    cluster, pods = trace
    s = make_stream(pods, cluster, 42)
    t = 13 * cluster.capacity_milli // 10
    demand = int(s.pods.gpu_demand.sum())
    assert s.target_milli == t
    assert demand <= t + 7000 and demand > t - 1000
    assert s.num_original == 8152 and all("-tuned-" in n for n in s.pods.names[8152:])
    assert sorted(s.pods.names[:8152]) == sorted(pods.names)
    again = make_stream(pods, cluster, 42)
    assert again.pods.names == s.pods.names and np.array_equal(again.node_rank, s.node_rank)
    assert make_stream(pods, cluster, 43).pods.names != s.pods.names
    assert sorted(s.node_rank.tolist()) == list(range(cluster.num_nodes))


def test_curves_bin_like_fgd() -> None:
    """Tests the §5.6 binning: round half to even, rounded means, neighbour fill for an empty bin."""
    cap = 10_000  # 10 GPUs: 1% of capacity = 100 milli
    arrived = np.array([50, 150, 250, 350, 350])  # bins 0 (0.5 -> 0), 2 (1.5 -> 2), 2, 4 (3.5 -> 4), 4
    used = np.array([50, 150, 250, 333, 333])
    frag = np.array([1000.0, 0.0, 500.0, 0.0, 0.0])
    idle = cap - used
    c = curves(arrived, used, frag, idle, cap, num_bins=6)
    alloc = c["allocation_pct"]
    assert alloc[0] == 0.5 and alloc[2] == 2.0 and alloc[4] == 3.33
    assert alloc[1] == round((0.5 + 1.5 + 2.5) / 3, 2)  # empty: mean of bins 0..2
    assert alloc[3] == round((1.5 + 2.5 + 3.33 + 3.33) / 4, 2)
    assert c["frag_amount_pct"][0] == 10.0  # 100 * 1000 / 1000 / 10
    assert c["frag_rate_pct"][2] == pytest.approx((0.0 + 100 * 500 / 9750) / 2)


def test_parse_seeds() -> None:
    """Tests seed ranges and lists."""
    assert parse_seeds("42-51") == list(range(42, 52))
    assert parse_seeds("3,1,2-3") == [1, 2, 3]
    with pytest.raises(ValueError):
        parse_seeds("5-3")


def test_bound_counts_one_big_share_per_device() -> None:
    """Tests that the LP bound knows two 810-milli pods cannot share one GPU, and the offline placement reaches it."""
    from packer.cpsat.ceiling import allocation_bound
    from packer.replay.ceiling import offline_decreasing

    cluster = Cluster(names=("a",), cpu=np.array([64000]), mem=np.array([65536]), gpus=np.array([2]),
                      model=np.array([0]), models=("T4",))
    pods = Pods(names=("x", "y", "z", "w"), cpu=np.array([1000] * 4), mem=np.array([1] * 4),
                num_gpu=np.array([1, 1, 1, 1]), gpu_milli=np.array([810, 810, 810, 150]), spec=np.zeros(4, np.int64))
    b = allocation_bound(cluster, pods)
    assert b["bound_milli"] == pytest.approx(1770.0)  # two devices: 810 + 810 + the 150 beside one of them
    assert offline_decreasing(cluster, pods, "fgd")["offline_milli"] == pytest.approx(1770.0)


@needs_trace
def test_fgd_reproduces_the_published_range_on_one_seed(trace: tuple[Cluster, Pods]) -> None:
    """Tests that one seed of our FGD lands within the published seed spread at 130% (95.39 ± 0.5)."""
    from packer.replay.runner import run_seed

    cluster, pods = trace
    r = run_seed(cluster, pods, "fgd", 42)
    assert 94.89 <= r["allocation_pct"][130] <= 95.89
    assert 13.0 <= r["frag_amount_pct"][0] <= 15.0  # README §6: about 14% at 0% arrived


def test_cli_replay_writes_json(tmp_path: Path) -> None:
    """Tests `packer replay` end to end on a tiny trace: exit 0 and the documented JSON keys."""
    from packer.cli import main

    # 24 GPUs (1% = 240 milli) and pods of at most 230 milli: every arrival bin gets a line
    nodes = _write(tmp_path / "n.csv", "sn,cpu_milli,memory_mib,gpu,model\n"
                   + "".join(f"n-{i},96000,393216,8,G2\n" for i in range(3)))
    rows = [f"p-{i},{1000 + 100 * (i % 5)},1024,1,{(50, 110, 160, 230)[i % 4]},,LS,Running,0,1,0" for i in range(60)]
    pods = _write(tmp_path / "p.csv", SMALL_PODS.splitlines()[0] + "\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out.json"
    rc = main(["replay", "--nodes", str(nodes), "--pods", str(pods), "--policy", "fgd", "--seeds", "1-3",
               "--json", str(out), "--quiet", "--bound"])
    assert rc == 0
    d = json.loads(out.read_text())
    assert d["policy"] == "fgd" and d["seeds"] == [1, 2, 3]
    for key in ("allocation_pct", "unallocated_gpus", "per_seed", "curves", "frag_amount_pct", "bound"):
        assert key in d
    assert set(d["allocation_pct"]) == {"100", "130"} and "130" in d["unallocated_gpus"]
    assert len(d["curves"]["allocation_pct"]) == 131
    # the same streams through the library's online placer: first-fit places exactly as the engine
    runs = {}
    for engine in ("kernels", "placer"):
        rc = main(["replay", "--nodes", str(nodes), "--pods", str(pods), "--policy", "firstfit", "--seeds", "1-2",
                   "--engine", engine, "--json", str(out), "--quiet"])
        assert rc == 0
        runs[engine] = json.loads(out.read_text())
        assert runs[engine]["engine"] == engine
    assert runs["placer"]["allocation_pct"] == pytest.approx(runs["kernels"]["allocation_pct"])


def test_cli_replay_rejects_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Tests that an unknown policy or a missing file exits 2 with a message, no traceback."""
    from packer.cli import main

    nodes = _write(tmp_path / "n.csv", SMALL_NODES)
    pods = _write(tmp_path / "p.csv", SMALL_PODS)
    assert main(["replay", "--nodes", str(nodes), "--pods", str(pods), "--policy", "nope", "--quiet"]) == 2
    assert "unknown policy" in capsys.readouterr().err
    assert main(["replay", "--nodes", str(tmp_path / "x.csv"), "--pods", str(pods), "--quiet"]) == 2
    assert main(["replay", "--nodes", str(nodes), "--pods", str(pods), "--seeds", "9-1", "--quiet"]) == 2


def test_mig_profiles_and_placements_are_legal(tmp_path: Path) -> None:
    """Tests the MIG variant: smallest covering profile, and no two instances overlap on a GPU."""
    from packer.replay.mig_variant import MigTables, mig_run

    nodes = read_nodes(_write(tmp_path / "n.csv", SMALL_NODES))
    tables = MigTables(nodes)
    k = 0  # P100 -> A100-40GB
    names = {g: tables.profiles[tables.profile_for(g, k)].name for g in (100, 150, 470, 810)}
    assert names == {100: "1g.5gb", 150: "2g.10gb", 470: "4g.20gb", 810: "7g.40gb"}
    rng = np.random.default_rng(0)
    m = 60
    many = Pods(names=tuple(f"p{i}" for i in range(m)), cpu=rng.choice([1000, 2000], m), mem=np.ones(m, np.int64),
                num_gpu=np.ones(m, np.int64), gpu_milli=rng.choice([110, 230, 320, 470, 650, 1000], m),
                spec=np.zeros(m, np.int64))
    for policy in ("firstfit", "bestfit", "fgd", "packer"):
        r = mig_run(nodes, many, policy, 7, inflation=1.0)
        node, gpu, start = r["placements"]
        used: dict[tuple[int, int], int] = {}
        stream = make_stream(many, nodes, 7, 1.0).pods
        for i in range(len(stream)):
            if node[i] < 0:
                continue
            key = (int(node[i]), int(gpu[i]))
            q = tables.profile_for(int(stream.gpu_milli[i]), int(nodes.model[node[i]]))
            bits = 0xFF if q < 0 else ((1 << int(tables.q_size[q])) - 1) << int(start[i])
            if q >= 0:
                assert int(start[i]) in tables.profiles[q].starts
            assert used.get(key, 0) & bits == 0, f"{policy}: overlap on {key}"
            used[key] = used.get(key, 0) | bits


def test_shipped_mig_instance_loads() -> None:
    """Tests that the shipped openb MIG instance is a valid packer instance with mig and gpu requests."""
    from packer.formats import load_instance

    inst = load_instance(INSTANCES / "openb-mig-small.json")
    kinds = {r.kind for r in inst.requests}
    assert kinds == {"mig", "gpu"} and all(n.mode == "any" for n in inst.nodes)
