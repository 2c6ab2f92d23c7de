"""Tests of the dynamic replay's window bound (issue 17 part 4, session 19): it is at least every policy's
time-averaged allocation, plain or rebalanced, on small random streams; hand cases for its room logic."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_replay_rebalance import _cluster, _pods, _random_case, _stream

from packer.replay.deferral import replay_deferral, saturation_time
from packer.replay.dynbound import window_bound
from packer.replay.rebalance import Rebalancer

POLICIES = ("fgd", "packer", "bestfit", "firstfit")


def _runs(cluster, pods, st_):  # type: ignore[no-untyped-def]
    out = [replay_deferral(cluster, pods, pol, 0, stream=st_) for pol in POLICIES]
    for pol in ("fgd", "packer"):
        hook = Rebalancer(cluster, budget=len(pods), per_call=4, min_gain_per_move=1)
        out.append(replay_deferral(cluster, pods, pol, 0, stream=st_, rebalance=hook, rebalance_every=1,
                                   max_moves=4))
    return out


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n_nodes=st.integers(1, 5), n_pods=st.integers(5, 50),
       intervals=st.integers(1, 8))
def test_the_bound_holds_for_every_policy(seed: int, n_nodes: int, n_pods: int, intervals: int) -> None:
    """Tests on random clusters and streams that the bound over the whole horizon and over the saturated
    window is at least the time-averaged allocation of four policies and two rebalanced runs, both for
    every placer (t_free = 0) and for the classes of the runs (t_free = their earliest first wait; or of a
    pod of at most one GPU, the multi-GPU pods free)."""
    cluster, pods = _random_case(np.random.default_rng(seed), n_nodes, n_pods)
    st_ = _stream(cluster, pods)
    runs = _runs(cluster, pods, st_)
    waits = [r["first_wait_s"] for r in runs if r["first_wait_s"] is not None]
    tf = min(waits) if waits else st_.horizon
    single = [r["first_wait_single_s"] for r in runs if r["first_wait_single_s"] is not None]
    tf1 = min(single) if single else st_.horizon
    multi = pods.num_gpu > 1
    t_sat = saturation_time(st_, cluster.capacity_milli)
    for t_free, free in ((0.0, None), (tf, None), (tf1, multi)):
        b = window_bound(cluster, pods, st_.arrival, st_.duration, 0.0, st_.horizon, t_free, intervals=intervals,
                         always_free=free)
        if st_.horizon > 0:
            assert b["bound_pct"] is not None  # the runs are in the class, so it is not empty
            for r in runs:
                assert b["bound_pct"] >= r["time_avg_allocation_pct"] - 1e-6, (t_free, r["policy"])
        if t_sat < st_.horizon:
            b = window_bound(cluster, pods, st_.arrival, st_.duration, t_sat, st_.horizon, t_free,
                             intervals=intervals, always_free=free)
            assert b["bound_pct"] is not None
            for r in runs:
                assert b["bound_pct"] >= r["sat_avg_allocation_pct"] - 1e-6, (t_free, r["policy"])


def test_a_big_pod_leaves_a_room_only_small_pods_fill() -> None:
    """Tests the room logic: one GPU; an 810-milli pod that arrived first (forced) leaves 190 milli that a
    waiting whole-GPU pod cannot use (81 %); a 150-milli pod fills it to 96 %; with every pod free the
    bound may run the whole-GPU pod instead (100 %)."""
    cluster = _cluster([1], [64000])
    rows = [(1000, 1, 1, 810, 0, 0, 1000), (1000, 1, 1, 1000, 0, 1, 1000), (1000, 1, 1, 1000, 0, 10, 1000)]
    pods = _pods(rows)
    st_ = _stream(cluster, pods)
    b = window_bound(cluster, pods, st_.arrival, st_.duration, 5.0, 10.0, 1.0, intervals=4)
    assert abs(b["bound_pct"] - 81.0) < 1e-6
    pods = _pods(rows + [(1000, 1, 1, 150, 0, 2, 1000), (1000, 1, 1, 200, 0, 3, 1000)])
    st_ = _stream(cluster, pods)
    b = window_bound(cluster, pods, st_.arrival, st_.duration, 5.0, 10.0, 1.0, intervals=4)
    assert abs(b["bound_pct"] - 96.0) < 1e-6
    b = window_bound(cluster, pods, st_.arrival, st_.duration, 5.0, 10.0, 0.0, intervals=4)
    assert abs(b["bound_pct"] - 100.0) < 1e-6


def test_forced_pods_use_cpu_and_leave_on_time() -> None:
    """Tests CPU and departures: a forced CPU-only pod holding the node's CPU until t = 6 keeps a free
    whole-GPU pod out until then (bound over [4, 8]: 50 %); two forced pods that cannot share the one
    GPU (two big ones) make the class empty (None)."""
    cluster = _cluster([1], [64000])
    pods = _pods([(64000, 1, 0, 0, 0, 0, 6), (8000, 1, 1, 1000, 0, 1, 1000), (1000, 1, 0, 0, 0, 8, 9)])
    st_ = _stream(cluster, pods)
    b = window_bound(cluster, pods, st_.arrival, st_.duration, 4.0, 8.0, 0.5, intervals=4)
    assert abs(b["bound_pct"] - 50.0) < 1e-6
    pods = _pods([(1000, 1, 1, 600, 0, 0, 100), (1000, 1, 1, 600, 0, 1, 100), (1000, 1, 0, 0, 0, 9, 10)])
    st_ = _stream(cluster, pods)
    assert window_bound(cluster, pods, st_.arrival, st_.duration, 2.0, 9.0, 5.0, intervals=2)["bound_pct"] is None
