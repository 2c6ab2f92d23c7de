"""The independent replay checker of move sequences (``packer check INSTANCE PLAN --moves MOVES``).

``check_moves(instance, plan, moves)`` starts from the instance's running state (its running
placements, the MIG instances they sit on, the configured GPU modes) and replays every step of the
sequence, checking after each one that the cluster is valid: MIG instances at legal starts, not
overlapping, within their profiles' maximum counts, created only on MIG GPUs and destroyed only
when idle; units only on a GPU of the right mode, on an existing idle MIG instance of a profile that
serves them, whole GPUs alone, shares within 1000 milli; host CPU and memory, quotas and isolation
kept; a mode changed only on an empty GPU the instance left in mode ``any``. Request-level rules
(count, locality, spread) hold for the end state, which must be the plan: every request's units,
every MIG GPU's instances and every used ``any`` GPU's mode as planned.

Waves must be safe to run in parallel: every step of a wave is valid in the state at the wave's
start (no step depends on another of its wave), and the wave's capacity-using steps (set_mode,
create, start) are valid together before any of its stops or destroys.

A stop is temporary when, after it, the request runs fewer units than both its running placement
and its planned units have (it is down, or running short, until its destination starts); the step
must say so (``temporary``). Otherwise it is a make-before-break stop: the request's new units (or
its parking units, on the way to a destination still taken) already run.

Like :mod:`packer.check`, this module imports no planner or solver code (nothing from
:mod:`packer.moves.planner`, :mod:`packer.greedy`, :mod:`packer.online`, :mod:`packer.cpsat`,
:mod:`packer.geometry` or :mod:`packer.export`): it reads raw catalog data and works every rule out
again with plain loops. It shares only the data model of the file (:mod:`packer.moves.format`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from packer.model import Instance, Plan, Request, Unit
from packer.moves.format import Create, Destroy, Moves, SetMode, Start, Stop

#: Every kind of violation, with the rule it stands for.
KINDS: dict[str, str] = {
    "instance_name": "the sequence names another instance than the plan's",
    "unknown_request": "a step names a request the instance does not have",
    "unknown_gpu": "a step names a node or GPU index that does not exist",
    "unit_shape": "a started unit lacks or has fields its kind does not (gpu/profile/start/gpu_milli)",
    "mode": "a unit or MIG instance is put on a GPU whose current mode does not hold it",
    "set_mode": "a mode change on a GPU that is not 'any' in the instance, or that holds work",
    "allowed_models": "a unit is started on a GPU model the request does not allow",
    "profile": "a MIG profile the GPU model does not have, or that does not serve the request",
    "mig_start": "a MIG instance created at a start that is not legal for its profile",
    "mig_overlap": "a MIG instance created over memory positions another instance holds",
    "mig_max_count": "a MIG instance created beyond its profile's maximum count on the GPU",
    "mig_missing": "a unit started on, or a destroy of, a MIG instance that does not exist",
    "mig_busy": "a unit started on, or a destroy of, a MIG instance that holds a unit",
    "gpu_exclusive": "a whole-GPU unit started beside another unit, or a unit beside a whole-GPU unit",
    "share_capacity": "shares on one GPU add up to more than 1000 milli",
    "host_cpu": "units on a node need more CPU than the node has",
    "host_memory": "units on a node need more memory than the node has",
    "quota": "a tenant's running GPU-equivalents exceed its max_gpus",
    "isolation_gpu": "a GPU holds units of a gpu-isolated tenant and of another tenant",
    "isolation_node": "a node holds units of a node-isolated tenant and of another tenant",
    "not_running": "a stop of a unit that does not run",
    "wave_parallel": "a step depends on another step of its wave, or the wave's starts do not fit together",
    "temporary_flag": "a stop's temporary flag is wrong (the request does or does not run short after it)",
    "end_state": "after the last step the cluster is not what the plan says",
    "stats": "the sequence's statistics differ from the recounted ones",
}


@dataclass(frozen=True)
class MoveViolation:
    """One broken rule, at a step (wave and step numbers from 1) or at the end."""

    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass
class MovesReport:
    """The replay's verdict and the recounted statistics."""

    violations: list[MoveViolation] = field(default_factory=list)
    stats: dict[str, int | float | None] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations

    def kinds(self) -> set[str]:
        """The kinds of violation found."""
        return {v.kind for v in self.violations}

    def add(self, kind: str, message: str) -> None:
        assert kind in KINDS, kind
        self.violations.append(MoveViolation(kind, message))

    def format(self) -> str:
        """A summary line when valid, else every violation grouped by kind."""
        if self.ok:
            s = self.stats
            return (f"valid move sequence: {s.get('steps')} steps in {s.get('waves')} waves, "
                    f"{s.get('moved_requests')} moved ({s.get('make_before_break')} make-before-break, "
                    f"{s.get('temporary_stops')} temporary stops), {s.get('new_requests')} started")
        lines = [f"{len(self.violations)} move violation(s):"]
        for kind, n in sorted(Counter(v.kind for v in self.violations).items()):
            lines.append(f"  {kind} ({n}): {KINDS[kind]}")
            lines += [f"    - {v.message}" for v in self.violations if v.kind == kind][:20]
            if n > 20:
                lines.append(f"    ... and {n - 20} more")
        return "\n".join(lines)


