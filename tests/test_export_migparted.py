"""Tests for packer.export.migparted and packer.export.driver: mig-parted configs out and in."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml  # the test extra must include pyyaml: a missing yaml fails these tests, it does not skip them
from hypothesis import given, settings

from packer.catalog import Catalog
from packer.errors import InputError
from packer.export.driver import DriverModel, creation_order, migparted_flatten, migparted_result
from packer.export.layout import cluster_layout
from packer.export.migparted import (
    dump_migparted,
    entry_fits,
    entry_models,
    export_migparted,
    layout_from_config,
    load_migparted_text,
    parse_migparted,
)
from packer.geometry import geometry
from packer.model import Assignment, Instance, Node, Plan, Request, SolverInfo, Tenant, Topology, Unit
from tests.strategies import instances

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "mig" / "fixtures"
YAML_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.yaml"))
CAT = Catalog.builtin()


def sample() -> tuple[Instance, Plan]:
    """Two H100 nodes (MIG, and MIG + full), one A100-40GB node (shared + any), a +me instance."""
    u = Unit
    inst = Instance(
        name="t",
        topology=Topology(levels=("node", "rack")),
        nodes=(
            Node(id="n0", gpu_model="H100-80GB", num_gpus=2, mode="mig", domains={"rack": "r0"}),
            Node(id="n1", gpu_model="H100-80GB", num_gpus=2, gpu_modes=("mig", "full"), domains={"rack": "r0"}),
            Node(id="n2", gpu_model="A100-40GB", num_gpus=2, gpu_modes=("shared", "any"), domains={"rack": "r1"}),
        ),
        tenants=(Tenant(id="acme"), Tenant(id="bank")),
        requests=(
            Request(id="a", tenant="acme", kind="mig", profile="3g.40gb", count=2),
            Request(id="b", tenant="bank", kind="mig", profile="1g.10gb", count=3),
            Request(id="c", tenant="bank", kind="gpu", count=1),
            Request(id="d", tenant="acme", kind="share", gpu_milli=300, count=2),
            Request(id="e", tenant="acme", kind="mig", profile="2g.20gb", count=1,
                    placement=(u(node="n0", gpu=1, profile="2g.20gb", start=0),)),
            Request(id="m", tenant="acme", kind="mig", profile="1g.10gb+me", count=1),
        ),
    )
    plan = Plan(
        instance="t", status="feasible", objective=0.0, solver=SolverInfo(name="hand"),
        assignments=(
            Assignment(request="a", units=(u(node="n0", gpu=0, profile="3g.40gb", start=4),
                                           u(node="n1", gpu=0, profile="3g.40gb", start=0))),
            Assignment(request="b", units=(u(node="n0", gpu=0, profile="1g.10gb", start=0),
                                           u(node="n0", gpu=0, profile="1g.10gb", start=1),
                                           u(node="n0", gpu=1, profile="1g.10gb", start=6))),
            Assignment(request="c", units=(u(node="n1", gpu=1),)),
            Assignment(request="d", units=(u(node="n2", gpu=0, gpu_milli=300), u(node="n2", gpu=0, gpu_milli=300))),
            Assignment(request="e", units=(u(node="n0", gpu=1, profile="2g.20gb", start=0),)),
            Assignment(request="m", units=(u(node="n1", gpu=0, profile="1g.10gb+me", start=5),)),
        ),
    )
    return inst, plan


def _counts_by_gpu(configs, inst: Instance, node_config: dict[str, str]) -> dict[tuple[str, int], dict | None]:
    out = {}
    for node in inst.nodes:
        if not node.num_gpus:
            assert node.id not in node_config  # nodes without GPUs get no config
            continue
        for e in configs[node_config[node.id]]:
            for g in e.gpus(node.num_gpus):
                out[(node.id, g)] = dict(e.mig_devices or {}) if e.mig_enabled else None
    return out


# ------------------------------------------------------------------------------------ fixtures


@pytest.mark.parametrize("name", YAML_FIXTURES)
def test_fixture_configs_parse(name: str) -> None:
    """Tests that every verbatim mig-parted config (plain, ConfigMap, Helm values) passes the reader."""
    configs = load_migparted_text((FIXTURES / name).read_text(), file=name)
    assert configs
    for entries in configs.values():
        assert entries and all(e.devices == "all" or e.devices for e in entries)


@pytest.mark.parametrize("name", YAML_FIXTURES)
def test_fixture_profiles_fit_the_catalog(name: str) -> None:
    """Tests that fixture entries fit one GPU of every catalog model they name (by PCI ID or profiles).

    Entries for models outside the catalog (B300, GB300, GH200 144G, ...) name profiles no catalog
    model has; they are the only ones left unchecked.
    """
    configs = load_migparted_text((FIXTURES / name).read_text(), file=name)
    known = {p.name for m in CAT for p in m.profiles}
    checked = 0
    for cname, entries in configs.items():
        for e in entries:
            if not e.mig_enabled or not e.mig_devices:
                continue
            models = entry_models(e, CAT)
            if not models:
                assert not set(e.mig_devices) <= known or e.device_filter, (cname, e)
                continue
            fits = [m.name for m in models if entry_fits(e, m) is not None]
            if e.device_filter:
                assert len(fits) == len(models), (cname, e.mig_devices, [m.name for m in models])
            else:
                assert fits, (cname, e.mig_devices)
            checked += 1
    assert checked > 0


def test_dgx_station_config_matches_a100_80gb() -> None:
    """Tests that the DGX Station file's device-filter 0x20B210DE resolves to A100-80GB and its layouts fit."""
    configs = load_migparted_text((FIXTURES / "NVIDIA-mig-parted_examples_dgx-station-80gb-config.yaml").read_text())
    entry = configs["all-balanced-dgx-station-80"][0]
    assert entry.device_filter == ("0x20B210DE",)
    assert [m.name for m in entry_models(entry, CAT)] == ["A100-80GB"]
    assert entry_fits(entry, CAT["A100-80GB"]) == (("2g.20gb", 0), ("1g.10gb", 2), ("1g.10gb", 3), ("3g.40gb", 4))


