"""Tests of re-pairing after departures (session 24, ``Rebalancer.repair``): the nodes whose device holds one lone
movable fractional pod are candidates too, and a moved fractional pod goes where it leaves the least room."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_rebalance_pair_s22 import _Recount
from test_replay_rebalance import _cluster, _pods, _random_case, _stream

import packer.replay.rebalance as rb
from packer.replay.deferral import ClusterView, replay_deferral
from packer.replay.rebalance import Rebalancer, _State


def _view() -> tuple:  # type: ignore[type-arg]
    """Five nodes. n0 (2 GPUs): p0 (300) alone on d0, p1 (a whole GPU) on d1. n1 (1 GPU): p2 (500, 30 cores),
    which no other node has the CPU for. n2: p3 (200) and p4 (300) on d0, p5 (100) alone on d1. n3: empty, 16
    cores. n4: p6 (850) alone on d0, p7 (550) alone on d1. p8 (a whole GPU, 20 cores) waits: no node holds it."""
    cluster = _cluster([2, 1, 2, 2, 2], [32000, 64000, 32000, 16000, 31000])
    never = 10**6
    pods = _pods([(1000, 1, 1, 300, 0, 0, never), (8000, 1, 1, 1000, 0, 0, never), (30000, 1, 1, 500, 0, 0, never),
                  (1000, 1, 1, 200, 0, 0, never), (1000, 1, 1, 300, 0, 0, never), (1000, 1, 1, 100, 0, 0, never),
                  (1000, 1, 1, 850, 0, 0, never), (1000, 1, 1, 550, 0, 0, never), (20000, 1, 1, 1000, 0, 0, never)])
    running = {0: (0, 1), 1: (0, 2), 2: (1, 1), 3: (2, 1), 4: (2, 1), 5: (2, 2), 6: (4, 1), 7: (4, 2)}
    idle = np.zeros((5, 8), np.int64)
    for n, row in enumerate([[700, 0], [500], [500, 900], [1000, 1000], [150, 450]]):
        idle[n, :len(row)] = row
    free_cpu = np.array([23000, 34000, 29000, 16000, 29000], np.int64)
    free_mem = cluster.mem - np.array([2, 1, 3, 0, 2], np.int64)
    view = ClusterView(time=0.0, free_cpu=free_cpu, free_mem=free_mem, idle=idle, running=running, waiting=(8,),
                       pods=pods)
    return cluster, view


def test_lone_nodes_by_hand() -> None:
    """Tests the candidates by hand: n2 (lone 100), n0 (lone 300), n4 (lone 850 and 550: 550 counts); n1's lone pod
    cannot move (no node has its CPU) and n2's d0 holds two pods; ``skip``, ``most`` and ``left`` are honoured.
    A moved fractional pod keeps its pairing: p5 (100) goes to n4's 150 hole (50 left), where the tightest node
    (least idle in total) would be n1 (500 idle, 400 left beside it)."""
    cluster, view = _view()
    state = _State(view, cluster, repair=True)
    cost = state.rank_cost(20000, 1, 1, 1000, 0)
    assert cost[[0, 2, 4]].tolist() == [1, 1, 1] and np.isinf(cost[[1, 3]]).all()
    none = np.zeros(0, np.int64)
    assert state.lone_nodes(1000, cost, 8, none, 10).tolist() == [2, 0, 4]
    assert state.lone_nodes(1000, cost, 8, np.array([2]), 10).tolist() == [0, 4]
    assert state.lone_nodes(1000, cost, 8, none, 1).tolist() == [2]
    assert state.lone_nodes(1000, cost, 0, none, 10).tolist() == []  # cost 1 > left 0
    assert state.routes(2, [5], {2}) == [(5, 4)]
    assert _State(view, cluster).routes(2, [5], {2}) == [(5, 1)]
    hook = Rebalancer(cluster, budget=4, per_call=1, min_gain_per_move=1, max_nodes=1, patience=False, repair=True)
    moves = hook(view)
    assert moves is not None and len(moves) == 1 and hook.issued == 1


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), n_nodes=st.integers(2, 6), n_pods=st.integers(5, 40),
       budget=st.integers(0, 12), per_call=st.integers(1, 5), every=st.integers(1, 4), pair=st.booleans(),
       max_nodes=st.integers(1, 4), policy=st.sampled_from(["packer", "bestfit", "firstfit"]))
def test_repairs_are_legal_and_within_budget(seed: int, n_nodes: int, n_pods: int, budget: int, per_call: int,
                                             every: int, pair: bool, max_nodes: int, policy: str) -> None:
    """Tests on random clusters and streams with re-pairing on (own-node pairings on or off, few candidate nodes so
    that lone nodes add some): every state is valid on the pure-Python recount, every move is legal in order, the
    replay applies every move, and the per-call and run budgets hold."""
    cluster, pods = _random_case(np.random.default_rng(seed), n_nodes, n_pods)
    inner = Rebalancer(cluster, budget=budget, per_call=per_call, min_gain_per_move=1, pair=pair, repair=True,
                       max_nodes=max_nodes)
    r = replay_deferral(cluster, pods, policy, 0, stream=_stream(cluster, pods), rebalance=_Recount(cluster, inner),
                        rebalance_every=every, max_moves=per_call)
    assert r["moves_refused"] == 0
    assert r["moves_applied"] == inner.issued <= budget


def test_random_cases_find_lone_nodes_and_the_flag_is_off(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Tests that the random cases do offer lone nodes beyond the cheapest (so the property test is not vacuous),
    that replay_dynamic reads rebalance.REPAIR, and that it is off."""
    found = []
    orig = _State.lone_nodes

    def spy(self, *a):  # type: ignore[no-untyped-def]
        out = orig(self, *a)
        found.append(len(out))
        return out

    monkeypatch.setattr(_State, "lone_nodes", spy)
    for seed in range(20):
        cluster, pods = _random_case(np.random.default_rng(seed), 2 + seed % 5, 20 + seed % 40)
        hook = Rebalancer(cluster, budget=12, per_call=4, min_gain_per_move=1, repair=True, max_nodes=1)
        replay_deferral(cluster, pods, "packer", 0, stream=_stream(cluster, pods), rebalance=hook, rebalance_every=1,
                        max_moves=4)
    assert sum(1 for k in found if k > 0) >= 2
    assert rb.REPAIR is False
    found.clear()
    cluster, pods = _random_case(np.random.default_rng(3), 5, 40)
    kw = {"stream": _stream(cluster, pods), "rebalance_every": 1, "max_moves": 4, "budget_pct": 50.0, "pace": False}
    rb.replay_dynamic(cluster, pods, "packer", 0, **kw)
    assert not found
    monkeypatch.setattr(rb, "REPAIR", True)
    rb.replay_dynamic(cluster, pods, "packer", 0, **kw)
    assert found
