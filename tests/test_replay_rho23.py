"""packer's balance rho and penalty weight derived apart (packer.replay.policy.RHO_SPLIT, session 23)."""

from __future__ import annotations

import numpy as np
import pytest
import replay_reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st
from test_replay_rho22 import _cluster, _tp

import packer.replay.policy as pol


def test_split_knobs_hand_case(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests the knobs' layout with the split on and off, on a cluster whose rules differ by hand: a = 10, b = 2,
    "competing" 12 (a + b), "per_model" 11.2 on model A and 12 on B (tests/test_replay_rho22.py)."""
    tp = _tp([(10_000, 1000, 1, 1.0), (2_000, 0, 0, 1.0)])
    cl = _cluster([48_000, 72_000], [4, 4], [0, 1])
    approx = pytest.approx
    # off: the rule alone, as before this session
    assert pol.rho_params(tp, cl, "competing", split=False) == (approx(12.0),)
    assert pol.rho_params(tp, cl, "per_model", split=False) == (approx(12.0), 2.0, approx(11.2), approx(12.0))
    # on: the balance's knobs, then the weight's in the same form
    cases = {("competing", "typical"): (approx(12.0), 0.0, approx(10.0), 0.0),
             ("per_model", "competing"): (approx(12.0), 2.0, approx(11.2), approx(12.0), approx(12.0), 0.0),
             ("competing", "per_model"): (approx(12.0), 0.0, approx(12.0), 2.0, approx(11.2), approx(12.0))}
    for (bal, weight), want in cases.items():
        got = pol.rho_params(tp, cl, bal, split=True, weight_rule=weight)
        assert got == want
        # the readers put each knob on each model: balance by the first rule, weight by the second
        assert [ref.rho_at(list(got), m) for m in (0, 1)] == \
            [approx(x) for x in (11.2 if bal == "per_model" else 12.0, 12.0)]
        assert [ref.weight_at(list(got), m) for m in (0, 1)] == \
            [approx(x) for x in {"typical": (10.0, 10.0), "competing": (12.0, 12.0), "per_model": (11.2, 12.0)}[weight]]
    # the module flags drive packer_settings; no cluster: every rule is "typical"
    monkeypatch.setattr(pol, "RHO_RULE", "competing")
    monkeypatch.setattr(pol, "RHO_SPLIT", True)
    monkeypatch.setattr(pol, "RHO_WEIGHT_RULE", "typical")
    assert pol.packer_settings(tp, cl)[1] == (approx(12.0), 0.0, approx(10.0), 0.0)
    assert pol.packer_settings(tp)[1] == (approx(10.0), 0.0, approx(10.0), 0.0)
    monkeypatch.setattr(pol, "RHO_WEIGHT_RULE", "nonsense")
    with pytest.raises(ValueError):
        pol.packer_settings(tp, cl)


def test_weight_enters_only_the_whole_gpu_penalty() -> None:
    """Tests the kernel's score by hand: the balance sets the surplus for every pod kind, the weight only divides
    a whole-GPU pod's |surplus|."""
    from packer.replay.engine.kernels import _packer_score

    idle = np.array([1000, 1000, 0, 0, 0, 0, 0, 0], np.int64)
    # whole GPU, 8 CPU: surplus after = (30000 − 8000) − 12 × 1000 = 10000; penalty 10000 / w
    assert _packer_score(5.0, 100.0, idle, 2, 30000.0, 8000.0, 1, 1000, 12.0, 10.0, 12.0, 12.0) == (5.0, -900.0, 0.0)
    assert _packer_score(5.0, 100.0, idle, 2, 30000.0, 8000.0, 1, 1000, 12.0, 12.0, 12.0, 12.0)[1] == pytest.approx(100 - 10000 / 12)
    # the balance moves the surplus: rho 25 -> (22000 − 25000) = −3000, |.| / 10 = 300
    assert _packer_score(5.0, 100.0, idle, 2, 30000.0, 8000.0, 1, 1000, 25.0, 10.0, 25.0, 25.0)[1] == pytest.approx(-200.0)
    # fractional pod (300 milli on a whole device): hole 700, then −|surplus| with surplus 22000 − 12 × 1700
    for w in (1.0, 10.0, 99.0):
        assert _packer_score(5.0, 0.0, idle, 2, 30000.0, 8000.0, 1, 300, 12.0, w, 12.0, 12.0) == (5.0, -700.0, -1600.0)
        # CPU-only pod: the deficit it leaves, min(surplus, 0) = 22000 − 12 × 2000 = −2000
        assert _packer_score(5.0, 0.0, idle, 2, 30000.0, 8000.0, 0, 0, 12.0, w, 12.0, 12.0) == (5.0, -2000.0, 0.0)


def test_kernel_reads_the_weight_per_model() -> None:
    """Tests that the fast engine places every pod as the slow reference does with split knobs (a weight per
    model), that a weight equal to the balance rho is the unsplit policy, and that the weight changes some case."""
    from test_replay_engine import _random_case

    from packer.replay.engine import replay
    from packer.replay.protocol import typical_pods

    differs = 0
    for seed in range(10):
        cluster, pods, rank, rand = _random_case(seed)
        tp = typical_pods(pods)
        kw = ref.engine_kwargs(cluster, pods, rank, rand, tp)
        # balance one rho, weights far apart per model, so that the penalty decides differently per node
        params = (9.0, 0.0, 9.0, 3.0, 2.0, 9.0, 40.0)
        run = replay("packer", params=params, **kw)
        nodes, plist, typical = ref.reference_inputs(cluster, pods, tp)
        want = ref.replay("packer", nodes, plist, rank.tolist(), [tuple(r) for r in rand.tolist()], typical,
                          rho=params)
        got = list(zip(run.node.tolist(), run.devmask.tolist(), strict=True))
        assert got == want, f"case {seed}"
        # per-model balance and a per-model weight both read: the reference agrees too
        both = (9.0, 3.0, 4.0, 9.0, 30.0, 9.0, 3.0, 30.0, 2.0, 9.0)
        want2 = ref.replay("packer", nodes, plist, rank.tolist(), [tuple(r) for r in rand.tolist()], typical, rho=both)
        run2 = replay("packer", params=both, **kw)
        assert list(zip(run2.node.tolist(), run2.devmask.tolist(), strict=True)) == want2, f"case {seed} (both)"
        one = replay("packer", params=(9.0,), **kw)
        same = replay("packer", params=(9.0, 0.0, 9.0, 0.0), **kw)
        assert same.node.tolist() == one.node.tolist() and same.devmask.tolist() == one.devmask.tolist()
        differs += got != list(zip(one.node.tolist(), one.devmask.tolist(), strict=True))
    assert differs > 0


_CPUS = st.sampled_from([8000, 16000, 48000, 96000, 104000])


@settings(max_examples=60, deadline=None)
@given(shapes=st.lists(st.tuples(st.sampled_from([1000, 4000, 8000, 11000, 32000]),
                                 st.sampled_from([0, 100, 470, 1000]), st.sampled_from([1, 2, 8]),
                                 st.floats(0.01, 1.0)), min_size=0, max_size=6),
       gpu_shape=st.tuples(st.sampled_from([2000, 11000]), st.sampled_from([500, 1000]), st.floats(0.01, 1.0)),
       nodes=st.lists(st.tuples(_CPUS, st.sampled_from([0, 1, 2, 4, 8]), st.integers(0, 2)), min_size=1, max_size=6),
       bal=st.sampled_from(pol.RHO_RULES), weight=st.sampled_from(pol.RHO_RULES))
def test_split_reads_back_each_rule(shapes, gpu_shape, nodes, bal, weight) -> None:
    """Tests, on random workloads and clusters and every pair of rules, that the kernel reads at each node the
    balance rule's rho and the weight rule's rho for that node's model (the kernel's own readers and the
    reference's agree), that both lie in [a, a + b], and that weight = balance is the unsplit knob set."""
    from packer.replay.engine.engine import _params
    from packer.replay.engine.kernels import _node_rho, _node_weight

    c, m, w = gpu_shape
    tp = _tp([(c, m, 1, w)] + [(x, g, n if g else 0, p) for x, g, n, p in shapes])
    if not any(g for _, g, _ in nodes):
        nodes = [*nodes, (16000, 2, 0)]
    cl = _cluster([x for x, _, _ in nodes], [g for _, g, _ in nodes], [k for _, _, k in nodes], ("A", "B", "C"))
    a, b = pol.cpu_per_gpu_milli(tp), pol.cpu_only_per_gpu_milli(tp)
    got = pol.rho_params(tp, cl, bal, split=True, weight_rule=weight)
    arr = _params(got)
    one = {r: pol.rho_params(tp, cl, r, split=False) for r in (bal, weight)}
    for model in (-1, 0, 1, 2):
        rb, rw = _node_rho(arr, model), _node_weight(arr, model)
        assert rb == pytest.approx(ref.rho_at(one[bal], model)) == pytest.approx(ref.rho_at(list(got), model))
        assert rw == pytest.approx(ref.rho_at(one[weight], model)) == pytest.approx(ref.weight_at(list(got), model))
        assert a - 1e-9 <= rb <= a + b + 1e-9 and a - 1e-9 <= rw <= a + b + 1e-9
        # unsplit knobs read their one rho as the weight too
        plain = _params(one[bal])
        assert _node_weight(plain, model) == _node_rho(plain, model) == pytest.approx(rb)


def test_cpu_only_pods_read_their_own_balance() -> None:
    """Tests the diagnostic split by pod kind (RHO_CPU_ONLY_RULE): the knobs' third block by hand, a CPU-only pod's
    key by hand, and the fast engine equal to the reference with three blocks; a third block equal to the
    balance is the unsplit policy, and the block changes some case."""
    from test_replay_engine import _random_case

    from packer.replay.engine import replay
    from packer.replay.engine.kernels import _packer_score
    from packer.replay.protocol import typical_pods

    tp = _tp([(10_000, 1000, 1, 1.0), (2_000, 0, 0, 1.0)])
    cl = _cluster([48_000, 72_000], [4, 4], [0, 1])
    approx = pytest.approx
    got = pol.rho_params(tp, cl, "competing", split=False, cpu_only_rule="per_model")
    assert got == (approx(12.0), 0.0, approx(12.0), 0.0, approx(12.0), 2.0, approx(11.2), approx(12.0))
    assert [ref.cpu_only_at(list(got), m) for m in (0, 1)] == [approx(11.2), approx(12.0)]
    assert [ref.rho_at(list(got), m) for m in (0, 1)] == [approx(12.0)] * 2
    assert [ref.weight_at(list(got), m) for m in (0, 1)] == [approx(12.0)] * 2
    idle = np.array([1000, 1000, 0, 0, 0, 0, 0, 0], np.int64)
    # CPU-only, 8 CPU on 30 CPU beside 2000 idle milli: rho_c 12 -> 22000 − 24000 = −2000; rho_c 10 -> surplus
    assert _packer_score(5.0, 0.0, idle, 2, 30000.0, 8000.0, 0, 0, 99.0, 99.0, 12.0, 99.0) == (5.0, -2000.0, 0.0)
    assert _packer_score(5.0, 0.0, idle, 2, 30000.0, 8000.0, 0, 0, 99.0, 99.0, 10.0, 99.0) == (5.0, 0.0, 0.0)
    differs = 0
    for seed in range(10):
        cluster, pods, rank, rand = _random_case(seed)
        tpp = typical_pods(pods)
        kw = ref.engine_kwargs(cluster, pods, rank, rand, tpp)
        params = (9.0, 0.0, 9.0, 0.0, 9.0, 3.0, 1.0, 9.0, 40.0)
        nodes, plist, typical = ref.reference_inputs(cluster, pods, tpp)
        want = ref.replay("packer", nodes, plist, rank.tolist(), [tuple(r) for r in rand.tolist()], typical,
                          rho=params)
        run = replay("packer", params=params, **kw)
        got_p = list(zip(run.node.tolist(), run.devmask.tolist(), strict=True))
        assert got_p == want, f"case {seed}"
        one = replay("packer", params=(9.0,), **kw)
        same = replay("packer", params=(9.0, 0.0, 9.0, 0.0, 9.0, 0.0), **kw)
        assert same.node.tolist() == one.node.tolist() and same.devmask.tolist() == one.devmask.tolist()
        differs += got_p != list(zip(one.node.tolist(), one.devmask.tolist(), strict=True))
    assert differs > 0


def test_fractional_pods_read_their_own_balance() -> None:
    """Tests RHO_FRAC_RULE: the fourth knob block by hand, a fractional pod's tie-break by hand, and the fast
    engine equal to the reference with four blocks; the block changes some case."""
    from test_replay_engine import _random_case

    from packer.replay.engine import replay
    from packer.replay.engine.kernels import _packer_score
    from packer.replay.protocol import typical_pods

    tp = _tp([(10_000, 1000, 1, 1.0), (2_000, 0, 0, 1.0)])
    cl = _cluster([48_000, 72_000], [4, 4], [0, 1])
    approx = pytest.approx
    got = pol.rho_params(tp, cl, "competing", split=False, frac_rule="typical")
    assert got == (approx(12.0), 0.0, approx(12.0), 0.0, approx(12.0), 0.0, approx(10.0), 0.0)
    assert [ref.block_at(list(got), b, 0) for b in range(4)] == [approx(12.0)] * 3 + [approx(10.0)]
    idle = np.array([1000, 1000, 0, 0, 0, 0, 0, 0], np.int64)
    # 300 milli, 8 CPU: surplus (30000 − 8000) − rho_f × 1700: rho_f 12 -> 1600, rho_f 10 -> 5000
    assert _packer_score(5.0, 0.0, idle, 2, 30000.0, 8000.0, 1, 300, 99.0, 99.0, 99.0, 10.0) == (5.0, -700.0, -5000.0)
    differs = 0
    for seed in range(20):
        cluster, pods, rank, rand = _random_case(seed)
        tpp = typical_pods(pods)
        kw = ref.engine_kwargs(cluster, pods, rank, rand, tpp)
        params = (9.0, 0.0, 9.0, 0.0, 9.0, 0.0, 1.0, 3.0, 0.5, 50.0, 100.0)
        nodes, plist, typical = ref.reference_inputs(cluster, pods, tpp)
        want = ref.replay("packer", nodes, plist, rank.tolist(), [tuple(r) for r in rand.tolist()], typical,
                          rho=params)
        run = replay("packer", params=params, **kw)
        got_p = list(zip(run.node.tolist(), run.devmask.tolist(), strict=True))
        assert got_p == want, f"case {seed}"
        one = replay("packer", params=(9.0,), **kw)
        differs += got_p != list(zip(one.node.tolist(), one.devmask.tolist(), strict=True))
    assert differs > 0
