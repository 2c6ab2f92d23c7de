"""Session 11: one node-admission test for the scans (:func:`kernels._node_admits`).

``_pick_unit``'s node loop and ``place_units``' kept bounds (``_node_bound``) both call it, so they
admit the same nodes by construction; these tests pin the function itself to the random policy's
independent node tests (``_node_ok`` without a node filter and ``_node_may_fit``) and to the least
``nbest`` of the fitting profiles, on part-filled suite clusters. The placements themselves are
pinned by ``tests/test_online_s10.py`` (kept scores = per-unit scan = unpruned reference placer).
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.online import OnlinePlacer
from packer.online import kernels as K
from packer.online.state import K_MIG, N_MIGFIT, N_MODEL, R_KIND
from tests.test_online_prune import _part_filled


def _expected_lbm(a, rq, rprof, n: int) -> float:  # type: ignore[no-untyped-def]
    if rq[R_KIND] != K_MIG:
        return K.BIG
    m = int(a.n64[n, N_MODEL])
    fit = int(a.n64[n, N_MIGFIT])
    vals = [float(a.nbest[n, p]) for p in rprof[m] if p >= 0 and (fit >> int(p)) & 1]
    return min(vals) if vals else K.BIG


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(family=st.sampled_from(["inference", "haein", "hetero", "tenants", "sharing", "adversarial"]),
       seed=st.integers(0, 10_000), fill=st.sampled_from([0.0, 0.5, 0.8]),
       policy=st.sampled_from(["packer", "best-fit", "fgd"]))
def test_node_admission_equals_the_random_policys_node_tests(family: str, seed: int, fill: float, policy: str) -> None:
    """Tests that ``_node_admits`` admits exactly the nodes that ``_node_ok`` (every node allowed) and
    ``_node_may_fit`` admit, for every kind of request of the instance on every node, and that its
    bound is the least ``nbest`` of the request's profiles that fit (BIG for other kinds)."""
    inst = _part_filled(family, seed, 24, fill)
    p = OnlinePlacer(inst, policy)
    a = p.a
    ones = np.ones_like(a.nallow)
    kinds = set()
    checked = 0
    for r in [r for r in inst.requests if r.placement is None and r.kind != "host"][:60]:
        sh = p._shapes.of(r)
        kinds.add(r.kind)
        for n in range(len(p.node_ids)):
            ok, lbm = K._node_admits(a.n64, a.nbest, sh.rq, sh.rprof, sh.modelok, n)
            want = K._node_ok(a.n64, n, sh.rq, ones) and K._node_may_fit(a.n64, n, sh.rq, sh.rprof, sh.modelok)
            assert bool(ok) == bool(want), (r.id, n)
            if ok:
                assert lbm == _expected_lbm(a, sh.rq, sh.rprof, n), (r.id, n)
            checked += 1
    assert checked > 0 and kinds


def test_node_admission_refuses_other_tenants_isolated_nodes() -> None:
    """Tests the isolation branches on a concrete case: a node holding a node-isolated tenant's unit
    admits that tenant's next unit and no other tenant's."""
    inst = _part_filled("tenants", 1, 8, 0.0)
    p = OnlinePlacer(inst, "packer")
    iso = next(t for t, v in inst.tenant_map.items() if v.isolation == "node")
    other = next(t for t, v in inst.tenant_map.items() if v.isolation == "none")
    base = next(r for r in inst.requests if r.placement is None and r.kind == "gpu")
    req = base.model_copy(update={"id": "iso-1", "tenant": iso, "count": 1, "min_count": None,
                                  "locality": None, "spread": None})
    res = p.place(req)
    assert res.ok
    n = res.node_indices[0]
    mine = req.model_copy(update={"id": "iso-2"})
    theirs = req.model_copy(update={"id": "other-1", "tenant": other})
    a = p.a
    sh_mine, sh_theirs = p._shapes.of(mine), p._shapes.of(theirs)
    ok_mine, _ = K._node_admits(a.n64, a.nbest, sh_mine.rq, sh_mine.rprof, sh_mine.modelok, n)
    ok_theirs, _ = K._node_admits(a.n64, a.nbest, sh_theirs.rq, sh_theirs.rprof, sh_theirs.modelok, n)
    assert ok_mine and not ok_theirs
