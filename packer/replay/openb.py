"""Reading the Alibaba openb trace (FGD, USENIX ATC '23) into arrays and into packer instances.

The trace has a node list (``sn,cpu_milli,memory_mib,gpu,model``) and a pod list. Every published
pod list has the columns ``name,cpu_milli,memory_mib,num_gpu,gpu_milli``; the others are optional, as
in FGD's own loader: the default list and most variants add ``gpu_spec,qos,pod_phase,creation_time,
deletion_time,scheduled_time``, the multi-GPU variants have none of them. An absent (or empty)
``gpu_spec`` means any GPU model; absent creation/deletion times mean the pod never departs. The replay works on plain integer
arrays (:class:`Cluster`, :class:`Pods`); :func:`to_instance` turns the same data into a packer
instance (shared-mode GPUs, the non-MIG models declared in the instance's catalog, fractional pods
as ``share`` requests, whole-GPU pods as ``gpu`` requests kept on one node, CPU-only pods
(``num_gpu = 0``) as ``host`` requests: CPU and memory of one node, no GPU).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from packer.errors import InputError

if TYPE_CHECKING:
    from packer.model import Instance

#: Largest CPU and GPU capacity of any openb node, the normalising constants of the FGD plugins.
MAX_SPEC_CPU = 128_000
MAX_SPEC_GPU = 8_000
#: Most GPUs on one node that the fast engine supports.
MAX_GPUS_PER_NODE = 8

_NODE_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
#: The pod-list columns every openb list has; ``gpu_spec`` and the times are optional.
_POD_COLUMNS = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli")
#: A pod without times: created at 0, never deleted.
NEVER = -1


@dataclass(frozen=True)
class Cluster:
    """GPU nodes as arrays, in file order. ``model`` indexes ``models``."""

    names: tuple[str, ...]
    cpu: np.ndarray  # int64 milli-CPU
    mem: np.ndarray  # int64 MiB
    gpus: np.ndarray  # int64 GPU count
    model: np.ndarray  # int64 index into models (-1: no GPU)
    models: tuple[str, ...]

    @property
    def num_nodes(self) -> int:
        return len(self.names)

    @property
    def num_gpus(self) -> int:
        return int(self.gpus.sum())

    @property
    def capacity_milli(self) -> int:
        return 1000 * self.num_gpus


@dataclass(frozen=True)
class Pods:
    """A pod list as arrays. ``spec`` is a bitmask over the cluster's models (0: any model).

    ``created``/``deleted`` are the trace's creation and deletion times (seconds; empty arrays when
    the list has no times; ``deleted`` is :data:`NEVER` for a pod that never departs).
    """

    names: tuple[str, ...]
    cpu: np.ndarray
    mem: np.ndarray
    num_gpu: np.ndarray
    gpu_milli: np.ndarray
    spec: np.ndarray
    spec_text: tuple[str, ...] = field(default=())
    created: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    deleted: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def has_times(self) -> bool:
        """True when the list carries creation and deletion times."""
        return len(self.created) == len(self.names) and len(self.names) > 0

    def __len__(self) -> int:
        return len(self.names)

    @property
    def gpu_demand(self) -> np.ndarray:
        """Total GPU milli of each pod: num_gpu × gpu_milli."""
        return self.num_gpu * self.gpu_milli

    def take(self, idx: np.ndarray, names: tuple[str, ...] | None = None) -> Pods:
        """The pods at ``idx`` (in that order), optionally renamed."""
        idx = np.asarray(idx, dtype=np.int64)
        return Pods(
            names=names if names is not None else tuple(self.names[i] for i in idx),
            cpu=self.cpu[idx], mem=self.mem[idx], num_gpu=self.num_gpu[idx],
            gpu_milli=self.gpu_milli[idx], spec=self.spec[idx],
            spec_text=tuple(self.spec_text[i] for i in idx) if self.spec_text else (),
            created=self.created[idx] if self.has_times else self.created[:0],
            deleted=self.deleted[idx] if self.has_times else self.deleted[:0],
        )


def _rows(path: str | Path, columns: tuple[str, ...]) -> tuple[list[str], list[dict[str, str]]]:
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in reader.fieldnames or []]
            reader.fieldnames = header
            missing = [c for c in columns if c not in header]
            if missing:
                raise InputError(f"missing column(s) {missing}; header is {header}", file=str(path))
            return header, list(reader)
    except FileNotFoundError:
        raise InputError("file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"cannot read: {e}", file=str(path)) from None


def _int(row: dict[str, str], col: str, i: int, file: str, *, lo: int = 0, hi: int | None = None) -> int:
    text = (row.get(col) or "").strip()
    try:
        v = int(float(text)) if text else 0
    except ValueError:
        raise InputError(f"not a number: {text!r}", file=file, field=f"row {i + 2}.{col}") from None
    if v < lo or (hi is not None and v > hi):
        raise InputError(f"value {v} out of range", file=file, field=f"row {i + 2}.{col}")
    return v


def read_nodes(path: str | Path, *, gpu_only: bool = True) -> Cluster:
    """Reads an openb node list; ``gpu_only`` drops nodes without GPUs (FGD's cluster, §5.1)."""
    file = str(path)
    names, cpu, mem, gpus, models_of = [], [], [], [], []
    for i, r in enumerate(_rows(path, _NODE_COLUMNS)[1]):
        g = _int(r, "gpu", i, file, hi=MAX_GPUS_PER_NODE)
        model = (r.get("model") or "").strip()
        if g > 0 and not model:
            raise InputError("a node with GPUs needs a model", file=file, field=f"row {i + 2}.model")
        if gpu_only and g == 0:
            continue
        names.append(r["sn"].strip())
        cpu.append(_int(r, "cpu_milli", i, file))
        mem.append(_int(r, "memory_mib", i, file))
        gpus.append(g)
        models_of.append(model if g > 0 else "")
    if not names:
        raise InputError("no nodes", file=file)
    if len(set(names)) != len(names):
        raise InputError("duplicate node name", file=file, field="sn")
    models = tuple(sorted({m for m in models_of if m}))
    mid = {m: k for k, m in enumerate(models)}
    if len(models) > 62:
        raise InputError("more than 62 GPU models", file=file, field="model")
    return Cluster(
        names=tuple(names), cpu=np.array(cpu, np.int64), mem=np.array(mem, np.int64),
        gpus=np.array(gpus, np.int64), model=np.array([mid.get(m, -1) for m in models_of], np.int64),
        models=models,
    )


def read_pods(path: str | Path, cluster: Cluster) -> Pods:
    """Reads an openb pod list in any of its published formats.

    Required: ``name,cpu_milli,memory_mib,num_gpu,gpu_milli``. ``gpu_spec`` (absent: any model)
    becomes a bitmask over ``cluster.models``; ``creation_time`` and ``deletion_time`` (both or
    neither) become :attr:`Pods.created`/:attr:`Pods.deleted` (an empty deletion time: never).
    Other columns are ignored.
    """
    file = str(path)
    mid = {m: k for k, m in enumerate(cluster.models)}
    header, rows = _rows(path, _POD_COLUMNS)
    timed = [c for c in ("creation_time", "deletion_time") if c in header]
    if len(timed) == 1:
        other = ({"creation_time", "deletion_time"} - set(timed)).pop()
        raise InputError(f"column {timed[0]} without {other}", file=file, field=other)
    names, cpu, mem, ng, gm, spec, spec_text, created, deleted = [], [], [], [], [], [], [], [], []
    for i, r in enumerate(rows):
        n = _int(r, "num_gpu", i, file, hi=MAX_GPUS_PER_NODE)
        # pod_csv_to_yaml.py clamps gpu_milli to [0, 1000]
        g = min(max(_int(r, "gpu_milli", i, file, lo=-(10**9)), 0), 1000)
        if n == 0:
            g = 0
        if n > 0 and g == 0:
            n = 0  # a GPU count without GPU milli asks for nothing the filter would check
        if n > 1 and g < 1000:
            raise InputError("a multi-GPU pod must ask for whole GPUs (gpu_milli 1000)", file=file,
                             field=f"row {i + 2}.gpu_milli")
        text = (r.get("gpu_spec") or "").strip()
        mask = 0
        if text and n > 0:
            for m in text.split("|"):
                if m in mid:
                    mask |= 1 << mid[m]
            if mask == 0:
                mask = 1 << 62  # no model of this cluster: never feasible
        names.append(r["name"].strip())
        cpu.append(_int(r, "cpu_milli", i, file))
        mem.append(_int(r, "memory_mib", i, file))
        ng.append(n)
        gm.append(g)
        spec.append(mask)
        spec_text.append(text if n > 0 else "")
        if timed:
            c = _int(r, "creation_time", i, file)
            d = _int(r, "deletion_time", i, file, lo=-1) if (r.get("deletion_time") or "").strip() else NEVER
            if d != NEVER and d < c:
                raise InputError(f"deletion time {d} before creation time {c}", file=file,
                                 field=f"row {i + 2}.deletion_time")
            created.append(c)
            deleted.append(d)
    if not names:
        raise InputError("no pods", file=file)
    return Pods(
        names=tuple(names), cpu=np.array(cpu, np.int64), mem=np.array(mem, np.int64),
        num_gpu=np.array(ng, np.int64), gpu_milli=np.array(gm, np.int64), spec=np.array(spec, np.int64),
        spec_text=tuple(spec_text), created=np.array(created, np.int64), deleted=np.array(deleted, np.int64),
    )


def to_instance(cluster: Cluster, pods: Pods, *, name: str = "openb") -> Instance:
    """A packer instance of ``pods`` on ``cluster``: one request per pod, in pod order.

    Nodes are shared-mode GPUs of their trace model (declared in the instance catalog as non-MIG
    models), as in openb, where every device is shareable; fractional pods are ``share`` requests;
    whole-GPU pods are ``share`` requests of 1000 milli per GPU (one fully idle device per unit, as
    openb's scheduler reads them; a ``gpu`` request would need ``full``-mode GPUs, which this cluster
    has none of), their units kept on one node; CPU-only pods ``host`` requests (one unit: the pod's
    CPU and memory on one node); ``gpu_spec`` becomes ``gpu_models`` (CPU-only pods have none).
    """
    from packer.catalog import GpuModelSpec
    from packer.model import Instance, Locality, Node, Request

    catalog = tuple(GpuModelSpec(name=f"openb-{m}") for m in cluster.models)
    nodes = []
    for i in range(cluster.num_nodes):
        nodes.append(Node(
            id=cluster.names[i],
            gpu_model=f"openb-{cluster.models[cluster.model[i]]}" if cluster.gpus[i] else None,
            num_gpus=int(cluster.gpus[i]), mode="shared" if cluster.gpus[i] else "full",
            cpu_milli=int(cluster.cpu[i]), memory_mib=int(cluster.mem[i]),
        ))
    requests = []
    for i in range(len(pods)):
        n, g = int(pods.num_gpu[i]), int(pods.gpu_milli[i])
        models = None
        if pods.spec_text and pods.spec_text[i]:
            models = tuple(f"openb-{m}" for m in pods.spec_text[i].split("|") if m in cluster.models)
        # the model's host resources are per unit: a gang's pod total is split over its units
        # (rounded up, so a plan for the instance never under-reserves the pod's CPU or memory)
        per = max(n, 1)
        common = dict(id=pods.names[i], cpu_milli=-(-int(pods.cpu[i]) // per),
                      memory_mib=-(-int(pods.mem[i]) // per), gpu_models=models or None)
        if n == 0:
            requests.append(Request(id=pods.names[i], kind="host", cpu_milli=int(pods.cpu[i]),
                                    memory_mib=int(pods.mem[i])))
        elif n == 1 and g < 1000:
            requests.append(Request(kind="share", gpu_milli=g, **common))
        else:
            loc = Locality(level="node", required=True) if n > 1 else None
            requests.append(Request(kind="share", gpu_milli=1000, count=n, locality=loc, **common))
    return Instance(name=name, catalog=catalog, nodes=tuple(nodes), requests=tuple(requests))


__all__ = ["Cluster", "MAX_SPEC_CPU", "MAX_SPEC_GPU", "NEVER", "Pods", "read_nodes", "read_pods", "to_instance"]
