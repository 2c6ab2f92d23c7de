"""Tests of the rebalancer's pairings (session 22, ``Rebalancer.pair``): an evicted partial pod that no other node
holds may join another device of its own node, so that the device it leaves is whole."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_replay_rebalance import _cluster, _fits, _pods, _random_case, _recount, _stream

from packer.replay.deferral import ClusterView, Move, replay_deferral
from packer.replay.rebalance import Rebalancer


def _pair_case():  # type: ignore[no-untyped-def]
    """n0: 3 GPUs, n1: 1 GPU that C fills. firstfit, best-fit devices: P (800) on d0, A (300) on d1, Q (900) on d2,
    B (100) on d2 (the tightest); Q and P leave, so A is alone on d1 and B alone on d2, d0 is whole. W (two whole
    GPUs) waits: no other node holds A or B, but A fits beside B on d2."""
    cluster = _cluster([3, 1], [64000, 8000])
    pods = _pods([(1000, 1, 1, 800, 0, 0, 50), (1000, 1, 1, 300, 0, 1, 1000), (1000, 1, 1, 900, 0, 2, 40),
                  (1000, 1, 1, 100, 0, 3, 1000), (1000, 1, 1, 1000, 0, 4, 1000), (1000, 1, 2, 1000, 0, 60, 1000),
                  (500, 1, 0, 0, 0, 100, 1000)])
    return cluster, pods, _stream(cluster, pods)


class _Recount:
    """Wraps a Rebalancer: at every call recounts the state in pure Python and checks it against the view, and
    replays the moves it returns on that recount: a move to another node must fit there before the source
    releases the pod; a move to the pod's own node must be a fractional pod that fits another of its devices."""

    def __init__(self, cluster, inner: Rebalancer) -> None:  # type: ignore[no-untyped-def]
        self.cluster, self.inner = cluster, inner
        self.same_node = 0

    def __call__(self, view: ClusterView) -> list[Move] | None:
        c, p = self.cluster, view.pods
        cpu, mem, idle = _recount(c, p, view.running)
        assert min(cpu) >= 0 and min(mem) >= 0 and all(x >= 0 for row in idle for x in row)
        assert cpu == view.free_cpu.tolist() and mem == view.free_mem.tolist()
        assert all(idle[n] == view.idle[n, :len(idle[n])].tolist() for n in range(c.num_nodes))
        moves = list(self.inner(view) or ())
        for mv in moves:
            i = mv.pod
            src, mask = view.running[i]
            milli = int(p.gpu_milli[i])
            own = [d for d in range(8) if mask >> d & 1]
            if mv.node == src:
                self.same_node += 1
                assert p.num_gpu[i] == 1 and 0 < milli < 1000
                assert any(idle[src][d] >= milli for d in range(len(idle[src])) if d not in own)
            else:
                assert _fits(p, i, c, mv.node, cpu, mem, idle), f"move {mv} does not fit its destination"
            # release, then the best-fit device(s) (the replay's choice under bestfit / firstfit / packer)
            cpu[src] += int(p.cpu[i])
            mem[src] += int(p.mem[i])
            for d in own:
                idle[src][d] += milli
            cpu[mv.node] -= int(p.cpu[i])
            mem[mv.node] -= int(p.mem[i])
            if milli > 0:
                fit = sorted((d for d in range(len(idle[mv.node])) if idle[mv.node][d] >= milli),
                             key=lambda d, n=mv.node: (idle[n][d], d))
                for d in fit[:int(p.num_gpu[i])]:
                    idle[mv.node][d] -= milli
        return moves


