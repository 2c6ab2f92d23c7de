"""Cluster state from ``nvidia-smi`` text: one node per ``nvidia-smi mig -lgi`` output.

Each GPU instance becomes a running MIG request of tenant ``default`` (``nvidia-smi`` does not know
tenants) at its exact start, one request per instance (id ``smi-<node>-g<gpu>-gi<instance id>``), or
one per (node, profile) with ``group=True``. The GPU model comes from ``--model``, else from the GPU
names of ``nvidia-smi -L`` when given, else from the profile names and sizes when only one catalog
model fits them. The node's GPU count comes from ``num_gpus``, else ``-L``, else the highest GPU
index seen. GPUs of a node whose ``-lgi`` lists instances or says "No GPU instances found" are in
mode ``mig`` (a MIG GPU without instances looks the same as one that is not listed); the message
"No MIG-enabled devices found." makes them ``full``.
"""

from __future__ import annotations

from dataclasses import dataclass

from packer.catalog import Catalog, GpuModel
from packer.errors import InputError
from packer.model import Instance, Node, Request, Unit
from packer.nvsmi import GpuInstanceRow, parse_lgi, parse_smi_list

_MIG_OFF = "No MIG-enabled devices found."


@dataclass(frozen=True)
class SmiNode:
    """The nvidia-smi text of one node."""

    id: str
    lgi_text: str
    model: str | None = None
    list_text: str | None = None  # nvidia-smi -L
    num_gpus: int | None = None
    file: str | None = None


def _guess_model(rows: list[GpuInstanceRow], cat: Catalog, node: str, file: str | None) -> GpuModel:
    cands = []
    for m in cat:
        ok = m.has_mig
        for r in rows:
            p = m.profile(r.name)
            if p is None or p.size != r.size or (p.spec.id is not None and p.spec.id != r.profile_id):
                ok = False
                break
        if ok:
            cands.append(m.name)
    if len(cands) != 1:
        what = f"several models fit ({', '.join(cands)})" if cands else "no catalog model fits its profiles"
        raise InputError(f"node {node}: {what}; pass --model", file=file, field="model")
    return cat[cands[0]]


def instance_from_nvidia_smi(
    nodes: list[SmiNode],
    *,
    name: str = "nvidia-smi",
    catalog: Catalog | None = None,
    group: bool = False,
    movable: bool = False,
) -> Instance:
    """An instance whose running requests are the GPU instances that ``-lgi`` lists (module docstring)."""
    cat = catalog or Catalog.builtin()
    out_nodes: list[Node] = []
    requests: list[Request] = []
    for sn in nodes:
        rows = parse_lgi_file(sn.lgi_text, sn.file)
        mig_off = sn.lgi_text.strip() == _MIG_OFF
        listed = parse_smi_list(sn.list_text) if sn.list_text else []
        model: GpuModel | None = None
        if sn.model is not None:
            model = cat.get(sn.model)
            if model is None:
                raise InputError(f"unknown GPU model {sn.model!r}", field="--model")
        elif listed:
            model = cat.get(listed[0].name)
            if model is None:
                raise InputError(f"GPU {listed[0].name!r} is not in the catalog; pass --model", file=sn.file)
        elif rows:
            model = _guess_model(rows, cat, sn.id, sn.file)
        else:
            raise InputError(f"node {sn.id}: no GPU instances to infer the model from; pass --model", file=sn.file)
        num = sn.num_gpus if sn.num_gpus is not None else (len(listed) or (max((r.gpu for r in rows), default=0) + 1))
        for r in rows:
            where = f"GPU {r.gpu} instance {r.instance_id}"
            if r.gpu >= num:
                raise InputError(f"GPU index {r.gpu} out of range ({num} GPUs)", file=sn.file, field=where)
            p = model.profile(r.name)
            if p is None:
                raise InputError(f"{model.name} has no profile {r.name!r}", file=sn.file, field=where)
            if p.size != r.size or r.start not in p.starts:
                raise InputError(
                    f"{r.name} at {r.start}:{r.size} is not a legal placement on {model.name} "
                    f"(size {p.size}, starts {list(p.starts)})",
                    file=sn.file,
                    field=where,
                )
        mode = "full" if mig_off else "mig"
        if mode == "mig" and not model.has_mig:
            raise InputError(f"{model.name} has no MIG profiles", field="--model")
        out_nodes.append(Node(id=sn.id, gpu_model=model.name, num_gpus=num, mode=mode))
        rows = sorted(rows, key=lambda r: (r.gpu, r.start, r.instance_id))
        if group:
            by_profile: dict[str, list[Unit]] = {}
            for r in rows:
                by_profile.setdefault(r.name, []).append(Unit(node=sn.id, gpu=r.gpu, profile=r.name, start=r.start))
            for prof, units in by_profile.items():
                requests.append(
                    Request(id=f"smi-{sn.id}-{prof.replace('+', '.')}", kind="mig", profile=prof,
                            count=len(units), placement=tuple(units), movable=movable)
                )
        else:
            for r in rows:
                requests.append(
                    Request(
                        id=f"smi-{sn.id}-g{r.gpu}-gi{r.instance_id}",
                        kind="mig",
                        profile=r.name,
                        count=1,
                        placement=(Unit(node=sn.id, gpu=r.gpu, profile=r.name, start=r.start),),
                        movable=movable,
                    )
                )
    ids = [n.id for n in out_nodes]
    if len(set(ids)) != len(ids):
        raise InputError("node ids repeat; give each -lgi file its own --node", field="--node")
    return Instance(name=name, nodes=tuple(out_nodes), requests=tuple(requests))


def parse_lgi_file(text: str, file: str | None) -> list[GpuInstanceRow]:
    """:func:`packer.nvsmi.parse_lgi` with the file named in errors."""
    try:
        return parse_lgi(text)
    except InputError as e:
        raise e.with_file(file) if file else e from None


def lgi_text(inst: Instance, node_id: str) -> str:
    """``nvidia-smi mig -lgi`` text for one node's running MIG instances (for tests and round trips).

    Instance IDs are numbered in row order; the real driver numbers them differently.
    """
    node = inst.node(node_id)
    model = inst.model_of(node)
    rows = []
    for r in inst.requests:
        for u in r.placement or ():
            if u.node == node_id and u.profile is not None and u.start is not None and model is not None:
                p = model.profile(u.profile)
                assert p is not None
                rows.append((u.gpu, u.profile, p.spec.id if p.spec.id is not None else 0, u.start, p.size))
    if not rows:
        return "No GPU instances found: Not Found\n"
    rows.sort(key=lambda x: (x[0], -x[2], x[3]))
    width = max(55, max(len(r[1]) for r in rows) + 45)
    border = "+" + "-" * width + "+"
    out = [border, "| " + "GPU instances:".ljust(width - 1) + "|",
           "| " + "GPU   Name             Profile  Instance   Placement".ljust(width - 1) + "|",
           "| " + "                         ID       ID       Start:Size".ljust(width - 1) + "|",
           "|" + "=" * width + "|"]
    for i, (g, prof, pid, start, size) in enumerate(rows, start=1):
        cells = f"  {g}  MIG {prof:<14} {pid:>3}      {i:>3}          {start}:{size}"
        out.append("|" + cells.ljust(width) + "|")
        out.append(border)
    return "\n".join(out) + "\n"


__all__ = ["SmiNode", "instance_from_nvidia_smi", "lgi_text", "parse_lgi_file"]
