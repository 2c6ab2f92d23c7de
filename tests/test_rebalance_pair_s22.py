"""The deferral replay's moves to a pod's own node (session 22; the rebalancer's pairings that issued them,
``Rebalancer.pair``, were removed in session 26): applied to a fractional pod only."""

from __future__ import annotations

from test_replay_rebalance import _cluster, _pods, _stream

from packer.replay.deferral import Move, replay_deferral


def _pair_case():  # type: ignore[no-untyped-def]
    """n0: 3 GPUs, n1: 1 GPU that C fills. firstfit, best-fit devices: P (800) on d0, A (300) on d1, Q (900) on d2,
    B (100) on d2 (the tightest); Q and P leave, so A is alone on d1 and B alone on d2, d0 is whole. W (two whole
    GPUs) waits: no other node holds A or B, but A fits beside B on d2."""
    cluster = _cluster([3, 1], [64000, 8000])
    pods = _pods([(1000, 1, 1, 800, 0, 0, 50), (1000, 1, 1, 300, 0, 1, 1000), (1000, 1, 1, 900, 0, 2, 40),
                  (1000, 1, 1, 100, 0, 3, 1000), (1000, 1, 1, 1000, 0, 4, 1000), (1000, 1, 2, 1000, 0, 60, 1000),
                  (500, 1, 0, 0, 0, 100, 1000)])
    return cluster, pods, _stream(cluster, pods)


def test_the_replay_refuses_own_node_moves_of_other_pods() -> None:
    """Tests that a move to the pod's own node is applied only to a fractional pod: a whole-GPU pod's is refused."""
    cluster, pods, st_ = _pair_case()

    def hook(view):  # type: ignore[no-untyped-def]
        return [Move(pod=4, node=view.running[4][0])] if 4 in view.running else None

    r = replay_deferral(cluster, pods, "firstfit", 0, stream=st_, rebalance=hook, rebalance_every=1, max_moves=1)
    assert r["moves_applied"] == 0 and r["moves_refused"] > 0
