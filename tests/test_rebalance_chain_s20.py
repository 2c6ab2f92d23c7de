"""Tests of the rebalancer's chained moves (session 20, ``Rebalancer.chain``): an evicted pod may go to a node
that holds it once one more pod has moved off it."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_dynrep_pace import _Paced
from test_replay_rebalance import _Checked, _cluster, _pods, _random_case, _stream

from packer.replay.deferral import replay_deferral
from packer.replay.rebalance import Rebalancer


def _chain_case():  # type: ignore[no-untyped-def]
    """Three one-GPU nodes. firstfit: A (a whole GPU) on n0, B (500) on n1, C (500, too much CPU for n1) on n2;
    W (a whole GPU, CPU only n0 has) waits. No node holds A now; once B joined C on n2, n1 holds A."""
    cluster = _cluster([1, 1, 1], [64000, 2000, 8000])
    pods = _pods([(1000, 1, 1, 1000, 0, 0, 100), (1000, 1, 1, 500, 0, 1, 100), (2000, 1, 1, 500, 0, 2, 100),
                  (32000, 1, 1, 1000, 0, 3, 100)])
    return cluster, pods, _stream(cluster, pods)


def test_a_chain_of_two_moves_starts_a_waiting_pod() -> None:
    """Tests the hand case: without chains nothing can move and W waits to the end; with them B moves first,
    then A into the GPU B freed, and W starts on n0 (two moves, every one legal on the recount)."""
    cluster, pods, st_ = _chain_case()
    off = replay_deferral(cluster, pods, "firstfit", 0, stream=st_,
                          rebalance=_Checked(cluster, Rebalancer(cluster, budget=4, per_call=4, min_gain_per_move=1)),
                          rebalance_every=1, max_moves=4)
    assert off["moves_applied"] == 0 and off["waiting_at_end"] == 1
    hook = _Checked(cluster, Rebalancer(cluster, budget=4, per_call=4, min_gain_per_move=1, chain=True), once=False)
    r = replay_deferral(cluster, pods, "firstfit", 0, stream=st_, rebalance=hook, rebalance_every=1, max_moves=4)
    assert r["moves_applied"] == 2 and r["moves_refused"] == 0 and r["waiting_at_end"] == 0
    assert [m[1:] for m in hook.inner.log] == [(1, 2), (0, 1)]  # B to n2 first, then A to n1
    assert r["final_allocation_pct"] == 100.0
    # a budget of one move cannot pay for the chain
    one = replay_deferral(cluster, pods, "firstfit", 0, stream=st_,
                          rebalance=Rebalancer(cluster, budget=1, per_call=4, min_gain_per_move=1, chain=True),
                          rebalance_every=1, max_moves=4)
    assert one["moves_applied"] == 0 and one["waiting_at_end"] == 1


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n_nodes=st.integers(2, 6), n_pods=st.integers(5, 60),
       budget=st.integers(0, 12), per_call=st.integers(1, 5), every=st.integers(1, 4),
       pct=st.sampled_from([5.0, 25.0, 50.0]), device_fit=st.booleans(),
       policy=st.sampled_from(["fgd", "packer", "bestfit"]))
def test_chained_moves_are_legal_applied_and_earned(seed: int, n_nodes: int, n_pods: int, budget: int, per_call: int,
                                                    every: int, pct: float, device_fit: bool, policy: str) -> None:
    """Tests on random clusters and streams, with chains (and device-fit destinations or not): every state is
    valid on the pure-Python recount, every move, replayed in the order issued, fits its destination before
    its source releases it and lands where asked; the replay applies every move; the per-call, run and paced
    budgets hold after every call."""
    cluster, pods = _random_case(np.random.default_rng(seed), n_nodes, n_pods)
    st_ = _stream(cluster, pods)
    inner = Rebalancer(cluster, budget=budget, per_call=per_call, min_gain_per_move=1, pace_pct=pct, chain=True,
                       device_fit=device_fit)
    hook = _Paced(_Checked(cluster, inner, once=False), st_.arrival, pct)
    r = replay_deferral(cluster, pods, policy, 0, stream=st_, rebalance=hook, rebalance_every=every,
                        max_moves=per_call)
    assert r["moves_refused"] == 0
    assert r["moves_applied"] == inner.issued <= budget
    assert max(hook.checked.per_call, default=0) <= per_call


def test_random_cases_do_chain() -> None:
    """Tests that the random cases exercise chained moves (a pod's source is another move's target in one
    call), so the property test above is not vacuous."""
    chained = 0
    for seed in range(40):
        cluster, pods = _random_case(np.random.default_rng(seed), 2 + seed % 5, 10 + seed % 50)
        st_ = _stream(cluster, pods)
        inner = Rebalancer(cluster, budget=12, per_call=4, min_gain_per_move=1, chain=True)
        calls: list[set[int]] = []

        def hook(view, inner=inner, calls=calls):  # type: ignore[no-untyped-def]
            moves = list(inner(view) or ())
            calls.append({view.running[m.pod][0] for m in moves} & {m.node for m in moves})
            return moves

        replay_deferral(cluster, pods, "fgd", 0, stream=st_, rebalance=hook, rebalance_every=1, max_moves=4)
        chained += any(calls)
    assert chained >= 3


def test_replay_dynamic_reads_the_module_flags(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Tests that replay_dynamic's rules follow rebalance.CHAIN / DEVICE_FIT unless given, and that both are
    off by default (they did not gain on the tuning seeds)."""
    import packer.replay.rebalance as rb

    assert rb.CHAIN is False and rb.DEVICE_FIT is False
    cluster, pods, st_ = _chain_case()
    kw = {"stream": st_, "rebalance_every": 1, "max_moves": 4, "budget_pct": 50.0, "pace": False}
    off = rb.replay_dynamic(cluster, pods, "firstfit", 0, **kw)
    assert off["moves_applied"] == 0 and off["waiting_at_end"] == 1
    monkeypatch.setattr(rb, "CHAIN", True)
    on = rb.replay_dynamic(cluster, pods, "firstfit", 0, **kw)
    assert on["moves_applied"] == 2 and on["waiting_at_end"] == 0
    assert on == rb.replay_dynamic(cluster, pods, "firstfit", 0, chain=True, **kw)
    assert rb.replay_dynamic(cluster, pods, "firstfit", 0, chain=False, **kw) == off
