"""The online placer's capacity scan (``kernels.node_caps``) skips nodes and blocks by their
aggregates (issue 20: the 131,072-GPU hint); these tests show the skipping never changes a cap.

Every comparison is against the pure-Python reference (which scans every GPU of every node) and
against the kernel's own path without block skipping (the same nodes given in another order), at
many states of an online solve of suite instances with several blocks of nodes.
"""

from __future__ import annotations

import numpy as np
import pytest

from packer.generate import generate
from packer.online import OnlinePlacer
from packer.online import kernels as K
from packer.online.placer import requests_in_order
from packer.online.state import K_MIG, R_CPU, R_GPUMAX, R_KIND, R_MEM, R_NOANY
from tests.online_reference import ReferenceKernels


def _caps(kern, placer: OnlinePlacer, rq: np.ndarray, sh, nodes: np.ndarray, limit: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    caps = np.zeros(len(nodes), dtype=np.int64)
    kern.node_caps(placer.kernel_state, rq, sh.rprof, sh.modelok, nodes, limit, caps)
    return caps


@pytest.mark.parametrize("family", ["haein", "tenants", "sharing", "hetero", "fragmented"])
def test_node_caps_with_skipping_match_the_full_scan(family: str) -> None:
    """Tests that node_caps over every node (blocks skipped) equals the reference and the unskipped
    scan, for every request shape, with and without 'any' GPUs and host resources, as the cluster fills."""
    inst = generate(family, 3, nodes=128)  # 4 blocks of 32 nodes
    placer = OnlinePlacer(inst, "packer", seed=0)
    ref = ReferenceKernels()
    ref.bind(placer.models, placer.target)
    reqs = requests_in_order(inst.requests, "file", inst)
    every = placer.all_nodes
    rev = every[::-1].copy()
    checked = 0
    for i, req in enumerate(reqs):
        if req.kind != "host" and i % 7 == 0:
            sh = placer._shapes.of(req)
            for no_any in (0, 1):
                for host in (True, False):
                    rq = sh.rq.copy()
                    rq[R_GPUMAX] = 1 << 30 if int(rq[R_KIND]) == K_MIG else 1
                    rq[R_NOANY] = no_any
                    if not host:
                        rq[R_CPU] = 0
                        rq[R_MEM] = 0
                    fast = _caps(K, placer, rq, sh, every, req.count)
                    np.testing.assert_array_equal(fast, _caps(ref, placer, rq, sh, every, req.count))
                    np.testing.assert_array_equal(fast, _caps(K, placer, rq, sh, rev, req.count)[::-1])
                    checked += 1
        placer.place(req)
    assert checked > 20
