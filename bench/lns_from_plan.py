"""Shared set-up of the session-16 LNS diagnosis scripts: a 128-node instance, a CP-SAT model hinted
with a saved plan, and the LNS search space at the level a 60 s solve would use."""

from __future__ import annotations

from packer.cpsat import lns as L
from packer.cpsat.model import CpsatModel
from packer.cpsat.timeplan import lns_plan
from packer.generate import generate
from packer.model import Plan


def plan_space(family: str, seed: int, plan_path: str):  # type: ignore[no-untyped-def]
    """Return (instance, model, space) with the space's incumbent set to the saved plan."""
    inst = generate(family, seed=seed, nodes=128)
    with open(plan_path) as f:
        plan = Plan.model_validate_json(f.read())
    model = CpsatModel(inst)
    model.hint(plan)
    model.solve(time_limit=None, seed=0, workers=1, params={"max_deterministic_time": 0.01})
    level = lns_plan(inst, 60.0, None)
    return inst, model, L._space(model, level[0])