UKey = tuple[str, int | None, str | None, int | None]  # node, gpu, profile, start (milli is the request's)


def _ukey(u: Unit) -> UKey:
    return (u.node, u.gpu, u.profile, u.start)


class _Cluster:
    """The replayed cluster: modes, MIG instances, and the units that run."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.nodes = {n.id: n for n in inst.nodes}
        self.reqs = {r.id: r for r in inst.requests}
        self.cat = inst.gpu_catalog
        self.mode: dict[tuple[str, int], str] = {(n.id, g): n.gpu_mode(g) for n in inst.nodes for g in range(n.num_gpus)}
        self.gis: dict[tuple[str, int], dict[int, str]] = defaultdict(dict)  # start -> profile
        self.live: dict[str, Counter[UKey]] = defaultdict(Counter)
        # the same units indexed by node (gpu None for host units): (request id, unit) -> copies
        self.by_node: dict[str, Counter[tuple[str, UKey]]] = defaultdict(Counter)
        self.used: dict[str, float] = defaultdict(float)  # GPU-equivalents running, by tenant

    def add(self, rid: str, k: UKey, sign: int) -> None:
        """Starts (+1) or stops (-1) one copy of unit ``k`` of ``rid``."""
        self.used[self.reqs[rid].tenant] += sign * self.size(self.reqs[rid], k)
        for c, key in ((self.live[rid], k), (self.by_node[k[0]], (rid, k))):
            c[key] += sign  # type: ignore[index]
            if c[key] <= 0:  # type: ignore[index]
                del c[key]  # type: ignore[arg-type]

    def clone(self) -> _Cluster:
        c = _Cluster.__new__(_Cluster)
        c.inst, c.nodes, c.reqs, c.cat = self.inst, self.nodes, self.reqs, self.cat
        c.mode = dict(self.mode)
        c.gis = defaultdict(dict, {k: dict(v) for k, v in self.gis.items()})
        c.live = defaultdict(Counter, {k: Counter(v) for k, v in self.live.items()})
        c.by_node = defaultdict(Counter, {k: Counter(v) for k, v in self.by_node.items()})
        c.used = defaultdict(float, self.used)
        return c

    def spec(self, node_id: str, profile: str | None):  # type: ignore[no-untyped-def]
        """(model spec, profile spec or None) of a node's GPU model."""
        node = self.nodes[node_id]
        model = self.cat.get(node.gpu_model) if node.gpu_model else None
        if model is None:
            return None, None
        for p in model.spec.profiles:
            if p.name == profile:
                return model.spec, p
        return model.spec, None

    # ------------------------------------------------------------------ what a GPU / node holds

    def units_on_gpu(self, node: str, gpu: int) -> list[tuple[Request, UKey]]:
        return [(self.reqs[rid], k) for (rid, k), n in self.by_node.get(node, Counter()).items()
                for _ in range(n) if k[1] == gpu]

    def units_on_node(self, node: str) -> list[tuple[Request, UKey]]:
        return [(self.reqs[rid], k) for (rid, k), n in self.by_node.get(node, Counter()).items() for _ in range(n)]

    def size(self, r: Request, k: UKey) -> float:
        if r.kind == "host":
            return 0.0
        if r.kind == "gpu":
            return 1.0
        if r.kind == "share":
            return (r.gpu_milli or 0) / 1000.0
        model, p = self.spec(k[0], k[2])
        return p.compute / model.compute_slices if p is not None and model is not None else 0.0

    # ------------------------------------------------------------------ step rules

    def errors(self, step: SetMode | Create | Destroy | Start | Stop) -> list[tuple[str, str]]:
        """The rules ``step`` breaks in this state (empty when it is valid)."""
        if isinstance(step, SetMode):
            return self._set_mode(step)
        if isinstance(step, Create):
            return self._create(step)
        if isinstance(step, Destroy):
            return self._destroy(step)
        if isinstance(step, Start):
            return self._start(step)
        return self._stop(step)

    def _gpu_exists(self, node: str, gpu: int | None) -> bool:
        return node in self.nodes and gpu is not None and gpu < self.nodes[node].num_gpus

    def _set_mode(self, s: SetMode) -> list[tuple[str, str]]:
        if not self._gpu_exists(s.node, s.gpu):
            return [("unknown_gpu", f"GPU {s.node}/{s.gpu} does not exist")]
        out = []
        if self.nodes[s.node].gpu_mode(s.gpu) != "any":
            out.append(("set_mode", f"GPU {s.node}/{s.gpu} is in mode {self.nodes[s.node].gpu_mode(s.gpu)!r} "
                                    f"in the instance; only 'any' GPUs change mode"))
        if self.units_on_gpu(s.node, s.gpu) or self.gis.get((s.node, s.gpu)):
            out.append(("set_mode", f"GPU {s.node}/{s.gpu} holds work or MIG instances"))
        model, _ = self.spec(s.node, None)
        if s.mode == "mig" and (model is None or not model.profiles):
            out.append(("mode", f"GPU {s.node}/{s.gpu} has no MIG profiles"))
        return out

    def _create(self, s: Create) -> list[tuple[str, str]]:
        where = f"{s.profile}@{s.start} on GPU {s.node}/{s.gpu}"
        if not self._gpu_exists(s.node, s.gpu):
            return [("unknown_gpu", f"GPU {s.node}/{s.gpu} does not exist")]
        if self.mode[(s.node, s.gpu)] != "mig":
            return [("mode", f"{where}: the GPU is in mode {self.mode[(s.node, s.gpu)]!r}, not mig")]
        model, p = self.spec(s.node, s.profile)
        if p is None:
            return [("profile", f"{where}: the GPU model has no profile {s.profile!r}")]
        out = []
        if s.start not in p.starts:
            out.append(("mig_start", f"{where}: legal starts are {list(p.starts)}"))
        have = self.gis.get((s.node, s.gpu), {})
        for start, name in have.items():
            _, q = self.spec(s.node, name)
            if s.start < start + q.memory_positions_used and start < s.start + p.memory_positions_used:
                out.append(("mig_overlap", f"{where}: overlaps {name}@{start}"))
        if sum(1 for name in have.values() if name == s.profile) >= p.max_count:
            out.append(("mig_max_count", f"{where}: {p.max_count} already exist"))
        return out

    def _gi_user(self, node: str, gpu: int, start: int) -> str | None:
        for r, k in self.units_on_gpu(node, gpu):
            if k[3] == start and r.kind == "mig":
                return r.id
        return None

    def _destroy(self, s: Destroy) -> list[tuple[str, str]]:
        where = f"{s.profile}@{s.start} on GPU {s.node}/{s.gpu}"
        if not self._gpu_exists(s.node, s.gpu):
            return [("unknown_gpu", f"GPU {s.node}/{s.gpu} does not exist")]
        if self.gis.get((s.node, s.gpu), {}).get(s.start) != s.profile:
            return [("mig_missing", f"destroy {where}: no such MIG instance")]
        user = self._gi_user(s.node, s.gpu, s.start)
        if user is not None:
            return [("mig_busy", f"destroy {where}: {user!r} runs on it")]
        return []

    def _stop(self, s: Stop) -> list[tuple[str, str]]:
        if s.request not in self.reqs:
            return [("unknown_request", f"{s.request!r} is not a request of the instance")]
        if self.live[s.request][_ukey(s.unit)] <= 0:
            return [("not_running", f"stop {s.request!r} on {_where(s.unit)}: that unit does not run")]
        return []

    def _start(self, s: Start) -> list[tuple[str, str]]:
        r = self.reqs.get(s.request)
        if r is None:
            return [("unknown_request", f"{s.request!r} is not a request of the instance")]
        u = s.unit
        where = f"start {r.id!r} on {_where(u)}"
        if u.node not in self.nodes:
            return [("unknown_gpu", f"{where}: node {u.node!r} does not exist")]
        shape = _shape_error(r, u)
        if shape:
            return [("unit_shape", f"{where}: {shape}")]
        out: list[tuple[str, str]] = []
        tenants = self.inst.tenant_map
        on_node = self.units_on_node(u.node)
        node = self.nodes[u.node]
        cpu = sum(q.cpu_milli for q, _ in on_node) + r.cpu_milli
        mem = sum(q.memory_mib for q, _ in on_node) + r.memory_mib
        if node.cpu_milli is not None and cpu > node.cpu_milli:
            out.append(("host_cpu", f"{where}: node needs {cpu} milli-CPU, has {node.cpu_milli}"))
        if node.memory_mib is not None and mem > node.memory_mib:
            out.append(("host_memory", f"{where}: node needs {mem} MiB, has {node.memory_mib}"))
        _isolation(out, "isolation_node", where, tenants, {q.tenant for q, _ in on_node}, r.tenant, "node")
        t = tenants.get(r.tenant)
        if t is not None and t.max_gpus is not None:
            used = self.used[r.tenant] + self.size(r, _ukey(u))
            if used > t.max_gpus + 1e-9:
                out.append(("quota", f"{where}: tenant {r.tenant!r} would run {used:.6g} of {t.max_gpus:g}"))
        if r.kind == "host":
            return out
        assert u.gpu is not None
        if not self._gpu_exists(u.node, u.gpu):
            return [("unknown_gpu", f"{where}: GPU {u.node}/{u.gpu} does not exist")]
        mode = self.mode[(u.node, u.gpu)]
        want = {"mig": "mig", "gpu": "full", "share": "shared"}[r.kind]
        if mode != want:
            out.append(("mode", f"{where}: a {r.kind} unit needs mode {want!r}, the GPU is {mode!r}"))
        if r.gpu_models is not None:
            allowed = {self.cat.canonical(m) or m for m in r.gpu_models}
            if (self.cat.canonical(node.gpu_model or "") or node.gpu_model) not in allowed:
                out.append(("allowed_models", f"{where}: model {node.gpu_model!r} is not allowed"))
        on_gpu = self.units_on_gpu(u.node, u.gpu)
        _isolation(out, "isolation_gpu", where, tenants, {q.tenant for q, _ in on_gpu}, r.tenant, "gpu")
        if r.kind == "gpu" and on_gpu:
            out.append(("gpu_exclusive", f"{where}: the GPU holds {len(on_gpu)} unit(s)"))
        if r.kind != "gpu" and any(q.kind == "gpu" for q, _ in on_gpu):
            out.append(("gpu_exclusive", f"{where}: the GPU holds a whole-GPU unit"))
        if r.kind == "share":
            milli = sum(q.gpu_milli or 0 for q, _ in on_gpu if q.kind == "share") + (r.gpu_milli or 0)
            if milli > 1000:
                out.append(("share_capacity", f"{where}: {milli} milli on the GPU"))
        if r.kind == "mig":
            model, p = self.spec(u.node, u.profile)
            if p is None or not _serves(r, p):
                out.append(("profile", f"{where}: profile {u.profile!r} does not serve the request here"))
            if self.gis.get((u.node, u.gpu), {}).get(u.start) != u.profile:  # type: ignore[arg-type]
                out.append(("mig_missing", f"{where}: no {u.profile}@{u.start} MIG instance exists"))
            else:
                user = self._gi_user(u.node, u.gpu, u.start)  # type: ignore[arg-type]
                if user is not None:
                    out.append(("mig_busy", f"{where}: {user!r} runs on that MIG instance"))
        return out

    # ------------------------------------------------------------------ changes

    def apply(self, step: SetMode | Create | Destroy | Start | Stop) -> None:
        if isinstance(step, SetMode):
            self.mode[(step.node, step.gpu)] = step.mode
        elif isinstance(step, Create):
            self.gis[(step.node, step.gpu)][step.start] = step.profile
        elif isinstance(step, Destroy):
            self.gis[(step.node, step.gpu)].pop(step.start, None)
        elif isinstance(step, Start):
            self.add(step.request, _ukey(step.unit), +1)
        else:
            self.add(step.request, _ukey(step.unit), -1)


