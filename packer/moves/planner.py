"""The move planner: an ordered, wave-parallel sequence from a running cluster to a plan.

Given an instance with running placements (the cluster now) and a valid plan for it (the target),
:func:`plan_moves` returns the steps that get from one to the other (see
:mod:`packer.moves.format`): ``set_mode`` for each ``any`` GPU the plan uses, ``create`` /
``destroy`` for the MIG instances that differ, ``start`` / ``stop`` for the units that differ.

How it works. The state is simulated wave by wave. A wave takes every step that is valid in the
state at the wave's start and that no other step of the same wave depends on; the steps that use
capacity (set_mode, create, start) must also fit *together*. So any interleaving of a wave's steps
is valid, which is what lets them run in parallel. Within a wave the steps are listed with those
that use capacity first and those that free it (stop, destroy) after.

Make-before-break: a moved request stops its old units only in a wave after all its new units run;
until then both hold capacity. New (waiting) requests start on GPUs, nodes and quota-limited
tenants that no unfinished move touches, or once the moves are done, so they never take the
capacity a move needs for its overlap. When no step is possible, the moves left wait on each other
in cycles (or on capacity only an old unit frees). The planner then builds the wait-for graph (a
move → the moves whose old units stand where one of its new units must go), sets aside the moves on
no cycle, and interrupts the move on most cycles' way (waits-on × waited-on, then the cheapest by
migration cost), repeatedly, until no cycle is left: a greedy feedback vertex set. To interrupt a
move it first tries to *park* it: units where nothing runs now and nothing runs in the plan take
its work (make-before-break), its old units stop, and later it moves on from the parking to its
destination (make-before-break again), so it never goes down. Where no such room exists (the usual
case in a full cluster) the move is *broken*: its old units stop before its new ones run, and the
stop says ``temporary``. Stopping every old unit always makes room (the target is valid), so the
planner always ends.

Finding the fewest temporary stops is NP-hard (a minimum feedback vertex set); the sequence reports
how many it took (``stats``). A stop is temporary when the request runs fewer units after it than
both its running placement and its plan give it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from packer.errors import InputError
from packer.geometry import span_mask
from packer.model import MILLI_PER_GPU, MODE_OF_KIND, Instance, Plan, Request, Unit
from packer.moves.format import Create, Destroy, Moves, SetMode, Start, Stop, Wave

Key = tuple[str, int | None, str | None, int | None, int | None]  # node, gpu, profile, start, milli
Gpu = tuple[str, int]
Gi = tuple[str, int, int]  # node, gpu, start

#: How many moves of a cycle the planner tries to park before it stops one (each search scans the cluster).
_PARK_TRIES = 3
#: Checker verdicts that do not stop a plan from being a target (its numbers, not its layout).
_NOT_ABOUT_LAYOUT = frozenset({"objective", "bound", "status", "max_migrations"})


def _key(req: Request, u: Unit) -> Key:
    """A unit as a hashable key; a share unit always carries its request's milli."""
    if req.kind == "host":
        return (u.node, None, None, None, None)
    if req.kind == "share":
        return (u.node, u.gpu, None, None, req.gpu_milli)
    if req.kind == "gpu":
        return (u.node, u.gpu, None, None, None)
    return (u.node, u.gpu, u.profile, u.start, None)


def _unit(k: Key) -> Unit:
    return Unit(node=k[0], gpu=k[1], profile=k[2], start=k[3], gpu_milli=k[4])


