"""The independent checker: is this plan valid for this instance, and is its objective right?

``check(instance, plan)`` enforces every rule of SPEC §2-4 and recomputes the objective. It imports
no solver code (nothing from :mod:`packer.greedy`, :mod:`packer.online`, :mod:`packer.cpsat` or
:mod:`packer.geometry`): it reads the catalog's raw profile data and works every rule out again with
plain loops, so that a bug in a solver's shared helpers cannot hide itself here.

Each violation has a ``kind`` named after the rule it breaks (see :data:`KINDS`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from packer.model import Instance, Plan, Request, Unit

#: Every kind of violation, with the rule it stands for.
KINDS: dict[str, str] = {
    "instance_name": "the plan names another instance",
    "unknown_request": "the plan names a request the instance does not have",
    "duplicate_request": "a request appears more than once in assignments and unplaced",
    "missing_request": "a request appears in neither assignments nor unplaced",
    "running_dropped": "a running request is unplaced",
    "unit_count": "a placed request has fewer than min_count or more than count units",
    "unknown_gpu": "a unit names a node or GPU index that does not exist",
    "unit_shape": "a unit lacks or has fields its kind does not (profile/start/gpu_milli)",
    "missing_gpu": "a unit of a GPU kind (mig, gpu, share) names no GPU",
    "host_unit_gpu": "a unit of a host request names a GPU, profile, start or gpu_milli (it holds no GPU)",
    "mode": "a unit sits on a GPU whose (chosen) mode does not hold its kind",
    "gpu_modes": "an 'any' GPU in use has no chosen mode, or a mode is listed wrongly",
    "allowed_models": "a unit sits on a GPU model the request does not allow",
    "profile": "a MIG unit's profile is not of the GPU's model or does not serve the request",
    "mig_start": "a MIG unit starts at a position that is not legal for its profile",
    "mig_overlap": "two MIG instances on one GPU share a memory position",
    "mig_max_count": "a GPU holds more instances of a profile than its maximum count",
    "gpu_exclusive": "a whole-GPU unit shares its GPU with another unit",
    "share_capacity": "shares on one GPU add up to more than 1000 milli",
    "host_cpu": "units on a node need more CPU than the node has",
    "host_memory": "units on a node need more memory than the node has",
    "locality": "a request with required locality uses more than one domain of its level",
    "spread": "a request puts more units in one domain than its spread allows",
    "quota": "a tenant's GPU-equivalents exceed its max_gpus",
    "isolation_gpu": "a GPU holds units of a gpu-isolated tenant and of another tenant",
    "isolation_node": "a node holds units of a node-isolated tenant and of another tenant",
    "running_moved": "a running request that is not movable is not where it runs",
    "migration_record": "migrations do not match the running requests that moved",
    "max_migrations": "the plan moves more running requests than max_migrations",
    "objective": "the plan's objective differs from the recomputed one",
    "bound": "the bound is below the objective",
    "status": "the status contradicts the plan (optimal without a matching bound)",
}

_TOL = 1e-6


@dataclass(frozen=True)
class Violation:
    """One broken rule, with a message that names the request, GPU or tenant involved."""

    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass
class Report:
    """The checker's verdict."""

    violations: list[Violation] = field(default_factory=list)
    objective: float = 0.0
    allocated: float = 0.0
    num_gpus: int = 0

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def utilization(self) -> float:
        return self.allocated / self.num_gpus if self.num_gpus else 0.0

    def kinds(self) -> set[str]:
        """The kinds of violation found."""
        return {v.kind for v in self.violations}

    def add(self, kind: str, message: str) -> None:
        assert kind in KINDS, kind
        self.violations.append(Violation(kind, message))

    def format(self) -> str:
        """Every violation grouped by kind, one per line."""
        if self.ok:
            return f"valid: objective {self.objective:.6g}, utilization {100 * self.utilization:.2f}%"
        lines = [f"{len(self.violations)} violation(s):"]
        for kind, n in sorted(Counter(v.kind for v in self.violations).items()):
            lines.append(f"  {kind} ({n}): {KINDS[kind]}")
            for v in [v for v in self.violations if v.kind == kind]:
                lines.append(f"    - {v.message}")
        return "\n".join(lines)


