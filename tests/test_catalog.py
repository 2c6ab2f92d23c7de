"""Tests of the built-in MIG catalog, overrides, and import from nvidia-smi text."""

from __future__ import annotations

import json

import pytest

from packer.catalog import Catalog, load_catalog_file, parse_entries
from packer.cli import main
from packer.errors import InputError
from packer.formats import instance_from_dict


def test_builtin_catalog_matches_shared(shared):
    """Tests that the packaged catalog is exactly shared/mig/catalog.json, model for model."""
    theirs = json.loads((shared / "mig" / "catalog.json").read_text())
    cat = Catalog.builtin()
    assert [m["name"] for m in theirs["models"]] == [m.name for m in cat]
    for entry in theirs["models"]:
        m = cat[entry["name"]]
        assert m.compute_slices == entry["compute_slices"]
        assert m.memory_positions == entry["memory_positions"]
        for p in entry["profiles"]:
            mine = m.profile(p["name"])
            assert mine is not None
            assert (mine.compute, mine.size, list(mine.starts), mine.max_count) == (
                p["compute"], p["memory_positions_used"], p["starts"], p["max_count"])
            assert mine.spec.inferred == p["inferred"]


def test_profile_names_depend_on_model():
    """Tests that 1g.10gb is two positions on A100-40GB but one on H100-80GB."""
    cat = Catalog.builtin()
    assert cat["A100-40GB"].profile("1g.10gb").size == 2
    assert cat["H100-80GB"].profile("1g.10gb").size == 1


def test_aliases_resolve():
    """Tests that nvidia-smi product names and short names resolve to catalog models."""
    cat = Catalog.builtin()
    assert cat.canonical("NVIDIA H100 80GB HBM3") == "H100-80GB"
    assert cat.canonical("b200") == "B200-180GB"
    assert cat.canonical("nothing") is None


def test_inferred_models_are_marked():
    """Tests that models without real -lgipp output are marked inferred, confirmed ones not."""
    cat = Catalog.builtin()
    assert cat["B200-180GB"].inferred and cat["H200-141GB"].inferred
    assert not cat["H100-80GB"].inferred and not cat["A30-24GB"].inferred


def test_override_from_file(tmp_path):
    """Tests that a catalog file replaces a model's placements without code changes."""
    cat = Catalog.builtin()
    entry = json.loads(cat["B200-180GB"].spec.model_dump_json())
    for p in entry["profiles"]:
        if p["name"] == "3g.90gb":
            p["starts"] = [4]
    path = tmp_path / "cat.json"
    path.write_text(json.dumps({"models": [entry]}))
    new = load_catalog_file(path)
    assert new["B200-180GB"].profile("3g.90gb").starts == (4,)
    assert Catalog.builtin()["B200-180GB"].profile("3g.90gb").starts == (0, 4)


def test_bad_catalog_entry_names_field():
    """Tests that a catalog entry with a start beyond the memory positions is rejected by path."""
    entry = {"name": "X", "compute_slices": 7, "memory_positions": 8,
             "profiles": [{"name": "1g.1gb", "compute": 1, "memory_positions_used": 2, "starts": [7], "max_count": 1}]}
    with pytest.raises(InputError) as err:
        parse_entries([entry], file="c.json")
    assert err.value.field == "[0]" and "exceeds" in err.value.message


def test_instance_declares_non_mig_model():
    """Tests that an instance can declare a GPU model without MIG for full and shared GPUs."""
    data = {"format": "packer.instance/v1", "catalog": [{"name": "L40S", "memory_gb": 48}],
            "nodes": [{"id": "a", "gpu_model": "L40S", "num_gpus": 2, "mode": "shared"}]}
    inst = instance_from_dict(data)
    assert not inst.gpu_catalog["L40S"].has_mig


def test_catalog_from_nvidia_smi_cli(shared, tmp_path):
    """Tests that `packer catalog from-nvidia-smi` turns H100 NVL output into a usable catalog."""
    fx = shared / "mig" / "fixtures" / "nvidia-smi"
    out = tmp_path / "nvl.json"
    rc = main(["catalog", "from-nvidia-smi", "--lgip", str(fx / "h100-nvl_lgip_driver-560.35.03.txt"),
               "--lgipp", str(fx / "h100-nvl_lgipp_driver-560.35.03.txt"), "--name", "MY-NVL", "-o", str(out)])
    assert rc == 0
    cat = load_catalog_file(out)
    m = cat["MY-NVL"]
    assert m.profile("3g.47gb").starts == (0, 4) and m.profile("1g.24gb").size == 2
    assert m.compute_slices == 7 and m.memory_positions == 8
