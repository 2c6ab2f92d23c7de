"""NVIDIA mig-parted configs: write one from a plan, read and validate any (FACTS §4.1).

Writing needs no YAML library: the output is a small, fixed shape emitted by hand (block style,
double-quoted profile names, flow lists), which every YAML 1.1/1.2 parser reads the same way.
Reading uses PyYAML (``yaml.safe_load_all``), imported only when a config is read; it accepts a
plain config file, a Kubernetes ConfigMap holding ``config.yaml`` (several YAML documents are fine),
and GPU Operator Helm values (``migManager.config.data."config.yaml"``).

One config is written per node (``per="node"``, named ``packer-<node>``) or per distinct node layout
(``per="layout"``): nodes whose GPUs have the same profile counts share one config. Each entry names
the GPUs it covers (``devices``, global indices, or ``all``), whether MIG is on, the profile counts,
and ``device-filter`` with the PCI IDs of the node's model when the catalog knows them. Full and
shared GPUs, and GPUs a plan leaves in mode ``any``, get ``mig-enabled: false``; a MIG GPU with no
instances gets ``mig-enabled: true`` and ``mig-devices: {}``.

mig-parted creates instances by count and lets the driver choose starts, so a config alone cannot
force the planned starts. :func:`export_migparted` also returns, per MIG GPU, a
:class:`~packer.export.driver.CreationOrder`: whether mig-parted's own order is predicted to land on
the planned starts, else an order for ``nvidia-smi mig -cgi`` that is, else that none is (all under
the inferred driver rule of :mod:`packer.export.driver`). These notes are written as YAML comments.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from packer.catalog import Catalog, GpuModel
from packer.errors import InputError
from packer.export.driver import CreationOrder, creation_order, find_layout
from packer.export.layout import ClusterLayout, GpuLayout
from packer.model import Instance, Plan

_PROFILE_RE = re.compile(r"^(?:\d+c\.)?\d+g\.\d+gb(?:\+me\.all|\+me|\+gfx|-me)?$")
_PCI_RE = re.compile(r"^0x[0-9A-Fa-f]{8}(?::0x[0-9A-Fa-f]{8})?$")
_SAFE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9._-]*$")
_ENTRY_KEYS = ("device-filter", "devices", "mig-enabled", "mig-devices")


@dataclass(frozen=True)
class MigEntry:
    """One entry of a mig-parted config: which GPUs, MIG on or off, and the instance counts."""

    devices: str | tuple[int, ...]  # "all" or GPU indices
    mig_enabled: bool
    mig_devices: dict[str, int] | None = None
    device_filter: tuple[str, ...] | None = None
    comments: tuple[str, ...] = field(default=(), compare=False)

    def gpus(self, num_gpus: int) -> list[int]:
        return list(range(num_gpus)) if self.devices == "all" else list(self.devices)


MigConfigs = dict[str, tuple[MigEntry, ...]]


@dataclass(frozen=True)
class MigPartedExport:
    """A mig-parted config for a plan, the config each node should select, and creation orders."""

    configs: MigConfigs
    node_config: dict[str, str]
    orders: tuple[CreationOrder, ...]
    header: tuple[str, ...] = ()

    def to_yaml(self) -> str:
        return dump_migparted(self.configs, header=self.header)

    def orders_json(self) -> dict[str, Any]:
        """The creation orders as a JSON-able object (for ``--orders FILE``)."""
        return {
            "format": "packer.mig-orders/v1",
            "driver_rule": "inferred (see packer.export.driver)",
            "gpus": [
                {
                    "node": o.node,
                    "gpu": o.gpu,
                    "model": o.model,
                    "config": self.node_config.get(o.node),
                    "planned": [{"profile": n, "start": s} for n, s in o.planned],
                    "migparted_predicted": (
                        [{"profile": n, "start": s} for n, s in o.migparted] if o.migparted is not None else None
                    ),
                    "migparted_matches": o.migparted_matches,
                    "order": list(o.order) if o.order is not None else None,
                    "nvidia_smi": o.nvidia_smi(),
                    "note": o.describe(),
                }
                for o in self.orders
            ],
        }


# ------------------------------------------------------------------------------------------ write


def label_safe(name: str) -> str:
    """A config name that is also a valid Kubernetes label value (≤ 63 chars, alphanumeric at both ends).

    Longer names keep their first 50 characters and gain a short hash, so they stay unique and stable.
    """
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("._-") or "packer"
    if len(name) <= 63:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return f"{name[:50].rstrip('._-')}-{digest}"


def config_name_part(text: str) -> str:
    """A string made safe for a config name; ``+`` becomes ``.`` (``1g.10gb+me`` → ``1g.10gb.me``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text.replace("+", "."))