def _gname(u: Unit) -> str:
    return f"{u.node}/{u.gpu}"


def check(inst: Instance, plan: Plan) -> Report:
    """Checks ``plan`` against every rule of the SPEC; never raises for a bad plan."""
    rep = Report(num_gpus=sum(n.num_gpus for n in inst.nodes))
    if plan.instance != inst.name:
        rep.add("instance_name", f"plan is for {plan.instance!r}, instance is {inst.name!r}")

    requests = {r.id: r for r in inst.requests}
    nodes = {n.id: n for n in inst.nodes}
    cat = inst.gpu_catalog

    # ---- every request accounted for exactly once
    seen: Counter[str] = Counter()
    for a in plan.assignments:
        seen[a.request] += 1
    for u in plan.unplaced:
        seen[u.request] += 1
    for rid, n in seen.items():
        if rid not in requests:
            rep.add("unknown_request", f"{rid!r} is not a request of the instance")
        elif n > 1:
            rep.add("duplicate_request", f"{rid!r} appears {n} times")
    for rid in requests:
        if rid not in seen:
            rep.add("missing_request", f"{rid!r} is neither assigned nor unplaced")
    for u in plan.unplaced:
        r = requests.get(u.request)
        if r is not None and r.placement is not None:
            rep.add("running_dropped", f"running request {r.id!r} is listed as unplaced")

    placed: dict[str, tuple[Unit, ...]] = {}
    for a in plan.assignments:
        if a.request in requests and a.request not in placed:
            placed[a.request] = a.units

    # ---- chosen modes of 'any' GPUs
    chosen: dict[tuple[str, int], str] = {}
    for m in plan.gpu_modes:
        node = nodes.get(m.node)
        if node is None or m.gpu >= node.num_gpus:
            rep.add("gpu_modes", f"gpu_modes names GPU {m.node}/{m.gpu}, which does not exist")
            continue
        if (m.node, m.gpu) in chosen:
            rep.add("gpu_modes", f"gpu_modes lists GPU {m.node}/{m.gpu} twice")
        configured = node.gpu_mode(m.gpu)
        if configured != "any" and configured != m.mode:
            rep.add("gpu_modes", f"GPU {m.node}/{m.gpu} is in mode {configured!r}, plan says {m.mode!r}")
        chosen[(m.node, m.gpu)] = m.mode

    # ---- per-unit rules, gathering what lives on each GPU and node
    on_gpu: dict[tuple[str, int], list[tuple[Request, Unit]]] = defaultdict(list)
    on_node: dict[str, list[tuple[Request, Unit]]] = defaultdict(list)
    size_of: dict[str, float] = {}
    for rid, units in placed.items():
        r = requests[rid]
        if not (r.need_count <= len(units) <= r.count):
            rep.add("unit_count", f"{rid!r} has {len(units)} units; needs {r.need_count}..{r.count}")
        total = 0.0
        for u in units:
            node = nodes.get(u.node)
            if r.kind == "host":
                # Host work: CPU and memory of its node only; size 0, no GPU, no mode.
                if node is None:
                    rep.add("unknown_gpu", f"{rid!r} uses node {u.node!r}, which does not exist")
                    continue
                extra = [f for f in ("gpu", "profile", "start", "gpu_milli") if getattr(u, f) is not None]
                if extra:
                    rep.add("host_unit_gpu", f"{rid!r} unit on node {u.node}: a host unit names only its node, "
                                             f"not {', '.join(extra)}")
                on_node[u.node].append((r, u))
                continue
            if u.gpu is None:
                rep.add("missing_gpu", f"{rid!r} ({r.kind}) has a unit on node {u.node} without a gpu")
                continue
            if node is None or u.gpu >= node.num_gpus:
                rep.add("unknown_gpu", f"{rid!r} uses GPU {_gname(u)}, which does not exist")
                continue
            total += _check_unit(inst, rep, r, u, node, chosen, cat)
            on_gpu[(u.node, u.gpu)].append((r, u))
            on_node[u.node].append((r, u))
        size_of[rid] = total

    _check_gpus(inst, rep, on_gpu, cat)
    _check_nodes(inst, rep, on_node)
    _check_topology(inst, rep, placed)
    _check_tenants(inst, rep, placed, size_of, on_gpu, on_node)
    moved = _check_running(inst, rep, plan, placed)

    # ---- objective, bound, status
    objective = 0.0
    for rid, units in placed.items():
        r = requests[rid]
        objective += r.priority * size_of.get(rid, 0.0)
        if r.locality is not None and not r.locality.required and units:
            doms = {_dom(inst, u, r.locality.level) for u in units if u.node in nodes}
            objective -= inst.objective.locality_weight * max(0, len(doms) - 1)
    for rid in moved:
        r = requests[rid]
        if r.migration_cost is not None:
            objective -= r.migration_cost
        else:
            objective -= inst.objective.migration_weight * _running_size(inst, r)
    rep.objective = objective
    rep.allocated = sum(size_of.values())
    tol = _TOL * max(1.0, abs(objective))
    if abs(plan.objective - objective) > tol:
        rep.add("objective", f"plan says {plan.objective:.9g}, recomputed {objective:.9g}")
    if plan.bound is not None and plan.bound < plan.objective - tol:
        rep.add("bound", f"bound {plan.bound:.9g} is below objective {plan.objective:.9g}")
    if plan.status == "optimal" and (plan.bound is None or abs(plan.bound - plan.objective) > tol):
        rep.add("status", f"status optimal needs bound == objective (bound {plan.bound}, objective {plan.objective})")
    return rep