class _State:
    """What runs where, what MIG instances exist and what each GPU, node and tenant holds."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.req = {r.id: r for r in inst.requests}
        self.mode: dict[Gpu, str] = {(n.id, g): n.gpu_mode(g) for n, g in inst.gpus()}
        self.gis: dict[Gpu, dict[int, str]] = defaultdict(dict)  # start -> profile
        self.gi_user: dict[Gi, str] = {}
        self.units: dict[str, Counter[Key]] = defaultdict(Counter)
        self.on_gpu: dict[Gpu, Counter[str]] = defaultdict(Counter)  # request ids (with multiplicity)
        self.on_node: dict[str, Counter[str]] = defaultdict(Counter)
        self.milli: Counter[Gpu] = Counter()
        self.whole: Counter[Gpu] = Counter()
        self.cpu: Counter[str] = Counter()
        self.mem: Counter[str] = Counter()
        self.used: Counter[str] = Counter()
        self.gpu_tenants: dict[Gpu, Counter[str]] = defaultdict(Counter)
        self.node_tenants: dict[str, Counter[str]] = defaultdict(Counter)
        #: Node id -> its GPU model (None: no GPUs); the catalog lookup normalizes names, so it is kept.
        self.models = {n.id: inst.model_of(n) for n in inst.nodes}
        #: (table name, key) of the inner counters and layouts a copy owns; None: owns all (not a copy).
        self._owned: set[tuple[str, object]] | None = None

    def copy(self) -> _State:
        """A copy that shares the inner counters and layouts with this state until it changes one
        (copy on write): a wave's joint state touches a few GPUs of a cluster of thousands."""
        new = _State.__new__(_State)
        new.inst, new.req, new.models = self.inst, self.req, self.models
        new.mode = dict(self.mode)
        new.gis = defaultdict(dict, self.gis)
        new.gi_user = dict(self.gi_user)
        new.units = defaultdict(Counter, self.units)
        new.on_gpu = defaultdict(Counter, self.on_gpu)
        new.on_node = defaultdict(Counter, self.on_node)
        new.milli, new.whole = Counter(self.milli), Counter(self.whole)
        new.cpu, new.mem, new.used = Counter(self.cpu), Counter(self.mem), Counter(self.used)
        new.gpu_tenants = defaultdict(Counter, self.gpu_tenants)
        new.node_tenants = defaultdict(Counter, self.node_tenants)
        new._owned = set()
        return new

    def _mine(self, name: str, key: object) -> Counter[str] | dict[int, str]:
        """The inner counter (or MIG layout) ``key`` of table ``name``, copied first if shared."""
        table = getattr(self, name)
        if self._owned is not None and (name, key) not in self._owned:
            self._owned.add((name, key))
            inner = table.get(key)
            table[key] = dict(inner or {}) if name == "gis" else Counter(inner)
        return table[key]

    def set_gi(self, gpu: Gpu, start: int, profile: str) -> None:
        """Records a MIG instance ``profile@start`` on ``gpu``."""
        self._mine("gis", gpu)[start] = profile  # type: ignore[assignment]

    # ---------------------------------------------------------------------------- sizes

    def size(self, req: Request, k: Key) -> float:
        if req.kind == "host":
            return 0.0
        if req.kind == "gpu":
            return 1.0
        if req.kind == "share":
            return (k[4] or 0) / MILLI_PER_GPU
        model = self.models[k[0]]
        p = model.profile(k[2] or "") if model is not None else None
        return p.gpu_equivalents if p is not None else 0.0

    def gi_size(self, gpu: Gpu, profile: str) -> int:
        model = self.models[gpu[0]]
        p = model.profile(profile) if model is not None else None
        assert p is not None
        return p.size

    # ---------------------------------------------------------------------------- tests

    def gi_fits(self, gpu: Gpu, profile: str, start: int) -> bool:
        """One more MIG instance fits: free memory positions and below the profile's maximum count."""
        model = self.models[gpu[0]]
        p = model.profile(profile) if model is not None else None
        if p is None or start not in p.starts:
            return False
        have = self.gis.get(gpu, {})
        if sum(1 for q in have.values() if q == profile) >= p.max_count:
            return False
        lo, hi = start, start + p.size
        return all(not (lo < s + self.gi_size(gpu, q) and s < hi) for s, q in have.items())

    # ---------------------------------------------------------------------------- changes

    def add_unit(self, rid: str, k: Key, sign: int = 1) -> None:
        req = self.req[rid]
        units = self._mine("units", rid)
        units[k] += sign  # type: ignore[index,operator]
        if units[k] <= 0:  # type: ignore[index,operator]
            del units[k]  # type: ignore[arg-type]
        on_node, node_tenants = self._mine("on_node", k[0]), self._mine("node_tenants", k[0])
        on_node[rid] += sign  # type: ignore[operator]
        node_tenants[req.tenant] += sign  # type: ignore[operator]
        self.cpu[k[0]] += sign * req.cpu_milli
        self.mem[k[0]] += sign * req.memory_mib
        self.used[req.tenant] += sign * self.size(req, k)
        _prune(on_node)  # type: ignore[arg-type]
        _prune(node_tenants)  # type: ignore[arg-type]
        if k[1] is None:
            return
        gpu = (k[0], k[1])
        on_gpu, gpu_tenants = self._mine("on_gpu", gpu), self._mine("gpu_tenants", gpu)
        on_gpu[rid] += sign  # type: ignore[operator]
        gpu_tenants[req.tenant] += sign  # type: ignore[operator]
        _prune(on_gpu)  # type: ignore[arg-type]
        _prune(gpu_tenants)  # type: ignore[arg-type]
        if req.kind == "gpu":
            self.whole[gpu] += sign
        elif req.kind == "share":
            self.milli[gpu] += sign * (k[4] or 0)
        elif req.kind == "mig":
            assert k[3] is not None
            if sign > 0:
                self.gi_user[(k[0], k[1], k[3])] = rid
            else:
                self.gi_user.pop((k[0], k[1], k[3]), None)

    def apply(self, step: SetMode | Create | Destroy | Start | Stop) -> None:
        if isinstance(step, SetMode):
            self.mode[(step.node, step.gpu)] = step.mode
        elif isinstance(step, Create):
            self.set_gi((step.node, step.gpu), step.start, step.profile)
        elif isinstance(step, Destroy):
            del self._mine("gis", (step.node, step.gpu))[step.start]  # type: ignore[arg-type]
        elif isinstance(step, Start):
            self.add_unit(step.request, _key(self.req[step.request], step.unit), +1)
        else:
            self.add_unit(step.request, _key(self.req[step.request], step.unit), -1)


