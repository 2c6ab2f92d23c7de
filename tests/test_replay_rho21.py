"""packer's CPU-balance weight rho (packer.replay.policy; the other rules of session 21-24 were removed in
session 26)."""

from __future__ import annotations

import numpy as np
import pytest

import packer.replay.policy as pol
from packer.replay.openb import Cluster
from packer.replay.protocol import TypicalPods


def _cluster(cpu: list[int], gpus: list[int]) -> Cluster:
    n = len(cpu)
    g = np.array(gpus, np.int64)
    return Cluster(names=tuple(f"n{i}" for i in range(n)), cpu=np.array(cpu, np.int64),
                   mem=np.full(n, 65536, np.int64), gpus=g, model=np.where(g > 0, 0, -1).astype(np.int64),
                   models=("A",))


def _tp(shapes: list[tuple[int, int, int, float]]) -> TypicalPods:
    """(cpu, per-GPU milli, num_gpu, weight) per shape; the weights are normalised."""
    a = np.array([s[:3] for s in shapes], np.int64).reshape(-1, 3)
    w = np.array([s[3] for s in shapes], np.float64)
    return TypicalPods(cpu=a[:, 0].copy(), gpu_milli=a[:, 1].copy(), num_gpu=a[:, 2].copy(),
                       spec=np.zeros(len(shapes), np.int64), prob=w / w.sum())


def test_hand_case_rho() -> None:
    """Tests rho = the typical GPU pod's CPU per GPU milli, CPU-only pods left out, and that packer_settings hands
    the kernel that one number."""
    # GPU pods: one whole GPU with 10 CPU (10 milli-CPU per GPU milli), weight 1; CPU-only: 4 CPU, weight 1
    tp = _tp([(10_000, 1000, 1, 1.0), (4_000, 0, 0, 1.0)])
    assert pol.cpu_per_gpu_milli(tp) == pytest.approx(10.0)
    assert pol.packer_settings(tp)[1] == pytest.approx(10.0)
    # a half-GPU pod with 2 CPU (4 per GPU milli) at weight 1 beside it: (10 + 2) / (1000 + 500) × 1000 = 8
    tp = _tp([(10_000, 1000, 1, 1.0), (2_000, 500, 1, 1.0), (4_000, 0, 0, 1.0)])
    assert pol.cpu_per_gpu_milli(tp) == pytest.approx(8.0)


def test_static_and_deferral_replays_get_the_rho(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that both protocols hand the kernels the typical GPU pod's CPU per GPU milli."""
    from packer.replay import engine
    from packer.replay.deferral import replay_deferral
    from packer.replay.openb import Pods
    from packer.replay.protocol import make_stream, typical_pods
    from packer.replay.runner import run_stream

    cl = _cluster([64_000, 16_000], [2, 2])
    n = 12
    cpu = np.array([10_000, 4_000, 2_000] * 4, np.int64)
    milli = np.array([1000, 0, 470] * 4, np.int64)
    pods = Pods(names=tuple(f"p{i}" for i in range(n)), cpu=cpu, mem=np.full(n, 1024, np.int64),
                num_gpu=np.where(milli > 0, 1, 0).astype(np.int64), gpu_milli=milli, spec=np.zeros(n, np.int64),
                created=np.arange(n, dtype=np.int64) * 10, deleted=np.arange(n, dtype=np.int64) * 10 + 25)
    tp = typical_pods(pods)
    want = pol.cpu_per_gpu_milli(tp)
    seen: list[float] = []
    real_replay, real_live = engine.replay, engine.LiveCluster

    def spy_replay(*args, **kw):  # type: ignore[no-untyped-def]
        seen.append(kw["rho"])
        return real_replay(*args, **kw)

    def spy_live(*args, **kw):  # type: ignore[no-untyped-def]
        seen.append(kw["rho"])
        return real_live(*args, **kw)

    monkeypatch.setattr(engine, "replay", spy_replay)
    monkeypatch.setattr(engine, "LiveCluster", spy_live)
    run_stream(cl, make_stream(pods, cl, 0), tp, "packer")
    replay_deferral(cl, pods, "packer", 0, compress=1.0)
    assert seen == [pytest.approx(want)] * 2