def _profile_spec(inst: Instance, node_model: str | None, name: str | None, cat):  # type: ignore[no-untyped-def]
    model = cat.get(node_model) if node_model else None
    if model is None or name is None:
        return model, None
    for p in model.spec.profiles:
        if p.name == name:
            return model, p
    return model, None


def _serves(r: Request, model, p) -> bool:  # type: ignore[no-untyped-def]
    """True when profile spec ``p`` of ``model`` can be a unit of mig request ``r``."""
    if r.profile is not None:
        return p.name == r.profile
    if p.compute != r.slices:
        return False
    if r.min_memory_gib is None:
        return True
    mem = p.memory_gib
    if mem is None:
        # Same estimate the catalog documents: the name's GB, in GiB.
        gb = p.name.split(".")[1].split("gb")[0] if "." in p.name else "0"
        try:
            mem = float(gb) * 1e9 / 2**30
        except ValueError:
            mem = 0.0
    return mem + 1e-9 >= r.min_memory_gib


def _check_unit(inst, rep, r, u, node, chosen, cat) -> float:  # type: ignore[no-untyped-def]
    """Checks one unit on its own; returns its size in GPU-equivalents."""
    where = f"{r.id!r} unit on GPU {_gname(u)}"
    configured = node.gpu_mode(u.gpu)
    mode = chosen.get((u.node, u.gpu), configured) if configured == "any" else configured
    if configured == "any" and (u.node, u.gpu) not in chosen:
        rep.add("gpu_modes", f"GPU {_gname(u)} is in mode 'any' and used, but gpu_modes has no entry for it")
    want = {"mig": "mig", "gpu": "full", "share": "shared"}[r.kind]
    if mode != "any" and mode != want:
        rep.add("mode", f"{where}: a {r.kind} unit needs mode {want!r}, GPU is {mode!r}")
    if r.gpu_models is not None:
        allowed = {cat.canonical(m) or m for m in r.gpu_models}
        if (cat.canonical(node.gpu_model or "") or node.gpu_model) not in allowed:
            rep.add("allowed_models", f"{where}: model {node.gpu_model!r} is not in {list(r.gpu_models)}")
    if r.kind == "gpu":
        if u.profile is not None or u.start is not None or u.gpu_milli is not None:
            rep.add("unit_shape", f"{where}: a whole-GPU unit names only node and gpu")
        return 1.0
    if r.kind == "share":
        if u.profile is not None or u.start is not None:
            rep.add("unit_shape", f"{where}: a share unit has no profile or start")
        milli = u.gpu_milli if u.gpu_milli is not None else r.gpu_milli
        if milli != r.gpu_milli:
            rep.add("unit_shape", f"{where}: gpu_milli {u.gpu_milli} differs from the request's {r.gpu_milli}")
        return (r.gpu_milli or 0) / 1000.0
    # mig
    if u.profile is None or u.start is None or u.gpu_milli is not None:
        rep.add("unit_shape", f"{where}: a MIG unit needs profile and start, and no gpu_milli")
        return 0.0
    model, p = _profile_spec(inst, node.gpu_model, u.profile, cat)
    if model is None or p is None:
        rep.add("profile", f"{where}: model {node.gpu_model!r} has no profile {u.profile!r}")
        return 0.0
    if not _serves(r, model, p):
        rep.add("profile", f"{where}: profile {u.profile!r} does not serve this request")
    if u.start not in p.starts:
        rep.add("mig_start", f"{where}: {u.profile} cannot start at {u.start} (legal: {list(p.starts)})")
    return p.compute / model.spec.compute_slices


