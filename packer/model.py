"""The data model: instances (cluster, tenants, requests, objective) and plans, as in SPEC §3-4.

Everything here is a frozen pydantic model that rejects unknown fields. Reading and writing files
lives in :mod:`packer.formats`; the cross-reference rules that pydantic cannot express (dangling
references, a profile the model does not have, an illegal start) live in :func:`validate_instance`,
which every loader calls, so a solver never sees an instance that breaks them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from packer.catalog import Catalog, GpuModel, GpuModelSpec, Profile
from packer.errors import InputError

if TYPE_CHECKING:
    from packer.topology import ClusterTopology

INSTANCE_FORMAT = "packer.instance/v1"
PLAN_FORMAT = "packer.plan/v1"

Mode = Literal["mig", "full", "shared", "any"]
ConcreteMode = Literal["mig", "full", "shared"]
Kind = Literal["mig", "gpu", "share", "host"]
Isolation = Literal["none", "gpu", "node"]
Status = Literal["optimal", "feasible", "infeasible", "unknown"]

#: The mode a GPU must be in to hold a unit of each request kind (``host`` units hold no GPU).
MODE_OF_KIND: dict[str, str] = {"mig": "mig", "gpu": "full", "share": "shared"}
#: Request fields that describe GPU work and are errors on a ``host`` request.
GPU_ONLY_FIELDS = ("gpu_models", "gpu_milli", "profile", "slices", "min_memory_gib")
#: Capacity of a shared-mode GPU in milli-GPUs.
MILLI_PER_GPU = 1000


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------------------- instance


class Link(_Frozen):
    """A network link between two topology domains (or nodes), with its bandwidth."""

    a: str
    b: str
    gbps: float = Field(gt=0)


class Topology(_Frozen):
    """Locality levels from fine to coarse; ``gpu``, ``node`` and ``cluster`` are always implied."""

    levels: tuple[str, ...] = ()
    links: tuple[Link, ...] | None = None

    @model_validator(mode="after")
    def _check(self) -> Topology:
        if len(set(self.levels)) != len(self.levels):
            raise ValueError("levels must not repeat")
        for lv in self.levels:
            if lv in ("gpu", "cluster"):
                raise ValueError(f"level {lv!r} is implied and must not be listed")
        return self

    @property
    def all_levels(self) -> tuple[str, ...]:
        """Every level from ``gpu`` to ``cluster``, fine to coarse."""
        inner = tuple(lv for lv in self.levels if lv != "node")
        return ("gpu", "node", *inner, "cluster")


class Node(_Frozen):
    """A machine with ``num_gpus`` GPUs of one model, its host resources and topology domains."""

    id: str = Field(min_length=1)
    gpu_model: str | None = None
    num_gpus: int = Field(ge=0)
    mode: Mode = "full"
    gpu_modes: tuple[Mode, ...] | None = None
    cpu_milli: int | None = Field(default=None, ge=0)
    memory_mib: int | None = Field(default=None, ge=0)
    domains: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Node:
        if self.gpu_modes is not None and len(self.gpu_modes) != self.num_gpus:
            raise ValueError(f"gpu_modes has {len(self.gpu_modes)} entries for {self.num_gpus} GPUs")
        if self.num_gpus > 0 and not self.gpu_model:
            raise ValueError("a node with GPUs needs gpu_model")
        return self

    def gpu_mode(self, gpu: int) -> Mode:
        """The configured mode of GPU ``gpu`` (before a solver chooses for ``any``)."""
        return self.gpu_modes[gpu] if self.gpu_modes is not None else self.mode

    def __hash__(self) -> int:
        return hash(self.id)


class Tenant(_Frozen):
    """A tenant with a quota in GPU-equivalents and an isolation level."""

    id: str = Field(min_length=1)
    max_gpus: float | None = Field(default=None, ge=0)
    isolation: Isolation = "none"


class Locality(_Frozen):
    """Keep a request's units within one domain of ``level`` (hard when ``required``)."""

    level: str
    required: bool = False


