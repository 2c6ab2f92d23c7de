"""Tests of the paced rebalancer (issue 17 part 4): the budget earned as pods arrive, legal moves, same
seed same result."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_replay_rebalance import _Checked, _cluster, _pods, _random_case, _stream

from packer.replay.deferral import ClusterView, Move, replay_deferral
from packer.replay.rebalance import Rebalancer, replay_dynamic


class _Paced:
    """Wraps a checked paced Rebalancer and, at every call, checks the pacing against the true arrivals
    (pods whose arrival time is at most the view's time)."""

    def __init__(self, checked: _Checked, arrival: np.ndarray, pct: float) -> None:
        self.checked, self.arrival, self.pct = checked, arrival, pct
        self.calls = 0

    def __call__(self, view: ClusterView) -> list[Move] | None:
        moves = self.checked(view)
        inner = self.checked.inner
        true_arrived = int((self.arrival <= view.time).sum())
        assert inner.arrived <= true_arrived  # the estimate never counts a pod that has not arrived
        assert inner.issued <= int(self.pct * inner.arrived / 100.0) <= int(self.pct * true_arrived / 100.0)
        assert inner.issued <= inner.budget
        self.calls += 1
        return moves


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_nodes=st.integers(2, 6), n_pods=st.integers(5, 60),
       budget=st.integers(0, 12), per_call=st.integers(1, 5), every=st.integers(1, 4),
       pct=st.sampled_from([5.0, 10.0, 25.0, 50.0]), policy=st.sampled_from(["fgd", "packer", "bestfit"]))
def test_paced_moves_are_legal_applied_and_earned(seed: int, n_nodes: int, n_pods: int, budget: int, per_call: int,
                                                  every: int, pct: float, policy: str) -> None:
    """Tests on random clusters and streams that every move of the paced rebalancer fits its destination
    before its source releases it and lands where asked (recounted in pure Python), that the replay
    applies every move it issues, and that after every call the moves issued stay within both the run
    budget and pct % of the pods that have truly arrived."""
    cluster, pods = _random_case(np.random.default_rng(seed), n_nodes, n_pods)
    st_ = _stream(cluster, pods)
    inner = Rebalancer(cluster, budget=budget, per_call=per_call, min_gain_per_move=1, pace_pct=pct)
    hook = _Paced(_Checked(cluster, inner), st_.arrival, pct)
    r = replay_deferral(cluster, pods, policy, 0, stream=st_, rebalance=hook, rebalance_every=every,
                        max_moves=per_call)
    assert r["moves_refused"] == 0
    assert r["moves_applied"] == inner.issued <= budget
    assert r["moves_applied"] <= int(pct * len(pods) / 100.0)
    assert max(hook.checked.per_call, default=0) <= per_call


def test_paced_random_cases_do_migrate() -> None:
    """Tests that the paced random cases exercise migrations (the test above is not vacuous)."""
    moved = 0
    for seed in range(30):
        cluster, pods = _random_case(np.random.default_rng(seed), 2 + seed % 5, 10 + seed % 50)
        st_ = _stream(cluster, pods)
        inner = Rebalancer(cluster, budget=8, per_call=3, min_gain_per_move=1, pace_pct=25.0)
        r = replay_deferral(cluster, pods, "fgd", 0, stream=st_, rebalance=_Paced(_Checked(cluster, inner),
                            st_.arrival, 25.0), rebalance_every=1, max_moves=3)
        moved += r["moves_applied"] > 0
    assert moved >= 5


def _hand_case():  # type: ignore[no-untyped-def]
    """Two one-GPU nodes: p0 (500) on n0, p1 (500, too much CPU for n0) on n1, p2 (a whole GPU) waits;
    moving p0 beside p1 frees n0's GPU for p2. Two short CPU-only pods arrive later (t = 4 and 10)."""
    cluster = _cluster([1, 1], [64000, 128000])
    pods = _pods([(1000, 1, 1, 500, 0, 0, 100), (64000, 1, 1, 500, 0, 1, 100), (1000, 1, 1, 1000, 0, 2, 100),
                  (1000, 1, 0, 0, 0, 4, 5), (1000, 1, 0, 0, 0, 10, 11), (1000, 1, 0, 0, 0, 20, 21)])
    return cluster, pods, _stream(cluster, pods)


def test_the_budget_is_earned_as_pods_arrive() -> None:
    """Tests the hand case: unpaced, the one migration is made as soon as p2 waits (t = 2); paced at 20 %,
    it is earned only when the fifth pod has arrived (t = 10: 20 % of 5 pods is one), then made, and p2
    starts."""
    cluster, pods, st_ = _hand_case()
    free = Rebalancer(cluster, budget=1, per_call=4, min_gain_per_move=1)
    r = replay_deferral(cluster, pods, "firstfit", 0, stream=st_, rebalance=free, rebalance_every=1, max_moves=4)
    assert r["moves_applied"] == 1 and free.log[0][0] == 2.0
    paced = Rebalancer(cluster, budget=1, per_call=4, min_gain_per_move=1, pace_pct=20.0)
    hook = _Checked(cluster, paced)
    r = replay_deferral(cluster, pods, "firstfit", 0, stream=st_, rebalance=hook, rebalance_every=1, max_moves=4)
    assert r["moves_applied"] == 1 and r["moves_refused"] == 0 and r["waiting_at_end"] == 0
    assert [t for t, _, _ in paced.log] == [10.0] and paced.log[0][1:] == (0, 1)  # p0 went to n1, at t = 10
    assert hook.per_call[:4] == [0, 0, 0, 0]  # t = 0, 1, 2, 4: not earned yet (3 or 4 pods: 0.6, 0.8)


def test_paced_waits_are_measured_while_the_budget_is_earned() -> None:
    """Tests that a paced hook keeps measuring waits while it may not move: it sees p2 wait from t = 2, so
    the calls before the budget is earned are not lost to the patience rule."""
    cluster, pods, st_ = _hand_case()
    paced = Rebalancer(cluster, budget=1, per_call=4, min_gain_per_move=1, pace_pct=20.0)
    replay_deferral(cluster, pods, "firstfit", 0, stream=st_, rebalance=paced, rebalance_every=1, max_moves=4)
    assert paced.calls >= 5 and paced.arrived == 6


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), policy=st.sampled_from(["fgd", "packer"]))
def test_same_seed_same_result(seed: int, policy: str) -> None:
    """Tests that replay_dynamic (paced, any gain: its defaults) gives the same result twice."""
    cluster, pods = _random_case(np.random.default_rng(seed), 4, 50)
    st_ = _stream(cluster, pods)
    runs = [replay_dynamic(cluster, pods, policy, 0, stream=st_, rebalance_every=1, max_moves=3, budget_pct=20.0)
            for _ in range(2)]
    assert runs[0] == runs[1]
    assert runs[0]["moves_applied"] <= runs[0]["migration_budget"] == int(0.2 * 50)