def _node_entries(inst: Instance, gpus: list[GpuLayout]) -> tuple[MigEntry, ...]:
    node = inst.node(gpus[0].node)
    model = inst.model_of(node)
    pci = tuple(model.spec.pci_device_ids) if model is not None and model.spec.pci_device_ids else None
    order = {p.name: i for i, p in enumerate(model.profiles)} if model is not None else {}
    groups: dict[tuple[bool, tuple[tuple[str, int], ...]], list[int]] = {}
    for g in gpus:
        on = g.mode == "mig"
        counts = tuple(sorted(g.profile_counts().items(), key=lambda kv: (order.get(kv[0], 99), kv[0])))
        groups.setdefault((on, counts), []).append(g.gpu)
    out = []
    for (on, counts), idx in groups.items():
        devices: str | tuple[int, ...] = "all" if len(groups) == 1 else tuple(idx)
        out.append(
            MigEntry(
                devices=devices,
                mig_enabled=on,
                mig_devices=dict(counts) if on else None,
                device_filter=pci,
            )
        )
    return tuple(out)


def _content_key(entries: tuple[MigEntry, ...]) -> tuple[Any, ...]:
    return tuple(
        (e.devices, e.mig_enabled, None if e.mig_devices is None else tuple(e.mig_devices.items()), e.device_filter)
        for e in entries
    )


def _layout_name(entries: tuple[MigEntry, ...], k: int) -> str:
    if len(entries) == 1:
        e = entries[0]
        if not e.mig_enabled:
            return "packer-all-disabled"
        if not e.mig_devices:
            return "packer-all-enabled"
        return "packer-all-" + "-".join(f"{c}x{config_name_part(p)}" for p, c in e.mig_devices.items())
    return f"packer-layout-{k}"


def export_migparted(
    inst: Instance, layout: ClusterLayout, *, per: str = "node", plan: Plan | None = None
) -> MigPartedExport:
    """Builds the mig-parted config for ``layout`` (see the module docstring)."""
    if per not in ("node", "layout"):
        raise InputError(f"per must be 'node' or 'layout', not {per!r}", field="per")
    configs: dict[str, tuple[MigEntry, ...]] = {}
    node_config: dict[str, str] = {}
    by_content: dict[tuple[Any, ...], tuple[str, tuple[MigEntry, ...]]] = {}
    orders: list[CreationOrder] = []
    for node_id, gpus in layout.by_node():
        if not gpus:
            continue
        entries = _node_entries(inst, gpus)
        model = inst.model_of(inst.node(node_id))
        node_orders = []
        for g in gpus:
            if g.mode == "mig" and model is not None and model.has_mig:
                node_orders.append(creation_order(model, node_id, g.gpu, g.mig_instances()))
        orders.extend(node_orders)
        if per == "node":
            name = label_safe(f"packer-{config_name_part(node_id)}")
            notes = [f"node {node_id} ({model.name if model else 'no GPU model'}, {len(gpus)} GPUs)"]
            notes += [o.describe() for o in node_orders]
            first = entries[0]
            entries = (MigEntry(first.devices, first.mig_enabled, first.mig_devices, first.device_filter,
                                tuple(notes)),) + entries[1:]
            configs[name] = entries
        else:
            key = _content_key(entries)
            if key not in by_content:
                name = label_safe(_layout_name(entries, len(by_content)))
                while name in configs:
                    name = label_safe(f"packer-layout-{len(by_content)}-{len(configs)}")
                by_content[key] = (name, entries)
                configs[name] = entries
            name = by_content[key][0]
        node_config[node_id] = name
    if per == "layout":
        # Say which nodes use each shared config.
        for name, entries in by_content.values():
            users = [n for n, c in node_config.items() if c == name]
            first = entries[0]
            notes = [f"nodes: {', '.join(users)}"]
            notes += [f"{o.node} {o.describe()}" for o in orders if o.node in users and not o.migparted_matches]
            configs[name] = (MigEntry(first.devices, first.mig_enabled, first.mig_devices, first.device_filter,
                                      tuple(notes)),) + entries[1:]
    header = [
        "mig-parted config written by packer"
        + (f" for plan of instance {plan.instance!r} ({plan.solver.name})" if plan is not None else ""),
        "Apply per node: nvidia-mig-parted apply -f <this file> -c <config>, or label the node",
        "nvidia.com/mig.config=<config> with the GPU Operator's mig-manager using this file.",
        "mig-parted creates by count; the driver picks starts. Notes per GPU say whether the",
        "planned starts are predicted to result (an inferred driver rule, verify with nvidia-smi mig -lgi).",
    ]
    return MigPartedExport(configs=configs, node_config=node_config, orders=tuple(orders), header=tuple(header))


def _key(text: str) -> str:
    return text if _SAFE_KEY.match(text) and text.lower() not in ("true", "false", "null", "yes", "no", "on", "off") \
        else json.dumps(text)


