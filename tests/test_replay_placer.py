"""Tests of the openb replay through the library's online placer (packer.replay.via_placer)."""

from __future__ import annotations

import numpy as np
import pytest

from packer.check import check
from packer.replay.kpi import curves
from packer.replay.openb import Cluster, Pods
from packer.replay.protocol import make_stream
from packer.replay.via_placer import placer_instance, placer_policy, replay_with_placer

MODELS = ("A10", "T4", "V100M16")


def _cluster(rng: np.random.Generator, n: int = 14) -> Cluster:
    gpus = rng.choice([1, 2, 4, 8], size=n)
    return Cluster(
        names=tuple(f"node-{i}" for i in range(n)),
        cpu=rng.choice([16_800, 33_600, 67_200], size=n).astype(np.int64),
        mem=rng.choice([65_536, 131_072, 262_144], size=n).astype(np.int64),
        gpus=gpus.astype(np.int64), model=rng.integers(0, len(MODELS), size=n).astype(np.int64), models=MODELS,
    )


def _pods(rng: np.random.Generator, n: int = 60) -> Pods:
    # CPU and memory are multiples of 840 (divisible by every gang size), so the request's per-unit
    # rounding in to_instance asks for exactly the pod's totals
    kind = rng.choice(["cpu", "share", "whole", "gang"], size=n, p=[0.15, 0.45, 0.25, 0.15])
    num = np.where(kind == "cpu", 0, np.where(kind == "gang", rng.choice([2, 4, 8], size=n), 1))
    milli = np.where(kind == "cpu", 0, np.where(kind == "share", rng.choice([100, 250, 470, 500, 810], size=n), 1000))
    spec_text = []
    spec = np.zeros(n, dtype=np.int64)
    for i in range(n):
        if num[i] > 0 and rng.random() < 0.2:
            k = int(rng.integers(len(MODELS)))
            spec_text.append(MODELS[k])
            spec[i] = 1 << k
        else:
            spec_text.append("")
    return Pods(
        names=tuple(f"pod-{i}" for i in range(n)),
        cpu=(840 * rng.integers(1, 16, size=n)).astype(np.int64),
        mem=(840 * rng.integers(1, 40, size=n)).astype(np.int64),
        num_gpu=num.astype(np.int64), gpu_milli=milli.astype(np.int64), spec=spec, spec_text=tuple(spec_text),
    )


def _fitting_nodes(cluster: Cluster, free_cpu, free_mem, free_gpu, pods: Pods, i: int) -> list[int]:
    """Brute force: the nodes with the pod's CPU, memory and enough devices with its milli (and model)."""
    n, m = int(pods.num_gpu[i]), int(pods.gpu_milli[i])
    out = []
    for k in range(cluster.num_nodes):
        if free_cpu[k] < pods.cpu[i] or free_mem[k] < pods.mem[i]:
            continue
        if m > 0 and pods.spec[i] and not (int(pods.spec[i]) >> int(cluster.model[k])) & 1:
            continue
        if m == 0 or sum(1 for d in range(int(cluster.gpus[k])) if free_gpu[k][d] >= m) >= n:
            out.append(k)
    return out


@pytest.mark.parametrize("policy", ["packer", "fgd", "bestfit", "firstfit", "random", "dotproduct", "gpupacking",
                                    "gpuclustering"])