def _check_gpus(inst, rep, on_gpu, cat) -> None:  # type: ignore[no-untyped-def]
    """Per GPU: MIG overlap and counts, whole-GPU exclusivity, share capacity."""
    for (nid, g), items in on_gpu.items():
        name = f"{nid}/{g}"
        kinds = {r.kind for r, _ in items}
        if "gpu" in kinds and len(items) > 1:
            rep.add("gpu_exclusive", f"GPU {name} holds a whole-GPU unit and {len(items) - 1} other unit(s)")
        milli = sum(r.gpu_milli or 0 for r, _ in items if r.kind == "share")
        if milli > 1000:
            rep.add("share_capacity", f"GPU {name} holds {milli} milli of shares")
        node = inst.node(nid)
        spans: list[tuple[int, int, str]] = []
        counts: Counter[str] = Counter()
        for r, u in items:
            if r.kind != "mig" or u.profile is None or u.start is None:
                continue
            _, p = _profile_spec(inst, node.gpu_model, u.profile, cat)
            if p is None:
                continue
            counts[p.name] += 1
            lo, hi = u.start, u.start + p.memory_positions_used
            for a, b, other in spans:
                if lo < b and a < hi:
                    rep.add("mig_overlap", f"GPU {name}: {r.id}'s {p.name}@{lo} overlaps {other}")
            spans.append((lo, hi, f"{r.id}'s {p.name}@{lo}"))
        for pname, c in counts.items():
            _, p = _profile_spec(inst, node.gpu_model, pname, cat)
            if c > p.max_count:
                rep.add("mig_max_count", f"GPU {name} holds {c} × {pname}; at most {p.max_count}")


def _check_nodes(inst, rep, on_node) -> None:  # type: ignore[no-untyped-def]
    """Per node: host CPU and memory (units of every kind, host units included)."""
    for nid, items in on_node.items():
        node = inst.node(nid)
        cpu = sum(r.cpu_milli for r, _ in items)
        mem = sum(r.memory_mib for r, _ in items)
        if node.cpu_milli is not None and cpu > node.cpu_milli:
            rep.add("host_cpu", f"node {nid}: units need {cpu} milli-CPU, node has {node.cpu_milli}")
        if node.memory_mib is not None and mem > node.memory_mib:
            rep.add("host_memory", f"node {nid}: units need {mem} MiB, node has {node.memory_mib}")


def _dom(inst: Instance, u: Unit, level: str) -> str:
    """The domain of one unit at ``level``: its GPU at level gpu, else its node's domain.

    A host unit (no GPU) is its own ``node/host`` domain at level gpu."""
    if level == "gpu":
        return f"{u.node}/{u.gpu}" if u.gpu is not None else f"{u.node}/host"
    node = inst.node(u.node)
    if level == "node":
        return node.id
    if level == "cluster":
        return "cluster"
    return node.domains.get(level, node.id)


def _check_topology(inst, rep, placed) -> None:  # type: ignore[no-untyped-def]
    """Required locality and spread."""
    for rid, units in placed.items():
        r = inst.request(rid)
        known = [u for u in units if u.node in inst.node_index]
        if r.locality is not None and r.locality.required:
            doms = {_dom(inst, u, r.locality.level) for u in known}
            if len(doms) > 1:
                rep.add("locality", f"{rid!r} must stay in one {r.locality.level} but uses {sorted(doms)}")
        if r.spread is not None:
            per = Counter(_dom(inst, u, r.spread.level) for u in known)
            for dom, c in sorted(per.items()):
                if c > r.spread.max_per_domain:
                    rep.add("spread", f"{rid!r} has {c} units in {r.spread.level} {dom}; at most {r.spread.max_per_domain}")