def test_helm_values_custom_config_applies_per_gpu() -> None:
    """Tests that the Helm values' per-device custom-mig config lays out GPUs 0-3 of an H100 node."""
    configs = load_migparted_text(
        (FIXTURES / "NVIDIA-cloud-native-docs_gpu-operator_manifests_input_mig-cm-values.yaml").read_text()
    )
    inst = Instance(nodes=(Node(id="n0", gpu_model="H100-80GB", num_gpus=4, mode="mig"),))
    got = layout_from_config(inst, configs["custom-mig"], "n0")
    assert got[0] is None
    assert got[1] == (("1g.10gb", 4), ("1g.10gb", 6))  # predicted starts (inferred rule)
    assert sorted(n for n, _ in got[2]) == ["2g.20gb", "2g.20gb", "3g.40gb"]
    assert got[3] == (("4g.40gb", 0), ("3g.40gb", 4))


# ------------------------------------------------------------------------------------ export


@pytest.mark.parametrize("per", ["node", "layout"])
def test_export_round_trip(per: str) -> None:
    """Tests that plan → YAML → yaml.safe_load → parse gives each GPU the plan's profile counts."""
    inst, plan = sample()
    layout = cluster_layout(inst, plan)
    ex = export_migparted(inst, layout, per=per, plan=plan)
    back = parse_migparted(yaml.safe_load(ex.to_yaml()))
    assert back == ex.configs
    counts = _counts_by_gpu(back, inst, ex.node_config)
    for g in layout.gpus:
        if g.mode == "mig":
            assert counts[(g.node, g.gpu)] == g.profile_counts()
        else:
            assert counts[(g.node, g.gpu)] is None
    assert counts[("n2", 1)] is None  # unused 'any' GPU: MIG stays off


def test_export_is_plain_yaml_for_any_parser() -> None:
    """Tests that the YAML reads the same with the strings-only BaseLoader and quotes profile names."""
    inst, plan = sample()
    text = export_migparted(inst, cluster_layout(inst, plan), plan=plan).to_yaml()
    plain = yaml.load(text, Loader=yaml.BaseLoader)  # noqa: S506 - BaseLoader builds only strings
    assert plain["version"] == "v1"
    entry = plain["mig-configs"]["packer-n0"][0]
    assert entry["devices"] == ["0"] and entry["mig-enabled"] == "true"
    assert entry["device-filter"] == ["0x233010DE", "0x233110DE", "0x232210DE"]
    assert '"1g.10gb": 2' in text and '"1g.10gb+me": 1' in text
    assert text == export_migparted(inst, cluster_layout(inst, plan), plan=plan).to_yaml()  # deterministic


