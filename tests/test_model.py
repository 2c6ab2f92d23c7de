"""Tests of the data model, the instance/plan formats and their error messages."""

from __future__ import annotations

import json

import pytest
from hypothesis import given

from packer.cli import main
from packer.errors import InputError
from packer.formats import instance_from_dict, instance_to_dict, load_instance, load_plan, parse_json
from packer.model import Instance, Plan
from tests.conftest import INSTANCES
from tests.strategies import instances

MALFORMED = sorted((INSTANCES / "malformed").glob("*.json"))
FEATURES = sorted((INSTANCES / "features").glob("*.json"))

#: The field path each malformed file's error must name (None: the file as a whole).
EXPECTED_FIELD = {
    "dangling-node": "requests[2].placement[0].node",
    "dangling-tenant": "requests[0].tenant",
    "duplicate-json-key": None,
    "duplicate-request-id": "requests[2].id",
    "gpu-index-out-of-range": "requests[2].placement[0].gpu",
    "gpu-modes-length": "nodes[0]",
    "host-with-gpu-models": "requests[1].gpu_models",
    "illegal-start": "requests[2].placement[0].start",
    "malformed-json": None,
    "mig-on-non-mig-model": "nodes[0].mode",
    "min-count-above-count": "requests[0]",
    "negative-count": "requests[0].count",
    "overlapping-running": "requests[3].placement[0]",
    "running-on-any-gpu": "requests[2].placement[0].gpu",
    "share-without-milli": "requests[2]",
    "unknown-field": "nodes[0].colour",
    "unknown-gpu-model": "nodes[0].gpu_model",
    "unknown-level": "requests[0].locality.level",
    "unknown-profile": "requests[0].profile",
    "wrong-format": "format",
}


def test_every_malformed_file_has_an_expectation():
    """Tests that each malformed instance file is listed with the field its error must name."""
    assert {p.stem for p in MALFORMED} == set(EXPECTED_FIELD)


@pytest.mark.parametrize("path", MALFORMED, ids=[p.stem for p in MALFORMED])
def test_malformed_instances_are_rejected(path):
    """Tests that every malformed instance is rejected with an error naming the file and field."""
    with pytest.raises(InputError) as err:
        load_instance(path)
    assert err.value.file == str(path)
    assert err.value.field == EXPECTED_FIELD[path.stem]
    assert str(path) in str(err.value)


@pytest.mark.parametrize("path", MALFORMED, ids=[p.stem for p in MALFORMED])
def test_cli_exits_2_without_writing(path, tmp_path, capsys):
    """Tests that `packer solve` on a malformed file exits 2, names the file, writes nothing."""
    out = tmp_path / "plan.json"
    assert main(["solve", str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "Traceback" not in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", FEATURES, ids=[p.stem for p in FEATURES])
def test_feature_instances_load(path):
    """Tests that every feature instance loads and round-trips through JSON unchanged."""
    inst = load_instance(path)
    again = instance_from_dict(json.loads(json.dumps(instance_to_dict(inst))))
    assert again == inst


@given(instances(host=True))
def test_instance_json_round_trips(inst):
    """Tests that any valid instance survives JSON out and back in unchanged."""
    text = json.dumps(instance_to_dict(inst))
    assert instance_from_dict(parse_json(text, file="x")) == inst


def test_spec_example_plan_parses(tmp_path):
    """Tests that SPEC §4's example plan is accepted by the plan reader, `from` included."""
    plan = {
        "format": "packer.plan/v1", "instance": "tiny-h100", "status": "optimal", "objective": 9.57,
        "bound": 9.57, "solver": {"name": "cpsat", "seed": 0, "wall_s": 0.41},
        "assignments": [{"request": "nb-7", "units": [{"node": "n0", "gpu": 2, "gpu_milli": 470}]}],
        "unplaced": [{"request": "x-9", "reason": "no rack has 64 free GPUs"}],
        "migrations": [{"request": "old-3", "from": [{"node": "n0", "gpu": 1, "profile": "3g.40gb", "start": 4}],
                        "to": [{"node": "n2", "gpu": 5, "profile": "3g.40gb", "start": 0}]}],
        "gpu_modes": [{"node": "n3", "gpu": 0, "mode": "mig"}],
        "metrics": {"utilization": 0.83, "placed_requests": 41, "unplaced_requests": 3},
    }
    path = tmp_path / "p.json"
    path.write_text(json.dumps(plan))
    p = load_plan(path)
    assert p.migrations[0].from_[0].start == 4
    out = p.to_json_dict()
    assert out["migrations"][0]["from"][0] == {"node": "n0", "gpu": 1, "profile": "3g.40gb", "start": 4}
    assert out["assignments"][0]["units"][0] == {"node": "n0", "gpu": 2, "gpu_milli": 470}


def test_plan_rejects_unknown_status(tmp_path):
    """Tests that a plan with a status outside SPEC's four is malformed (exit 2 in the CLI)."""
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"format": "packer.plan/v1", "instance": "x", "status": "great",
                                "objective": 1, "solver": {"name": "x"}}))
    with pytest.raises(InputError) as err:
        load_plan(path)
    assert err.value.field == "status"


