"""packer's CPU-balance weight rho by rule (packer.replay.policy.RHO_RULE, session 21)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_hand_case_both_caps() -> None:
    """Tests rho = min(a + b, C/G − b), floored at a, on the three regimes a hand computation gives."""
    # GPU pods: one whole GPU with 10 CPU (10 milli-CPU per GPU milli), weight 1; CPU-only: 4 CPU, weight 1
    tp = _tp([(10_000, 1000, 1, 1.0), (4_000, 0, 0, 1.0)])
    assert pol.cpu_per_gpu_milli(tp) == pytest.approx(10.0)
    assert pol.cpu_only_per_gpu_milli(tp) == pytest.approx(4.0)
    # plenty of CPU: C/G = 32 → supply 28 ≥ a + b = 14 → rho = 14
    assert pol.competing_cpu_per_gpu_milli(tp, _cluster([64_000], [2])) == pytest.approx(14.0)
    # C/G = 16 → supply 12 < 14 → rho = 12
    assert pol.competing_cpu_per_gpu_milli(tp, _cluster([32_000], [2])) == pytest.approx(12.0)
    # scarce CPU: C/G = 12 → supply 8 < a → rho = a = 10
    assert pol.competing_cpu_per_gpu_milli(tp, _cluster([24_000], [2])) == pytest.approx(10.0)
    # CPU of GPU-less nodes counts: C/G = (16 + 16) / 2
    assert pol.competing_cpu_per_gpu_milli(tp, _cluster([16_000, 16_000], [2, 0])) == pytest.approx(12.0)


@settings(max_examples=60, deadline=None)
@given(shapes=st.lists(st.tuples(st.sampled_from([1000, 4000, 8000, 11000, 32000]),
                                 st.sampled_from([0, 100, 470, 1000]), st.sampled_from([1, 2, 8]),
                                 st.floats(0.01, 1.0)), min_size=1, max_size=6),
       gpu_shape=st.tuples(st.sampled_from([2000, 11000]), st.sampled_from([500, 1000]), st.floats(0.01, 1.0)),
       cpu=st.lists(st.sampled_from([8000, 16000, 96000, 104000]), min_size=1, max_size=5),
       gpus=st.lists(st.sampled_from([1, 2, 4, 8]), min_size=1, max_size=5))
def test_competing_lies_between_the_gpu_pods_need_and_the_demand(shapes, gpu_shape, cpu, gpus) -> None:
    """Tests a ≤ rho ≤ max(a, min(a + b, C/G − b)), and rho = a exactly without CPU-only pods."""
    c, m, w = gpu_shape
    tp = _tp([(c, m, 1, w)] + [(x, g, n if g else 0, p) for x, g, n, p in shapes])
    k = min(len(cpu), len(gpus))
    cl = _cluster(cpu[:k], gpus[:k])
    a, b = pol.cpu_per_gpu_milli(tp), pol.cpu_only_per_gpu_milli(tp)
    rho = pol.competing_cpu_per_gpu_milli(tp, cl)
    cg = cl.cpu.sum() / cl.capacity_milli
    assert a - 1e-9 <= rho <= a + b + 1e-9
    assert rho <= max(a, cg - b) + 1e-9
    if b == 0:
        assert rho == pytest.approx(a)


def test_rule_selects_rho(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that packer_settings follows RHO_RULE, "typical" is the old rho, and unknown rules fail."""
    tp = _tp([(10_000, 1000, 1, 1.0), (4_000, 0, 0, 1.0)])
    cl = _cluster([64_000], [2])
    monkeypatch.setattr(pol, "RHO_RULE", "typical")
    assert pol.packer_settings(tp, cl)[1] == (pytest.approx(10.0),)
    monkeypatch.setattr(pol, "RHO_RULE", "competing")
    assert pol.packer_settings(tp, cl)[1] == (pytest.approx(14.0),)
    assert pol.packer_settings(tp)[1] == (pytest.approx(10.0),)  # no cluster: the typical rule
    with pytest.raises(ValueError, match="unknown rho rule"):
        pol.rho_of(tp, cl, "fitted")


@pytest.mark.parametrize("rule", pol.RHO_RULES)
def test_static_and_deferral_replays_get_the_rule(monkeypatch: pytest.MonkeyPatch, rule: str) -> None:
    """Tests that both protocols hand the kernels the rho of the rule in force, computed with their cluster."""
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
    want = pol.rho_of(tp, cl, rule)
    monkeypatch.setattr(pol, "RHO_RULE", rule)
    seen: list[float] = []
    real_replay, real_live = engine.replay, engine.LiveCluster

    def spy_replay(*args, **kw):  # type: ignore[no-untyped-def]
        seen.append(kw["params"][0])
        return real_replay(*args, **kw)

    def spy_live(*args, **kw):  # type: ignore[no-untyped-def]
        seen.append(kw["params"][0])
        return real_live(*args, **kw)

    monkeypatch.setattr(engine, "replay", spy_replay)
    monkeypatch.setattr(engine, "LiveCluster", spy_live)
    run_stream(cl, make_stream(pods, cl, 0), tp, "packer")
    replay_deferral(cl, pods, "packer", 0, compress=1.0)
    assert seen == [pytest.approx(want)] * 2
    if rule == "competing":
        assert want != pytest.approx(pol.cpu_per_gpu_milli(tp))  # the case tells the rules apart
