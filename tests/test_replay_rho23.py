"""The replay kernel's balance rho and penalty weight read apart, and balances by pod kind (session 23). The
policy rules that made such knobs (packer.replay.policy.RHO_SPLIT and the rest) were removed in session 26;
the kernel still reads them."""

from __future__ import annotations

import numpy as np
import pytest
import replay_reference as ref


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


def test_cpu_only_pods_read_their_own_balance() -> None:
    """Tests the diagnostic split by pod kind (once packer.replay.policy.RHO_CPU_ONLY_RULE, removed in session 26): the knobs' third block by hand, a CPU-only pod's
    key by hand, and the fast engine equal to the reference with three blocks; a third block equal to the
    balance is the unsplit policy, and the block changes some case."""
    from test_replay_engine import _random_case

    from packer.replay.engine import replay
    from packer.replay.engine.kernels import _packer_score
    from packer.replay.protocol import typical_pods

    approx = pytest.approx
    got = (12.0, 0.0, 12.0, 0.0, 12.0, 2.0, 11.2, 12.0)
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
    """Tests the knobs of packer.replay.policy.RHO_FRAC_RULE (removed in session 26): the fourth knob block by hand, a fractional pod's tie-break by hand, and the fast
    engine equal to the reference with four blocks; the block changes some case."""
    from test_replay_engine import _random_case

    from packer.replay.engine import replay
    from packer.replay.engine.kernels import _packer_score
    from packer.replay.protocol import typical_pods

    approx = pytest.approx
    got = (12.0, 0.0, 12.0, 0.0, 12.0, 0.0, 10.0, 0.0)
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