def dump_migparted(configs: MigConfigs, *, header: tuple[str, ...] | list[str] = ()) -> str:
    """The configs as mig-parted YAML (``version: v1``), deterministic, no YAML library needed."""
    if not configs:
        raise InputError("a mig-parted config needs at least one named config", field="mig-configs")
    lines = [f"# {h}".rstrip() for h in header]
    lines += ["version: v1", "mig-configs:"]
    for name, entries in configs.items():
        if not entries:
            raise InputError(f"config {name!r} has no entries", field=f"mig-configs.{name}")
        lines.append(f"  {_key(name)}:")
        for e in entries:
            for c in e.comments:
                lines.append(f"    # {c}".rstrip())
            first = "    - "
            rest = "      "
            fields: list[str] = []
            if e.device_filter:
                fields.append("device-filter: [" + ", ".join(json.dumps(d) for d in e.device_filter) + "]")
            if e.devices == "all":
                fields.append("devices: all")
            else:
                fields.append("devices: [" + ", ".join(str(int(d)) for d in e.devices) + "]")
            fields.append(f"mig-enabled: {'true' if e.mig_enabled else 'false'}")
            if e.mig_enabled or e.mig_devices:
                if not e.mig_devices:
                    fields.append("mig-devices: {}")
                else:
                    fields.append("mig-devices:")
                    for p, c in e.mig_devices.items():
                        fields.append(f"  {json.dumps(p)}: {int(c)}")
            for i, f in enumerate(fields):
                lines.append((first if i == 0 else rest) + f)
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


# ------------------------------------------------------------------------------------------- read


def parse_migparted(data: Any, *, file: str | None = None) -> MigConfigs:
    """Validates a parsed mig-parted config by mig-parted's rules (FACTS §4.1); InputError names the field."""

    def fail(field: str, msg: str) -> InputError:
        return InputError(msg, file=file, field=field)

    if not isinstance(data, Mapping):
        raise fail("", "a mig-parted config is a mapping with version and mig-configs")
    for k in data:
        if k not in ("version", "mig-configs"):
            raise fail(str(k), "unexpected field")
    if data.get("version") != "v1":
        raise fail("version", f"unknown version {data.get('version')!r} (expected 'v1')")
    mc = data.get("mig-configs")
    if not isinstance(mc, Mapping) or not mc:
        raise fail("mig-configs", "needs at least one named config")
    out: MigConfigs = {}
    for name, entries in mc.items():
        at = f"mig-configs.{name}"
        if not isinstance(entries, list) or not entries:
            raise fail(at, "a config is a non-empty list of entries")
        parsed = []
        for i, e in enumerate(entries):
            ea = f"{at}[{i}]"
            if not isinstance(e, Mapping):
                raise fail(ea, "an entry is a mapping")
            for k in e:
                if k not in _ENTRY_KEYS:
                    raise fail(f"{ea}.{k}", "unexpected field")
            if "devices" not in e:
                raise fail(f"{ea}.devices", "required field is missing")
            if "mig-enabled" not in e:
                raise fail(f"{ea}.mig-enabled", "required field is missing")
            dev = e["devices"]
            devices: str | tuple[int, ...]
            if dev == "all":
                devices = "all"
            elif isinstance(dev, list) and dev and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                      for d in dev):
                devices = tuple(dev)
            else:
                raise fail(f"{ea}.devices", f"expected 'all' or a list of GPU indices, found {dev!r}")
            if not isinstance(e["mig-enabled"], bool):
                raise fail(f"{ea}.mig-enabled", f"expected true or false, found {e['mig-enabled']!r}")
            md = e.get("mig-devices")
            mig_devices: dict[str, int] | None = None
            if md is not None:
                if not isinstance(md, Mapping):
                    raise fail(f"{ea}.mig-devices", "expected a mapping of profile name to count")
                mig_devices = {}
                for p, c in md.items():
                    if not isinstance(p, str) or not _PROFILE_RE.match(p):
                        raise fail(f"{ea}.mig-devices.{p}", f"{p!r} is not a MIG profile name")
                    if not isinstance(c, int) or isinstance(c, bool) or c < 0:
                        raise fail(f"{ea}.mig-devices.{p}", f"count {c!r} is not a non-negative integer")
                    mig_devices[p] = c
            df = e.get("device-filter")
            device_filter: tuple[str, ...] | None = None
            if df is not None:
                items = [df] if isinstance(df, str) else df
                if not isinstance(items, list) or not items:
                    raise fail(f"{ea}.device-filter", "expected a PCI ID or a list of them")
                for d in items:
                    if not isinstance(d, str) or not _PCI_RE.match(d):
                        raise fail(f"{ea}.device-filter", f"{d!r} is not a PCI ID like '0x233010DE'")
                device_filter = tuple(items)
            parsed.append(MigEntry(devices, e["mig-enabled"], mig_devices, device_filter))
        out[str(name)] = tuple(parsed)
    return out