def _check_tenants(inst, rep, placed, size_of, on_gpu, on_node) -> None:  # type: ignore[no-untyped-def]
    """Quotas and isolation."""
    tenants = inst.tenant_map
    used: Counter[str] = Counter()
    for rid in placed:
        used[inst.request(rid).tenant] += size_of.get(rid, 0.0)
    for tid, amount in sorted(used.items()):
        t = tenants.get(tid)
        if t is not None and t.max_gpus is not None and amount > t.max_gpus + 1e-9:
            rep.add("quota", f"tenant {tid!r} uses {amount:.6g} GPU-equivalents; max_gpus is {t.max_gpus:g}")
    for (nid, g), items in on_gpu.items():
        ts = {r.tenant for r, _ in items}
        if len(ts) > 1:
            for tid in sorted(ts):
                t = tenants.get(tid)
                if t is not None and t.isolation == "gpu":
                    rep.add("isolation_gpu", f"GPU {nid}/{g} holds tenant {tid!r} (isolation gpu) and {sorted(ts - {tid})}")
    for nid, items in on_node.items():
        ts = {r.tenant for r, _ in items}
        if len(ts) > 1:
            for tid in sorted(ts):
                t = tenants.get(tid)
                if t is not None and t.isolation == "node":
                    rep.add("isolation_node", f"node {nid} holds tenant {tid!r} (isolation node) and {sorted(ts - {tid})}")


def _same_units(a, b) -> bool:  # type: ignore[no-untyped-def]
    key = lambda u: (u.node, u.gpu, u.profile, u.start)  # noqa: E731
    return Counter(map(key, a)) == Counter(map(key, b))


def _check_running(inst, rep, plan, placed) -> set[str]:  # type: ignore[no-untyped-def]
    """Running work stays unless movable; migrations list exactly the moves; max_migrations holds."""
    moved: set[str] = set()
    for r in inst.requests:
        if r.placement is None or r.id not in placed:
            continue
        if not _same_units(r.placement, placed[r.id]):
            moved.add(r.id)
            if not r.movable:
                rep.add("running_moved", f"running request {r.id!r} is not movable but the plan moves it")
    recorded: Counter[str] = Counter(m.request for m in plan.migrations)
    for rid, n in recorded.items():
        r = inst.requests[inst.request_index[rid]] if rid in inst.request_index else None
        if r is None or r.placement is None:
            rep.add("migration_record", f"migrations lists {rid!r}, which is not a running request")
            continue
        if n > 1:
            rep.add("migration_record", f"migrations lists {rid!r} {n} times")
        if rid not in moved:
            rep.add("migration_record", f"migrations lists {rid!r}, but the plan leaves it where it runs")
    for m in plan.migrations:
        r = inst.requests[inst.request_index[m.request]] if m.request in inst.request_index else None
        if r is None or r.placement is None or m.request not in moved:
            continue
        if not _same_units(m.from_, r.placement):
            rep.add("migration_record", f"migration of {m.request!r}: 'from' is not where it runs")
        if not _same_units(m.to, placed[m.request]):
            rep.add("migration_record", f"migration of {m.request!r}: 'to' differs from its assignment")
    for rid in sorted(moved - set(recorded)):
        rep.add("migration_record", f"{rid!r} moves but migrations does not list it")
    cap = inst.objective.max_migrations
    if cap is not None and len(moved) > cap:
        rep.add("max_migrations", f"the plan moves {len(moved)} running requests; max_migrations is {cap}")
    return moved


def _running_size(inst: Instance, r: Request) -> float:
    total = 0.0
    for u in r.placement or ():
        if r.kind == "host":
            continue
        if r.kind == "gpu":
            total += 1.0
        elif r.kind == "share":
            total += (r.gpu_milli or 0) / 1000.0
        else:
            node = inst.node(u.node)
            model, p = _profile_spec(inst, node.gpu_model, u.profile, inst.gpu_catalog)
            if p is not None:
                total += p.compute / model.spec.compute_slices
    return total


__all__ = ["KINDS", "Report", "Violation", "check"]
