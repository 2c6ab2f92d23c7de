"""What sits on every GPU of a cluster, after a plan (or now, from an instance's running placements).

Exporters and pictures all start here: a :class:`ClusterLayout` lists, per GPU, its mode and the
pieces of work on it (MIG instances with profile and start, a whole-GPU unit, milli shares), each
tagged with its request and tenant. Units of ``host`` requests hold no GPU: they are kept apart
(:attr:`ClusterLayout.host`), so exporters of GPU state never see them and pictures can list them by node.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from packer.errors import InputError
from packer.model import MILLI_PER_GPU, MODE_OF_KIND, Instance, Plan, Unit


@dataclass(frozen=True)
class Piece:
    """One unit of one request on one GPU."""

    request: str
    tenant: str
    kind: str
    profile: str | None = None
    start: int | None = None
    size: int | None = None  # memory positions of a MIG instance
    compute: int | None = None  # compute slices of a MIG instance
    gpu_milli: int | None = None
    running: bool = False  # the request was running before the plan


@dataclass(frozen=True)
class HostPiece:
    """One unit of a ``host`` request (CPU and memory only) on one node."""

    node: str
    request: str
    tenant: str
    cpu_milli: int = 0
    memory_mib: int = 0
    running: bool = False


@dataclass(frozen=True)
class GpuLayout:
    """One GPU: its model, mode (``mig``, ``full``, ``shared``, or ``any`` when unused) and pieces."""

    node: str
    gpu: int
    model: str | None
    mode: str
    pieces: tuple[Piece, ...] = ()
    memory_positions: int | None = None
    compute_slices: int | None = None

    def mig_instances(self) -> list[tuple[str, int]]:
        """The MIG instances as (profile, start), by start."""
        return sorted(
            ((p.profile, p.start) for p in self.pieces if p.profile is not None and p.start is not None),
            key=lambda x: (x[1], x[0]),
        )

    def profile_counts(self) -> dict[str, int]:
        """MIG profile name → number of instances on this GPU."""
        out: dict[str, int] = {}
        for name, _ in self.mig_instances():
            out[name] = out.get(name, 0) + 1
        return out

    def used(self) -> float:
        """GPU-equivalents in use (SPEC §2 sizes)."""
        total = 0.0
        for p in self.pieces:
            if p.kind == "gpu":
                total += 1.0
            elif p.kind == "share":
                total += (p.gpu_milli or 0) / MILLI_PER_GPU
            elif p.compute is not None and self.compute_slices:
                total += p.compute / self.compute_slices
        return total

    def used_by_tenant(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for p in self.pieces:
            if p.kind == "gpu":
                v = 1.0
            elif p.kind == "share":
                v = (p.gpu_milli or 0) / MILLI_PER_GPU
            else:
                v = (p.compute or 0) / (self.compute_slices or 1)
            out[p.tenant] = out.get(p.tenant, 0.0) + v
        return out


@dataclass(frozen=True)
class ClusterLayout:
    """Every GPU of an instance, in file order."""

    instance: Instance
    gpus: tuple[GpuLayout, ...]
    source: str = "plan"  # "plan" or "instance" (running placements)
    host: tuple[HostPiece, ...] = ()  # units of host requests (no GPU), in plan order
    _index: dict[tuple[str, int], int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({(g.node, g.gpu): i for i, g in enumerate(self.gpus)})

    def gpu(self, node: str, gpu: int) -> GpuLayout:
        return self.gpus[self._index[(node, gpu)]]

    def by_node(self) -> Iterator[tuple[str, list[GpuLayout]]]:
        """(node id, its GPUs) in file order."""
        for n in self.instance.nodes:
            yield n.id, [self.gpus[self._index[(n.id, g)]] for g in range(n.num_gpus)]

    def host_by_node(self) -> dict[str, list[HostPiece]]:
        """Node id → the host units on it (nodes without any are left out)."""
        out: dict[str, list[HostPiece]] = {}
        for h in self.host:
            out.setdefault(h.node, []).append(h)
        return out

    def used(self) -> float:
        return sum(g.used() for g in self.gpus)

    def utilization(self) -> float:
        return self.used() / len(self.gpus) if self.gpus else 0.0


def _piece(inst: Instance, req_id: str, unit: Unit, running: bool) -> Piece:
    req = inst.request(req_id)
    if req.kind == "mig":
        model = inst.model_of(inst.node(unit.node))
        prof = model.profile(unit.profile or "") if model is not None else None
        if prof is None or unit.start is None:
            raise InputError(
                f"MIG unit of {req_id!r} on {unit.node}/{unit.gpu} names no profile/start of its model",
                field=f"assignments[{req_id}]",
            )
        return Piece(req_id, req.tenant, "mig", prof.name, unit.start, prof.size, prof.compute, running=running)
    if req.kind == "share":
        milli = unit.gpu_milli if unit.gpu_milli is not None else req.gpu_milli
        return Piece(req_id, req.tenant, "share", gpu_milli=milli, running=running)
    return Piece(req_id, req.tenant, "gpu", running=running)


def _host_piece(inst: Instance, req_id: str, unit: Unit, running: bool) -> HostPiece:
    req = inst.request(req_id)
    return HostPiece(unit.node, req_id, req.tenant, req.cpu_milli, req.memory_mib, running)


def cluster_layout(inst: Instance, plan: Plan | None = None) -> ClusterLayout:
    """The layout a plan leads to, or (without a plan) the running placements of the instance.

    Raises :class:`InputError` when the plan names a request, node or GPU the instance lacks.
    """
    pieces: dict[tuple[str, int], list[Piece]] = {}
    chosen: dict[tuple[str, int], str] = {}
    host: list[HostPiece] = []
    if plan is None:
        for r in inst.requests:
            for u in r.placement or ():
                if r.kind == "host":
                    host.append(_host_piece(inst, r.id, u, True))
                    continue
                assert u.gpu is not None
                pieces.setdefault((u.node, u.gpu), []).append(_piece(inst, r.id, u, True))
        source = "instance"
    else:
        for i, a in enumerate(plan.assignments):
            if a.request not in inst.request_index:
                raise InputError(f"unknown request {a.request!r}", field=f"assignments[{i}].request")
            req = inst.request(a.request)
            running = req.running
            for k, u in enumerate(a.units):
                if req.kind == "host":
                    if u.node not in inst.node_index:
                        raise InputError(f"no node {u.node!r} in the instance", field=f"assignments[{i}].units[{k}].node")
                    host.append(_host_piece(inst, a.request, u, running))
                    continue
                if u.gpu is None:
                    raise InputError(f"a {req.kind} unit needs gpu", field=f"assignments[{i}].units[{k}].gpu")
                if u.node not in inst.node_index or u.gpu >= inst.node(u.node).num_gpus:
                    raise InputError(
                        f"no GPU {u.node}/{u.gpu} in the instance", field=f"assignments[{i}].units[{k}]"
                    )
                pieces.setdefault((u.node, u.gpu), []).append(_piece(inst, a.request, u, running))
        for c in plan.gpu_modes:
            chosen[(c.node, c.gpu)] = c.mode
        source = "plan"
    gpus: list[GpuLayout] = []
    for node, g in inst.gpus():
        model = inst.model_of(node)
        here = tuple(pieces.get((node.id, g), ()))
        mode: str = node.gpu_mode(g)
        if mode == "any":
            if (node.id, g) in chosen:
                mode = chosen[(node.id, g)]
            elif here:
                mode = MODE_OF_KIND[here[0].kind]
        gpus.append(
            GpuLayout(
                node=node.id,
                gpu=g,
                model=model.name if model is not None else node.gpu_model,
                mode=mode,
                pieces=tuple(sorted(here, key=lambda p: (p.start if p.start is not None else -1, p.request))),
                memory_positions=model.memory_positions if model is not None else None,
                compute_slices=model.compute_slices if model is not None else None,
            )
        )
    return ClusterLayout(instance=inst, gpus=tuple(gpus), source=source, host=tuple(host))


__all__ = ["ClusterLayout", "GpuLayout", "HostPiece", "Piece", "cluster_layout"]