def _yaml():  # type: ignore[no-untyped-def]
    try:
        import yaml
    except ImportError:  # pragma: no cover - depends on the environment
        raise InputError("reading YAML needs PyYAML (pip install pyyaml)") from None
    return yaml


def _find_config(doc: Any) -> Any:
    """The mig-parted config inside a plain config, a ConfigMap, or GPU Operator Helm values."""
    if not isinstance(doc, Mapping):
        return None
    if "mig-configs" in doc:
        return doc
    data = doc.get("data") if doc.get("kind") == "ConfigMap" else None
    if data is None and isinstance(doc.get("migManager"), Mapping):
        cfg = doc["migManager"].get("config")
        data = cfg.get("data") if isinstance(cfg, Mapping) else None
    if isinstance(data, Mapping):
        for _key_name, text in data.items():
            if isinstance(text, str) and "mig-configs" in text:
                return _yaml().safe_load(text)
    return None


def load_migparted_text(text: str, *, file: str | None = None) -> MigConfigs:
    """Reads mig-parted YAML (plain, in a ConfigMap, or in Helm values) and validates it."""
    yaml = _yaml()
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as e:
        raise InputError(f"malformed YAML: {e}", file=file) from None
    for doc in docs:
        try:
            cfg = _find_config(doc)
        except yaml.YAMLError as e:
            raise InputError(f"malformed YAML in an embedded config.yaml: {e}", file=file) from None
        if cfg is not None:
            return parse_migparted(cfg, file=file)
    raise InputError("no mig-parted config (version/mig-configs) found", file=file)


# ------------------------------------------------------------------------------------ catalog fit


def entry_models(entry: MigEntry, catalog: Catalog) -> list[GpuModel]:
    """Catalog models an entry may apply to: by device-filter PCI ID, else every model with its profiles."""
    names = set(entry.mig_devices or {})
    if entry.device_filter:
        wanted = {d.split(":")[0].upper() for d in entry.device_filter}
        return [m for m in catalog if wanted & {p.upper() for p in m.spec.pci_device_ids}]
    return [m for m in catalog if m.has_mig and all(m.profile(n) is not None for n in names)]


def entry_fits(entry: MigEntry, model: GpuModel) -> tuple[tuple[str, int], ...] | None:
    """A valid layout of ``entry``'s counts on one GPU of ``model`` (None when they do not fit)."""
    counts = {p: c for p, c in (entry.mig_devices or {}).items() if c > 0}
    if not entry.mig_enabled or not counts:
        return ()
    return find_layout(model, counts)


def layout_from_config(
    inst: Instance, entries: tuple[MigEntry, ...], node_id: str
) -> dict[int, tuple[tuple[str, int], ...] | None]:
    """GPU index → predicted layout (None: MIG off) when ``entries`` are applied to node ``node_id``.

    Later entries override earlier ones for the same GPU, as mig-parted applies them in order.
    Raises InputError when counts do not fit the node's model.
    """
    node = inst.node(node_id)
    return apply_entries(inst.model_of(node), node.num_gpus, entries, node_id)


def apply_entries(
    model: GpuModel | None, num_gpus: int, entries: tuple[MigEntry, ...], node_id: str = "node"
) -> dict[int, tuple[tuple[str, int], ...] | None]:
    """:func:`layout_from_config` for a node given by its model and GPU count."""
    pci = {p.upper() for p in model.spec.pci_device_ids} if model is not None else set()
    out: dict[int, tuple[tuple[str, int], ...] | None] = {}
    for i, e in enumerate(entries):
        if e.device_filter and pci and not ({d.split(":")[0].upper() for d in e.device_filter} & pci):
            continue
        for g in e.gpus(num_gpus):
            if g >= num_gpus:
                raise InputError(f"node {node_id} has no GPU {g}", field=f"[{i}].devices")
            if not e.mig_enabled:
                out[g] = None
                continue
            if model is None or not model.has_mig:
                raise InputError(f"node {node_id} has no MIG model", field=f"[{i}]")
            got = entry_fits(e, model)
            if got is None:
                raise InputError(f"{e.mig_devices} does not fit one {model.name}", field=f"[{i}].mig-devices")
            out[g] = got
    return out


__all__ = [
    "MigConfigs",
    "MigEntry",
    "MigPartedExport",
    "apply_entries",
    "config_name_part",
    "label_safe",
    "dump_migparted",
    "entry_fits",
    "entry_models",
    "export_migparted",
    "layout_from_config",
    "load_migparted_text",
    "parse_migparted",
]
