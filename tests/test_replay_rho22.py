"""packer's CPU-balance weight rho per GPU model (packer.replay.policy, rule "per_model", session 22)."""

from __future__ import annotations

import numpy as np
import pytest
import replay_reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st

import packer.replay.policy as pol
from packer.replay.openb import Cluster
from packer.replay.protocol import TypicalPods


def _cluster(cpu: list[int], gpus: list[int], model: list[int], models: tuple[str, ...] = ("A", "B")) -> Cluster:
    n = len(cpu)
    g = np.array(gpus, np.int64)
    return Cluster(names=tuple(f"n{i}" for i in range(n)), cpu=np.array(cpu, np.int64),
                   mem=np.full(n, 65536, np.int64), gpus=g,
                   model=np.where(g > 0, np.array(model, np.int64), -1).astype(np.int64), models=models)


def _tp(shapes: list[tuple[int, int, int, float]]) -> TypicalPods:
    """(cpu, per-GPU milli, num_gpu, weight) per shape; the weights are normalised."""
    a = np.array([s[:3] for s in shapes], np.int64).reshape(-1, 3)
    w = np.array([s[3] for s in shapes], np.float64)
    return TypicalPods(cpu=a[:, 0].copy(), gpu_milli=a[:, 1].copy(), num_gpu=a[:, 2].copy(),
                       spec=np.zeros(len(shapes), np.int64), prob=w / w.sum())


def test_hand_case_cap_where_the_cpu_is() -> None:
    """Tests rho_m = max(a, min(a + b, a + f s_m / G_m)) on a hand-computed two-model cluster."""
    # a = 10 (10 CPU per whole GPU), b = 2 (2 CPU of CPU-only pods per GPU milli of GPU demand)
    tp = _tp([(10_000, 1000, 1, 1.0), (2_000, 0, 0, 1.0)])
    assert (pol.cpu_per_gpu_milli(tp), pol.cpu_only_per_gpu_milli(tp)) == (pytest.approx(10.0), pytest.approx(2.0))
    # model A: 4 GPUs, 48 CPU -> spare 8000; model B: 4 GPUs, 72 CPU -> spare 32000; S = 40000
    # B = b G = 2 × 8000 = 16000 -> f = 1 − 16000 / 40000 = 0.6
    # cap_A = 10 + 0.6 × 8000 / 4000 = 11.2; cap_B = 10 + 0.6 × 32000 / 4000 = 14.8 -> a + b = 12
    cl = _cluster([48_000, 72_000], [4, 4], [0, 1])
    rho = pol.per_model_cpu_per_gpu_milli(tp, cl)
    assert rho.tolist() == [pytest.approx(11.2), pytest.approx(12.0)]
    # the rule "competing" puts one cap on both: C/G − b = 15 − 2 = 13 -> min(12, 13) = 12
    assert pol.competing_cpu_per_gpu_milli(tp, cl) == pytest.approx(12.0)
    # a model short of CPU (36 CPU for 4 GPUs < a G) keeps a; it adds no spare
    cl = _cluster([36_000, 72_000], [4, 4], [0, 1])
    # S = 32000, f = 0.5: cap_B = 10 + 0.5 × 8 = 14 -> 12
    assert pol.per_model_cpu_per_gpu_milli(tp, cl).tolist() == [pytest.approx(10.0), pytest.approx(12.0)]
    # CPU-only demand beyond all spare: f = 0, every model at a
    tp_hungry = _tp([(10_000, 1000, 1, 1.0), (20_000, 0, 0, 1.0)])
    assert pol.per_model_cpu_per_gpu_milli(tp_hungry, _cluster([48_000, 72_000], [4, 4], [0, 1])).tolist() == \
        [pytest.approx(10.0), pytest.approx(10.0)]
    # GPU-less nodes' spare counts in S (the CPU-only pods may go there): S = 8000 + 32000 + 40000
    cl = _cluster([48_000, 72_000, 40_000], [4, 4, 0], [0, 1, 0])
    assert pol.per_model_cpu_per_gpu_milli(tp, cl)[0] == pytest.approx(10.0 + 0.8 * 2.0)
    # a model without nodes keeps a
    cl = _cluster([48_000, 72_000], [4, 4], [0, 0], models=("A", "B", "C"))
    assert pol.per_model_cpu_per_gpu_milli(tp, cl)[2] == pytest.approx(10.0)


