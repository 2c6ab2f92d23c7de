"""Tests of the deferral protocol: waiting, retries on departure, the ceiling and the rebalance hook."""

from __future__ import annotations

import numpy as np
import pytest

from packer.replay.deferral import (
    ClusterView,
    DeferralStream,
    Move,
    fluid_ceiling,
    replay_deferral,
    saturation_time,
)
from packer.replay.openb import NEVER, Cluster, Pods
from packer.replay.runner import POLICY_NAMES


def _cluster(gpus: list[int], cpu: int = 64000) -> Cluster:
    n = len(gpus)
    return Cluster(names=tuple(f"n{i}" for i in range(n)), cpu=np.full(n, cpu, np.int64),
                   mem=np.full(n, 1 << 20, np.int64), gpus=np.array(gpus, np.int64), model=np.zeros(n, np.int64),
                   models=("A",))


def _pods(rows: list[tuple[int, int, int, int, int]]) -> Pods:
    """rows: (cpu, num_gpu, gpu_milli, created, deleted)."""
    a = np.array(rows, np.int64).reshape(-1, 5)
    m = len(a)
    return Pods(names=tuple(f"p{i}" for i in range(m)), cpu=a[:, 0], mem=np.ones(m, np.int64), num_gpu=a[:, 1],
                gpu_milli=a[:, 2], spec=np.zeros(m, np.int64), created=a[:, 3], deleted=a[:, 4])


def _stream(cluster: Cluster, pods: Pods) -> DeferralStream:
    dur = np.where(pods.deleted == NEVER, np.inf, pods.deleted - pods.created).astype(np.float64)
    arr = pods.created.astype(np.float64)
    return DeferralStream(seed=0, pods=pods, arrival=arr, duration=dur, compression=1.0,
                          node_rank=np.arange(cluster.num_nodes), rand=np.zeros((len(pods), 2)),
                          horizon=float(arr.max()))


def test_a_pod_that_does_not_fit_waits_for_a_departure() -> None:
    """Tests waiting, the retry when the GPU frees and the time-averaged allocation on a hand case."""
    cluster = _cluster([1])
    pods = _pods([(1000, 1, 1000, 0, 10), (1000, 1, 1000, 1, 6), (1000, 0, 0, 20, 30)])
    st = _stream(cluster, pods)
    for policy in POLICY_NAMES:
        r = replay_deferral(cluster, pods, policy, 0, stream=st)
        # p0 runs 0-10, p1 waits 1-10 and runs 10-15: 15 of 20 s at full allocation
        assert r["pods_waited"] == 1 and r["mean_wait_s"] == pytest.approx(9.0)
        assert r["time_avg_allocation_pct"] == pytest.approx(75.0)
        assert r["waiting_at_end"] == 0 and r["final_allocation_pct"] == 0.0
    assert saturation_time(st, cluster.capacity_milli) == 0.0
    # ceiling: the two pods' 10 + 5 GPU-seconds over 20 s (a pool may run p1 from 1 on: 75 % still)
    assert fluid_ceiling(st, cluster.capacity_milli) == pytest.approx(75.0)


def _random_case(seed: int) -> tuple[Cluster, Pods]:
    rng = np.random.default_rng(seed)
    cluster = _cluster(rng.choice([0, 1, 2, 4], size=4).tolist(), cpu=16000)
    m = 40
    kind = rng.choice(3, size=m)
    num = np.where(kind == 0, 0, np.where(kind == 2, rng.choice([1, 2], size=m), 1))
    milli = np.where(kind == 0, 0, np.where(kind == 1, rng.choice([250, 500, 700], size=m), 1000))
    created = np.sort(rng.integers(0, 100, size=m))
    deleted = np.where(rng.random(m) < 0.1, NEVER, created + rng.integers(1, 60, size=m))
    rows = list(zip(rng.choice([1000, 4000], size=m).tolist(), num.tolist(), milli.tolist(), created.tolist(),
                    deleted.tolist(), strict=True))
    return cluster, _pods(rows)


@pytest.mark.parametrize("policy", ["packer", "fgd", "bestfit", "random"])
def test_state_stays_consistent_and_no_waiting_pod_fits(policy: str) -> None:
    """Tests, after every event, that the free resources equal capacity minus the running pods and that
    no waiting pod fits any node (retries miss nothing); the hook sees this state."""
    for seed in range(6):
        cluster, pods = _random_case(seed)
        seen = []

        def check(view: ClusterView, cluster: Cluster = cluster, seen: list[int] = seen) -> None:
            p = view.pods
            cpu = cluster.cpu.copy()
            idle = np.zeros((cluster.num_nodes, 8), np.int64)
            for n in range(cluster.num_nodes):
                idle[n, :cluster.gpus[n]] = 1000
            for i, (n, mask) in view.running.items():
                cpu[n] -= p.cpu[i]
                for d in range(8):
                    if mask >> d & 1:
                        idle[n, d] -= p.gpu_milli[i]
            assert (cpu == view.free_cpu).all() and (idle == view.idle).all()
            assert (cpu >= 0).all() and (idle >= 0).all()
            for i in view.waiting:
                for n in range(cluster.num_nodes):
                    fits_gpu = p.gpu_milli[i] == 0 or (
                        (idle[n, :cluster.gpus[n]] >= p.gpu_milli[i]).sum() >= p.num_gpu[i])
                    assert not (p.cpu[i] <= cpu[n] and fits_gpu), f"waiting pod {i} fits node {n}"
            seen.append(len(view.waiting))

        st = _stream(cluster, pods)
        r = replay_deferral(cluster, pods, policy, seed, stream=st, rebalance=check, rebalance_every=1)
        assert len(seen) > 0 and r["moves_applied"] == 0
        assert r["time_avg_allocation_pct"] <= fluid_ceiling(st, cluster.capacity_milli) + 1e-9


def test_rebalance_hook_moves_a_pod_within_the_budget() -> None:
    """Tests that a move the hook asks for is applied when it fits, refused when it does not, that the
    budget caps the moves per call, and that a waiting pod takes the room a move frees."""
    cluster = _cluster([1, 1])
    cluster = Cluster(names=cluster.names, cpu=np.array([64000, 128000]), mem=cluster.mem, gpus=cluster.gpus,
                      model=cluster.model, models=cluster.models)
    # first-fit: p0 on n0; p1 (too much CPU for n0) on n1; p2 (800) fits neither GPU and waits
    pods = _pods([(1000, 1, 300, 0, 100), (64000, 1, 300, 1, 100), (1000, 1, 800, 2, 100),
                  (1000, 0, 0, 5, 6), (1000, 0, 0, 9, 10)])
    st = _stream(cluster, pods)
    calls = []

    def hook(view: ClusterView) -> list[Move]:
        calls.append(view)
        if len(calls) == 1:
            assert view.waiting == (2,) and view.running == {0: (0, 1), 1: (1, 1)}
            return [Move(pod=1, node=0), Move(pod=0, node=1), Move(pod=0, node=0)]
        return []

    r = replay_deferral(cluster, pods, "firstfit", 0, stream=st, rebalance=hook, rebalance_every=3, max_moves=2)
    # move 1 refused (p1's CPU does not fit n0), move 2 applied, move 3 over the budget
    assert r["moves_applied"] == 1 and r["moves_refused"] == 1
    assert r["pods_waited"] == 1 and r["waiting_at_end"] == 0
    assert calls[-1].running[0][0] == 1 and calls[-1].running[2][0] == 0