def _where(u: Unit) -> str:
    if u.gpu is None:
        return f"node {u.node}"
    extra = f" {u.profile}@{u.start}" if u.profile is not None else ""
    return f"GPU {u.node}/{u.gpu}{extra}"


def _shape_error(r: Request, u: Unit) -> str | None:
    if r.kind == "host":
        return None if (u.gpu, u.profile, u.start, u.gpu_milli) == (None,) * 4 else "a host unit names only its node"
    if u.gpu is None:
        return f"a {r.kind} unit needs gpu"
    if r.kind == "gpu":
        return None if (u.profile, u.start, u.gpu_milli) == (None,) * 3 else "a whole-GPU unit names only node and gpu"
    if r.kind == "share":
        if u.profile is not None or u.start is not None:
            return "a share unit has no profile or start"
        return None if u.gpu_milli in (None, r.gpu_milli) else f"gpu_milli {u.gpu_milli} is not the request's"
    if u.profile is None or u.start is None or u.gpu_milli is not None:
        return "a MIG unit needs profile and start, and no gpu_milli"
    return None


def _serves(r: Request, p) -> bool:  # type: ignore[no-untyped-def]
    """Profile spec ``p`` can be a unit of mig request ``r``."""
    if r.profile is not None:
        return bool(p.name == r.profile)
    if p.compute != r.slices:
        return False
    if r.min_memory_gib is None:
        return True
    mem = p.memory_gib
    if mem is None:
        try:
            mem = float(p.name.split(".")[1].split("gb")[0]) * 1e9 / 2**30
        except (IndexError, ValueError):
            mem = 0.0
    return bool(mem + 1e-9 >= r.min_memory_gib)