_CPUS = st.sampled_from([8000, 16000, 48000, 96000, 104000])


@settings(max_examples=80, deadline=None)
@given(shapes=st.lists(st.tuples(st.sampled_from([1000, 4000, 8000, 11000, 32000]),
                                 st.sampled_from([0, 100, 470, 1000]), st.sampled_from([1, 2, 8]),
                                 st.floats(0.01, 1.0)), min_size=0, max_size=6),
       gpu_shape=st.tuples(st.sampled_from([2000, 11000]), st.sampled_from([500, 1000]), st.floats(0.01, 1.0)),
       nodes=st.lists(st.tuples(_CPUS, st.sampled_from([0, 1, 2, 4, 8]), st.integers(0, 2)), min_size=1, max_size=6))
def test_per_model_bounds(shapes, gpu_shape, nodes) -> None:
    """Tests a ≤ rho_m ≤ a + b (so rho_m = a without CPU-only pods); no model keeps more CPU than its nodes
    hold (rho_m ≤ the GPU-weighted mean of max(a, C_n / G_n) over its nodes; max(a, C_m / G_m) where they are
    alike); rho_m = a on a model without GPUs; and that the caps put the cluster-wide cap C/G − b where the CPU
    is (their GPU-weighted mean is that cap) when no node is short of CPU or without GPUs, the CPU-only pods
    fit and no cap reaches a + b."""
    c, m, w = gpu_shape
    tp = _tp([(c, m, 1, w)] + [(x, g, n if g else 0, p) for x, g, n, p in shapes])
    if not any(g for _, g, _ in nodes):
        nodes = [*nodes, (16000, 2, 0)]
    cl = _cluster([x for x, _, _ in nodes], [g for _, g, _ in nodes], [k for _, _, k in nodes], ("A", "B", "C"))
    a, b = pol.cpu_per_gpu_milli(tp), pol.cpu_only_per_gpu_milli(tp)
    rho = pol.per_model_cpu_per_gpu_milli(tp, cl)
    g_m = np.array([1000.0 * cl.gpus[cl.model == k].sum() for k in range(3)])
    c_m = np.array([float(cl.cpu[cl.model == k].sum()) for k in range(3)])
    g_all = 1000.0 * cl.gpus
    for k in range(3):
        assert a - 1e-9 <= rho[k] <= a + b + 1e-9
        on = (cl.model == k) & (cl.gpus > 0)
        if g_m[k] > 0:
            # the GPU-weighted mean over the model's nodes of max(a, C_n / G_n): what its nodes hold
            held = float((g_all[on] * np.maximum(a, cl.cpu[on] / g_all[on])).sum()) / g_m[k]
            assert rho[k] <= held + 1e-9
            if on.sum() == 1 or len(set(cl.cpu[on].tolist())) == 1 and len(set(cl.gpus[on].tolist())) == 1:
                assert rho[k] <= max(a, c_m[k] / g_m[k]) + 1e-9
        else:
            assert rho[k] == pytest.approx(a)
    spare = cl.cpu - a * g_all
    cap = cl.cpu.sum() / cl.capacity_milli - b
    if spare.min() >= 0 and cl.gpus.min() > 0 and cap >= a and \
            all(rho[k] < a + b - 1e-9 for k in range(3) if g_m[k] > 0):
        assert float((rho * g_m).sum() / g_m.sum()) == pytest.approx(cap, rel=1e-9)


