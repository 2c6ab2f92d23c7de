"""One request-size definition: :meth:`Instance.request_unit_size` and friends."""

from __future__ import annotations

import pytest

from packer.model import Instance, Unit


def _inst(models: list[str], requests: list[dict]) -> Instance:  # type: ignore[type-arg]
    nodes = [{"id": f"n{i}", "gpu_model": m, "num_gpus": 2, "mode": "any"} for i, m in enumerate(models)]
    return Instance.model_validate({"nodes": nodes, "requests": requests})


def test_sizes_by_kind() -> None:
    inst = _inst(["H100-80GB"], [
        {"id": "g", "kind": "gpu", "count": 3},
        {"id": "s", "kind": "share", "gpu_milli": 250, "count": 2},
        {"id": "h", "kind": "host", "cpu_milli": 100},
        {"id": "p", "kind": "mig", "profile": "3g.40gb", "count": 2},
        {"id": "k", "kind": "mig", "slices": 2},
    ])
    size = {r.id: inst.request_size(r) for r in inst.requests}
    assert size == pytest.approx({"g": 3.0, "s": 0.5, "h": 0.0, "p": 6 / 7, "k": 2 / 7})
    assert inst.request_unit_size(inst.request("p")) == pytest.approx(3 / 7)


def test_mig_size_follows_the_model_not_a_fixed_seven() -> None:
    # B200 has 7 compute slices too but A30 has 4: a 1-slice unit is a quarter GPU there.
    inst = _inst(["A30-24GB"], [{"id": "k", "kind": "mig", "slices": 1}])
    assert inst.request_unit_size(inst.requests[0]) == pytest.approx(1 / 4)


def test_mig_size_is_the_smallest_over_the_models_present() -> None:
    inst = _inst(["A30-24GB", "H100-80GB"], [{"id": "k", "kind": "mig", "slices": 1}])
    assert inst.request_unit_size(inst.requests[0]) == pytest.approx(1 / 7)
    only = _inst(["A30-24GB", "H100-80GB"], [{"id": "k", "kind": "mig", "slices": 1, "gpu_models": ["A30-24GB"]}])
    assert only.request_unit_size(only.requests[0]) == pytest.approx(1 / 4)


def test_unit_size_matches_the_placed_unit() -> None:
    inst = _inst(["H100-80GB"], [{"id": "p", "kind": "mig", "slices": 3}, {"id": "s", "kind": "share", "gpu_milli": 300}])
    r = inst.request("p")
    u = Unit(node="n0", gpu=0, profile="3g.40gb", start=0)
    assert inst.unit_size(r, u) == pytest.approx(3 / 7) == inst.unit_size_on(r, inst.model_of(inst.nodes[0]), "3g.40gb")
    assert inst.unit_size(inst.request("s"), Unit(node="n0", gpu=1, gpu_milli=300)) == pytest.approx(0.3)
