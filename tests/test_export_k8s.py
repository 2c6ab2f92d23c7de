"""Tests for packer.export.k8s: GPU Operator labels out, node labels and kubectl JSON in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from packer.catalog import Catalog
from packer.cli import main
from packer.errors import InputError
from packer.export.k8s import export_k8s_labels, instance_from_k8s, kubectl_script, mig_resource
from packer.export.layout import cluster_layout
from packer.export.migparted import export_migparted, layout_from_config, load_migparted_text
from packer.formats import load_instance, save_instance, save_plan
from packer.model import (
    Assignment,
    Instance,
    Node,
    Plan,
    Request,
    SolverInfo,
    Tenant,
    Unit,
    validate_instance,
)

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "mig" / "fixtures"
MIXED = FIXTURES / "NVIDIA-cloud-native-docs_gpu-operator_manifests_output_mig-mixed-node-labels.json"
SINGLE = FIXTURES / "NVIDIA-cloud-native-docs_gpu-operator_manifests_output_mig-node-labels.json"
CAT = Catalog.builtin()


def sample() -> tuple[Instance, Plan]:
    """Two H100 nodes: n0 all MIG (one GPU with 1g.10gb+me), n1 one MIG GPU and one full GPU."""
    u = Unit
    inst = Instance(
        name="k",
        tenants=(Tenant(id="t1"), Tenant(id="t2")),
        nodes=(
            Node(id="n0", gpu_model="H100-80GB", num_gpus=2, mode="mig"),
            Node(id="n1", gpu_model="H100-80GB", num_gpus=2, gpu_modes=("mig", "full")),
        ),
        requests=(
            Request(id="a", tenant="t1", kind="mig", profile="3g.40gb", count=3),
            Request(id="b", tenant="t2", kind="mig", profile="1g.10gb", count=2),
            Request(id="m", tenant="t2", kind="mig", profile="1g.10gb+me", count=1),
            Request(id="c", tenant="t1", kind="gpu", count=1),
        ),
    )
    plan = Plan(
        instance="k", status="feasible", objective=0.0, solver=SolverInfo(name="hand"),
        assignments=(
            Assignment(request="a", units=(u(node="n0", gpu=0, profile="3g.40gb", start=4),
                                           u(node="n0", gpu=1, profile="3g.40gb", start=4),
                                           u(node="n1", gpu=0, profile="3g.40gb", start=4))),
            Assignment(request="b", units=(u(node="n0", gpu=0, profile="1g.10gb", start=0),
                                           u(node="n0", gpu=0, profile="1g.10gb", start=1))),
            Assignment(request="m", units=(u(node="n0", gpu=1, profile="1g.10gb+me", start=0),)),
            Assignment(request="c", units=(u(node="n1", gpu=1),)),
        ),
    )
    return inst, plan


def _node_objects(labels: dict) -> dict:
    """``kubectl get nodes -o json`` for the expected labels, as GFD would publish them."""
    items = []
    for n in labels["nodes"]:
        lab = dict(n["expected"])
        lab["nvidia.com/gpu.product"] = "NVIDIA-H100-80GB-HBM3"
        cap = {k: str(v) for k, v in n["resources"].items()}
        cap.update({"cpu": "224", "memory": "2097152Ki"})
        items.append({"apiVersion": "v1", "kind": "Node", "metadata": {"name": n["name"], "labels": lab},
                      "status": {"capacity": cap}})
    return {"apiVersion": "v1", "kind": "List", "items": items}


def _profile_counts(inst: Instance) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in inst.requests:
        for u in r.placement or ():
            if u.profile:
                d = out.setdefault(u.node, {})
                d[u.profile] = d.get(u.profile, 0) + 1
    return out


def test_resource_names_write_plus_as_dot() -> None:
    """Tests the mixed-strategy resource name convention (FACTS §4.2)."""
    assert mig_resource("1g.10gb") == "nvidia.com/mig-1g.10gb"
    assert mig_resource("1g.10gb+me") == "nvidia.com/mig-1g.10gb.me"
    assert mig_resource("1g.24gb+me.all") == "nvidia.com/mig-1g.24gb.me.all"


def test_export_labels() -> None:
    """Tests that export gives mig.config to set, mixed-strategy counts to expect, and resources."""
    inst, plan = sample()
    layout = cluster_layout(inst, plan)
    labels = export_k8s_labels(inst, layout, export_migparted(inst, layout))
    n0, n1 = labels["nodes"]
    assert n0["set"] == {"nvidia.com/mig.config": "packer-n0"}
    assert n0["expected"]["nvidia.com/mig-1g.10gb.me.count"] == "1"
    assert n0["expected"]["nvidia.com/mig-3g.40gb.count"] == "2"
    assert n0["expected"]["nvidia.com/mig.strategy"] == "mixed"
    assert n0["expected"]["nvidia.com/gpu.count"] == "2"
    assert n1["resources"] == {"nvidia.com/gpu": 1, "nvidia.com/mig-3g.40gb": 1}
    script = kubectl_script(labels)
    assert "kubectl label nodes n1 nvidia.com/mig.config=packer-n1 --overwrite" in script


def _planned(inst: Instance, plan: Plan) -> Instance:
    """The instance with the plan's units as running placements."""
    units = {a.request: a.units for a in plan.assignments}
    return inst.replace(requests=[r.model_copy(update={"placement": units[r.id]}) for r in inst.requests])