@pytest.mark.parametrize("seed", [3, 11])
def test_placer_replay_places_every_pod_that_fits(policy: str, seed: int) -> None:
    """Tests that a failed pod fits on no node, used milli adds up and the plan passes the checker."""
    rng = np.random.default_rng(seed)
    cluster = _cluster(rng)
    pods = _pods(rng)
    run = replay_with_placer(cluster, pods, policy, seed)
    stream = run.stream
    p = stream.pods
    assert len(p) == len(run.node) == len(run.used)
    assert run.placer.policy == placer_policy(policy)

    # independent state from the placed units, pod by pod in arrival order
    ix = {name: k for k, name in enumerate(cluster.names)}
    free_cpu = cluster.cpu.copy()
    free_mem = cluster.mem.copy()
    free_gpu = [[1000] * int(g) for g in cluster.gpus]
    placed_ids = set(run.placer.placed_ids())
    used = 0
    failed = 0
    for i in range(len(p)):
        rid = p.names[i]
        if run.node[i] < 0:
            failed += 1
            assert rid not in placed_ids
            assert not _fitting_nodes(cluster, free_cpu, free_mem, free_gpu, p, i), f"pod {i} ({rid}) fits somewhere"
        else:
            if policy == "firstfit":  # the first fitting node in the stream's seeded node order
                fit = _fitting_nodes(cluster, free_cpu, free_mem, free_gpu, p, i)
                assert int(run.node[i]) == min(fit, key=lambda k: int(stream.node_rank[k]))
            units = run.placer.units(rid)
            nodes = {ix[u.node] for u in units}
            assert nodes == {int(run.node[i])}
            k = int(run.node[i])
            free_cpu[k] -= p.cpu[i]
            free_mem[k] -= p.mem[i]
            if p.gpu_milli[i] > 0:
                assert len(units) == p.num_gpu[i] and len({u.gpu for u in units}) == len(units)
                for u in units:
                    free_gpu[k][u.gpu] -= int(p.gpu_milli[i])
                    assert free_gpu[k][u.gpu] >= 0
                    if p.spec[i]:
                        assert (int(p.spec[i]) >> int(cluster.model[k])) & 1
            else:
                assert len(units) == 1 and units[0].gpu is None
            assert free_cpu[k] >= 0 and free_mem[k] >= 0
            used += int(p.gpu_demand[i])
        assert int(run.used[i]) == used
        assert int(run.arrived[i]) == int(p.gpu_demand[: i + 1].sum())
    assert failed > 0 and failed < len(p)  # the stream holds 130% of capacity
    # final used milli = the placed pods' GPU milli = what the placer's GPUs hold
    from packer.online.state import G_FREE

    assert int(run.used[-1]) == 1000 * cluster.num_gpus - int(run.placer.a.g32[:, G_FREE].sum())
    assert int(run.idle[-1]) == 1000 * cluster.num_gpus - used

    # the logged fragmentation is the engine's ruler over the final state, from scratch
    from packer.replay.engine.kernels import _frag_of
    from packer.replay.protocol import typical_pods

    tp = typical_pods(pods)
    frag = 0.0
    for k in range(cluster.num_nodes):
        row = np.zeros(8, dtype=np.int64)
        row[: int(cluster.gpus[k])] = free_gpu[k]
        frag += _frag_of(row, int(cluster.gpus[k]), int(free_cpu[k]), int(cluster.model[k]), tp.cpu, tp.gpu_milli,
                         tp.num_gpu, tp.spec, tp.prob)
    assert run.frag[-1] == pytest.approx(frag, rel=1e-9, abs=1e-6)

    plan = run.placer.snapshot()
    rep = check(run.instance, plan)
    assert rep.ok, rep
    # the same plan on an instance built from the stream in the caller's node order
    inst = placer_instance(cluster, p, name=run.instance.name)
    assert check(inst, plan).ok

    c = curves(run.arrived, run.used, run.frag, run.idle, cluster.capacity_milli)
    assert c["allocation_pct"][130] is not None or c["allocation_pct"][129] is not None


def test_placer_replay_uses_the_engine_stream_and_seeded_node_order() -> None:
    """Tests that the stream is make_stream's and the instance lists nodes by the seeded rank."""
    rng = np.random.default_rng(5)
    cluster = _cluster(rng)
    pods = _pods(rng)
    run = replay_with_placer(cluster, pods, "first-fit", 9, frag=False)
    s = make_stream(pods, cluster, 9)
    assert run.stream.pods.names == s.pods.names
    order = [cluster.names.index(n.id) for n in run.instance.nodes]
    assert [int(s.node_rank[k]) for k in order] == list(range(cluster.num_nodes))
    assert not run.frag.any()


def test_policy_names() -> None:
    """Tests that engine names map to the placer's and unknown names are refused."""
    assert placer_policy("bestfit") == "best-fit" and placer_policy("first-fit") == "first-fit"
    assert placer_policy("fgd") == "fgd"
    with pytest.raises(ValueError, match="unknown policy"):
        placer_policy("tetris")