def test_schemas_name_the_formats():
    """Tests that the JSON Schemas describe the SPEC's top-level fields."""
    s = Instance.model_json_schema(by_alias=True)
    assert {"format", "nodes", "requests", "tenants", "topology", "objective"} <= set(s["properties"])
    p = Plan.model_json_schema(by_alias=True)
    assert {"assignments", "unplaced", "migrations", "gpu_modes", "bound", "status"} <= set(p["properties"])


def test_implicit_default_tenant():
    """Tests that requests without a tenant belong to an implicit 'default' tenant without quota."""
    inst = load_instance(INSTANCES / "features" / "share.json")
    assert inst.requests[0].tenant == "default"
    assert inst.tenant_map["default"].max_gpus is None


def test_schema_lists_the_host_kind():
    """Tests that the instance schema offers kind 'host' and that a unit's gpu may be left out."""
    s = Instance.model_json_schema(by_alias=True)
    assert "host" in s["$defs"]["Request"]["properties"]["kind"]["enum"]
    assert s["$defs"]["Unit"]["required"] == ["node"]


def _host_instance(**req) -> dict:  # type: ignore[no-untyped-def]
    return {
        "format": "packer.instance/v1", "name": "h",
        "nodes": [{"id": "g", "gpu_model": "H100-80GB", "num_gpus": 1, "mode": "full"},
                  {"id": "c", "num_gpus": 0, "cpu_milli": 8000}],
        "requests": [{"id": "x", "kind": "host", **req}],
    }


@pytest.mark.parametrize("field,value", [
    ("gpu_models", ["H100-80GB"]), ("gpu_milli", 100), ("profile", "1g.10gb"), ("slices", 1), ("min_memory_gib", 5.0),
])
def test_host_request_rejects_gpu_fields(field, value):
    """Tests that each GPU-only field on a host request is an error naming that field."""
    with pytest.raises(InputError) as err:
        instance_from_dict(_host_instance(**{field: value}), file="h.json")
    assert err.value.field == f"requests[0].{field}" and "host" in err.value.message


def test_host_request_shapes():
    """Tests host requests: zero CPU and memory allowed, node-only units, no level 'gpu', size 0."""
    inst = instance_from_dict(_host_instance(count=2, placement=[{"node": "c"}, {"node": "g"}]))
    r = inst.requests[0]
    assert r.kind == "host" and r.cpu_milli == 0 and r.memory_mib == 0
    assert [u.gpu for u in r.placement] == [None, None]
    assert inst.unit_size(r, r.placement[0]) == 0.0
    assert instance_to_dict(inst)["requests"][0]["placement"] == [{"node": "c"}, {"node": "g"}]
    for bad, field in [({"placement": [{"node": "g", "gpu": 0}]}, "requests[0].placement[0].gpu"),
                       ({"placement": [{"node": "c", "start": 0}]}, "requests[0].placement[0].start"),
                       ({"placement": [{"node": "nope"}]}, "requests[0].placement[0].node"),
                       ({"locality": {"level": "gpu"}}, "requests[0].locality"),
                       ({"spread": {"level": "gpu", "max_per_domain": 1}}, "requests[0].spread")]:
        with pytest.raises(InputError) as err:
            instance_from_dict(_host_instance(**bad))
        assert err.value.field == field
    data = _host_instance()
    data["requests"] = [{"id": "w", "kind": "gpu", "placement": [{"node": "g"}]}]
    with pytest.raises(InputError) as err:
        instance_from_dict(data)
    assert err.value.field == "requests[0].placement[0].gpu"


def test_model_copy_drops_the_derived_lookups_of_the_old_fields():
    inst = load_instance(INSTANCES / "default.json")
    assert inst.num_gpus > 0 and inst.node_index  # computed and cached on the original
    fewer = inst.model_copy(update={"nodes": inst.nodes[:1]})
    assert fewer.num_gpus == inst.nodes[0].num_gpus
    assert list(fewer.node_index) == [inst.nodes[0].id]
    assert fewer.cluster_topology is not inst.cluster_topology
    assert inst.num_gpus > fewer.num_gpus  # the original keeps its own