def _isolation(out, kind, where, tenants, present, tenant, level) -> None:  # type: ignore[no-untyped-def]
    others = present - {tenant}
    if not others:
        return
    iso = [t for t in sorted(others | {tenant}) if tenants.get(t) is not None and tenants[t].isolation == level]
    if iso:
        out.append((kind, f"{where}: tenant {tenant!r} beside {sorted(others)} ({level} isolation of {iso})"))


def _is_capacity_use(step: object) -> bool:
    return isinstance(step, SetMode | Create | Start)


def check_moves(inst: Instance, plan: Plan, moves: Moves) -> MovesReport:
    """Replays ``moves`` from ``inst``'s running state; every step valid, waves parallel-safe, end = ``plan``."""
    rep = MovesReport()
    if moves.instance != inst.name or plan.instance != inst.name:
        rep.add("instance_name", f"moves for {moves.instance!r}, plan for {plan.instance!r}, instance {inst.name!r}")
    world = _Cluster(inst)
    for r in inst.requests:
        for u in r.placement or ():
            world.add(r.id, _ukey(u), +1)
            if r.kind == "mig" and u.gpu is not None and u.start is not None and u.profile is not None:
                world.gis[(u.node, u.gpu)][u.start] = u.profile
    target: dict[str, Counter[UKey]] = {a.request: Counter(_ukey(u) for u in a.units) for a in plan.assignments}
    moved = {r.id for r in inst.requests if r.placement is not None
             and Counter(_ukey(u) for u in r.placement) != target.get(r.id, Counter())}
    broken: set[str] = set()
    started_new: set[str] = set()
    num_steps = 0
    for w, wave in enumerate(moves.waves, start=1):
        at_start = world.clone()
        joint = world.clone()
        for k, step in enumerate(wave.steps, start=1):
            num_steps += 1
            here = f"wave {w} step {k} ({step.op})"
            errs = world.errors(step)
            for kind, msg in errs:
                rep.add(kind, f"{here}: {msg}")
            parallel_ok = True
            if not errs and at_start.errors(step):
                rep.add("wave_parallel", f"{here}: needs an earlier step of its wave")
                parallel_ok = False
            if _is_capacity_use(step) and not errs:
                if parallel_ok and joint.errors(step):
                    rep.add("wave_parallel", f"{here}: does not fit beside the wave's other starts and creates "
                                             "unless its stops and destroys run first")
                elif parallel_ok:
                    joint.apply(step)
            if errs:
                continue
            world.apply(step)
            if isinstance(step, Stop):
                r = inst.request(step.request)
                floor = min(len(r.placement or ()), sum(target.get(r.id, Counter()).values()))
                keeps = sum(world.live[r.id].values()) >= floor
                if step.temporary == keeps:
                    rep.add("temporary_flag", f"{here}: {r.id!r} runs {sum(world.live[r.id].values())} units after "
                                              f"it (floor {floor}), but the step says temporary={step.temporary}")
                if not keeps:
                    broken.add(r.id)
            elif isinstance(step, Start) and inst.request(step.request).placement is None:
                started_new.add(step.request)
    _check_end(rep, inst, plan, world, target)
    rep.stats = {
        "steps": num_steps,
        "waves": len(moves.waves),
        "moved_requests": len(moved),
        "make_before_break": len(moved - broken),
        "temporary_stops": len(broken),
        "new_requests": len(started_new),
    }
    for key, value in rep.stats.items():
        if key in moves.stats and moves.stats[key] != value:
            rep.add("stats", f"{key}: the sequence says {moves.stats[key]}, the replay counts {value}")
    return rep


