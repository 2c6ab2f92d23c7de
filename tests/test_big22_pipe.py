"""The share of the block pool's worker-seconds in which no block ran (session 22; the pipelined waves it
was built to measure, reopt_blocks.PIPELINE, were removed in session 26 with their tests)."""

from __future__ import annotations

import pytest

from packer.cpsat.reopt_blocks import _idle_share


def test_idle_share_counts_the_worker_seconds_no_block_ran() -> None:
    st_ = {"per_block": [{"wall": (0.0, 4.0)}, {"wall": (1.0, 5.0)}, {"wall": (4.0, 9.0)}, {"wall": None}]}
    # 2 workers over 0-10 s: 20 worker-seconds, 4 + 4 + 5 busy
    assert _idle_share(st_, 2, 0.0, 10.0) == pytest.approx(1 - 13 / 20)
    assert _idle_share(st_, 2, 2.0, 6.0) == pytest.approx(1 - (2 + 3 + 2) / 8)  # clipped to the phase
    assert _idle_share({"per_block": []}, 2, 0.0, 1.0) is None
