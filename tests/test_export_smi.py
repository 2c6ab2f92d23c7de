"""Tests for packer.export.smi: running MIG instances from ``nvidia-smi mig -lgi`` text."""

from __future__ import annotations

from pathlib import Path

import pytest

from packer.cli import main
from packer.errors import InputError
from packer.export.smi import SmiNode, instance_from_nvidia_smi, lgi_text
from packer.formats import load_instance
from packer.model import Instance, Node, Request, Unit, validate_instance

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "mig" / "fixtures"
SMI = FIXTURES / "nvidia-smi"

#: Every -lgi fixture with the model to read it as and the exact (gpu, profile, start) it holds.
LGI = {
    "a100-sxm4-40gb_lgi_guide_2-1-1-1-1-1.txt": ("A100-40GB", [
        (0, "1g.5gb", 0), (0, "1g.5gb", 1), (0, "1g.5gb", 2), (0, "1g.5gb", 3), (0, "2g.10gb", 4), (0, "1g.5gb", 6)]),
    "a100-sxm4-40gb_lgi_guide_2x3g.20gb.txt": ("A100-40GB", [(0, "3g.20gb", 0), (0, "3g.20gb", 4)]),
    "a100-sxm4-40gb_lgi_guide_3-2-1-1.txt": ("A100-40GB", [
        (0, "1g.5gb", 0), (0, "1g.5gb", 1), (0, "2g.10gb", 2), (0, "3g.20gb", 4)]),
    "a30_lgi_2x1g.6gb_1x2g.12gb.txt": ("A30-24GB", [(0, "1g.6gb", 0), (0, "1g.6gb", 1), (0, "2g.12gb", 2)]),
    "a30_lgi_4x1g.6gb.txt": ("A30-24GB", [(0, "1g.6gb", s) for s in range(4)]),
    "a30_lgi_no-instances.txt": ("A30-24GB", []),
    "h100-80gb-hbm3_lgi_7x1g.10gb.txt": ("H100-80GB", [(0, "1g.10gb", s) for s in range(7)]),
    "rtx-pro-6000-blackwell-server_lgi_2g.48gb+2x1g.24gb.txt": ("RTX-PRO-6000-96GB", [
        (0, "2g.48gb", 0), (0, "1g.24gb", 6), (0, "1g.24gb", 9)]),
    "rtx-pro-6000-blackwell-server_lgi_4x1g.24gb.txt": ("RTX-PRO-6000-96GB", [(0, "1g.24gb", s) for s in (0, 3, 6, 9)]),
}


def _placements(inst: Instance) -> list[tuple[int, str | None, int | None]]:
    return sorted((u.gpu, u.profile, u.start) for r in inst.requests for u in r.placement or ())


def test_every_lgi_fixture_is_covered() -> None:
    """Tests that the table above names every -lgi fixture there is."""
    assert sorted(p.name for p in SMI.glob("*_lgi_*")) == sorted(LGI)


@pytest.mark.parametrize("name", sorted(LGI))
def test_lgi_fixture_imports_exact_placements(name: str) -> None:
    """Tests that each -lgi fixture imports to exactly its placements, as running default-tenant requests."""
    model, want = LGI[name]
    inst = instance_from_nvidia_smi([SmiNode(id="n0", lgi_text=(SMI / name).read_text(), model=model, file=name)])
    validate_instance(inst)
    assert inst.nodes[0].gpu_model == model and inst.nodes[0].mode == "mig"
    assert _placements(inst) == sorted(want)
    assert all(r.tenant == "default" and r.running and not r.movable for r in inst.requests)


def test_model_is_inferred_when_unambiguous() -> None:
    """Tests that the model comes from profile names/sizes when one catalog model fits, else an error."""
    text = (SMI / "a30_lgi_4x1g.6gb.txt").read_text()
    assert instance_from_nvidia_smi([SmiNode(id="n0", lgi_text=text)]).nodes[0].gpu_model == "A30-24GB"
    with pytest.raises(InputError, match="several models fit"):
        instance_from_nvidia_smi([SmiNode(id="n0", lgi_text=(SMI / "h100-80gb-hbm3_lgi_7x1g.10gb.txt").read_text())])


