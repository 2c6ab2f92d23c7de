"""Tie steps (packer/cpsat/lns_tie.py, lns.TIE_STEPS): value steps whose room counts equal-value work.

The structure (tenants-106 at 1,024 GPUs, session 25): tenant a sits at its quota with a priority-1
whole-GPU gang while its priority-1 MIG request waits beside an idle MIG GPU; tenant b's priority-1
gang waits for whole GPUs that a's gang holds. Where the capacity LP prices no kind (NET_QUOTA sees
nothing), no value step is drawn at all; a tie step frees a's gang's racks and the MIG rack, and
CP-SAT trades a's gang for b's and places a's MIG request.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from packer.check import check
from packer.cpsat import lns as lns_mod
from packer.cpsat import lns_tie, lns_value
from packer.cpsat.hints import hint_plan
from packer.cpsat.lns_tie import pick_tie
from packer.cpsat.lns_value import pick_value
from packer.cpsat.model import CpsatModel
from packer.cpsat.reasons import unplaced_reasons
from packer.generate import generate
from packer.plans import build_plan
from tests.test_lns_netquota_s20 import _contested
from tests.test_lns_quota import rack_space_without


def _unpriced(monkeypatch: pytest.MonkeyPatch) -> tuple[CpsatModel, lns_mod._Space]:
    """_contested's incumbent (ga placed, gb and am waiting) with every kind priced 0 (as on tenants-106)."""
    monkeypatch.setattr(lns_value, "NET_QUOTA", False)
    model, space = rack_space_without(_contested(), "gb", "am")
    return model, space


def test_no_value_step_but_every_tie_step_frees_the_exchange(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that without prices no value or exchange step is drawn, and that every tie step (anchored
    on am or on gb) frees both racks of a's gang and the MIG rack, owning its anchor's count."""
    model, space = _unpriced(monkeypatch)
    assert space.value is not None
    for exchange in (False, True):
        assert all(pick_value(space.value, random.Random(s), space.names, space.best, exchange=exchange) is None
                   for s in range(8))
    act = {rid: model.vars.active[model.data.group_of[model.inst.request_index[rid]]].index  # type: ignore[union-attr]
           for rid in ("am", "gb")}
    owners = set()
    for s in range(8):
        got = pick_tie(space.value, random.Random(s), space.names, space.best)
        assert got is not None
        free, owned = got
        assert free == {"r0", "r1", "r2"}
        assert owned[0] in act.values()
        owners.add(owned[0])
    assert owners == set(act.values())  # both anchors are drawn


def test_a_tie_step_trades_the_gang_and_places_the_mig_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that CP-SAT on a tie step's racks gains and gives a checked plan holding gb and am."""
    model, space = _unpriced(monkeypatch)
    assert space.value is not None
    free, _ = pick_tie(space.value, random.Random(0), space.names, space.best)  # type: ignore[misc]
    found = lns_mod._step(space.sub_model(space.best, free, []), space.best_obj, seconds=5, det=None, seed=0, workers=1)
    assert found is not None and found[1] > space.best_obj
    model.values = found[0]
    placed, modes, _ = model.placement()
    assert sorted(placed) == ["am", "gb"]
    plan = build_plan(model.inst, solver="t", placed=placed, unplaced=unplaced_reasons(model.inst, placed, modes),
                      gpu_modes=modes, seed=0, wall_s=0.0, bound=None, status="feasible", solver_info={})
    assert check(model.inst, plan).ok


def test_an_lns_with_tie_steps_gains_where_one_without_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that 6 sequential steps of one-rack random steps plus value steps stay at the incumbent,
    and with tie steps on (all the non-random share) reach the trade."""
    monkeypatch.setattr(lns_mod, "TENANT_SHARE", 0.0)
    outcome = {}
    for on in (False, True):
        model, space = _unpriced(monkeypatch)
        start = space.best_obj
        proto = model.model.proto  # the LNS starts from the model's last solution: make it this incumbent
        proto.clear_solution_hint()
        proto.solution_hint.vars.extend(range(len(space.best)))
        proto.solution_hint.values.extend(space.best)
        model.solve(time_limit=5, seed=0, workers=1, params={"fix_variables_to_their_hinted_value": True})
        assert int(round(model.solver.objective_value)) == start  # type: ignore[union-attr]
        monkeypatch.setattr(lns_mod, "TIE_STEPS", on)
        monkeypatch.setattr(lns_mod, "TIE_SHARE", 0.5)
        lns_mod.lns(model, level="rack", domains_per_step=1, step_s=5.0, deadline=1e18, seed=0, workers=1,
                    steps=6, det_step=1.0)
        outcome[on] = (model.values is not None, model.lns_stats.get("tie_steps", 0), start)
    assert outcome[False][:2] == (False, 0)
    assert outcome[True][0] and outcome[True][1] >= 1


def test_off_draws_are_those_of_before(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that with TIE_STEPS off the kinds drawn, and every step's domains, are what they were
    without the tie kind in the code: the portfolio never sees a "tie" kind (sharing-0 at 8 nodes)."""
    inst = generate("sharing", seed=0, nodes=8)
    model = CpsatModel(inst)
    hint = hint_plan(inst, 0, None, online=False)
    assert hint is not None
    model.hint(hint)
    model.solve(time_limit=None, seed=0, workers=1, params={"max_deterministic_time": 0.01})
    monkeypatch.setattr(lns_mod, "TIE_STEPS", False)
    space = lns_mod._space(model, "rack")
    assert space is not None
    rng = random.Random(3)
    kinds = [space.choose_kind(rng, space.names, 1, space.best)[3] for _ in range(40)]
    assert "tie" not in kinds and "tie" not in space.portfolio.base


def test_tie_steps_on_a_small_tenants_instance_give_checked_plans_no_worse(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that on tenants-0 at 8 nodes every tie step drawn holds its anchor's count and that an LNS of
    tie steps only ends with a checked plan no worse than its start."""
    inst = generate("tenants", seed=0, nodes=8)
    model = CpsatModel(inst)
    hint = hint_plan(inst, 0, None, online=False)  # the greedy's plan: a start with waiting work
    assert hint is not None
    model.hint(hint)
    model.solve(time_limit=None, seed=0, workers=1, params={"max_deterministic_time": 0.01})
    space = lns_mod._space(model, "rack")
    assert space is not None and space.value is not None
    vals = np.asarray(space.best, dtype=np.int64)
    waiting = {w.var for w in space.value.waiting if vals[w.var] < w.top}
    for s in range(10):
        got = pick_tie(space.value, random.Random(s), space.names, space.best)
        if got is not None:
            free, owned = got
            assert owned[0] in waiting and 1 <= len(free) <= lns_tie.TIE_MAX_DOMAINS
    start = model.objective()
    monkeypatch.setattr(lns_mod, "TIE_STEPS", True)
    monkeypatch.setattr(lns_mod, "TIE_SHARE", 1.0)
    monkeypatch.setattr(lns_mod, "VALUE_SHARE", 0.0)
    monkeypatch.setattr(lns_mod, "EXCHANGE_SHARE", 0.0)
    lns_mod.lns(model, level="rack", domains_per_step=1, step_s=2.0, deadline=1e18, seed=0, workers=1,
                steps=3, det_step=0.3)
    placed, modes, _ = model.placement()
    plan = build_plan(inst, solver="t", placed=placed, unplaced=unplaced_reasons(inst, placed, modes), gpu_modes=modes,
                      seed=0, wall_s=0.0, bound=None, status="feasible", solver_info={})
    assert check(inst, plan).ok
    assert plan.objective >= start - 1e-6