class Spread(_Frozen):
    """At most ``max_per_domain`` units of a request per domain of ``level``."""

    level: str
    max_per_domain: int = Field(ge=1)


class Unit(_Frozen):
    """Where one unit of a request runs: a GPU, and a MIG profile and start or a milli share.

    Units of ``host`` requests name only their node (``gpu`` is None); every other kind needs ``gpu``.
    """

    node: str
    gpu: int | None = Field(default=None, ge=0)
    profile: str | None = None
    start: int | None = Field(default=None, ge=0)
    gpu_milli: int | None = Field(default=None, ge=1, le=MILLI_PER_GPU)

    def key(self) -> tuple[str, int | None, str | None, int | None, int | None]:
        """The unit as a tuple (node, gpu, profile, start, milli), for sorting and comparing."""
        return (self.node, self.gpu, self.profile, self.start, self.gpu_milli)

    @model_serializer(mode="wrap")
    def _drop_none(self, handler):  # type: ignore[no-untyped-def]
        """Units are written as in SPEC: only the fields their kind uses."""
        return {k: v for k, v in handler(self).items() if v is not None}


class Request(_Frozen):
    """``count`` units of one kind for one tenant, new or running (with ``placement``).

    Kind ``host`` (an extension of SPEC) asks for host CPU and memory only: each unit is on one node
    and holds no GPU, so it has no GPU-only field (:data:`GPU_ONLY_FIELDS`) and no level ``gpu``.
    """

    id: str = Field(min_length=1)
    tenant: str = "default"
    kind: Kind
    profile: str | None = None
    slices: int | None = Field(default=None, ge=1)
    min_memory_gib: float | None = Field(default=None, ge=0)
    gpu_milli: int | None = Field(default=None, ge=1, le=MILLI_PER_GPU)
    count: int = Field(default=1, ge=1)
    min_count: int | None = Field(default=None, ge=1)
    priority: float = Field(default=1.0, ge=0)
    gpu_models: tuple[str, ...] | None = None
    cpu_milli: int = Field(default=0, ge=0)
    memory_mib: int = Field(default=0, ge=0)
    locality: Locality | None = None
    spread: Spread | None = None
    placement: tuple[Unit, ...] | None = None
    movable: bool = False
    migration_cost: float | None = Field(default=None, ge=0)

    @field_validator(*GPU_ONLY_FIELDS)
    @classmethod
    def _no_gpu_fields_on_host(cls, v: object, info: ValidationInfo) -> object:
        if v is not None and info.data.get("kind") == "host":
            raise ValueError(f"{info.field_name} is not allowed on a host request (it uses no GPU)")
        return v

    @field_validator("locality", "spread")
    @classmethod
    def _no_gpu_level_on_host(cls, v: Locality | Spread | None, info: ValidationInfo) -> object:
        if v is not None and v.level == "gpu" and info.data.get("kind") == "host":
            raise ValueError(f"{info.field_name} level 'gpu' does not apply to a host request (it uses no GPU)")
        return v

    @model_validator(mode="after")
    def _check(self) -> Request:
        if self.kind == "mig":
            if (self.profile is None) == (self.slices is None):
                raise ValueError("a mig request needs exactly one of profile or slices")
            if self.profile is not None and self.min_memory_gib is not None:
                raise ValueError("min_memory_gib goes with slices, not with profile")
            if self.gpu_milli is not None:
                raise ValueError("gpu_milli is only for share requests")
        elif self.kind != "host":  # host requests: the field validators above reject GPU fields
            for f in ("profile", "slices", "min_memory_gib"):
                if getattr(self, f) is not None:
                    raise ValueError(f"{f} is only for mig requests")
            if self.kind == "share" and self.gpu_milli is None:
                raise ValueError("a share request needs gpu_milli")
            if self.kind == "gpu" and self.gpu_milli is not None:
                raise ValueError("gpu_milli is only for share requests")
        if self.min_count is not None and self.min_count > self.count:
            raise ValueError(f"min_count {self.min_count} exceeds count {self.count}")
        if self.placement is not None:
            if not (self.need_count <= len(self.placement) <= self.count):
                raise ValueError(
                    f"placement has {len(self.placement)} units; need between "
                    f"{self.need_count} and {self.count}"
                )
        elif self.movable or self.migration_cost is not None:
            raise ValueError("movable and migration_cost are only for running requests (with placement)")
        return self

    @property
    def need_count(self) -> int:
        """The fewest units that count as placed (``min_count``, default ``count``)."""
        return self.min_count if self.min_count is not None else self.count

    @property
    def running(self) -> bool:
        """True for running work (the request has a placement)."""
        return self.placement is not None


