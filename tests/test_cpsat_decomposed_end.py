"""The decomposed solve's last step, converting the merged placement into a plan, stops at the time
limit instead of running late (sharing2048-100 at 300 s: 61 s of conversion against a 16 s reserve at
load 7). Past it the search's placement is still the plan (it is worth at least the hint's): the
unplaced requests whose binding rule was not found by then carry the time-limit reason."""

from __future__ import annotations

import time

import pytest

from packer import reasons
from packer.check import check
from packer.generate import generate
from packer.plans import build_plan


def _poor_hint(inst):  # type: ignore[no-untyped-def]
    """Running work where it runs, nothing new placed."""
    placed = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    return build_plan(inst, solver="test", placed=placed,
                      unplaced={r.id: "objective: test" for r in inst.requests if r.id not in placed},
                      gpu_modes={}, seed=0, wall_s=0.0, bound=None, status="feasible", solver_info={})


@pytest.mark.parametrize("in_time", [True, False])
def test_conversion_stops_at_the_limit_and_keeps_the_search_plan(monkeypatch: pytest.MonkeyPatch,
                                                                  in_time: bool) -> None:
    """Tests that the conversion gets the limit (less the writing margin) as its deadline, and that the
    plan is the merged (better) placement whether or not the reasons are all found by then; the ones
    not found say so."""
    import packer.cpsat.search as search
    from packer.cpsat import tuning
    from packer.cpsat.timeplan import time_left

    seen: list[float | None] = []
    real = search.reasons_until

    def conversion(inst, placed, modes, deadline, **kw):  # type: ignore[no-untyped-def]
        seen.append(deadline)
        # Not in time: a deadline already passed, so no reason is found.
        return real(inst, placed, modes, deadline if in_time else 0.0, **kw)

    monkeypatch.setattr(search, "reasons_until", conversion)
    inst = generate("small", seed=3)
    hint = _poor_hint(inst)
    start = time.perf_counter()
    plan = search.solve_decomposed(inst, hint, seed=0, workers=1, start=start, left=time_left(inst, 6.0, start),
                                   info={})
    rep = check(inst, plan)
    assert rep.ok, [(v.kind, v.message) for v in rep.violations]
    assert len(seen) == 1 and seen[0] is not None
    assert start + 6.0 - tuning.RESERVE_S - 0.5 <= seen[0] <= start + 6.0 + 1e-6
    extra = plan.solver.model_extra
    assert plan.objective > hint.objective and not extra.get("from_hint")
    codes = {reasons.code_of(u.reason) for u in plan.unplaced}
    if in_time:
        assert reasons.TIME_LIMIT not in codes and "conversion" not in extra
    else:
        assert plan.unplaced and codes == {reasons.TIME_LIMIT}
        assert "not found by the time limit" in extra["conversion"]  # type: ignore[index]