def _prune(c: Counter[str]) -> None:
    for k in [k for k, v in c.items() if v <= 0]:
        del c[k]


@dataclass
class _Move:
    """One request's changes: units to start and to stop, and how it gets there.

    ``broken``: its old units stop before its new ones start (a temporary stop). ``later``: it was
    parked, so it first starts parking units and stops its old ones, then (``later`` = its real
    arrivals and the parking units) starts at its destination and stops the parking units.
    ``floor``: the fewest units it runs without being down, min(units now, units planned).
    """

    req: Request
    arrive: Counter[Key]
    leave: Counter[Key]
    running: bool
    floor: int = 0
    broken: bool = False
    parked: bool = False
    later: tuple[Counter[Key], Counter[Key]] | None = None
    park_gis: set[Gi] = field(default_factory=set)
    park_tried: bool = False
    temporary: bool = False
    started: Counter[Key] = field(default_factory=Counter)
    stopped: Counter[Key] = field(default_factory=Counter)

    def arrived(self) -> bool:
        return self.started == self.arrive

    def done(self) -> bool:
        return self.later is None and self.arrived() and self.stopped == self.leave


class MovePlanner:
    """Plans the move sequence from ``inst``'s running state to ``plan`` (see the module docstring)."""

    def __init__(self, inst: Instance, plan: Plan, *, check: bool = True) -> None:
        if plan.instance != inst.name:
            raise InputError(f"the plan is for instance {plan.instance!r}, not {inst.name!r}", field="instance")
        if check:
            from packer.check import check as check_plan

            bad = [v for v in check_plan(inst, plan).violations if v.kind not in _NOT_ABOUT_LAYOUT]
            if bad:
                more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
                raise InputError(f"the plan is not valid for the instance: {bad[0]}{more}", field=bad[0].kind)
        self.inst, self.plan = inst, plan
        self.state = _State(inst)
        target: dict[str, Counter[Key]] = {}
        for a in plan.assignments:
            req = inst.request(a.request)
            target[a.request] = Counter(_key(req, u) for u in a.units)
        self.target_gis: dict[Gi, str] = {}
        self.moves: dict[str, _Move] = {}
        source_gis: dict[Gi, str] = {}
        for r in inst.requests:
            src = Counter(_key(r, u) for u in r.placement or ())
            for k in src.elements():
                self.state.add_unit(r.id, k)
                if r.kind == "mig":
                    assert k[1] is not None and k[3] is not None and k[2] is not None
                    self.state.gis[(k[0], k[1])][k[3]] = k[2]
                    source_gis[(k[0], k[1], k[3])] = k[2]
            tgt = target.get(r.id, Counter())
            if r.kind == "mig":
                for k in tgt:
                    assert k[1] is not None and k[3] is not None and k[2] is not None
                    self.target_gis[(k[0], k[1], k[3])] = k[2]
            if src != tgt:
                floor = min(sum(src.values()), sum(tgt.values()))
                self.moves[r.id] = _Move(r, tgt - src, src - tgt, r.placement is not None, floor)
        self.to_destroy = {g: p for g, p in source_gis.items() if self.target_gis.get(g) != p}
        self.to_create = {g: p for g, p in self.target_gis.items() if source_gis.get(g) != p}
        self.to_mode: dict[Gpu, str] = {}
        chosen = {(m.node, m.gpu): m.mode for m in plan.gpu_modes}
        for rid, units in target.items():
            kind = inst.request(rid).kind
            for k in units:
                if k[1] is not None and self.state.mode[(k[0], k[1])] == "any":
                    self.to_mode[(k[0], k[1])] = chosen.get((k[0], k[1]), MODE_OF_KIND[kind])
        self._target_use(target)
        #: mode -> node id -> GPUs whose mode the instance fixes (not 'any') and where the plan leaves
        #: room, in file order: the only GPUs that can hold parking (parking reservations only take
        #: planned room, so the index stays a superset).
        self._fixed_gpus: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for n, g in inst.gpus():
            mode = n.gpu_mode(g)
            if mode != "any" and self._plan_room((n.id, g), mode):
                self._fixed_gpus[mode][n.id].append(g)
        tenants = inst.tenant_map
        self._iso_gpu = {t for t, v in tenants.items() if v.isolation == "gpu"}
        self._iso_node = {t for t, v in tenants.items() if v.isolation == "node"}
        self.waves: list[Wave] = []
        self._costs: dict[str, float] = {}

    # ------------------------------------------------------------------ parking

    def _target_use(self, target: dict[str, Counter[Key]]) -> None:
        """What the plan puts on every GPU and node (parking must leave room for it)."""
        self.t_units: Counter[Gpu] = Counter()
        self.t_milli: Counter[Gpu] = Counter()
        self.t_cpu: Counter[str] = Counter()
        self.t_mem: Counter[str] = Counter()
        self.t_gpu_tenants: dict[Gpu, Counter[str]] = defaultdict(Counter)
        self.t_node_tenants: dict[str, Counter[str]] = defaultdict(Counter)
        self.t_gis: dict[Gpu, dict[int, str]] = defaultdict(dict)
        # parking reserved now (started later): room the current state must also keep for it
        self.r_milli: Counter[Gpu] = Counter()
        self.r_units: Counter[Gpu] = Counter()
        self.r_cpu: Counter[str] = Counter()
        self.r_mem: Counter[str] = Counter()
        for rid, units in target.items():
            req = self.inst.request(rid)
            for k in units.elements():
                self._reserve_target(req, k)
        for (node, gpu, start), prof in self.target_gis.items():
            self.t_gis[(node, gpu)][start] = prof

    def _reserve_target(self, req: Request, k: Key, sign: int = 1) -> None:
        self.t_cpu[k[0]] += sign * req.cpu_milli
        self.t_mem[k[0]] += sign * req.memory_mib
        self.t_node_tenants[k[0]][req.tenant] += sign
        if sign < 0:
            _prune(self.t_node_tenants[k[0]])
        if k[1] is not None:
            gpu = (k[0], k[1])
            self.t_units[gpu] += sign
            self.t_milli[gpu] += sign * (MILLI_PER_GPU if req.kind == "gpu" else (k[4] or 0))
            self.t_gpu_tenants[gpu][req.tenant] += sign
            if sign < 0:
                _prune(self.t_gpu_tenants[gpu])

    def _reserve_park(self, req: Request, spot: Key, sign: int) -> None:
        """Reserves (sign +1) or gives back (-1) parking unit ``spot``: planned use and room kept now."""
        self._reserve_target(req, spot, sign)
        self.r_cpu[spot[0]] += sign * req.cpu_milli
        self.r_mem[spot[0]] += sign * req.memory_mib
        if spot[1] is None:
            return
        gpu = (spot[0], spot[1])
        self.r_units[gpu] += sign
        self.r_milli[gpu] += sign * (MILLI_PER_GPU if req.kind == "gpu" else (spot[4] or 0))
        if req.kind == "mig":
            assert spot[2] is not None and spot[3] is not None
            if sign > 0:
                self.t_gis[gpu][spot[3]] = spot[2]
            else:
                del self.t_gis[gpu][spot[3]]

    def _plan_room(self, gpu: Gpu, mode: str) -> bool:
        """Whether the plan leaves any room on ``gpu`` (of fixed ``mode``)."""
        if mode == "full":
            return not self.t_units[gpu]
        if mode == "shared":
            return self.t_milli[gpu] < MILLI_PER_GPU
        model = self.state.models[gpu[0]]
        if model is None or not model.memory_positions:
            return False
        occ = 0
        for st, q in self.t_gis.get(gpu, {}).items():
            occ |= span_mask(st, self.state.gi_size(gpu, q))
        return occ != (1 << model.memory_positions) - 1

    def _park_spot(self, req: Request, k: Key) -> Key | None:
        """A unit for ``req`` where nothing runs now or in the plan (and no other parking), or None.

        Only GPUs whose mode the instance fixes to ``req``'s are looked at (an ``any`` GPU is never a
        parking spot, and no step changes a fixed mode): an index built once, by node in file order,
        ``req``'s own node first.
        """
        s = self.state
        allowed = self.inst.allowed_models(req)
        mode = MODE_OF_KIND.get(req.kind)
        by_node = self._fixed_gpus.get(mode, {}) if mode is not None else {n.id: [] for n in self.inst.nodes}
        order = ([k[0]] if k[0] in by_node else []) + [nid for nid in by_node if nid != k[0]]
        choices: dict[str, list] = {}  # model name -> profiles that serve req
        for nid in order:
            node = self.inst.node(nid)
            if node.cpu_milli is not None and max(s.cpu[nid] + self.r_cpu[nid], self.t_cpu[nid]) + req.cpu_milli \
                    > node.cpu_milli:
                continue
            if node.memory_mib is not None and max(s.mem[nid] + self.r_mem[nid], self.t_mem[nid]) + req.memory_mib \
                    > node.memory_mib:
                continue
            if not (_level_ok(s.node_tenants[nid], req.tenant, self._iso_node)
                    and _level_ok(self.t_node_tenants[nid], req.tenant, self._iso_node)):
                continue
            if req.kind == "host":
                return (nid, None, None, None, None)
            model = s.models[nid]
            if model is None or (allowed is not None and self.inst.gpu_catalog.canonical(model.name) not in allowed):
                continue
            for g in by_node[nid]:
                gpu = (nid, g)
                if not (_level_ok(s.gpu_tenants[gpu], req.tenant, self._iso_gpu)
                        and _level_ok(self.t_gpu_tenants[gpu], req.tenant, self._iso_gpu)):
                    continue
                if req.kind == "gpu":
                    if not s.on_gpu[gpu] and not self.t_units[gpu] and not self.r_units[gpu]:
                        return (nid, g, None, None, None)
                elif req.kind == "share":
                    milli = k[4] or 0
                    if (not s.whole[gpu] and s.milli[gpu] + self.r_milli[gpu] + milli <= MILLI_PER_GPU
                            and self.t_milli[gpu] + milli <= MILLI_PER_GPU):
                        return (nid, g, None, None, milli)
                else:
                    if model.name not in choices:
                        choices[model.name] = self.inst.profile_choices(req, model)
                    spot = self._gi_spot(gpu, choices[model.name])
                    if spot is not None:
                        return (nid, g, spot[0], spot[1], None)
        return None

    def _gi_spot(self, gpu: Gpu, profiles: list) -> tuple[str, int] | None:
        """The first ``profile@start`` (``profiles`` in order, then starts) that fits beside the MIG
        instances on ``gpu`` now, planned and reserved (below each layout's count limit), or None."""
        s = self.state
        now, planned = s.gis.get(gpu, {}), self.t_gis.get(gpu, {})
        occ = 0
        for layout in (now, planned):
            for st, q in layout.items():
                occ |= span_mask(st, s.gi_size(gpu, q))
        for p in profiles:
            if any(sum(1 for q in layout.values() if q == p.name) >= p.max_count for layout in (now, planned)):
                continue
            for start in p.starts:
                if not span_mask(start, p.size) & occ:
                    return p.name, start
        return None

    def _park(self, m: _Move) -> bool:
        """Parks move ``m``: its old units make way for units where nothing runs now or in the plan,
        so it never goes down; False (nothing reserved) when there is no such room."""
        req = m.req
        old = m.leave - m.stopped
        t = self.inst.tenant_map[req.tenant]
        extra = sum(self.state.size(req, k) for k in old.elements())
        if t.max_gpus is not None and self.state.used[req.tenant] + extra > t.max_gpus + 1e-9:
            return False
        park: Counter[Key] = Counter()
        for k in old.elements():
            spot = self._park_spot(req, k)
            if spot is None:
                for got in park.elements():  # undo the reservations made so far
                    self._reserve_park(req, got, -1)
                return False
            park[spot] += 1
            self._reserve_park(req, spot, +1)
        for spot in park:
            if req.kind == "mig":
                gi = (spot[0], spot[1], spot[3])
                self.to_create[gi] = spot[2]  # type: ignore[index,assignment]
                m.park_gis.add(gi)  # type: ignore[arg-type]
        m.later = (m.arrive, park)
        m.arrive = m.started + park
        m.parked = True
        return True

    def _try_park(self, m: _Move) -> bool:
        """Parks ``m`` unless it is parked already or found no room before (searched once per move)."""
        if m.parked or m.park_tried:
            return False
        m.park_tried = True
        return self._park(m)

    def _interrupt(self, rid: str) -> None:
        """Parks move ``rid`` where free room allows, else breaks it (a temporary stop)."""
        m = self.moves[rid]
        if not self._try_park(m):
            m.broken = True

    def _unpark(self, m: _Move) -> None:
        """A parked move whose old units stopped: now it starts at its destination and leaves the parking."""
        assert m.later is not None
        arrive, park = m.later
        m.started = m.started - park
        m.arrive, m.leave, m.stopped, m.later = arrive, park, Counter(), None
        for k in park.elements():  # the parking's room is no longer reserved once it runs or is gone
            self.r_cpu[k[0]] -= m.req.cpu_milli
            self.r_mem[k[0]] -= m.req.memory_mib
            if k[1] is not None:
                self.r_units[(k[0], k[1])] -= 1
                self.r_milli[(k[0], k[1])] -= MILLI_PER_GPU if m.req.kind == "gpu" else (k[4] or 0)

    # ------------------------------------------------------------------ capacity tests

    def _fits(self, s: _State, req: Request, k: Key) -> bool:
        """``unit_fits`` with this instance's isolation levels."""
        node_level = self._iso_node
        gpu_level = self._iso_gpu
        tenants = self.inst.tenant_map
        node = self.inst.node(k[0])
        if node.cpu_milli is not None and s.cpu[k[0]] + req.cpu_milli > node.cpu_milli:
            return False
        if node.memory_mib is not None and s.mem[k[0]] + req.memory_mib > node.memory_mib:
            return False
        t = tenants[req.tenant]
        if t.max_gpus is not None and s.used[req.tenant] + s.size(req, k) > t.max_gpus + 1e-9:
            return False
        if not _level_ok(s.node_tenants[k[0]], req.tenant, node_level):
            return False
        if k[1] is None:
            return True
        gpu = (k[0], k[1])
        if not _level_ok(s.gpu_tenants[gpu], req.tenant, gpu_level):
            return False
        if req.kind == "gpu":
            return not s.on_gpu[gpu]
        if s.whole[gpu]:
            return False
        if req.kind == "share":
            return s.milli[gpu] + (k[4] or 0) <= MILLI_PER_GPU
        return True

    def _start_ready(self, s0: _State, req: Request, k: Key, claimed: set[Gi]) -> bool:
        """The structure a start needs is there at the wave's start (mode, an idle MIG instance)."""
        if k[1] is None:
            return True
        gpu = (k[0], k[1])
        if s0.mode[gpu] != MODE_OF_KIND[req.kind]:
            return False
        if req.kind == "mig":
            gi = (k[0], k[1], k[3])
            return (s0.gis.get(gpu, {}).get(k[3]) == k[2] and gi not in s0.gi_user  # type: ignore[arg-type]
                    and gi not in claimed and gi not in self._wave_destroys)
        return True

    # ------------------------------------------------------------------ waves

    def _hot(self) -> tuple[set[Gpu], set[str], set[str]]:
        """GPUs, nodes and quota-limited tenants that an unfinished move touches."""
        gpus: set[Gpu] = set()
        nodes: set[str] = set()
        tenants: set[str] = set()
        quota = {t for t, v in self.inst.tenant_map.items() if v.max_gpus is not None}
        for m in self.moves.values():
            if not m.running or m.done():
                continue
            for k in (m.arrive + m.leave):
                nodes.add(k[0])
                if k[1] is not None:
                    gpus.add((k[0], k[1]))
            if m.req.tenant in quota:
                tenants.add(m.req.tenant)
        return gpus, nodes, tenants

    def _wave(self) -> list[SetMode | Create | Destroy | Start | Stop]:
        s0 = self.state
        joint = s0.copy()
        steps: list[SetMode | Create | Destroy | Start | Stop] = []
        self._wave_destroys: set[Gi] = set()
        # frees: stops of finished make-before-break moves and of broken moves; destroys of idle instances
        frees: list[SetMode | Create | Destroy | Start | Stop] = []
        starting: Counter[str] = Counter()
        stop_moves = [(rid, m) for rid, m in self.moves.items()
                      if m.leave and m.stopped != m.leave and (m.broken or m.arrived())]
        for gi, prof in sorted(self.to_destroy.items()):
            if gi[2] in s0.gis.get((gi[0], gi[1]), {}) and gi not in s0.gi_user:
                frees.append(Destroy(node=gi[0], gpu=gi[1], profile=prof, start=gi[2]))
                self._wave_destroys.add(gi)
        # uses: modes, MIG instances, then starts (moves first, new work away from unfinished moves)
        for gpu, mode in sorted(self.to_mode.items()):
            if s0.mode[gpu] == "any":
                steps.append(SetMode(node=gpu[0], gpu=gpu[1], mode=mode))  # type: ignore[arg-type]
                joint.mode[gpu] = mode
        creates: list[Create] = []
        for gi, prof in sorted(self.to_create.items()):
            gpu = (gi[0], gi[1])
            if gi[2] in s0.gis.get(gpu, {}) or s0.mode[gpu] != "mig" or not joint.gi_fits(gpu, prof, gi[2]):
                continue
            joint.set_gi(gpu, gi[2], prof)
            creates.append(Create(node=gi[0], gpu=gi[1], profile=prof, start=gi[2]))
        steps += self._driver_order(s0, creates)
        claimed: set[Gi] = set()
        hot_gpus, hot_nodes, hot_tenants = self._hot()
        order = sorted(self.moves.values(), key=lambda m: (not m.running, -self._cost(m.req), m.req.id))
        for m in order:
            if not m.running and m.req.tenant in hot_tenants:
                continue
            for k in (m.arrive - m.started).elements():
                if not m.running and (k[0] in hot_nodes or (k[1] is not None and (k[0], k[1]) in hot_gpus)):
                    continue
                if not self._start_ready(s0, m.req, k, claimed) or not self._fits(joint, m.req, k):
                    continue
                if m.req.kind == "mig":
                    claimed.add((k[0], k[1], k[3]))  # type: ignore[arg-type]
                joint.add_unit(m.req.id, k)
                steps.append(Start(request=m.req.id, unit=_unit(k)))
                starting[m.req.id] += 1
        stops: list[SetMode | Create | Destroy | Start | Stop] = []
        for rid, m in stop_moves:
            live = sum(s0.units[rid].values()) + starting[rid]
            for k in (m.leave - m.stopped).elements():
                live -= 1
                stops.append(Stop(request=rid, unit=_unit(k), temporary=live < m.floor))
        return steps + stops + frees

    def _driver_order(self, s0: _State, creates: list[Create]) -> list[Create]:
        """Creates of one wave, per GPU in an order the driver's inferred placement rule follows where it can."""
        if not creates:
            return []
        from packer.export.driver import DriverModel

        by_gpu: dict[Gpu, list[Create]] = defaultdict(list)
        for c in creates:
            by_gpu[(c.node, c.gpu)].append(c)
        out: list[Create] = []
        for gpu, todo in by_gpu.items():
            model = self.state.models[gpu[0]]
            assert model is not None
            drv = DriverModel(model)
            occ, counts = 0, Counter[str]()
            for start, prof in s0.gis.get(gpu, {}).items():
                occ |= span_mask(start, s0.gi_size(gpu, prof))
                counts[prof] += 1
            todo = sorted(todo, key=lambda c: (-s0.gi_size(gpu, c.profile), c.start))
            while todo:
                picks = [c for c in todo if drv.pick(c.profile, occ, dict(counts)) == c.start]
                c = picks[0] if picks else todo[0]
                todo.remove(c)
                out.append(c.model_copy(update={"driver_start": bool(picks)}))
                occ |= span_mask(c.start, s0.gi_size(gpu, c.profile))
                counts[c.profile] += 1
        return out

    def _cost(self, req: Request) -> float:
        """What interrupting ``req`` costs: its migration cost (SPEC default: weight × running size)."""
        cost = self._costs.get(req.id)
        if cost is None:
            if req.migration_cost is not None:
                cost = req.migration_cost
            else:
                size = sum(self.state.size(req, _key(req, u)) for u in req.placement or ())
                cost = self.inst.objective.migration_weight * size
            self._costs[req.id] = cost
        return cost

    def _holding(self) -> set[str]:
        """Moves that still hold old units and have not been broken: the ones others may wait for."""
        return {rid for rid, m in self.moves.items() if m.running and not m.broken and m.stopped != m.leave}

    def _wait_for(self) -> dict[str, set[str]]:
        """The wait-for graph: each move with units left to start → the holding moves whose old units
        stand where it needs room (an over-approximation where capacity is shared)."""
        holding = self._holding()
        leaving_at_gpu: dict[Gpu, set[str]] = defaultdict(set)
        leaving_at_node: dict[str, set[str]] = defaultdict(set)
        by_tenant: dict[str, set[str]] = defaultdict(set)
        for rid in holding:
            m = self.moves[rid]
            by_tenant[m.req.tenant].add(rid)
            for k in m.leave - m.stopped:
                leaving_at_node[k[0]].add(rid)
                if k[1] is not None:
                    leaving_at_gpu[(k[0], k[1])].add(rid)
        waits: dict[str, set[str]] = defaultdict(set)
        st = self.state
        for rid, m in self.moves.items():
            req = m.req
            t = self.inst.tenant_map[req.tenant]
            for k in m.arrive - m.started:
                out = waits[rid]
                node = self.inst.node(k[0])
                if node.cpu_milli is not None and st.cpu[k[0]] + req.cpu_milli > node.cpu_milli:
                    out |= leaving_at_node[k[0]]
                if node.memory_mib is not None and st.mem[k[0]] + req.memory_mib > node.memory_mib:
                    out |= leaving_at_node[k[0]]
                if t.max_gpus is not None and st.used[req.tenant] + st.size(req, k) > t.max_gpus + 1e-9:
                    out |= by_tenant[req.tenant]
                if not _level_ok(st.node_tenants[k[0]], req.tenant, self._iso_node):
                    out |= leaving_at_node[k[0]]
                if k[1] is None:
                    continue
                gpu = (k[0], k[1])
                if not _level_ok(st.gpu_tenants[gpu], req.tenant, self._iso_gpu):
                    out |= leaving_at_gpu[gpu]
                if req.kind == "mig":
                    out |= self._gi_blockers(gpu, k[2], k[3]) & holding  # type: ignore[arg-type]
                elif req.kind == "gpu" and st.on_gpu[gpu]:
                    out |= leaving_at_gpu[gpu]
                elif req.kind == "share" and (st.whole[gpu] or st.milli[gpu] + (k[4] or 0) > MILLI_PER_GPU):
                    out |= leaving_at_gpu[gpu]
        return {rid: v for rid, v in waits.items() if v}

    def _gi_blockers(self, gpu: Gpu, profile: str, start: int) -> set[str]:
        """Requests whose units sit on MIG instances that keep ``profile@start`` from being created or used."""
        s = self.state
        have = s.gis.get(gpu, {})
        if have.get(start) == profile:
            user = s.gi_user.get((gpu[0], gpu[1], start))
            return {user} if user is not None else set()
        size = s.gi_size(gpu, profile)
        model = self.state.models[gpu[0]]
        p = model.profile(profile) if model is not None else None
        full = p is not None and sum(1 for q in have.values() if q == profile) >= p.max_count
        out = set()
        for st, q in have.items():
            if (st < start + size and start < st + s.gi_size(gpu, q)) or (full and q == profile):
                user = s.gi_user.get((gpu[0], gpu[1], st))
                if user is not None:
                    out.add(user)
        return out

    def _break_key(self, rid: str, waits_on: int, waited_on: int) -> tuple[float, float, float, str]:
        """Order of the moves to interrupt in a cycle: on most cycles' way first, then the cheapest."""
        return (-(waits_on * waited_on), -waited_on, self._cost(self.moves[rid].req), rid)

    def _break_cycles(self) -> bool:
        """Breaks moves until the wait-for graph among holding moves has no cycle; True if it broke any.

        Moves that wait on nobody, or that nobody waits on, cannot be part of a cycle and are set
        aside; of the rest the move on most cycles' way (most waiting × waited on), then the cheapest
        to interrupt, is parked where free room allows (else broken), and so on (a greedy feedback
        vertex set).
        """
        holding = self._holding()
        waits = self._wait_for()
        graph = {rid: {b for b in waits.get(rid, ()) if b in holding} for rid in holding}
        broke = False
        while graph:
            changed = True
            while changed:
                changed = False
                waited = Counter(b for outs in graph.values() for b in outs)
                for rid in [r for r, outs in graph.items() if not outs or not waited[r]]:
                    del graph[rid]
                    changed = True
                for outs in graph.values():
                    outs &= graph.keys()
            if not graph:
                break
            waited = Counter(b for outs in graph.values() for b in outs)
            order = sorted(graph, key=lambda r: self._break_key(r, len(graph[r]), waited[r]))
            # Park the first move of that order that has room to park in (it never goes down); when
            # none has, stop the first one.
            rid = next((r for r in order[:_PARK_TRIES] if self._try_park(self.moves[r])), None)
            if rid is None:
                rid = order[0]
                self.moves[rid].broken = True
            broke = True
            del graph[rid]
            for outs in graph.values():
                outs.discard(rid)
        if broke:
            return True
        # Nothing cyclic found (capacity that several holders share): break the cheapest holder waited on.
        waited_on = {b for outs in waits.values() for b in outs if b in holding} or holding
        if not waited_on:
            return False
        rid = min(waited_on, key=lambda r: (self._cost(self.moves[r].req), r))
        self._interrupt(rid)
        return True

    def run(self) -> Moves:
        """Plans every wave; returns the sequence with its statistics."""
        while not self._finished():
            steps = self._wave()
            if not steps:
                if not self._break_cycles():
                    raise RuntimeError("move planner is stuck with nothing left to break (a bug: the plan was valid)")
                steps = self._wave()
                if not steps:
                    continue
            for st in steps:
                self.state.apply(st)
                if isinstance(st, Start):
                    self.moves[st.request].started[_key(self.moves[st.request].req, st.unit)] += 1
                elif isinstance(st, Stop):
                    m = self.moves[st.request]
                    k = _key(m.req, st.unit)
                    m.stopped[k] += 1
                    m.temporary |= st.temporary
                    gi = (k[0], k[1], k[3])
                    if gi in m.park_gis and m.later is None:
                        self.to_destroy[gi] = k[2]  # type: ignore[index,assignment]
                elif isinstance(st, SetMode):
                    self.to_mode.pop((st.node, st.gpu), None)
                elif isinstance(st, Create):
                    self.to_create.pop((st.node, st.gpu, st.start), None)
                elif isinstance(st, Destroy):
                    self.to_destroy.pop((st.node, st.gpu, st.start), None)
            for m in self.moves.values():
                if m.later is not None and m.arrived() and m.stopped == m.leave:
                    self._unpark(m)
            self.waves.append(Wave(steps=tuple(steps)))
        return Moves(instance=self.inst.name, plan_objective=self.plan.objective, waves=tuple(self.waves),
                     stats=self._stats())

    def _finished(self) -> bool:
        return not (self.to_mode or self.to_create or self.to_destroy) and all(m.done() for m in self.moves.values())

    def _stats(self) -> dict[str, float | int | None]:
        moved = [m for m in self.moves.values() if m.running]
        steps = [s for w in self.waves for s in w.steps]
        creates = [s for s in steps if isinstance(s, Create)]
        mbb = sum(1 for m in moved if not m.temporary)
        return {
            "steps": len(steps),
            "waves": len(self.waves),
            "moved_requests": len(moved),
            "make_before_break": mbb,
            "temporary_stops": sum(1 for m in moved if m.temporary),
            "parked": sum(1 for m in moved if m.parked and not m.temporary),
            "make_before_break_share": round(mbb / len(moved), 6) if moved else None,
            "new_requests": sum(1 for m in self.moves.values() if not m.running),
            "starts": sum(1 for s in steps if isinstance(s, Start)),
            "stops": sum(1 for s in steps if isinstance(s, Stop)),
            "creates": len(creates),
            "destroys": sum(1 for s in steps if isinstance(s, Destroy)),
            "mode_changes": sum(1 for s in steps if isinstance(s, SetMode)),
            "driver_start_creates": sum(1 for c in creates if c.driver_start),
        }


def _level_ok(present: Counter[str], tenant: str, isolated: set[str]) -> bool:
    """Adding ``tenant`` beside the ``present`` tenants breaks no isolation of this level."""
    others = [t for t in present if t != tenant]
    if not others:
        return True
    return tenant not in isolated and not any(t in isolated for t in others)


def plan_moves(inst: Instance, plan: Plan, *, check: bool = True) -> Moves:
    """The move sequence from ``inst``'s running state to ``plan`` (see the module docstring).

    ``plan`` must be valid for ``inst`` (checked unless ``check`` is false; its objective, bound,
    status and migration cap do not matter). Raises :class:`~packer.errors.InputError` otherwise.
    """
    return MovePlanner(inst, plan, check=check).run()


__all__ = ["MovePlanner", "plan_moves"]