class ObjectiveWeights(_Frozen):
    """Weights of the objective terms and the migration cap (SPEC §4)."""

    locality_weight: float = Field(default=0.01, ge=0)
    migration_weight: float = Field(default=0.1, ge=0)
    max_migrations: int | None = Field(default=None, ge=0)


class Instance(_Frozen):
    """A whole problem: the cluster, the tenants, the requests and the objective."""

    format: Literal["packer.instance/v1"] = INSTANCE_FORMAT
    name: str = "instance"
    catalog: tuple[GpuModelSpec, ...] = ()
    topology: Topology = Topology()
    nodes: tuple[Node, ...] = ()
    tenants: tuple[Tenant, ...] = ()
    requests: tuple[Request, ...] = ()
    objective: ObjectiveWeights = ObjectiveWeights()

    # Derived lookups. Instances are frozen, so these are computed once.

    @cached_property
    def gpu_catalog(self) -> Catalog:
        """The built-in catalog with this instance's ``catalog`` entries merged over it."""
        return Catalog.builtin().merged(self.catalog)

    @cached_property
    def node_index(self) -> dict[str, int]:
        """Node id → its index in ``nodes``."""
        return {n.id: i for i, n in enumerate(self.nodes)}

    @cached_property
    def request_index(self) -> dict[str, int]:
        """Request id → its index in ``requests``."""
        return {r.id: i for i, r in enumerate(self.requests)}

    @cached_property
    def tenant_map(self) -> dict[str, Tenant]:
        """Tenants by id; ``default`` exists implicitly (no quota, no isolation) unless declared."""
        out = {"default": Tenant(id="default")}
        out.update({t.id: t for t in self.tenants})
        return out

    @cached_property
    def num_gpus(self) -> int:
        """GPUs of the whole cluster."""
        return sum(n.num_gpus for n in self.nodes)

    def node(self, node_id: str) -> Node:
        """The node with id ``node_id`` (KeyError when there is none)."""
        return self.nodes[self.node_index[node_id]]

    def request(self, request_id: str) -> Request:
        """The request with id ``request_id`` (KeyError when there is none)."""
        return self.requests[self.request_index[request_id]]

    def model_of(self, node: Node) -> GpuModel | None:
        """The catalog model of ``node``'s GPUs, or None for a node without GPUs."""
        return self.gpu_catalog.get(node.gpu_model) if node.gpu_model else None

    def gpus(self) -> Iterator[tuple[Node, int]]:
        """Every GPU of the cluster as (node, index), in file order."""
        for n in self.nodes:
            for g in range(n.num_gpus):
                yield n, g

    @cached_property
    def cluster_topology(self) -> ClusterTopology:
        """The topology object of this instance (:class:`packer.topology.ClusterTopology`): domains,
        their nesting, distances and nearness, built once."""
        from packer.topology import ClusterTopology

        return ClusterTopology(self)

    def domain(self, node: Node, level: str) -> str:
        """The id of ``node``'s domain at ``level`` (a node without an entry is its own domain).

        Level ``gpu`` has one domain per GPU, which a node cannot name: use :meth:`unit_domain`.
        The rule lives in :class:`packer.topology.ClusterTopology`.
        """
        return self.cluster_topology.domain(node, level)

    def unit_domain(self, unit: Unit, level: str) -> str:
        """The id of the domain at ``level`` that holds ``unit`` (``node/gpu`` at level ``gpu``).

        A host unit has no GPU: at level ``gpu`` it is its node's host (``node/host``), a domain of
        its own (validated instances never ask host requests for level ``gpu``).
        """
        if level == "gpu":
            if unit.gpu is None:
                return f"{unit.node}/host"
            return f"{unit.node}/{unit.gpu}"
        return self.domain(self.node(unit.node), level)

    def allowed_models(self, req: Request) -> set[str] | None:
        """Canonical names of the models ``req`` may use, or None for any."""
        if req.gpu_models is None:
            return None
        cat = self.gpu_catalog
        return {cat.canonical(m) or m for m in req.gpu_models}

    def profile_choices(self, req: Request, model: GpuModel) -> list[Profile]:
        """The profiles of ``model`` that can serve one unit of mig request ``req``, smallest first."""
        if req.kind != "mig" or not model.has_mig:
            return []
        if req.profile is not None:
            p = model.profile(req.profile)
            return [p] if p is not None else []
        assert req.slices is not None
        return model.profiles_for_slices(req.slices, req.min_memory_gib)

    # Request sizes. One definition: a unit's size is what it takes of one GPU, in GPU-equivalents
    # (SPEC §2): a whole GPU is 1, a share its milli / 1000, a MIG instance its compute slices over
    # its model's compute slices, a host unit 0. Before placement a MIG unit's size depends on the
    # model and profile it gets; :meth:`request_unit_size` takes the smallest it can get here.

    def unit_size_on(self, req: Request, model: GpuModel | None, profile: str | None = None) -> float:
        """GPU-equivalents of one unit of ``req`` on a GPU of ``model`` (as MIG ``profile`` for mig)."""
        if req.kind == "host":
            return 0.0
        if req.kind == "gpu":
            return 1.0
        if req.kind == "share":
            return (req.gpu_milli or 0) / MILLI_PER_GPU
        assert model is not None and profile is not None
        p = model.profile(profile)
        assert p is not None
        return p.gpu_equivalents

    def unit_size(self, req: Request, unit: Unit) -> float:
        """Size of one placed unit in GPU-equivalents (SPEC §2; a ``host`` unit is 0)."""
        if req.kind == "share" and unit.gpu_milli is not None:
            return unit.gpu_milli / MILLI_PER_GPU
        if req.kind != "mig":
            return self.unit_size_on(req, None)
        return self.unit_size_on(req, self.model_of(self.node(unit.node)), unit.profile)

    @cached_property
    def cluster_models(self) -> tuple[GpuModel, ...]:
        """The GPU models of the nodes that have GPUs, in file order of their first node."""
        out: dict[str, GpuModel] = {}
        for n in self.nodes:
            m = self.model_of(n) if n.num_gpus else None
            if m is not None:
                out.setdefault(m.name, m)
        return tuple(out.values())

    def request_unit_size(self, req: Request) -> float:
        """The smallest size one unit of ``req`` can have in this cluster, in GPU-equivalents.

        Whole GPU 1, share milli / 1000, host 0. A MIG unit: the smallest ``gpu_equivalents`` of the
        profiles that serve it on the models it may use (allowed and present in the cluster; when no
        node has such a model, every allowed model of the catalog); 0 when no model serves it. This
        is what quotas are checked against and what "bigger first" orders by.
        """
        if req.kind != "mig":
            return self.unit_size_on(req, None)
        key = (req.profile, req.slices, req.min_memory_gib, req.gpu_models)
        cache = self._unit_sizes
        if key not in cache:
            allowed = self.allowed_models(req)
            models = [m for m in self.cluster_models if allowed is None or m.name in allowed]
            if not models:
                models = [m for m in self.gpu_catalog if allowed is None or m.name in allowed]
            sizes = [p.gpu_equivalents for m in models for p in self.profile_choices(req, m)]
            cache[key] = min(sizes, default=0.0)
        return cache[key]

    def request_size(self, req: Request) -> float:
        """``count`` units of :meth:`request_unit_size`: the request's smallest size if placed whole."""
        return req.count * self.request_unit_size(req)

    @cached_property
    def _unit_sizes(self) -> dict[tuple[object, ...], float]:
        return {}

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Instance:
        """pydantic's copy without the derived lookups above: they were computed from the fields that
        ``update`` replaces, and a copy that kept them would answer for the old instance."""
        out = super().model_copy(update=update, deep=deep)
        for name in _DERIVED:
            out.__dict__.pop(name, None)
        return out

    def replace(self, **changes: object) -> Instance:
        """A copy with some fields replaced (validated again)."""
        data = self.model_dump(mode="json", exclude_none=False)
        data.update({k: _dump(v) for k, v in changes.items()})
        return Instance.model_validate(data)