def test_layout_names_write_plus_as_dot() -> None:
    """Tests that per-layout config names write ``+me`` as ``.me`` and nodes with equal layouts share one."""
    u = Unit
    inst = Instance(
        nodes=tuple(Node(id=f"n{i}", gpu_model="H100-80GB", num_gpus=1, mode="mig") for i in range(2)),
        requests=(Request(id="m", kind="mig", profile="1g.10gb+me", count=2),),
    )
    plan = Plan(instance="instance", status="feasible", objective=0, solver=SolverInfo(name="hand"),
                assignments=(Assignment(request="m", units=(u(node="n0", gpu=0, profile="1g.10gb+me", start=6),
                                                            u(node="n1", gpu=0, profile="1g.10gb+me", start=6))),))
    ex = export_migparted(inst, cluster_layout(inst, plan), per="layout")
    assert list(ex.configs) == ["packer-all-1x1g.10gb.me"]
    assert ex.node_config == {"n0": "packer-all-1x1g.10gb.me", "n1": "packer-all-1x1g.10gb.me"}


def test_full_and_shared_nodes_disable_mig() -> None:
    """Tests that a node without MIG GPUs gets one entry, devices all, mig-enabled false."""
    inst, plan = sample()
    ex = export_migparted(inst, cluster_layout(inst, plan), plan=plan)
    (entry,) = ex.configs["packer-n2"]
    assert entry.devices == "all" and entry.mig_enabled is False and entry.mig_devices is None


def test_creation_orders_are_reported_honestly() -> None:
    """Tests that each MIG GPU gets a note and that reported orders reproduce the plan under the rule."""
    inst, plan = sample()
    ex = export_migparted(inst, cluster_layout(inst, plan), plan=plan)
    by_gpu = {(o.node, o.gpu): o for o in ex.orders}
    assert by_gpu[("n0", 0)].migparted_matches  # 1g@0 1g@1 3g@4 is what mig-parted gets
    assert not by_gpu[("n1", 0)].reachable  # 3g.40gb@0 alone: the driver puts a lone 3g at 4
    for o in ex.orders:
        if o.order is not None:
            assert DriverModel(CAT[o.model]).create(o.order) == o.planned
    text = ex.to_yaml()
    assert "explicitly" in text and "inferred" in text
    data = ex.orders_json()
    assert data["gpus"][0]["planned"][0] == {"profile": "1g.10gb", "start": 0}


# ------------------------------------------------------------------------------------ driver rule


def test_driver_rule_matches_the_user_guide() -> None:
    """Tests that the inferred rule reproduces the MIG User Guide's A100-40GB observations (FACTS §2.7)."""
    drv = DriverModel(CAT["A100-40GB"])
    assert drv.create(["1g.5gb", "2g.10gb", "4g.20gb"]) == (("4g.20gb", 0), ("2g.10gb", 4), ("1g.5gb", 6))
    assert drv.create(["1g.5gb", "1g.5gb", "2g.10gb", "3g.20gb"]) is None  # the 3g-first known issue
    assert drv.create(["3g.20gb", "1g.5gb", "2g.10gb", "1g.5gb"]) == (
        ("1g.5gb", 0), ("1g.5gb", 1), ("2g.10gb", 2), ("3g.20gb", 4))  # fixture a100-sxm4-40gb_lgi_guide_3-2-1-1
    assert drv.create(["3g.20gb", "3g.20gb"]) == (("3g.20gb", 0), ("3g.20gb", 4))


def test_migparted_tries_largest_first() -> None:
    """Tests mig-parted's first order (largest G first) and that it avoids the 3g-first failure."""
    model = CAT["A100-40GB"]
    assert migparted_flatten(model, {"1g.5gb": 2, "2g.10gb": 1, "3g.20gb": 1}) == [
        "3g.20gb", "2g.10gb", "1g.5gb", "1g.5gb"]
    res = migparted_result(model, {"1g.5gb": 2, "2g.10gb": 1, "3g.20gb": 1})
    assert res is not None and res[0][0] == "3g.20gb"


