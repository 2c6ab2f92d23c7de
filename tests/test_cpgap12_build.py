"""The full model's constraint builder lists a class's placement variables per pool once (session 12)."""

from __future__ import annotations

import pytest
from ortools.sat.python import cp_model

from packer.cpsat.constraints import Constraints
from packer.cpsat.data import pool_of
from packer.cpsat.model import CpsatModel
from packer.generate import generate


@pytest.mark.parametrize("family", ["tenants", "sharing", "inference", "hetero"])
def test_pool_units_are_the_class_variables_of_that_pool_in_order(family: str) -> None:
    """Tests that the cached per-pool lists hold exactly the class's placement variables whose group is
    in that pool, in the class's order, and that asking twice gives the same list."""
    model = CpsatModel(generate(family, seed=1, nodes=8))
    cons = Constraints(model.data, cp_model.CpModel(), model.vars)
    pools_seen = 0
    for c in model.data.classes:
        for pool in model.data.pools[c.index]:
            want = [(gi, o, var) for gi, o, var in cons.by_class[c.index]
                    if pool_of(model.data.inst, model.data.groups[gi].req) == pool]
            got = cons._pool_units(c.index, pool)
            assert [(gi, o, var.index) for gi, o, var in got] == [(gi, o, var.index) for gi, o, var in want]
            assert cons._pool_units(c.index, pool) is got
            pools_seen += bool(got)
    assert pools_seen > 0


def test_share_rows_per_size_hold_the_units_of_that_size() -> None:
    """Tests that in a model with aggregated share classes, every row over pattern variables and share
    units holds units of one milli size only (one row per size), and that there are such rows."""
    model = CpsatModel(generate("sharing", seed=0, nodes=8))
    size_of = {var.index: model.data.groups[gi].req.gpu_milli for (gi, _, _), var in model.vars.x.items()
               if model.data.groups[gi].req.kind == "share"}
    patterns = {var.index for var in model.vars.pattern.values()}
    assert patterns, "the instance has no aggregated share class"
    per_size_rows = 0
    for ct in model.model.proto.constraints:
        vs = list(ct.linear.vars)
        if not any(v in patterns for v in vs):
            continue
        units = [v for v in vs if v in size_of]
        if units:
            # A row over a class's patterns and its share units is one size's slots: never mixed sizes.
            assert len({size_of[v] for v in units}) == 1
            per_size_rows += 1
    assert per_size_rows > 0
