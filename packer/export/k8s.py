"""Kubernetes: node labels for the GPU Operator from a plan, and cluster state back from node labels.

Export (:func:`export_k8s_labels`). Per node:

- ``set``: the one label an operator applies, ``nvidia.com/mig.config=<config>`` naming a config of the
  mig-parted file from :func:`packer.export.migparted.export_migparted` (the GPU Operator's
  mig-manager then reconfigures the node);
- ``expected``: the labels gpu-feature-discovery should publish afterwards with the ``mixed``
  strategy (``nvidia.com/mig.strategy``, ``nvidia.com/gpu.count`` = physical GPUs,
  ``nvidia.com/mig-<profile>.count`` with ``+`` written as ``.``), to compare with the live node;
- ``resources``: the extended resources the device plugin should advertise (``nvidia.com/gpu`` for
  full and shared GPUs, ``nvidia.com/mig-<profile>`` per profile).

Import (:func:`instance_from_k8s`) reads ``kubectl get nodes -o json`` (a ``List`` of ``Node``), one
``Node`` object, or a bare label map (as in the GPU Operator docs). Labels carry counts, not
placements or owners, so:

- MIG counts come from ``nvidia.com/mig-<p>.count`` (mixed) or ``nvidia.com/gpu.product`` ending in
  ``-MIG-<p>`` with ``nvidia.com/gpu.count`` (single), else from ``status.capacity``;
- node-wide counts are split over the node's MIG GPUs (evenly when they divide, else first fit), and
  each GPU's starts are the ones mig-parted is predicted to produce (inferred driver rule,
  :mod:`packer.export.driver`);
- every MIG instance becomes a running request of tenant ``default`` (tenants are not in labels),
  one per instance, or one per (node, profile) with ``group=True``; whole and shared GPUs get no
  requests, since pods are not in node labels.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from packer.catalog import Catalog, GpuModel
from packer.errors import InputError
from packer.export.driver import find_layout
from packer.export.layout import ClusterLayout
from packer.export.migparted import MigConfigs, MigPartedExport, apply_entries
from packer.model import Instance, Node, Request, Unit

MIG_CONFIG = "nvidia.com/mig.config"
MIG_STRATEGY = "nvidia.com/mig.strategy"
GPU_COUNT = "nvidia.com/gpu.count"
GPU_PRODUCT = "nvidia.com/gpu.product"
_MIG_COUNT_RE = re.compile(r"^nvidia\.com/mig-(.+)\.count$")
_MIG_RESOURCE_RE = re.compile(r"^nvidia\.com/mig-(.+)$")


def resource_profile(profile: str) -> str:
    """The resource-name form of a profile: ``1g.10gb+me`` → ``1g.10gb.me`` (``+`` becomes ``.``)."""
    return profile.replace("+", ".")


def mig_resource(profile: str) -> str:
    """``nvidia.com/mig-<profile>`` with ``+`` written as ``.``."""
    return f"nvidia.com/mig-{resource_profile(profile)}"


def export_k8s_labels(inst: Instance, layout: ClusterLayout, mig: MigPartedExport) -> dict[str, Any]:
    """Labels to set, labels to expect, and resources per node (see the module docstring)."""
    nodes = []
    for node_id, gpus in layout.by_node():
        if not gpus:
            continue  # no GPUs: nothing for the GPU Operator to configure
        counts: dict[str, int] = {}
        mig_gpus = 0
        whole = 0
        for g in gpus:
            if g.mode == "mig":
                mig_gpus += 1
                for p, c in g.profile_counts().items():
                    counts[p] = counts.get(p, 0) + c
            else:
                whole += 1
        expected = {
            MIG_CONFIG: mig.node_config.get(node_id, ""),
            "nvidia.com/mig.config.state": "success",
            MIG_STRATEGY: "mixed",
            GPU_COUNT: str(len(gpus)),
            "nvidia.com/mig.capable": "true" if inst.model_of(inst.node(node_id)) is not None
            and inst.model_of(inst.node(node_id)).has_mig else "false",  # type: ignore[union-attr]
        }
        resources: dict[str, int] = {}
        if whole:
            resources["nvidia.com/gpu"] = whole
        for p in sorted(counts):
            expected[f"{mig_resource(p)}.count"] = str(counts[p])
            resources[mig_resource(p)] = counts[p]
        nodes.append(
            {
                "name": node_id,
                "set": {MIG_CONFIG: mig.node_config.get(node_id, "")},
                "expected": dict(sorted(expected.items())),
                "resources": resources,
                "mig_gpus": mig_gpus,
            }
        )
    return {"format": "packer.k8s-labels/v1", "instance": inst.name, "nodes": nodes}


def kubectl_script(labels: Mapping[str, Any]) -> str:
    """A shell script with one ``kubectl label`` per node for the labels to set."""
    lines = ["#!/bin/sh", "# Written by packer: select each node's mig-parted config (GPU Operator mig-manager).",
             "set -e"]
    for n in labels["nodes"]:
        for k, v in n["set"].items():
            lines.append(f"kubectl label nodes {_sh(n['name'])} {_sh(f'{k}={v}')} --overwrite")
    return "\n".join(lines) + "\n"


def _sh(text: str) -> str:
    return text if re.fullmatch(r"[A-Za-z0-9._/=:-]+", text) else "'" + text.replace("'", "'\\''") + "'"


# ------------------------------------------------------------------------------------------ import


def _model_from_product(product: str, catalog: Catalog) -> GpuModel | None:
    base = re.sub(r"-MIG-.*$", "", product)
    base = re.sub(r"-SHARED$", "", base)
    for cand in (base, re.sub(r"^NVIDIA-", "", base), base.replace("-", " ")):
        m = catalog.get(cand)
        if m is not None:
            return m
    return None


def _profile_of_resource(name: str, model: GpuModel) -> str | None:
    for p in model.profiles:
        if resource_profile(p.name) == name or p.name == name:
            return p.name
    return None


def _int_label(value: Any, field: str, file: str | None) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise InputError(f"expected a count, found {value!r}", file=file, field=field)


def _quantity_milli(q: Any) -> int | None:
    s = str(q).strip()
    if re.fullmatch(r"\d+m", s):
        return int(s[:-1])
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return int(float(s) * 1000)
    return None


def _quantity_mib(q: Any) -> int | None:
    s = str(q).strip()
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 * 1024, "": 1 / 2**20}
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi|Ti|)", s)
    if not m:
        return None
    return int(int(m.group(1)) * units[m.group(2)])


def _node_objects(data: Any, file: str | None) -> list[tuple[str, dict[str, Any]]]:
    """(field path, Node-like object) for a List, a Node, or a bare label map."""
    if isinstance(data, Mapping) and isinstance(data.get("items"), list):
        out = []
        for i, item in enumerate(data["items"]):
            if not isinstance(item, Mapping):
                raise InputError("expected a Node object", file=file, field=f"items[{i}]")
            out.append((f"items[{i}]", dict(item)))
        return out
    if isinstance(data, Mapping) and isinstance(data.get("metadata"), Mapping):
        return [("", dict(data))]
    if isinstance(data, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        name = data.get("kubernetes.io/hostname", "node-0")
        return [("", {"metadata": {"name": name, "labels": dict(data)}})]
    raise InputError("expected kubectl get nodes -o json, a Node, or a label map", file=file)


def instance_from_k8s(
    data: Any,
    *,
    file: str | None = None,
    name: str = "k8s",
    catalog: Catalog | None = None,
    model: str | None = None,
    group: bool = False,
    movable: bool = False,
    configs: MigConfigs | None = None,
) -> Instance:
    """An instance from Kubernetes node objects or labels (see the module docstring).

    With ``configs`` (a mig-parted file), a node whose ``nvidia.com/mig.config`` names one of them gets
    that config's per-GPU counts instead of the node-wide label counts.
    """
    cat = catalog or Catalog.builtin()
    override = None
    if model is not None:
        override = cat.get(model)
        if override is None:
            raise InputError(f"unknown GPU model {model!r}", field="--model")
    nodes: list[Node] = []
    requests: list[Request] = []
    for at, obj in _node_objects(data, file):
        meta = obj.get("metadata") or {}
        labels = meta.get("labels") or {}
        node_id = str(meta.get("name") or f"node-{len(nodes)}")
        status = obj.get("status") or {}
        capacity = status.get("capacity") or {}
        alloc = status.get("allocatable") or capacity
        lat = f"{at}.metadata.labels" if at else "metadata.labels"
        product = labels.get(GPU_PRODUCT)
        if product is None and GPU_COUNT not in labels and not any(k.startswith("nvidia.com/mig-") for k in capacity):
            continue  # not a GPU node
        gm = override
        if gm is None:
            gm = _model_from_product(str(product or ""), cat)
        if gm is None:
            raise InputError(
                f"GPU product {product!r} is not in the catalog; pass --model", file=file, field=f"{lat}.{GPU_PRODUCT}"
            )
        strategy = labels.get(MIG_STRATEGY, "none")
        counts: dict[str, int] = {}
        num_gpus = _int_label(labels.get(GPU_COUNT, capacity.get("nvidia.com/gpu", 0)), f"{lat}.{GPU_COUNT}", file)
        single = re.search(r"-MIG-(.+)$", str(product or ""))
        if strategy == "single" and single:
            prof = _profile_of_resource(single.group(1), gm)
            if prof is None:
                raise InputError(f"{gm.name} has no MIG profile {single.group(1)!r}", file=file,
                                 field=f"{lat}.{GPU_PRODUCT}")
            devices = num_gpus
            per_gpu = len(find_layout_max(gm, prof))
            counts[prof] = devices
            num_gpus = max(1, -(-devices // per_gpu))
        else:
            for k, v in labels.items():
                m = _MIG_COUNT_RE.match(k)
                if m:
                    prof = _profile_of_resource(m.group(1), gm)
                    if prof is None:
                        raise InputError(f"{gm.name} has no MIG profile {m.group(1)!r}", file=file, field=f"{lat}.{k}")
                    counts[prof] = counts.get(prof, 0) + _int_label(v, f"{lat}.{k}", file)
            if not counts:
                for k, v in capacity.items():
                    m = _MIG_RESOURCE_RE.match(k)
                    if m:
                        prof = _profile_of_resource(m.group(1), gm)
                        if prof is not None:
                            counts[prof] = _int_label(v, f"{at}.status.capacity.{k}", file)
        counts = {p: c for p, c in counts.items() if c > 0}
        shared = labels.get("nvidia.com/gpu.sharing-strategy", "none") not in ("none", "") or \
            _int_label(labels.get("nvidia.com/gpu.replicas", "0") or "0", f"{lat}.nvidia.com/gpu.replicas", file) > 1
        whole_mode = "shared" if shared else "full"
        cfg_name = labels.get(MIG_CONFIG)
        if configs is not None and cfg_name in configs:
            try:
                per_gpu_cfg = apply_entries(gm, num_gpus, configs[cfg_name], node_id)
            except InputError as e:
                raise InputError(e.message, file=file, field=f"{lat}.{MIG_CONFIG} ({cfg_name}{e.field or ''})") from None
            modes = tuple("mig" if per_gpu_cfg.get(g) is not None else whole_mode for g in range(num_gpus))
            per_gpu_layouts = [per_gpu_cfg.get(g) or () for g in range(num_gpus)]
        elif counts:
            num_whole = 0
            if "nvidia.com/gpu" in capacity and strategy == "mixed" and not shared:
                num_whole = _int_label(capacity["nvidia.com/gpu"], f"{at}.status.capacity.nvidia.com/gpu", file)
            num_mig = max(num_gpus - num_whole, 1)
            num_gpus = max(num_gpus, num_mig)
            per_gpu_layouts = _split(gm, counts, num_mig, node_id, file, lat)
            modes = tuple(["mig"] * num_mig + [whole_mode] * (num_gpus - num_mig))
        else:
            per_gpu_layouts = []
            modes = tuple([whole_mode] * num_gpus)
        domains: dict[str, str] = {}
        nodes.append(
            Node(
                id=node_id,
                gpu_model=gm.name,
                num_gpus=num_gpus,
                mode=modes[0] if modes and len(set(modes)) == 1 else "full",
                gpu_modes=None if len(set(modes)) <= 1 else modes,
                cpu_milli=_quantity_milli(alloc["cpu"]) if "cpu" in alloc else None,
                memory_mib=_quantity_mib(alloc["memory"]) if "memory" in alloc else None,
                domains=domains,
            )
        )
        requests.extend(_running_requests(node_id, per_gpu_layouts, group=group, movable=movable, source="k8s"))
    if not nodes:
        raise InputError("no GPU nodes found (no nvidia.com/gpu.* labels)", file=file)
    return Instance(name=name, nodes=tuple(nodes), requests=tuple(requests))


def find_layout_max(model: GpuModel, profile: str) -> tuple[tuple[str, int], ...]:
    """The most instances of ``profile`` that fit one GPU of ``model`` (as a layout)."""
    p = model.profile(profile)
    assert p is not None
    for n in range(p.max_count, 0, -1):
        got = find_layout(model, {profile: n})
        if got is not None:
            return got
    return ()


def _split(
    model: GpuModel, counts: dict[str, int], num: int, node_id: str, file: str | None, field: str
) -> list[tuple[tuple[str, int], ...]]:
    """Splits node-wide profile counts over ``num`` GPUs and predicts each GPU's starts."""
    if all(c % num == 0 for c in counts.values()):
        each = {p: c // num for p, c in counts.items()}
        got = find_layout(model, each)
        if got is not None:
            return [got] * num
    gpus: list[dict[str, int]] = [{} for _ in range(num)]
    order = sorted(
        (p for p, c in counts.items() for _ in range(c)),
        key=lambda p: (-model.profile(p).size, p),  # type: ignore[union-attr]
    )
    for p in order:
        for g in gpus:
            trial = dict(g)
            trial[p] = trial.get(p, 0) + 1
            if find_layout(model, trial) is not None:
                g.clear()
                g.update(trial)
                break
        else:
            raise InputError(
                f"node {node_id}: MIG counts {counts} do not fit {num} {model.name} GPU(s)", file=file, field=field
            )
    out = []
    for g in gpus:
        got = find_layout(model, g) if g else ()
        assert got is not None
        out.append(got)
    return out


def _running_requests(
    node_id: str,
    per_gpu: list[tuple[tuple[str, int], ...]],
    *,
    group: bool,
    movable: bool,
    source: str,
) -> list[Request]:
    """Running MIG requests (tenant ``default``) for the instances found on one node."""
    out: list[Request] = []
    if group:
        by_profile: dict[str, list[Unit]] = {}
        for g, layout in enumerate(per_gpu):
            for prof, start in layout:
                by_profile.setdefault(prof, []).append(Unit(node=node_id, gpu=g, profile=prof, start=start))
        for prof, units in by_profile.items():
            out.append(
                Request(
                    id=f"{source}-{node_id}-{resource_profile(prof)}",
                    kind="mig",
                    profile=prof,
                    count=len(units),
                    placement=tuple(units),
                    movable=movable,
                )
            )
        return out
    for g, layout in enumerate(per_gpu):
        for prof, start in layout:
            out.append(
                Request(
                    id=f"{source}-{node_id}-g{g}-{resource_profile(prof)}-s{start}",
                    kind="mig",
                    profile=prof,
                    count=1,
                    placement=(Unit(node=node_id, gpu=g, profile=prof, start=start),),
                    movable=movable,
                )
            )
    return out


__all__ = [
    "export_k8s_labels",
    "instance_from_k8s",
    "kubectl_script",
    "mig_resource",
    "resource_profile",
]