@pytest.mark.parametrize("model_name", ["H100-80GB", "A30-24GB", "RTX-PRO-6000-96GB"])
def test_creation_order_for_every_maximal_layout(model_name: str) -> None:
    """Tests that for every maximal base layout the order found (if any) reproduces it exactly."""
    from packer.geometry import base_profile_names

    model = CAT[model_name]
    layouts = geometry(model).layouts(base_profile_names(model), maximal=True)
    reachable = 0
    for lay in layouts:
        o = creation_order(model, "n", 0, lay)
        if o.order is not None:
            reachable += 1
            assert DriverModel(model).create(o.order) == o.planned
    assert reachable >= len(layouts) // 2


# ------------------------------------------------------------------------------------ reader rules


BAD = {
    "top_level_key": {"version": "v1", "mig-configs": {"a": [{"devices": "all", "mig-enabled": False}]}, "x": 1},
    "version": {"version": "v2", "mig-configs": {"a": [{"devices": "all", "mig-enabled": False}]}},
    "no_configs": {"version": "v1", "mig-configs": {}},
    "empty_entries": {"version": "v1", "mig-configs": {"a": []}},
    "no_devices": {"version": "v1", "mig-configs": {"a": [{"mig-enabled": False}]}},
    "devices_word": {"version": "v1", "mig-configs": {"a": [{"devices": "some", "mig-enabled": False}]}},
    "enabled_string": {"version": "v1", "mig-configs": {"a": [{"devices": "all", "mig-enabled": "yes"}]}},
    "entry_key": {"version": "v1", "mig-configs": {"a": [{"devices": "all", "mig-enabled": True, "gpus": 1}]}},
    "profile_name": {"version": "v1", "mig-configs": {"a": [{"devices": "all", "mig-enabled": True,
                                                             "mig-devices": {"1g10gb": 1}}]}},
    "negative_count": {"version": "v1", "mig-configs": {"a": [{"devices": "all", "mig-enabled": True,
                                                               "mig-devices": {"1g.10gb": -1}}]}},
    "pci_id": {"version": "v1", "mig-configs": {"a": [{"device-filter": "H100", "devices": "all",
                                                       "mig-enabled": False}]}},
}


@pytest.mark.parametrize("defect", sorted(BAD))
def test_reader_rejects_malformed_configs(defect: str) -> None:
    """Tests that each malformed config is rejected with an InputError naming a field."""
    with pytest.raises(InputError) as e:
        parse_migparted(BAD[defect], file="bad.yaml")
    assert "bad.yaml" in str(e.value)


def test_reader_rejects_text_without_a_config() -> None:
    """Tests that YAML without mig-configs (and broken YAML) is an InputError, not a crash."""
    with pytest.raises(InputError):
        load_migparted_text("apiVersion: v1\nkind: Pod\n")
    with pytest.raises(InputError):
        load_migparted_text("version: [v1\n")


def test_dump_refuses_empty() -> None:
    """Tests that an empty config set cannot be written."""
    with pytest.raises(InputError):
        dump_migparted({})


# ------------------------------------------------------------------------------------ properties


@settings(max_examples=25)
@given(instances(host=True))
def test_running_state_round_trips(inst: Instance) -> None:
    """Tests that any instance's running MIG work exports to a config whose counts parse back per GPU."""
    layout = cluster_layout(inst)
    ex = export_migparted(inst, layout, per="layout")
    back = parse_migparted(yaml.safe_load(ex.to_yaml()))
    counts = _counts_by_gpu(back, inst, ex.node_config)
    for g in layout.gpus:
        assert counts[(g.node, g.gpu)] == (g.profile_counts() if g.mode == "mig" else None)


def test_config_names_are_valid_label_values() -> None:
    """Tests that config names from long node ids are ≤ 63 chars, label-safe, distinct and stable."""
    import re

    ids = ["node-" + "a" * 70 + "-1", "node-" + "a" * 70 + "-2", "Weird Name!"]
    inst = Instance(nodes=tuple(Node(id=i, gpu_model="H100-80GB", num_gpus=1, mode="full") for i in ids))
    ex = export_migparted(inst, cluster_layout(inst))
    names = list(ex.node_config.values())
    assert len(set(names)) == 3
    for n in names:
        assert len(n) <= 63 and re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?", n)
    assert names == list(export_migparted(inst, cluster_layout(inst)).node_config.values())