def test_rule_gives_the_kernel_a_rho_per_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests packer_settings under "per_model": (cluster-wide rho, k, rho_0 .. rho_k-1); other rules: (rho,)."""
    tp = _tp([(10_000, 1000, 1, 1.0), (2_000, 0, 0, 1.0)])
    cl = _cluster([48_000, 72_000], [4, 4], [0, 1])
    monkeypatch.setattr(pol, "RHO_RULE", "per_model")
    assert pol.packer_settings(tp, cl)[1] == (pytest.approx(12.0), 2.0, pytest.approx(11.2), pytest.approx(12.0))
    assert pol.packer_settings(tp)[1] == (pytest.approx(10.0),)  # no cluster: the typical rule
    monkeypatch.setattr(pol, "RHO_RULE", "competing")
    assert pol.packer_settings(tp, cl)[1] == (pytest.approx(12.0),)


def test_kernel_uses_each_nodes_model_rho() -> None:
    """Tests that the fast engine places every pod as the slow reference does with a rho per model, that the
    per-model knobs with one value everywhere are the single rho, and that the case tells them apart."""
    from test_replay_engine import _random_case

    from packer.replay.engine import replay
    from packer.replay.protocol import typical_pods

    differs = 0
    for seed in range(10):
        cluster, pods, rank, rand = _random_case(seed)
        tp = typical_pods(pods)
        kw = ref.engine_kwargs(cluster, pods, rank, rand, tp)
        # rhos far apart per model so that the CPU term decides differently per node
        params = (9.0, 3.0, 4.0, 9.0, 30.0)
        run = replay("packer", params=params, **kw)
        nodes, plist, typical = ref.reference_inputs(cluster, pods, tp)
        want = ref.replay("packer", nodes, plist, rank.tolist(), [tuple(r) for r in rand.tolist()], typical,
                          rho=params)
        got = list(zip(run.node.tolist(), run.devmask.tolist(), strict=True))
        assert got == want, f"case {seed}"
        one = replay("packer", params=(9.0,), **kw)
        same = replay("packer", params=(5.0, 3.0, 9.0, 9.0, 9.0), **kw)
        assert same.node.tolist() == one.node.tolist() and same.devmask.tolist() == one.devmask.tolist()
        differs += got != list(zip(one.node.tolist(), one.devmask.tolist(), strict=True))
    assert differs > 0


def test_pinned_rule_mixes_by_the_pinned_share() -> None:
    """Tests the rule "pinned" by hand: model A's GPUs are half filled by pods pinned to A (P_A = 1/4 of the demand,
    G / G_A = 2), so its rho is halfway between "per_model"'s and "competing"'s; B has no pinned pods and keeps
    "competing"'s; without pinned pods every model gets "competing"'s."""
    cl = _cluster([48_000, 72_000], [4, 4], [0, 1])
    tp = _tp([(10_000, 1000, 1, 3.0), (2_000, 0, 0, 4.0)])
    pinned = TypicalPods(cpu=np.array([10_000, 10_000, 2_000], np.int64), gpu_milli=np.array([1000, 1000, 0], np.int64),
                         num_gpu=np.array([1, 1, 0], np.int64), spec=np.array([0, 1, 0], np.int64),
                         prob=np.array([3.0, 1.0, 4.0]) / 8.0)
    assert pol.pinned_share(pinned, cl).tolist() == [pytest.approx(0.5), 0.0]
    per, comp = pol.per_model_cpu_per_gpu_milli(pinned, cl), pol.competing_cpu_per_gpu_milli(pinned, cl)
    assert per[0] < comp
    assert pol.pinned_cpu_per_gpu_milli(pinned, cl).tolist() == [pytest.approx((per[0] + comp) / 2), pytest.approx(comp)]
    assert pol.pinned_cpu_per_gpu_milli(tp, cl).tolist() == [pytest.approx(pol.competing_cpu_per_gpu_milli(tp, cl))] * 2
