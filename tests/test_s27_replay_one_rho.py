"""The replay kernel reads one rho (session 27): the packer policy's CPU-balance weight is one number, cluster
wide, that every pod kind's balance reads and that weighs a whole-GPU pod's CPU penalty. The per-GPU-model
entries and the four knob blocks the kernel read until then (git tag ``flags-s26``) are gone; the policy fed
them one value since session 26."""

from __future__ import annotations

import numpy as np
import pytest
import replay_reference as ref

_IDLE = np.array([1000, 1000, 0, 0, 0, 0, 0, 0], np.int64)


def test_packer_score_by_hand() -> None:
    """Tests the kernel's score with one rho by hand, for every pod kind (2 idle GPUs, 30 CPU free, an 8-CPU pod)."""
    from packer.replay.engine.kernels import _packer_score

    approx = pytest.approx
    # whole GPU: surplus after = (30000 − 8000) − rho × 1000; rho 12 -> 10000, |.| / 12 off FGD's raw Δ 100
    assert _packer_score(5.0, 100.0, _IDLE, 2, 30000.0, 8000.0, 1, 1000, 12.0) == (5.0, approx(100 - 10000 / 12), 0.0)
    # rho 25 -> −3000, |.| / 25 = 120
    assert _packer_score(5.0, 100.0, _IDLE, 2, 30000.0, 8000.0, 1, 1000, 25.0) == (5.0, approx(-20.0), 0.0)
    # two whole GPUs: no idle GPU left, surplus 22000, / 12
    assert _packer_score(5.0, 100.0, _IDLE, 2, 30000.0, 8000.0, 2, 1000, 12.0) == (5.0, approx(100 - 22000 / 12), 0.0)
    # rho 0 (the engine's default, the other policies'): no penalty, FGD's raw Δ
    assert _packer_score(5.0, 100.0, _IDLE, 2, 30000.0, 8000.0, 1, 1000, 0.0) == (5.0, 100.0, 0.0)
    # fractional, 300 milli: hole 700, then −|surplus|: rho 12 -> 22000 − 12 × 1700 = 1600; rho 10 -> 5000
    assert _packer_score(5.0, 0.0, _IDLE, 2, 30000.0, 8000.0, 1, 300, 12.0) == (5.0, -700.0, -1600.0)
    assert _packer_score(5.0, 0.0, _IDLE, 2, 30000.0, 8000.0, 1, 300, 10.0) == (5.0, -700.0, -5000.0)
    # CPU-only: the deficit it leaves, min(surplus, 0): rho 12 -> 22000 − 24000 = −2000; rho 10 -> a surplus, 0
    assert _packer_score(5.0, 0.0, _IDLE, 2, 30000.0, 8000.0, 0, 0, 12.0) == (5.0, -2000.0, 0.0)
    assert _packer_score(5.0, 0.0, _IDLE, 2, 30000.0, 8000.0, 0, 0, 10.0) == (5.0, 0.0, 0.0)


def test_engine_matches_reference_at_several_rhos() -> None:
    """Tests that the fast engine places every pod as the slow reference does at rhos far apart (so the CPU term
    decides differently), and that rho changes some case (it reaches the kernel)."""
    from test_replay_engine import _random_case

    from packer.replay.engine import replay
    from packer.replay.protocol import typical_pods

    differs = 0
    for seed in range(10):
        cluster, pods, rank, rand = _random_case(seed)
        tp = typical_pods(pods)
        kw = ref.engine_kwargs(cluster, pods, rank, rand, tp)
        nodes, plist, typical = ref.reference_inputs(cluster, pods, tp)
        runs = {}
        for rho in (0.0, 3.0, 9.0, 40.0):
            run = replay("packer", rho=rho, **kw)
            got = list(zip(run.node.tolist(), run.devmask.tolist(), strict=True))
            want = ref.replay("packer", nodes, plist, rank.tolist(), [tuple(r) for r in rand.tolist()], typical,
                              rho=rho)
            assert got == want, f"case {seed}, rho {rho}"
            runs[rho] = got
        differs += runs[0.0] != runs[9.0]
    assert differs > 0


def test_live_cluster_reads_the_same_rho() -> None:
    """Tests that the live cluster (the dynamic replay's engine), fed the pods one at a time with no departures,
    places each as the one-shot replay does with the same rho, and differently from rho 0 in some case."""
    from test_replay_engine import _random_case

    from packer.replay.engine import LiveCluster, replay
    from packer.replay.protocol import typical_pods

    differs = 0
    for seed in range(10):
        cluster, pods, rank, rand = _random_case(seed)
        tp = typical_pods(pods)
        kw = ref.engine_kwargs(cluster, pods, rank, rand, tp)
        want = replay("packer", rho=9.0, **kw)
        got = []
        for rho in (9.0, 0.0):
            live = LiveCluster("packer", node_cpu=cluster.cpu, node_mem=cluster.mem, node_gpus=cluster.gpus,
                               node_model=cluster.model, node_rank=rank, tp_cpu=tp.cpu, tp_milli=tp.gpu_milli,
                               tp_num=tp.num_gpu, tp_spec=tp.spec, tp_prob=tp.prob, pk_weights=tp.prob, rho=rho)
            got.append([live.place(int(pods.cpu[i]), int(pods.mem[i]), int(pods.num_gpu[i]), int(pods.gpu_milli[i]),
                                   int(pods.spec[i]), rand=(float(rand[i, 0]), float(rand[i, 1])))
                        for i in range(len(pods))])
        assert got[0] == list(zip(want.node.tolist(), want.devmask.tolist(), strict=True)), f"case {seed}"
        differs += got[0] != got[1]
    assert differs > 0
