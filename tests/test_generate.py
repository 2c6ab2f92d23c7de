"""Tests of the synthetic instance families."""

from __future__ import annotations

import pytest

from packer.cli import main
from packer.formats import load_instance
from packer.generate import generate


def test_same_seed_same_instance():
    """Tests that (family, seed) reproduces the instance exactly, and another seed differs."""
    assert generate("haein", 3) == generate("haein", 3)
    assert generate("haein", 3) != generate("haein", 4)


def test_family_shapes():
    """Tests the sizes the families promise."""
    assert generate("tiny", 1).num_gpus <= 8
    small = generate("small", 0)
    assert (len(small.nodes), small.num_gpus) == (8, 64)
    haein = generate("haein", 0)
    assert (len(haein.nodes), haein.num_gpus) == (128, 1024)
    assert {n.gpu_model for n in haein.nodes} == {"B200-180GB"}
    racks = {n.domains["rack"] for n in haein.nodes}
    pods = {n.domains["pod"] for n in haein.nodes}
    assert (len(racks), len(pods)) == (32, 4)
    assert 300 <= len(haein.requests) <= 600
    kinds = {r.kind for r in haein.requests}
    assert kinds == {"mig", "gpu", "share"}
    assert any(r.placement for r in haein.requests) and any(r.movable for r in haein.requests)
    assert len({r.tenant for r in haein.requests}) >= 4
    assert any(r.locality and r.locality.level in ("rack", "pod") for r in haein.requests)


def test_demand_above_capacity():
    """Tests that haein asks for more GPU-equivalents than the cluster has, and demand scales it."""
    def asked(inst):
        total = 0.0
        for r in inst.requests:
            if r.kind == "gpu":
                total += r.count
            elif r.kind == "share":
                total += r.count * r.gpu_milli / 1000
            else:
                total += r.count * (r.slices or int(r.profile.split("g.")[0])) / 7
        return total / inst.num_gpus

    assert asked(generate("haein", 0)) > 1.2
    assert 0.9 < asked(generate("haein", 0, demand=1.0)) < 1.15


@pytest.mark.parametrize("family", ["tiny", "small"])
def test_cli_generate(family, tmp_path):
    """Tests that `packer generate` writes a loadable instance equal to the library's."""
    out = tmp_path / "i.json"
    assert main(["generate", family, "--seed", "2", "-o", str(out)]) == 0
    assert load_instance(out) == generate(family, 2)


def test_haein_mix_on_fewer_nodes(tmp_path):
    """Tests that `nodes` gives the haein mix on that many nodes, from the library and the CLI."""
    inst = generate("haein", 1, nodes=16)
    assert (len(inst.nodes), inst.num_gpus, inst.name) == (16, 128, "haein16-1")
    assert {r.kind for r in inst.requests} == {"mig", "gpu", "share"}
    out = tmp_path / "h.json"
    assert main(["generate", "haein", "--seed", "1", "--nodes", "16", "-o", str(out)]) == 0
    assert load_instance(out) == inst
    with pytest.raises(ValueError):
        generate("small", 0, nodes=4)
    assert main(["generate", "small", "--nodes", "4", "-o", str(tmp_path / "s.json")]) == 2
    assert not (tmp_path / "s.json").exists()
