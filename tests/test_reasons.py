"""One wording of unplaced reasons (:mod:`packer.reasons`)."""

from __future__ import annotations

import pytest

from packer import reasons
from packer.model import Request


def test_every_reason_starts_with_its_code() -> None:
    r = Request(id="r", tenant="t", kind="mig", slices=3, count=4, spread={"level": "rack", "max_per_domain": 1})
    h = Request(id="h", tenant="t", kind="host", cpu_milli=500, memory_mib=64)
    cases = {
        reasons.MODEL: reasons.no_model(r, ["H100-80GB"], why="profile"),
        reasons.QUOTA: reasons.quota("t", 3.0, 4.0, 1.5),
        reasons.ISOLATION: reasons.isolation(r, 1, 4, without=4),
        reasons.HOST: reasons.host_resources(h, 0, 1),
        reasons.CAPACITY: reasons.capacity(r, 2, 4),
        reasons.LOCALITY: reasons.locality(r, "rack", 2, 4, cluster=9),
        reasons.SPREAD: reasons.spread(r),
        reasons.OBJECTIVE: reasons.objective(h),
        reasons.TIME_LIMIT: reasons.time_limit("greedy", 2),
        reasons.NOT_SUBMITTED: reasons.not_submitted("online"),
    }
    for code, text in cases.items():
        assert text.startswith(code + ": ") and reasons.code_of(text) == code
    assert "MIG 3-slice instances" in cases[reasons.CAPACITY] and "per rack" in cases[reasons.CAPACITY]
    assert "1.5" in cases[reasons.QUOTA] and "1 left" in cases[reasons.QUOTA]
    assert "the best rack holds 2" in cases[reasons.LOCALITY]
    assert reasons.code_of("something else") is None
    assert "allows any model" in reasons.no_model(r) and "no GPUs" in reasons.no_model(r)
    assert "mig mode" in reasons.no_model(r, ["A100-40GB"], why="mode")
    with pytest.raises(ValueError):
        reasons.no_model(r, why="other")
    with pytest.raises(ValueError):
        reasons.reason("nope", "x")
