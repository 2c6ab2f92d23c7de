"""Session 9's cheaper paths give the same answers as the ones they replace.

- FGD's score of a fractional share: the node's fragmentation after the share from per-pod counts
  of the node now (:func:`kernels._share_stats`, :func:`kernels._share_after`) equals the full
  recomputation (:func:`kernels._node_frag`) exactly, and FGD's placements equal the reference
  placer's (which recomputes per GPU, :mod:`tests.online_reference`).
- The rollout's reasons for unplaced requests: one diagnosis copy per run of unplaced requests
  gives the same plan, reasons included, as a fresh copy per request.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.generate import generate
from packer.online import OnlinePlacer
from packer.online import kernels as K
from packer.online.state import FULL, G_FREE, G_MODE, MIG, N_CPU, N_GPU0, N_NGPU
from tests.online_reference import ReferenceKernels
from tests.test_online_prune import _part_filled


def _share_frag_pairs(p: OnlinePlacer, milli: int, cpu: int) -> int:
    """Compares, on every node and non-MIG GPU of ``p``, the per-pod-count fragmentation with the
    full one, before and after a share of ``milli`` (and ``cpu`` milli-CPU); returns the pairs seen."""
    a = p.a
    tws = a.tws
    nt = tws.shape[0]
    cnt = np.zeros(nt, dtype=np.int64)
    part = np.zeros(nt, dtype=np.int64)
    delta = np.zeros(64, dtype=np.int64)
    seen = 0
    for n in range(a.n64.shape[0]):
        g0, ng = int(a.n64[n, N_GPU0]), int(a.n64[n, N_NGPU])
        if ng == 0:
            continue
        gtot, before = K._share_stats(a.g32, a.n64, tws, n, cnt, part)
        delta[:] = 0
        assert before == K._node_frag(a.g32, a.n64, tws, n, delta, 0)
        for k in range(ng):
            g = g0 + k
            mode = int(a.g32[g, G_MODE])
            if mode == MIG:
                continue
            x = min(milli, int(a.g32[g, G_FREE]))
            delta[k] = x
            full = K._node_frag(a.g32, a.n64, tws, n, delta, cpu)
            delta[k] = 0
            fast = K._share_after(tws, cnt, part, gtot, int(a.g32[g, G_FREE]), mode == FULL, x, int(a.n64[n, N_CPU]) - cpu)
            assert fast == full, (n, g, fast, full)
            seen += 1
    return seen


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(family=st.sampled_from(["sharing", "hetero", "inference", "haein", "fragmented"]), seed=st.integers(0, 10_000),
       fill=st.sampled_from([0.3, 0.6, 0.9]), milli=st.sampled_from([100, 250, 500, 999]),
       cpu=st.sampled_from([0, 1000, 8000]))
def test_share_fragmentation_from_counts_equals_the_full_sum(family: str, seed: int, fill: float, milli: int,
                                                             cpu: int) -> None:
    """Tests that the fragmentation before and after a share, from per-pod counts, is bit-equal to
    the full recomputation on every GPU of part-filled suite clusters."""
    inst = _part_filled(family, seed, 24, fill)
    assert _share_frag_pairs(OnlinePlacer(inst, "fgd"), milli, cpu) > 0


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(family=st.sampled_from(["sharing", "hetero", "inference"]), seed=st.integers(0, 10_000),
       fill=st.sampled_from([0.0, 0.5, 0.8]))
def test_fgd_shares_place_as_the_reference(family: str, seed: int, fill: float) -> None:
    """Tests that FGD places each fractional share (and everything else) as the reference placer
    that recomputes the node's fragmentation for every GPU."""
    inst = _part_filled(family, seed, 40, fill)
    fast = OnlinePlacer(inst, "fgd")
    slow = OnlinePlacer(inst, "fgd", _kernels=ReferenceKernels())
    todo = [r for r in inst.requests if r.placement is None]
    shares = [r for r in todo if r.kind == "share"][:25]
    for r in [*shares, *todo[:10]]:
        ra, rb = fast.place(r), slow.place(r)
        assert (ra.ok, ra.units) == (rb.ok, rb.units), (r.id, ra.reason, rb.reason)


def test_share_after_changes_with_the_gpu_and_the_cpu() -> None:
    """Tests that the per-pod-count score is not constant: a share that uses a node's last CPU or
    splits a GPU changes the fragmentation (so the equality test above can fail)."""
    inst = generate("sharing", 1, nodes=8)
    p = OnlinePlacer(inst, "fgd")
    a = p.a
    nt = a.tws.shape[0]
    cnt = np.zeros(nt, dtype=np.int64)
    part = np.zeros(nt, dtype=np.int64)
    gtot, before = K._share_stats(a.g32, a.n64, a.tws, 0, cnt, part)
    g = int(a.n64[0, N_GPU0])
    fr = int(a.g32[g, G_FREE])
    half = K._share_after(a.tws, cnt, part, gtot, fr, False, fr // 2, int(a.n64[0, N_CPU]))
    nocpu = K._share_after(a.tws, cnt, part, gtot, fr, False, 0, -1)
    assert half != before
    assert nocpu != before


def test_one_diagnosis_copy_per_run_gives_the_same_plan(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Tests that the rollout's plan, reasons of unplaced requests included, is the one a fresh copy
    of the plan's placer per unplaced request gives (the code before session 9)."""
    from packer.online import rollout
    from packer.online.solver import solve

    def fresh(self, req):  # type: ignore[no-untyped-def]
        res = self.placers[0].fork().place(req)
        return rollout.refused(req) if res.ok else str(res.reason)

    for family, seed, nodes, budget in (("adversarial", 1, 8, None), ("tenants", 2, 8, None), ("haein", 0, 40, 1)):
        inst = generate(family, seed, nodes=nodes)
        plan = solve(inst, rollout=budget)
        assert len(plan.unplaced) > 0
        with monkeypatch.context() as m:
            m.setattr(rollout.Rollout, "_reason", fresh)
            ref = solve(inst, rollout=budget)
        assert plan.model_dump(exclude={"solver"}) == ref.model_dump(exclude={"solver"})


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(family=st.sampled_from(["haein", "training", "inference", "sharing", "hetero", "tenants", "fragmented",
                               "adversarial"]), seed=st.integers(0, 10_000), fill=st.sampled_from([0.0, 0.5]),
       policy=st.sampled_from(["packer", "first-fit", "best-fit", "fgd"]))
def test_gang_units_in_one_kernel_call_place_as_one_by_one(family: str, seed: int, fill: float, policy: str) -> None:
    """Tests that a gang's units placed by one kernel call (:func:`kernels.place_units`) are the
    units the one-call-per-unit loop places, request by request, with the same final state."""
    inst = _part_filled(family, seed, 24, fill)
    fast = OnlinePlacer(inst, policy)
    slow = OnlinePlacer(inst, policy)
    slow._place_units_k = None  # the loop of pick_unit and apply_unit calls
    for r in [r for r in inst.requests if r.placement is None][:60]:
        ra, rb = fast.place(r), slow.place(r)
        assert (ra.ok, ra.units, ra.reason) == (rb.ok, rb.units, rb.reason), r.id
    for x, y in zip(fast.a, slow.a, strict=True):
        np.testing.assert_array_equal(x, y)