def _check_end(rep: MovesReport, inst: Instance, plan: Plan, world: _Cluster,
               target: dict[str, Counter[UKey]]) -> None:
    """The state after the last step is the plan: units, MIG instances and modes."""
    for r in inst.requests:
        want = target.get(r.id, Counter())
        have = +world.live.get(r.id, Counter())
        if have != want:
            rep.add("end_state", f"{r.id!r} runs {sorted(have.elements(), key=str)}, the plan says "
                                 f"{sorted(want.elements(), key=str)}")
    planned_gis: dict[tuple[str, int], dict[int, str]] = defaultdict(dict)
    for a in plan.assignments:
        if a.request in world.reqs and world.reqs[a.request].kind == "mig":
            for u in a.units:
                if u.gpu is not None and u.start is not None and u.profile is not None:
                    planned_gis[(u.node, u.gpu)][u.start] = u.profile
    for gpu in sorted(set(planned_gis) | {g for g, v in world.gis.items() if v}):
        if world.gis.get(gpu, {}) != planned_gis.get(gpu, {}):
            rep.add("end_state", f"GPU {gpu[0]}/{gpu[1]} has MIG instances {sorted(world.gis.get(gpu, {}).items())}, "
                                 f"the plan uses {sorted(planned_gis.get(gpu, {}).items())}")
    for m in plan.gpu_modes:
        if world.mode.get((m.node, m.gpu)) != m.mode:
            rep.add("end_state", f"GPU {m.node}/{m.gpu} ends in mode {world.mode.get((m.node, m.gpu))!r}, "
                                 f"the plan says {m.mode!r}")


__all__ = ["KINDS", "MoveViolation", "MovesReport", "check_moves"]