def test_model_from_nvidia_smi_list() -> None:
    """Tests that ``nvidia-smi -L`` gives the model (GPU name) and the GPU count."""
    listing = (FIXTURES / "NVIDIA-cloud-native-docs_gpu-operator_manifests_output_mig-nvidia-smi.txt").read_text()
    inst = instance_from_nvidia_smi(
        [SmiNode(id="n0", lgi_text=(SMI / "h100-80gb-hbm3_lgi_7x1g.10gb.txt").read_text(), list_text=listing)]
    )
    assert (inst.nodes[0].gpu_model, inst.nodes[0].num_gpus) == ("H100-80GB", 1)


def test_wrong_model_names_the_instance() -> None:
    """Tests that a placement the model cannot have is an InputError naming the GPU instance."""
    with pytest.raises(InputError, match="instance"):
        instance_from_nvidia_smi([SmiNode(id="n0", lgi_text=(SMI / "a30_lgi_4x1g.6gb.txt").read_text(),
                                          model="H100-80GB")])


def test_mig_off_message_gives_full_gpus() -> None:
    """Tests that "No MIG-enabled devices found." imports as full-mode GPUs with no requests."""
    inst = instance_from_nvidia_smi([SmiNode(id="n0", lgi_text="No MIG-enabled devices found.\n",
                                             model="H100-80GB", num_gpus=8)])
    assert inst.nodes[0].mode == "full" and inst.nodes[0].num_gpus == 8 and inst.requests == ()


def test_round_trip_through_lgi_text() -> None:
    """Tests instance → -lgi text → instance: the same placements, grouped per profile when asked."""
    u = Unit
    inst = Instance(
        nodes=(Node(id="a", gpu_model="H100-80GB", num_gpus=2, mode="mig"),),
        requests=(
            Request(id="x", kind="mig", profile="3g.40gb", count=2,
                    placement=(u(node="a", gpu=0, profile="3g.40gb", start=0), u(node="a", gpu=1, profile="3g.40gb",
                                                                                start=4))),
            Request(id="y", kind="mig", profile="1g.20gb", count=1,
                    placement=(u(node="a", gpu=1, profile="1g.20gb", start=2),)),
            Request(id="z", kind="mig", profile="1g.10gb+me", count=1,
                    placement=(u(node="a", gpu=0, profile="1g.10gb+me", start=6),)),
        ),
    )
    text = lgi_text(inst, "a")
    back = instance_from_nvidia_smi([SmiNode(id="a", lgi_text=text, model="H100-80GB", num_gpus=2)], group=True,
                                    movable=True)
    validate_instance(back)
    assert _placements(back) == _placements(inst)
    assert sorted(r.profile or "" for r in back.requests) == ["1g.10gb+me", "1g.20gb", "3g.40gb"]
    assert all(r.movable for r in back.requests)


def test_cli_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Tests ``packer import nvidia-smi`` with two nodes, and exit 2 on an ambiguous model."""
    out = tmp_path / "i.json"
    a30 = str(SMI / "a30_lgi_2x1g.6gb_1x2g.12gb.txt")
    h100 = str(SMI / "h100-80gb-hbm3_lgi_7x1g.10gb.txt")
    assert main(["import", "nvidia-smi", "--lgi", a30, "--lgi", h100, "--node", "x", "--node", "y",
                 "--model", "A30-24GB", "--model", "H100-80GB", "--num-gpus", "4", "-o", str(out)]) == 0
    inst = load_instance(out)
    assert [(n.id, n.gpu_model, n.num_gpus) for n in inst.nodes] == [("x", "A30-24GB", 4), ("y", "H100-80GB", 4)]
    assert len(inst.requests) == 10
    assert main(["import", "nvidia-smi", "--lgi", h100]) == 2
    assert "pass --model" in capsys.readouterr().err
