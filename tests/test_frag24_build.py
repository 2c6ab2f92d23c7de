"""Tests of session 24's build memo (packer.cpsat.variables.MEMO): the CP-SAT model built with each unit
cap, placement bound and objective coefficient remembered is the model built without, to the byte, on
every instance family (so every solve, and every re-optimization step, searches the same model)."""

from __future__ import annotations

import pytest

from packer.cpsat import variables
from packer.cpsat.bound import proto_copy
from packer.cpsat.constraints import _ub
from packer.cpsat.model import CpsatModel
from packer.generate import generate
from packer.greedy import solve as greedy_solve
from packer.model import Instance


def _proto(inst: Instance, memo: bool, hint: bool = False) -> bytes:
    was = variables.MEMO
    variables.MEMO = memo
    try:
        m = CpsatModel(inst)
        if hint:
            m.hint(greedy_solve(inst))
        p = proto_copy(m.model)
    finally:
        variables.MEMO = was
    assert p is not None
    return p.SerializeToString(deterministic=True)


@pytest.mark.parametrize("family", ["haein", "training", "inference", "sharing", "hetero", "tenants", "fragmented",
                                    "adversarial", "quota", "isolated"])
def test_memo_builds_the_same_model(family: str) -> None:
    """Tests that with MEMO on and off the model proto (variables, domains, rows, objective, and the
    greedy plan's hint) is byte for byte the same on an 8-node instance of each family (fragmented:
    running work, movable or not; isolated / tenants: node ownership; sharing: share patterns)."""
    inst = generate(family, 1, nodes=8)
    on = _proto(inst, True, hint=True)
    off = _proto(inst, False, hint=True)
    assert on == off
    assert len(on) > 1000


def test_memo_fills_the_bounds_the_rules_read() -> None:
    """Tests that with MEMO every placement variable's remembered bound is its domain's upper end (what
    the rules read from the proto without it), and that without MEMO nothing is remembered."""
    inst = generate("fragmented", 2, nodes=8)
    was = variables.MEMO
    try:
        variables.MEMO = True
        m = CpsatModel(inst)
        assert len(m.vars.x_ub) == len(m.vars.x) > 0
        for var in m.vars.x.values():
            dom = var.proto.domain  # OR-Tools' repeated field: no negative index
            assert m.vars.x_ub[id(var)] == int(dom[len(dom) - 1]) == _ub(var)
        variables.MEMO = False
        assert CpsatModel(inst).vars.x_ub == {}
    finally:
        variables.MEMO = was