#: The names of Instance's cached derived lookups (dropped by :meth:`Instance.model_copy`).
_DERIVED = frozenset(k for k, v in vars(Instance).items() if isinstance(v, cached_property))


def _dump(v: object) -> object:
    if isinstance(v, BaseModel):
        return v.model_dump(mode="json")
    if isinstance(v, (list, tuple)):
        return [_dump(x) for x in v]
    return v


# ------------------------------------------------------------------------------------------ plan


class Assignment(_Frozen):
    """The final units of one placed request."""

    request: str
    units: tuple[Unit, ...]


class Unplaced(_Frozen):
    """A request left out, with the reason a person can act on."""

    request: str
    reason: str


class Migration(_Frozen):
    """A running request that the plan moves."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    request: str
    from_: tuple[Unit, ...] = Field(alias="from")
    to: tuple[Unit, ...]


class GpuModeChoice(_Frozen):
    """The mode chosen for one ``any`` GPU."""

    node: str
    gpu: int = Field(ge=0)
    mode: ConcreteMode


class SolverInfo(BaseModel):
    """Which solver made the plan, with what seed, in how long; solvers may add more fields."""

    model_config = ConfigDict(frozen=True, extra="allow")

    name: str
    seed: int | None = None
    wall_s: float | None = None


class Plan(_Frozen):
    """A solver's answer for one instance (SPEC §4)."""

    format: Literal["packer.plan/v1"] = PLAN_FORMAT
    instance: str
    status: Status
    objective: float
    bound: float | None = None
    solver: SolverInfo
    assignments: tuple[Assignment, ...] = ()
    unplaced: tuple[Unplaced, ...] = ()
    migrations: tuple[Migration, ...] = ()
    gpu_modes: tuple[GpuModeChoice, ...] = ()
    metrics: dict[str, float | int | str | None] = Field(default_factory=dict)

    def to_json_dict(self) -> dict[str, object]:
        """The plan as SPEC's JSON object (``from`` spelled as in the file)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=False)


# ---------------------------------------------------------------------------- semantic validation


def validate_instance(inst: Instance, *, file: str | None = None) -> None:
    """Checks the rules pydantic cannot see; raises InputError naming the field path."""

    def fail(field: str, msg: str) -> None:
        raise InputError(msg, file=file, field=field)

    cat = inst.gpu_catalog
    levels = inst.topology.all_levels

    seen: dict[str, int] = {}
    for i, n in enumerate(inst.nodes):
        if n.id in seen:
            fail(f"nodes[{i}].id", f"duplicate node id {n.id!r} (also nodes[{seen[n.id]}])")
        seen[n.id] = i
        for lv in n.domains:
            if lv not in inst.topology.levels:
                fail(f"nodes[{i}].domains.{lv}", f"level {lv!r} is not in topology.levels")
        if n.num_gpus == 0:
            continue
        assert n.gpu_model is not None
        model = cat.get(n.gpu_model)
        if model is None:
            fail(
                f"nodes[{i}].gpu_model",
                f"unknown GPU model {n.gpu_model!r}; declare it in the instance's catalog",
            )
        assert model is not None
        for g in range(n.num_gpus):
            if n.gpu_mode(g) == "mig" and not model.has_mig:
                where = f"nodes[{i}].gpu_modes[{g}]" if n.gpu_modes is not None else f"nodes[{i}].mode"
                fail(where, f"GPU model {model.name!r} has no MIG profiles")

    tseen: set[str] = set()
    for i, t in enumerate(inst.tenants):
        if t.id in tseen:
            fail(f"tenants[{i}].id", f"duplicate tenant id {t.id!r}")
        tseen.add(t.id)

    if inst.topology.links:
        known = {n.id for n in inst.nodes} | {d for n in inst.nodes for d in n.domains.values()}
        for i, link in enumerate(inst.topology.links):
            for end in ("a", "b"):
                if getattr(link, end) not in known:
                    fail(f"topology.links[{i}].{end}", f"unknown node or domain {getattr(link, end)!r}")

    rseen: set[str] = set()
    models_in_cluster = {cat.canonical(n.gpu_model) for n in inst.nodes if n.gpu_model and n.num_gpus}
    for i, r in enumerate(inst.requests):
        at = f"requests[{i}]"
        if r.id in rseen:
            fail(f"{at}.id", f"duplicate request id {r.id!r}")
        rseen.add(r.id)
        if r.tenant not in inst.tenant_map:
            fail(f"{at}.tenant", f"unknown tenant {r.tenant!r}")
        for key in ("locality", "spread"):
            obj = getattr(r, key)
            if obj is not None and obj.level not in levels:
                fail(f"{at}.{key}.level", f"unknown level {obj.level!r}; levels are {list(levels)}")
        allowed: list[GpuModel]
        if r.gpu_models is not None:
            allowed = []
            for j, m in enumerate(r.gpu_models):
                gm = cat.get(m)
                if gm is None:
                    fail(f"{at}.gpu_models[{j}]", f"unknown GPU model {m!r}")
                assert gm is not None
                allowed.append(gm)
        else:
            allowed = [cat.models[m] for m in sorted(x for x in models_in_cluster if x)] or list(cat)
        if r.kind == "mig":
            if not any(inst.profile_choices(r, m) for m in allowed):
                what = f"profile {r.profile!r}" if r.profile else f"{r.slices}-slice profile"
                if r.min_memory_gib is not None:
                    what += f" with {r.min_memory_gib} GiB"
                field = f"{at}.profile" if r.profile else f"{at}.slices"
                fail(field, f"no allowed GPU model has a {what}")
        if r.placement is not None:
            _validate_placement(inst, r, f"{at}.placement", fail)
    _validate_running_together(inst, fail)


def _validate_running_together(inst: Instance, fail) -> None:  # type: ignore[no-untyped-def]
    """Running units must fit together: no MIG overlap, no GPU over 1000 milli or shared by whole units."""
    mig: dict[tuple[str, int], list[tuple[int, int, str]]] = {}
    milli: dict[tuple[str, int], int] = {}
    whole: dict[tuple[str, int], str] = {}
    counts: dict[tuple[tuple[str, int], str], int] = {}
    for i, r in enumerate(inst.requests):
        if r.kind == "host":
            continue  # no GPU; host capacity is the solvers' and the checker's business
        for k, u in enumerate(r.placement or ()):
            where = f"requests[{i}].placement[{k}]"
            assert u.gpu is not None
            key = (u.node, u.gpu)
            if key in whole or (r.kind != "share" and key in milli) or (r.kind != "mig" and key in mig):
                fail(where, f"GPU {u.node}/{u.gpu} already holds other running work")
            if r.kind == "gpu":
                whole[key] = r.id
            elif r.kind == "share":
                milli[key] = milli.get(key, 0) + (r.gpu_milli or 0)
                if milli[key] > MILLI_PER_GPU:
                    fail(where, f"running shares on GPU {u.node}/{u.gpu} exceed {MILLI_PER_GPU} milli")
            else:
                p = inst.model_of(inst.node(u.node)).profile(u.profile)  # type: ignore[union-attr,arg-type]
                assert p is not None and u.start is not None
                lo, hi = u.start, u.start + p.size
                for a, b, other in mig.get(key, []):
                    if lo < b and a < hi:
                        fail(where, f"MIG instance overlaps running {other} on GPU {u.node}/{u.gpu}")
                mig.setdefault(key, []).append((lo, hi, r.id))
                counts[(key, p.name)] = counts.get((key, p.name), 0) + 1
                if counts[(key, p.name)] > p.max_count:
                    fail(where, f"more than {p.max_count} running {p.name} on GPU {u.node}/{u.gpu}")


def _validate_placement(inst: Instance, r: Request, at: str, fail) -> None:  # type: ignore[no-untyped-def]
    """A running placement must name real GPUs, fit the request's kind and be a legal MIG start."""
    for k, u in enumerate(r.placement or ()):
        where = f"{at}[{k}]"
        if u.node not in inst.node_index:
            fail(f"{where}.node", f"unknown node {u.node!r}")
        node = inst.node(u.node)
        if r.kind == "host":
            for f in ("gpu", "profile", "start", "gpu_milli"):
                if getattr(u, f) is not None:
                    fail(f"{where}.{f}", f"a host unit names only its node (no {f})")
            continue
        if u.gpu is None:
            fail(f"{where}.gpu", f"a {r.kind} unit needs gpu")
        assert u.gpu is not None
        if u.gpu >= node.num_gpus:
            fail(f"{where}.gpu", f"GPU index {u.gpu} out of range (node {node.id} has {node.num_gpus})")
        mode = node.gpu_mode(u.gpu)
        if mode == "any":
            fail(f"{where}.gpu", "running work cannot sit on a GPU in mode 'any'")
        if mode != MODE_OF_KIND[r.kind]:
            fail(f"{where}.gpu", f"a {r.kind} unit cannot run on a GPU in mode {mode!r}")
        if r.kind == "mig":
            model = inst.model_of(node)
            assert model is not None
            if u.profile is None or u.start is None:
                fail(where, "a mig unit needs profile and start")
            p = model.profile(u.profile or "")
            if p is None:
                fail(f"{where}.profile", f"GPU model {model.name!r} has no profile {u.profile!r}")
            assert p is not None
            if p not in inst.profile_choices(r, model):
                fail(f"{where}.profile", f"profile {u.profile!r} does not serve this request")
            if u.start not in p.starts:
                fail(f"{where}.start", f"start {u.start} is not legal for {p.name} on {model.name} (legal: {list(p.starts)})")
            if u.gpu_milli is not None:
                fail(f"{where}.gpu_milli", "gpu_milli is only for share units")
        elif r.kind == "share":
            if u.profile is not None or u.start is not None:
                fail(where, "a share unit has no profile or start")
            if u.gpu_milli is not None and u.gpu_milli != r.gpu_milli:
                fail(f"{where}.gpu_milli", f"gpu_milli {u.gpu_milli} differs from the request's {r.gpu_milli}")
        else:
            if u.profile is not None or u.start is not None or u.gpu_milli is not None:
                fail(where, "a gpu unit names only node and gpu")
        allowed = inst.allowed_models(r)
        if allowed is not None and inst.gpu_catalog.canonical(node.gpu_model or "") not in allowed:
            fail(f"{where}.node", f"node {node.id} has model {node.gpu_model!r}, not allowed for this request")


__all__ = [
    "Assignment",
    "GPU_ONLY_FIELDS",
    "GpuModeChoice",
    "INSTANCE_FORMAT",
    "Instance",
    "Link",
    "Locality",
    "MILLI_PER_GPU",
    "MODE_OF_KIND",
    "Migration",
    "Node",
    "ObjectiveWeights",
    "PLAN_FORMAT",
    "Plan",
    "Request",
    "SolverInfo",
    "Spread",
    "Tenant",
    "Topology",
    "Unit",
    "Unplaced",
    "validate_instance",
]