def test_labels_round_trip_counts() -> None:
    """Tests plan → labels → node JSON → instance: the same MIG profile counts per node and GPU modes."""
    inst, plan = sample()
    layout = cluster_layout(inst, plan)
    back = instance_from_k8s(_node_objects(export_k8s_labels(inst, layout, export_migparted(inst, layout))))
    validate_instance(back)
    assert _profile_counts(back) == _profile_counts(_planned(inst, plan))
    assert back.node("n1").gpu_modes == ("mig", "full")
    assert back.node("n0").cpu_milli == 224000 and back.node("n0").memory_mib == 2048


def test_labels_and_config_round_trip_layout() -> None:
    """Tests that with the mig-parted file, import gives each GPU its planned instances (starts as predicted)."""
    inst, plan = sample()
    layout = cluster_layout(inst, plan)
    ex = export_migparted(inst, layout)
    configs = load_migparted_text(ex.to_yaml())
    back = instance_from_k8s(_node_objects(export_k8s_labels(inst, layout, ex)), configs=configs)
    validate_instance(back)
    got: dict[tuple[str, int], list[tuple[str | None, int | None]]] = {}
    for r in back.requests:
        for u in r.placement or ():
            got.setdefault((u.node, u.gpu), []).append((u.profile, u.start))
    for o in ex.orders:
        mine = tuple(sorted(got.get((o.node, o.gpu), []), key=lambda x: (x[1], x[0])))
        assert sorted(mine) == sorted(o.migparted or ())
        if o.migparted_matches:
            assert mine == o.planned


def test_mixed_fixture_imports_all_balanced() -> None:
    """Tests that the GPU Operator mixed-labels fixture imports to the all-balanced H100 layout."""
    inst = instance_from_k8s(json.loads(MIXED.read_text()), file=MIXED.name)
    validate_instance(inst)
    (node,) = inst.nodes
    assert (node.id, node.gpu_model, node.num_gpus, node.mode) == ("s4124-0073", "H100-80GB", 1, "mig")
    assert all(r.tenant == "default" and r.running for r in inst.requests)
    got = sorted((u.profile, u.start) for r in inst.requests for u in r.placement or ())
    # What mig-parted's all-balanced entry for H100 (config-default.yaml) is predicted to create.
    configs = load_migparted_text((FIXTURES / "NVIDIA-mig-parted_deployments_systemd_config-default.yaml").read_text())
    entries = tuple(e for e in configs["all-balanced"] if e.device_filter and "0x233010DE" in e.device_filter)
    assert entries
    want = layout_from_config(inst, entries, node.id)[0]
    assert want is not None
    assert got == sorted(want)
    assert sorted(p for p, _ in got) == ["1g.10gb", "1g.10gb", "2g.20gb", "3g.40gb"]


def test_single_strategy_fixture_is_a_full_gpu_node() -> None:
    """Tests that the single-strategy, all-disabled fixture imports as one full H100 with no requests."""
    inst = instance_from_k8s(json.loads(SINGLE.read_text()))
    (node,) = inst.nodes
    assert (node.gpu_model, node.num_gpus, node.mode) == ("H100-80GB", 1, "full")
    assert inst.requests == ()


def test_single_strategy_with_mig_devices() -> None:
    """Tests that single-strategy labels (gpu.count = MIG devices) give GPUs filled with that profile."""
    labels = {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3-MIG-1g.10gb", "nvidia.com/gpu.count": "14",
              "nvidia.com/mig.strategy": "single", "kubernetes.io/hostname": "h"}
    inst = instance_from_k8s(labels, group=True)
    validate_instance(inst)
    assert inst.nodes[0].num_gpus == 2
    (req,) = inst.requests
    assert req.count == 14 and req.profile == "1g.10gb"