def test_a_pairing_frees_a_whole_device() -> None:
    """Tests the hand case: without pairings (and with chains) nothing moves and W waits to the end; with them A
    joins B on d2 (one move to its own node) and W starts on d0 and d1."""
    cluster, pods, st_ = _pair_case()
    for chain in (False, True):
        off = replay_deferral(cluster, pods, "firstfit", 0, stream=st_, rebalance_every=1, max_moves=4,
                              rebalance=Rebalancer(cluster, budget=4, per_call=4, min_gain_per_move=1, chain=chain))
        assert off["moves_applied"] == 0 and off["waiting_at_end"] == 1
    hook = _Recount(cluster, Rebalancer(cluster, budget=4, per_call=4, min_gain_per_move=1, pair=True))
    r = replay_deferral(cluster, pods, "firstfit", 0, stream=st_, rebalance=hook, rebalance_every=1, max_moves=4)
    assert r["moves_applied"] == 1 and r["moves_refused"] == 0 and r["waiting_at_end"] == 0
    assert [m[1:] for m in hook.inner.log] == [(1, 0)]  # A to its own node
    assert hook.same_node == 1 and r["pods_migrated"] == 1
    assert r["final_allocation_pct"] == 85.0  # A and B share d2 (400), C (1000) and W (2000) of 4000


def test_the_replay_refuses_own_node_moves_of_other_pods() -> None:
    """Tests that a move to the pod's own node is applied only to a fractional pod: a whole-GPU pod's is refused."""
    cluster, pods, st_ = _pair_case()

    def hook(view):  # type: ignore[no-untyped-def]
        return [Move(pod=4, node=view.running[4][0])] if 4 in view.running else None

    r = replay_deferral(cluster, pods, "firstfit", 0, stream=st_, rebalance=hook, rebalance_every=1, max_moves=1)
    assert r["moves_applied"] == 0 and r["moves_refused"] > 0


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n_nodes=st.integers(2, 6), n_pods=st.integers(5, 60),
       budget=st.integers(0, 12), per_call=st.integers(1, 5), every=st.integers(1, 4), chain=st.booleans(),
       policy=st.sampled_from(["packer", "bestfit", "firstfit"]))
def test_pairings_are_legal_and_within_budget(seed: int, n_nodes: int, n_pods: int, budget: int, per_call: int,
                                              every: int, chain: bool, policy: str) -> None:
    """Tests on random clusters and streams with pairings on (chains on or off): every state is valid on the
    pure-Python recount, every move is legal when replayed in order, the replay applies every move, and the
    per-call and run budgets hold."""
    cluster, pods = _random_case(np.random.default_rng(seed), n_nodes, n_pods)
    st_ = _stream(cluster, pods)
    inner = Rebalancer(cluster, budget=budget, per_call=per_call, min_gain_per_move=1, pair=True, chain=chain)
    r = replay_deferral(cluster, pods, policy, 0, stream=st_, rebalance=_Recount(cluster, inner),
                        rebalance_every=every, max_moves=per_call)
    assert r["moves_refused"] == 0
    assert r["moves_applied"] == inner.issued <= budget


def test_random_cases_do_pair_and_the_flag_is_off() -> None:
    """Tests that the random cases make moves to the pod's own node (so the property test is not vacuous),
    none without pairings, and that replay_dynamic reads rebalance.PAIR, off by default."""
    import packer.replay.rebalance as rb

    paired = {False: 0, True: 0}
    for seed in range(30):
        cluster, pods = _random_case(np.random.default_rng(seed), 2 + seed % 5, 10 + seed % 50)
        st_ = _stream(cluster, pods)
        for pair in (False, True):
            hook = _Recount(cluster, Rebalancer(cluster, budget=12, per_call=4, min_gain_per_move=1, pair=pair))
            replay_deferral(cluster, pods, "packer", 0, stream=st_, rebalance=hook, rebalance_every=1, max_moves=4)
            paired[pair] += hook.same_node
    assert paired[False] == 0 and paired[True] >= 2
    assert rb.PAIR is False
    cluster, pods, st_ = _pair_case()
    kw = {"stream": st_, "rebalance_every": 1, "max_moves": 4, "budget_pct": 50.0, "pace": False}
    off = rb.replay_dynamic(cluster, pods, "firstfit", 0, **kw)
    on = rb.replay_dynamic(cluster, pods, "firstfit", 0, pair=True, **kw)
    assert off["waiting_at_end"] == 1 and on["waiting_at_end"] == 0
