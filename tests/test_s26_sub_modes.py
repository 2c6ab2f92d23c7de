"""Tests the batch decomposition's sub-instances where work crossing a domain's border sits on GPUs in
mode 'any' (session 26): pinned in the sub-instance, such work fixes its GPUs' modes there, as the
re-optimizer's move steps already did. Before, 6 of haein-104's 32 rack sub-instances and 4 of its
4 pod sub-instances (from a reproducible 40-step plan, bench/tenants25_h104_det40_plan.json) failed
the instance checks ("running work cannot sit on a GPU in mode 'any'")."""

from __future__ import annotations

from pathlib import Path

import pytest

from packer.cpsat.decompose import _sub_instance
from packer.generate import generate
from packer.model import MODE_OF_KIND, Plan, validate_instance

PLAN = Path(__file__).resolve().parents[1] / "bench" / "tenants25_h104_det40_plan.json"


@pytest.mark.parametrize("level", ["rack", "pod"])
def test_every_domain_sub_instance_passes_the_instance_checks(level: str) -> None:
    """Tests that every domain's sub-instance validates, that a pinned unit's GPU that was 'any' now has
    its kind's mode, and that GPUs without pinned work keep their mode."""
    inst = generate("haein", seed=104, nodes=128)
    plan = Plan.model_validate_json(PLAN.read_text())
    placed = {a.request: list(a.units) for a in plan.assignments}
    fixed = 0
    for nodes in inst.cluster_topology.domains(level).values():
        sub, _ = _sub_instance(inst, placed, set(nodes), 0, offer=10**6, rule="fit")
        validate_instance(sub)
        assert [n.id for n in sub.nodes] == [n.id for n in inst.nodes if n.id in set(nodes)]
        pinned = {(u.node, u.gpu): r.kind for r in sub.requests if r.placement is not None for u in r.placement}
        for n in sub.nodes:
            orig = inst.node(n.id)
            for g in range(n.num_gpus):
                if orig.gpu_mode(g) == "any" and (n.id, g) in pinned:
                    assert n.gpu_mode(g) == MODE_OF_KIND[pinned[(n.id, g)]]
                    fixed += 1
                else:
                    assert n.gpu_mode(g) == orig.gpu_mode(g)
    assert fixed > 0  # the plan does put crossing work on 'any' GPUs at this level