def test_me_profile_label_imports() -> None:
    """Tests that ``mig-1g.10gb.me.count`` is read back as profile 1g.10gb+me."""
    labels = {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu.count": "1",
              "nvidia.com/mig.strategy": "mixed", "nvidia.com/mig-1g.10gb.me.count": "1",
              "nvidia.com/mig-1g.10gb.count": "6"}
    inst = instance_from_k8s(labels)
    validate_instance(inst)
    assert sorted(r.profile for r in inst.requests) == ["1g.10gb"] * 6 + ["1g.10gb+me"]


def test_uneven_counts_spread_over_gpus() -> None:
    """Tests that node-wide counts that do not divide evenly are packed first-fit into valid GPUs."""
    labels = {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu.count": "2",
              "nvidia.com/mig.strategy": "mixed", "nvidia.com/mig-3g.40gb.count": "3",
              "nvidia.com/mig-1g.10gb.count": "3"}
    inst = instance_from_k8s(labels)
    validate_instance(inst)
    assert _profile_counts(inst)[inst.nodes[0].id] == {"3g.40gb": 3, "1g.10gb": 3}


@pytest.mark.parametrize(
    "labels, field",
    [
        ({"nvidia.com/gpu.product": "NVIDIA-Z9000", "nvidia.com/gpu.count": "1"}, "gpu.product"),
        ({"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu.count": "x"}, "gpu.count"),
        ({"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu.count": "1",
          "nvidia.com/mig.strategy": "mixed", "nvidia.com/mig-9g.10gb.count": "1"}, "mig-9g.10gb"),
        ({"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu.count": "1",
          "nvidia.com/mig.strategy": "mixed", "nvidia.com/mig-3g.40gb.count": "3"}, "metadata.labels"),
    ],
)
def test_bad_labels_name_the_field(labels: dict, field: str) -> None:
    """Tests that unusable labels raise an InputError naming the label."""
    with pytest.raises(InputError) as e:
        instance_from_k8s(labels, file="nodes.json")
    assert field in str(e.value)


def test_no_gpu_nodes_is_an_error() -> None:
    """Tests that a node list without GPU nodes is an InputError."""
    with pytest.raises(InputError):
        instance_from_k8s({"kind": "List", "items": [{"metadata": {"name": "cpu", "labels": {"a": "b"}}}]})


def test_cli_export_and_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Tests ``packer export k8s-labels`` (JSON, .sh, --migparted) and ``packer import k8s``."""
    inst, plan = sample()
    save_instance(inst, tmp_path / "i.json")
    save_plan(plan, tmp_path / "p.json")
    base = ["export", "k8s-labels", str(tmp_path / "p.json"), "--instance", str(tmp_path / "i.json")]
    assert main(base + ["-o", str(tmp_path / "l.json"), "--migparted", str(tmp_path / "m.yaml")]) == 0
    assert main(base + ["-o", str(tmp_path / "l.sh")]) == 0
    assert "kubectl label nodes n0" in (tmp_path / "l.sh").read_text()
    labels = json.loads((tmp_path / "l.json").read_text())
    cfg = yaml.safe_load((tmp_path / "m.yaml").read_text())
    assert set(cfg["mig-configs"]) == {n["set"]["nvidia.com/mig.config"] for n in labels["nodes"]}
    (tmp_path / "nodes.json").write_text(json.dumps(_node_objects(labels)))
    assert main(["import", "k8s", str(tmp_path / "nodes.json"), "--migparted", str(tmp_path / "m.yaml"),
                 "-o", str(tmp_path / "back.json")]) == 0
    back = load_instance(tmp_path / "back.json")
    assert [n.id for n in back.nodes] == ["n0", "n1"]
    assert main(["import", "k8s", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err


def test_cli_export_skips_host_units(tmp_path: Path) -> None:
    """Tests ``packer export`` of a plan with host requests: configs and labels for GPU nodes only."""
    from tests.conftest import INSTANCES

    inst_path = INSTANCES / "features" / "host.json"
    assert main(["solve", str(inst_path), "-o", str(tmp_path / "p.json")]) == 0
    base = ["export", "k8s-labels", str(tmp_path / "p.json"), "--instance", str(inst_path)]
    assert main(base + ["-o", str(tmp_path / "l.json"), "--migparted", str(tmp_path / "m.yaml")]) == 0
    assert main(["export", "migparted", str(tmp_path / "p.json"), "--instance", str(inst_path),
                 "-o", str(tmp_path / "m2.yaml")]) == 0
    labels = json.loads((tmp_path / "l.json").read_text())
    assert [n["name"] for n in labels["nodes"]] == ["g0", "g1"]
    cfg = yaml.safe_load((tmp_path / "m2.yaml").read_text())
    assert set(cfg["mig-configs"]) == {"packer-g0", "packer-g1"}
    g1 = cfg["mig-configs"]["packer-g1"]
    assert g1[0]["mig-devices"] == {"1g.10gb": 3}
