"""The greedy placer: honest, fast, and never wrong.

Running work stays where it is. New requests go in order of priority, hard-locality gangs first
within a priority, bigger first. Each request is placed as a transaction: units are put one at a
time on the best GPU of the best node (packing nodes that already hold work, best fit on capacity,
and for MIG the start that destroys the fewest free placements), and rolled back unless at least
``min_count`` fit. A request with required locality tries every domain of its level and keeps the
one where it fits tightest. Every hard rule of SPEC is enforced here; the checker verifies them
independently.

Where the waiting GPU work asks for at least :data:`BALANCE_PRESSURE` of the nodes' CPU or memory
(:func:`host_pressure`), a second, balanced construction runs first: the same order, but whole-GPU and
share units go to the node where the host resource asked for most and the GPU room stay in proportion
after the unit (see :meth:`_Placer.node_rank`), so that GPUs do not idle on nodes whose CPU is used up.

After the balanced construction, exchanges on one GPU (:mod:`packer.greedy.exchange`): waiting work
worth more takes the place of placed work worth less (an 810-milli share that strands 190 milli makes
way for two 470-milli ones; a CPU-heavy whole GPU for two CPU-light ones; host units, worth nothing,
give up their CPU), each exchange checked against every rule the construction follows (``EXCHANGE``).

A node a node-isolated tenant holds is closed to every other tenant. Where the idle room such a
tenant leaves on its nodes adds up to whole nodes while other tenants' work waits, the construction
runs again with the tenant held to that many nodes fewer (:func:`_node_caps`; up to
:data:`CAP_ROUNDS` rounds, each replaying the one before up to where its caps bite), and the better
plan is kept.

The plan returned is the best of the constructions and the online placer's in file order (policies
``first-fit`` and ``packer``; see :func:`_best_of_file_order`).

Host requests (CPU and memory only, no GPU; worth 0) count with the lowest priority of the GPU
work, whatever their own (see :func:`_order`), and go to the nodes with the fewest free GPUs first
(nodes without GPUs or with every GPU busy; among equals the ones holding more work), so the host
resources of nodes with idle GPUs stay free for GPU work.
"""

from __future__ import annotations

import time
from bisect import bisect_left, insort
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain

from packer import reasons
from packer.capacity import quota_bound, quota_net
from packer.catalog import GpuModel, Profile
from packer.geometry import geometry, span_mask
from packer.greedy import exchange
from packer.model import MILLI_PER_GPU, MODE_OF_KIND, Instance, Node, Plan, Request, Unit
from packer.plans import build_plan

_EPS = 1e-9
#: GPU-equivalents of idle room a node-isolated tenant may leave behind when it takes new nodes.
CLAIM_SLACK = -2.0
CLAIM_GAIN = 1.0
#: Remember the nodes where :meth:`_Placer.best_on_node` found nothing, until they change (identical
#: plans; adversarial at 4,096 GPUs 46 s → 2.2 s). A switch for the test that says so.
MISS_CACHE = True
#: A MIG unit goes to the GPU with the fewest free memory positions before it (pack), and there takes
#: the profile with the fewest positions among its choices (worth the same: a unit is worth its
#: compute slices). False: the old score, free positions after the unit first, which took the larger
#: of two 1-slice profiles (1g.35gb over 1g.18gb) because it left the GPU looking fuller, and filled
#: memory before compute (session 16: 1,024 GPUs, every family, seeds 100-104: 16 wins, 2 losses,
#: +27.3; bench/bench_greedy_ab.py --param MIG_FIT=False).
MIG_FIT = True
#: A whole-GPU gang with required locality takes a domain where it gives no 'any' GPU a mode over a
#: tighter one where it would (the way :meth:`_Placer.place_in` takes configured GPUs before 'any'
#: ones), while the whole GPUs asked by it and the gpu requests still to come fit on the free
#: configured full GPUs: an 'any' GPU could still serve MIG and share work, a full one whole GPUs only.
GANG_FRESH = True
#: After the balanced construction (where host resources bind), exchanges on one GPU: waiting work
#: worth more takes the place of placed work worth less (:mod:`packer.greedy.exchange`).
EXCHANGE = True
#: Constructions at most with node-isolated tenants held to fewer nodes (see :func:`_node_caps`).
CAP_ROUNDS = 3
#: Node sets up to this size are ranked directly in the balanced construction (a domain of a gang);
#: larger ones through the per-shape cache of _Placer._ranked.
_RANK_DIRECT = 64
#: Units of a host request that needs no CPU or memory a node could take (no limit).
_HOST_UNBOUNDED = 1 << 30


class _Gpu:
    __slots__ = ("node", "index", "model", "configured", "mode", "occ", "counts", "milli", "whole",
                 "tenants", "units")

    def __init__(self, node: _Node, index: int, model: GpuModel | None, configured: str) -> None:
        self.node = node
        self.index = index
        self.model = model
        self.configured = configured
        self.mode: str | None = None if configured == "any" else configured
        self.occ = 0  # MIG memory positions in use
        self.counts: Counter[str] = Counter()  # MIG instances per profile
        self.milli = 0  # shares in use
        self.whole = False  # a whole-GPU unit holds it
        self.tenants: Counter[str] = Counter()
        self.units = 0


class _Node:
    __slots__ = ("spec", "index", "gpus", "cpu", "mem", "tenants", "canonical_model", "units", "version",
                 "mode_set", "mode_set_at")

    def __init__(self, spec: Node, index: int, canonical_model: str | None) -> None:
        self.spec = spec
        self.index = index  # in the instance's nodes (and the topology's tables)
        self.gpus: list[_Gpu] = []
        self.cpu = spec.cpu_milli if spec.cpu_milli is not None else None
        self.mem = spec.memory_mib if spec.memory_mib is not None else None
        self.tenants: Counter[str] = Counter()
        self.canonical_model = canonical_model
        self.units = 0
        self.version = 0  # bumped on every change, so cached bounds know when they are stale
        self.mode_set = False  # some GPU has its mode (see _mode_set), as of version mode_set_at
        self.mode_set_at = -1


class _State:
    """Mutable cluster state with an undo log, so a request can be tried and rolled back."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.nodes: list[_Node] = []
        self.by_id: dict[str, _Node] = {}
        cat = inst.gpu_catalog
        for i, n in enumerate(inst.nodes):
            model = cat.get(n.gpu_model) if n.gpu_model else None
            node = _Node(n, i, model.name if model else None)
            for g in range(n.num_gpus):
                node.gpus.append(_Gpu(node, g, model, n.gpu_mode(g)))
            self.nodes.append(node)
            self.by_id[n.id] = node
        self.tenant_used: Counter[str] = Counter()
        #: GPUs configured 'full' that hold nothing (an 'any' GPU gets its mode with its first unit).
        self.free_full = sum(1 for n in self.nodes for g in n.gpus if g.mode == "full")
        self.isolation = {tid: t.isolation for tid, t in inst.tenant_map.items()}
        self.quota = {tid: t.max_gpus for tid, t in inst.tenant_map.items()}
        self.log: list[tuple] = []
        self.changes: list[_Node] = []  # every node touched, in order (for incremental bounds)
        # Relaxations used only to explain why a request did not fit.
        self.ignore_isolation = False
        self.ignore_host = False

    # ---- feasibility of one unit

    def tenant_ok_gpu(self, g: _Gpu, tenant: str) -> bool:
        """Whether ``tenant`` may use GPU ``g`` as far as gpu isolation goes."""
        return self._may_share(g.tenants, tenant, "gpu")

    def tenant_ok_node(self, n: _Node, tenant: str) -> bool:
        """Whether ``tenant`` may use node ``n`` as far as node isolation goes."""
        return self._may_share(n.tenants, tenant, "node")

    def _may_share(self, holders: Counter[str], tenant: str, level: str) -> bool:
        """True unless other tenants hold units here and ``tenant`` or one of them is isolated at ``level``."""
        if self.ignore_isolation:
            return True
        others = [t for t in holders if t != tenant and holders[t] > 0]
        if not others:
            return True
        if self.isolation.get(tenant) == level:
            return False
        return not any(self.isolation.get(t) == level for t in others)

    def host_ok(self, n: _Node, req: Request) -> bool:
        """True when node ``n`` has the CPU and memory left for one unit of ``req``."""
        if self.ignore_host:
            return True
        if n.cpu is not None and req.cpu_milli > n.cpu:
            return False
        return not (n.mem is not None and req.memory_mib > n.mem)

    # ---- apply with undo

    def apply(self, req: Request, g: _Gpu | None, unit: Unit, size: float, mode: str | None,
              node: _Node | None = None) -> None:
        """Adds one unit on GPU ``g`` (or, for a host unit, ``g`` None and its ``node``)."""
        if g is None:
            assert node is not None and req.kind == "host"
            self.log.append((None, node, None, 0, 0, False, req, unit, size))
            self._node_side(req, node, +1)
            return
        n = g.node
        self.log.append((g, n, g.mode, g.occ, g.milli, g.whole, req, unit, size))
        if g.mode == "full" and not g.units:
            self.free_full -= 1
        g.mode = mode
        if req.kind == "mig":
            assert g.model is not None and unit.profile is not None and unit.start is not None
            p = g.model.profile(unit.profile)
            assert p is not None
            g.occ |= span_mask(unit.start, p.size)
            g.counts[p.name] += 1
        elif req.kind == "share":
            g.milli += req.gpu_milli or 0
        else:
            g.whole = True
        g.units += 1
        self._node_side(req, n, +1)
        g.tenants[req.tenant] += 1
        self.tenant_used[req.tenant] += size

    def remove(self, req: Request, g: _Gpu | None, unit: Unit, size: float, node: _Node) -> None:
        """Takes one placed unit of a share, whole-GPU or host request away (an exchange,
        :mod:`packer.greedy.exchange`); not logged: the caller puts it back itself if it must.
        An 'any' GPU left with nothing has no mode again."""
        if g is None:
            self._node_side(req, node, -1)
            return
        assert req.kind in ("share", "gpu")
        n = g.node
        if req.kind == "share":
            g.milli -= req.gpu_milli or 0
        else:
            g.whole = False
        g.units -= 1
        if not g.units:
            if g.configured == "any":
                g.mode = None
            elif g.mode == "full":
                self.free_full += 1
        self._node_side(req, n, -1)
        g.tenants[req.tenant] -= 1
        self.tenant_used[req.tenant] -= size

    def mark(self) -> int:
        """A point in the undo log that :meth:`undo` rolls back to."""
        return len(self.log)

    def _node_side(self, req: Request, n: _Node, sign: int) -> None:
        """One unit of ``req`` on node ``n`` added (sign +1) or taken away (-1): the node's units, version,
        tenants, CPU and memory. All a host unit touches (no GPU, size 0); a GPU unit adds its GPU's side."""
        n.units += sign
        n.version += 1
        self.changes.append(n)
        n.tenants[req.tenant] += sign
        if n.cpu is not None:
            n.cpu -= sign * req.cpu_milli
        if n.mem is not None:
            n.mem -= sign * req.memory_mib

    def undo(self, mark: int) -> None:
        """Rolls every unit applied since ``mark`` back (a request that did not fit)."""
        while len(self.log) > mark:
            g, n, mode, occ, milli, whole, req, unit, size = self.log.pop()
            if g is None:
                self._node_side(req, n, -1)
                continue
            g.mode, g.occ, g.milli, g.whole = mode, occ, milli, whole
            if req.kind == "mig":
                g.counts[unit.profile] -= 1
            g.units -= 1
            if g.mode == "full" and not g.units:
                self.free_full += 1
            self._node_side(req, n, -1)
            g.tenants[req.tenant] -= 1
            self.tenant_used[req.tenant] -= size


def _mode_set(n: _Node) -> bool:
    """Whether some GPU of node ``n`` has its mode (configured, or chosen by work placed on it).

    Kept with the node's version (a GPU's mode changes only where the version does): the passes of
    :meth:`_Placer.place_in` ask it of every node they walk, most of them unchanged since last time."""
    if n.mode_set_at != n.version:
        n.mode_set = any(g.mode is not None for g in n.gpus)
        n.mode_set_at = n.version
    return n.mode_set


class _Lazy:
    """An iterable over a generator's items that computes each one once, however often it is
    iterated (the passes of :meth:`_Placer.place_in` walk one node order up to three times)."""

    def __init__(self, items: Iterator[_Node]) -> None:
        self._items = items
        self._seen: list[_Node] = []

    def __iter__(self) -> Iterator[_Node]:
        i = 0
        while True:
            if i < len(self._seen):
                yield self._seen[i]
            else:
                nxt = next(self._items, None)
                if nxt is None:
                    return
                self._seen.append(nxt)
                yield nxt
            i += 1


def _mig_damage(model: GpuModel, occ: int, mask: int) -> int:
    """Memory positions of still-free placements that a new instance at ``mask`` would destroy."""
    lost = 0
    for pl in geometry(model).placements:
        if not (occ & pl.mask) and (pl.mask & mask):
            lost += pl.profile.size
    return lost


def _idle_slices(g: _Gpu, compute: dict[str, int], taking: int = 0) -> int:
    """Compute slices of MIG GPU ``g`` left idle by its instances (and one more needing ``taking``).

    ``compute``: compute slices per profile name of ``g``'s model.
    """
    assert g.model is not None and g.model.compute_slices is not None
    used = taking + sum(compute[name] * k for name, k in g.counts.items())
    return max(0, g.model.compute_slices - used)


class _Placer:
    def __init__(self, inst: Instance, balance: str | None = None) -> None:
        self.inst = inst
        self.topology = inst.cluster_topology
        self.state = _State(inst)
        self.allowed_cache: dict[tuple[str, ...] | None, set[str] | None] = {}
        self.nodes_cache: dict[tuple[str, ...] | None, list[_Node]] = {}
        self.bound_cache: dict[tuple, tuple[dict[str, int], list[int]]] = {}
        self.choices_cache: dict[tuple, list[Profile]] = {}
        self.compute_cache: dict[str, dict[str, int]] = {}
        self.dead_cache: dict[str, list[list[bool]]] = {}
        self.failed: dict[tuple, tuple[int, str]] = {}
        #: (tenant, kind) → GPU-equivalents of the requests not tried yet (see _stranded_by_claim).
        self.pending: dict[tuple[str, str], float] = {}
        #: Whole GPUs asked by the gpu requests not tried yet (see GANG_FRESH).
        self.pending_gpus = 0
        self._sig_for: Request | None = None
        self._sig: tuple = ()
        #: None, or the host resource ("cpu" or "mem") :meth:`node_rank` balances against GPU room.
        self.balance = balance
        self.room_cache: dict[int, tuple[int, float]] = {}
        self.rank_cache: dict[tuple, tuple[list[tuple], dict[int, tuple], list[int]]] = {}
        #: (request shape, tenant, fresh_any, strict) → node index → the node's version when
        #: :meth:`best_on_node` found no GPU there.
        self.miss_cache: dict[tuple, dict[int, int]] = {}
        #: Node-isolated tenant → the most nodes it may hold (see :func:`_node_caps`), and the ids of
        #: the nodes it holds; :attr:`only`: while set, the only nodes :meth:`_place` may use.
        self.node_cap: dict[str, int] = {}
        self.held: dict[str, set[str]] = {}
        self.only: set[str] | None = None
        #: Tenant → the order position of the first request its cap changed (:attr:`at`: the
        #: position of the request being placed).
        self.bites: dict[str, int] = {}
        self.at = 0
        #: (position, key, entry) of every write to :attr:`failed`, which a replay repeats (its
        #: reasons then read the same).
        self.memo_log: list[tuple[int, tuple, tuple[int, str]]] = []

    def allowed(self, req: Request) -> set[str] | None:
        """The GPU models ``req`` may use (None: any), cached by its list of models."""
        key = req.gpu_models
        if key not in self.allowed_cache:
            self.allowed_cache[key] = self.inst.allowed_models(req)
        return self.allowed_cache[key]

    # ---- one unit on one node

    def best_on_node(self, req: Request, n: _Node, fresh_any: bool = True,
                     skip: set[int] | None = None, strict: bool = False) -> tuple[_Gpu, Unit, float, str, tuple] | None:
        """The best GPU (and profile/start) for one unit of ``req`` on node ``n``, or None.

        With ``fresh_any`` false, 'any' GPUs whose mode is not chosen yet are left alone; with
        ``strict``, no MIG start that strands compute slices (see :meth:`_best_mig`).
        """
        st = self.state
        if not st.host_ok(n, req) or not st.tenant_ok_node(n, req.tenant):
            return None
        if req.kind == "host":
            return (None, Unit(node=n.spec.id), 0.0, None, ())  # type: ignore[return-value]
        # A node that had no GPU for a request of this shape and tenant has none while it is
        # unchanged (its version): the passes of place_in ask every node again for each unit, and
        # a strict MIG pass on a cluster whose GPUs would all strand slices finds none on any.
        misses = None
        if MISS_CACHE and skip is None and not st.ignore_isolation and not st.ignore_host:
            misses = self.miss_cache.setdefault((self._signature(req), req.tenant, fresh_any, strict), {})
            if misses.get(n.index) == n.version:
                return None
        want = {"mig": "mig", "gpu": "full", "share": "shared"}[req.kind]
        best = None
        for g in n.gpus:
            if g.mode is not None and g.mode != want:
                continue
            if g.mode is None and not fresh_any:
                continue
            if skip is not None and g.index in skip:
                continue
            if g.whole or not st.tenant_ok_gpu(g, req.tenant):
                continue
            if req.kind == "gpu":
                if g.units:
                    continue
                # Configured full GPUs before 'any' ones; lower index first.
                score = (1 if g.mode is None else 0, g.index)
                cand = (g, Unit(node=n.spec.id, gpu=g.index), 1.0, want, score)
            elif req.kind == "share":
                need = req.gpu_milli or 0
                if g.milli + need > MILLI_PER_GPU:
                    continue
                left = MILLI_PER_GPU - g.milli - need
                score = (1 if g.mode is None else 0, left, g.index)
                cand = (g, Unit(node=n.spec.id, gpu=g.index, gpu_milli=need), need / MILLI_PER_GPU, want, score)
            else:
                if g.model is None or not g.model.has_mig:
                    continue
                cand = self._best_mig(req, n, g, want, strict)
                if cand is None:
                    continue
            if best is None or cand[4] < best[4]:
                best = cand
        if best is None and misses is not None:
            misses[n.index] = n.version
        return best

    def _choices(self, req: Request, model: GpuModel) -> list[Profile]:
        key = (self._signature(req), model.name)
        if key not in self.choices_cache:
            self.choices_cache[key] = self.inst.profile_choices(req, model)
        return self.choices_cache[key]

    def _best_mig(self, req: Request, n: _Node, g: _Gpu, want: str, strict: bool = False):  # type: ignore[no-untyped-def]
        assert g.model is not None
        best = None
        geo = geometry(g.model)
        idle = _idle_slices(g, self._compute(g.model))
        dead = self._dead(g.model)
        for p in self._choices(req, g.model):
            if g.counts[p.name] >= p.max_count:
                continue
            for pl in geo.by_profile[p.name]:
                s, mask = pl.start, pl.mask
                if g.occ & mask:
                    continue
                damage = _mig_damage(g.model, g.occ, mask)
                # Fullest GPU first (pack), then the start that destroys least, smallest profile
                # (MIG_FIT: fullest GPU, smallest profile, then the start that destroys least);
                # but not a start that leaves compute slices no profile can use any more (on B200
                # two 3g instances take all 8 memory positions and strand the 7th slice; so do
                # 1g + 2g + 3g, whose one free position starts nothing) where another GPU of the
                # node takes the instance without that.
                free_after = geo.positions - bin(g.occ | mask).count("1")
                stranded = max(0, idle - p.compute)
                if stranded and not dead[g.occ | mask][stranded]:
                    stranded = 0  # a profile within the idle slices still has a free start
                if strict and stranded:
                    continue
                if MIG_FIT:  # free_after + p.size: the free positions before the unit
                    score = (1 if g.mode is None else 0, stranded, free_after + p.size, p.size, damage, s, g.index)
                else:
                    score = (1 if g.mode is None else 0, stranded, free_after, damage, p.size, s, g.index)
                if best is None or score < best[4]:
                    unit = Unit(node=n.spec.id, gpu=g.index, profile=p.name, start=s)
                    best = (g, unit, p.gpu_equivalents, want, score)
        return best

    def _dead(self, model: GpuModel) -> list[list[bool]]:
        """[mask][slices]: no profile needing at most that many compute slices has a free start."""
        table = self.dead_cache.get(model.name)
        if table is None:
            geo = geometry(model)
            most = model.compute_slices or 0
            table = []
            for occ in range(1 << geo.positions):
                room = min((q.compute for q in model.profiles if geo.first_free_start(q, occ) >= 0),
                           default=most + 1)
                table.append([room > k for k in range(most + 1)])
            self.dead_cache[model.name] = table
        return table

    def _compute(self, model: GpuModel) -> dict[str, int]:
        if model.name not in self.compute_cache:
            self.compute_cache[model.name] = {q.name: q.compute for q in model.profiles}
        return self.compute_cache[model.name]

    def _signature(self, req: Request) -> tuple:
        if self._sig_for is not req:
            self._sig_for = req
            self._sig = (req.kind, req.profile, req.slices, req.min_memory_gib, req.gpu_milli, req.cpu_milli,
                         req.memory_mib, req.gpu_models)
        return self._sig

    def bounds(self, req: Request) -> dict[str, int]:
        """Node id → :meth:`node_bound` for every candidate node of ``req`` (read-only).

        Kept per request shape and brought up to date from the state's change log, so a request
        costs work only for the nodes that changed since the last request of its shape.
        """
        sig = self._signature(req)
        if self.state.ignore_host:
            # Explaining a failure with host resources ignored: a cache of its own, by GPU shape alone
            # (as many requests of one shape wait, each explained; sharing2048: 1.2M node bounds).
            sig = ("ignore_host", *sig[:5], sig[7])
        entry = self.bound_cache.get(sig)
        changes = self.state.changes
        if entry is None:
            values = {n.spec.id: self._node_bound(req, n) for n in self.candidate_nodes(req)}
            self.bound_cache[sig] = entry = (values, [len(changes)])
            return values
        values, pos = entry
        if pos[0] < len(changes):
            seen = set()
            for n in changes[pos[0]:]:
                nid = n.spec.id
                if nid in values and nid not in seen:
                    seen.add(nid)
                    values[nid] = self._node_bound(req, n)
            pos[0] = len(changes)
        return values

    def _node_bound(self, req: Request, n: _Node) -> int:
        cap = 0
        if req.kind == "host":
            cap = _HOST_UNBOUNDED
        elif req.kind == "gpu":
            cap = sum(1 for g in n.gpus if g.units == 0 and g.mode in (None, "full"))
        elif req.kind == "share":
            need = req.gpu_milli or 1
            cap = sum((MILLI_PER_GPU - g.milli) // need for g in n.gpus if not g.whole and g.mode in (None, "shared"))
        else:
            for g in n.gpus:
                if g.mode in (None, "mig") and g.model is not None and g.model.has_mig:
                    choices = self._choices(req, g.model)
                    if choices:
                        geo = geometry(g.model)
                        cap += max(geo.fit_count(p, g.occ, g.counts[p.name]) for p in choices)
        if not self.state.ignore_host:
            if req.cpu_milli and n.cpu is not None:
                cap = min(cap, n.cpu // req.cpu_milli)
            if req.memory_mib and n.mem is not None:
                cap = min(cap, n.mem // req.memory_mib)
        return max(cap, 0)

    def node_rank(self, req: Request, n: _Node) -> tuple[float, int]:
        """Sort key of node ``n`` for the units of ``req``: nodes already holding work first (pack).

        With :attr:`balance` (the second construction, see :func:`solve`), whole-GPU and share units
        first go where the node's host resources and GPU room stay in proportion after the unit:
        the key is how far the fraction of the node's CPU (or memory: :attr:`balance` names the one
        the waiting work asks more of, see :func:`host_pressure`) left would be from the fraction of
        its GPU room left. A CPU-heavy pod goes where CPU is left over, a CPU-light one where GPUs
        are, so fewer GPUs end up idle on nodes whose CPU is used up (sharing at 1,024 GPUs).
        """
        if not self.balance or req.kind not in ("gpu", "share"):
            return (0.0, -n.units)
        if self.balance == "cpu":
            left, asked, cap = n.cpu, req.cpu_milli, n.spec.cpu_milli
        else:
            left, asked, cap = n.mem, req.memory_mib, n.spec.memory_mib
        if left is None or not cap:
            return (0.0, -n.units)
        size = (req.gpu_milli or MILLI_PER_GPU) / MILLI_PER_GPU if req.kind == "share" else 1.0
        gpu_left = (self._gpu_room(n) - size) / len(n.gpus)
        return (abs((left - asked) / cap - gpu_left), -n.units)

    def _ranked(self, req: Request) -> list[tuple]:
        """The candidate nodes of ``req`` that :meth:`bounds` admits, as (*:meth:`node_rank`, node
        index), sorted (read-only; call right after :meth:`bounds` of ``req``).

        Kept per request shape and brought up to date from the state's change log, like
        :meth:`bounds`: a request re-ranks only the nodes that changed since the last request of its
        shape, instead of ranking all of them (16,384 GPUs: 2,048 nodes for each of 14k requests).
        """
        sig = self._signature(req)
        bounds = self.bounds(req)
        hit = self.rank_cache.get(sig)
        changes = self.state.changes
        if hit is None:
            keys = {n.index: (*self.node_rank(req, n), n.index) for n in self.candidate_nodes(req)
                    if bounds.get(n.spec.id, 0) > 0}
            hit = (sorted(keys.values()), keys, [len(changes)])
            self.rank_cache[sig] = hit
            return hit[0]
        entries, keys, pos = hit
        if pos[0] < len(changes):
            seen = set()
            for n in changes[pos[0]:]:
                i = n.index
                if i in seen or n.spec.id not in bounds:
                    continue
                seen.add(i)
                old = keys.get(i)
                new = (*self.node_rank(req, n), i) if bounds[n.spec.id] > 0 else None
                if new != old:
                    if old is not None:
                        del entries[bisect_left(entries, old)]
                        del keys[i]
                    if new is not None:
                        insort(entries, new)
                        keys[i] = new
            pos[0] = len(changes)
        return entries

    def _gpu_room(self, n: _Node) -> float:
        """Idle room of node ``n``'s GPUs that whole-GPU or share units can use, in GPU-equivalents
        (cached until the node changes)."""
        hit = self.room_cache.get(n.index)
        if hit is not None and hit[0] == n.version:
            return hit[1]
        room = 0.0
        for g in n.gpus:
            if g.whole or g.mode == "mig":
                continue
            room += (MILLI_PER_GPU - g.milli) / MILLI_PER_GPU if g.mode == "shared" else (0.0 if g.units else 1.0)
        self.room_cache[n.index] = (n.version, room)
        return room

    # ---- a whole request inside a set of nodes

    def place_in(self, req: Request, nodes: list[_Node], whole: bool = False) -> list[Unit]:
        """Places as many units of ``req`` (≤ count) as fit on ``nodes``; leaves them applied.

        ``whole``: ``nodes`` are all candidate nodes of ``req`` that :meth:`bounds` admits."""
        st = self.state
        units: list[Unit] = []
        spread = req.spread
        per_dom: Counter[str] = Counter()
        quota = st.quota.get(req.tenant)
        # Nodes already holding work first (pack), then by how little capacity they have left.
        # GPUs whose mode is set come first; 'any' GPUs are converted only when those run out.
        bounds = self.bounds(req)
        if req.kind == "host":
            # Nodes without a free GPU first (no GPUs, or all busy), then the ones holding work.
            order = sorted((n for n in nodes if bounds.get(n.spec.id, 0) > 0),
                           key=lambda n: (sum(1 for g in n.gpus if not g.units), -n.units))
        elif len(nodes) > _RANK_DIRECT and not st.ignore_host:
            # Lazily, in the cached ranking (the same order as sorting, node index breaking ties):
            # most requests fill up on their first nodes. (Not while explaining a failure with host
            # resources ignored: the cache holds the nodes the real bounds admit.)
            ids = None if whole else {n.index for n in nodes}
            every = self.state.nodes
            order = _Lazy(every[e[-1]] for e in self._ranked(req) if ids is None or e[-1] in ids)
        else:
            order = sorted((n for n in nodes if bounds.get(n.spec.id, 0) > 0),
                           key=lambda n: self.node_rank(req, n))
        # Level 'gpu' is finer than a node: spread counts per GPU, and a required 'gpu' locality
        # keeps every unit on the GPU of the first one.
        spread_gpu = spread is not None and spread.level == "gpu"
        spread_of = self.topology.node_domains(spread.level) if spread is not None and not spread_gpu else None
        pin_gpu = req.locality is not None and req.locality.required and req.locality.level == "gpu"
        # The passes that leave 'any' GPUs alone skip nodes whose GPUs all still wait for a mode
        # (no GPU there could take the unit in such a pass); host units use no GPU: one pass.
        set_mode = order if req.kind == "host" else (n for n in order if _mode_set(n))
        passes: Iterable[tuple[bool, bool, _Node]] = ((False, False, n) for n in set_mode)
        if req.kind == "mig":  # first a pass that strands no compute slice, on any node
            passes = chain(((False, True, n) for n in order if _mode_set(n)), passes)
        if req.kind != "host":
            passes = chain(passes, ((True, False, n) for n in order))
        for fresh_any, strict, n in passes:
            if len(units) >= req.count:
                break
            if pin_gpu and units and n.spec.id != units[0].node:
                continue
            dom = spread_of[n.index] if spread_of is not None else ""
            if spread_of is not None and per_dom[dom] >= spread.max_per_domain:  # type: ignore[union-attr]
                continue
            while len(units) < req.count:
                if spread_of is not None and per_dom[dom] >= spread.max_per_domain:  # type: ignore[union-attr]
                    break
                skip: set[int] | None = None
                if spread_gpu or (pin_gpu and units):
                    skip = {g.index for g in n.gpus
                            if (spread_gpu and per_dom[f"{n.spec.id}/{g.index}"] >= spread.max_per_domain)  # type: ignore[union-attr]
                            or (pin_gpu and units and g.index != units[0].gpu)}
                cand = self.best_on_node(req, n, fresh_any, skip, strict)
                if cand is None:
                    break
                g, unit, size, mode, _ = cand
                if quota is not None and st.tenant_used[req.tenant] + size > quota + _EPS:
                    return units
                st.apply(req, g, unit, size, mode, n)
                units.append(unit)
                if spread is not None:
                    per_dom[dom if spread_of is not None else f"{unit.node}/{unit.gpu}"] += 1
        return units

    def candidate_nodes(self, req: Request) -> list[_Node]:
        """The nodes that could take a unit of ``req`` (a GPU model it allows; every node for host work)."""
        if req.kind == "host":
            return self.state.nodes  # every node, with GPUs or without
        key = req.gpu_models
        if key not in self.nodes_cache:
            allowed = self.allowed(req)
            self.nodes_cache[key] = [n for n in self.state.nodes
                                     if n.gpus and (allowed is None or n.canonical_model in allowed)]
        return self.nodes_cache[key]

    def place(self, req: Request) -> tuple[list[Unit] | None, str]:
        """Places ``req`` or returns (None, reason).

        The state only fills up, so a request shaped like one that already failed (same units,
        tenant, locality and spread, at least as many units needed) fails too: it gets the same
        reason without being tried again.
        """
        key = (self._signature(req), req.tenant, req.locality, req.spread)
        memo = self.failed.get(key)
        if memo is not None and req.need_count >= memo[0]:
            return None, memo[1]
        mark = self.state.mark()
        units, reason = self._place(req)
        if units is None and (memo is None or req.need_count < memo[0]):
            self.failed[key] = (req.need_count, reason)
            self.memo_log.append((self.at, key, self.failed[key]))
        if units and req.kind != "host" and self.state.isolation.get(req.tenant) == "node":
            stranded = self._stranded_by_claim(req, units)
            if stranded is not None:
                self.state.undo(mark)
                return None, stranded
        cap = self.node_cap.get(req.tenant)
        if units and cap is not None:
            held = self.held[req.tenant]  # kept up to date by _construct
            by_id = self.state.by_id
            if len(held | {u.node for u in units if by_id[u.node].gpus}) > cap:
                self.bites.setdefault(req.tenant, self.at)
                # Past the nodes planned for the tenant: only the nodes it holds (and nodes without
                # GPUs, which the cap does not count), or not at all.
                self.state.undo(mark)
                self.only = held | {n.spec.id for n in self.state.nodes if not n.gpus}
                try:
                    units, _ = self._place(req)
                finally:
                    self.only = None
                if units is None:
                    return None, reasons.node_budget(req.tenant, cap)
        return units, reason

    def _room(self, g: _Gpu) -> float:
        """Idle room of one GPU in GPU-equivalents (a GPU without a mode yet counts whole)."""
        if g.mode is None:
            return 1.0
        if g.mode == "full":
            return 0.0 if g.whole else 1.0
        if g.mode == "shared":
            return max(0.0, (MILLI_PER_GPU - g.milli) / MILLI_PER_GPU)
        if g.model is None or not g.model.compute_slices:
            return 0.0
        return _idle_slices(g, self._compute(g.model)) / g.model.compute_slices

    def _stranded_by_claim(self, req: Request, units: list[Unit]) -> str | None:
        """Why a node-isolated tenant should not take the new nodes this placement claims, or None.

        A node the tenant takes is closed to everyone else: what the tenant's remaining requests of
        this kind (within its quota) cannot fill there stays idle. When other tenants still want more
        of that kind than the rest of the cluster has room for, that idle room is lost to them; the
        placement is turned down when the room lost is worth more than the placement itself.
        """
        st = self.state
        # Nodes claimed now: every unit the tenant has there is one of this placement's.
        here = Counter(u.node for u in units)
        claimed = {nid: st.by_id[nid] for nid, k in here.items() if st.by_id[nid].tenants[req.tenant] == k}
        if not claimed:
            return None
        mode = MODE_OF_KIND[req.kind]
        room = sum(self._room(g) for n in claimed.values() for g in n.gpus if g.mode is None or g.mode == mode)
        fill = self.pending.get((req.tenant, req.kind), 0.0)
        quota = st.quota.get(req.tenant)
        if quota is not None:
            fill = min(fill, max(0.0, quota - st.tenant_used[req.tenant]))
        gain = req.priority * sum(self.inst.unit_size(req, u) for u in units)
        lost = room - fill - CLAIM_SLACK
        if lost <= CLAIM_GAIN * gain:
            return None
        # Room the other tenants could still use elsewhere: GPUs of this kind not closed to them.
        wanted = sum(v for (t, kind), v in self.pending.items() if kind == req.kind and t != req.tenant)
        elsewhere = 0.0
        for n in st.nodes:
            if n.spec.id in claimed or any(k > 0 and st.isolation.get(t) == "node" for t, k in n.tenants.items()):
                continue
            elsewhere += sum(self._room(g) for g in n.gpus if g.mode is None or g.mode == mode)
            if elsewhere >= wanted:
                return None  # the others fit elsewhere anyway: nobody loses the room
        if min(lost, wanted - elsewhere) <= CLAIM_GAIN * gain:
            return None
        return reasons.claim(req.tenant, len(claimed), room, fill)

    def _place(self, req: Request) -> tuple[list[Unit] | None, str]:
        st = self.state
        nodes = self.candidate_nodes(req)
        if self.only is not None:
            nodes = [n for n in nodes if n.spec.id in self.only]
        if not nodes:
            if req.kind == "host":
                return None, reasons.no_nodes()
            return None, reasons.no_model(req, (m.name for m in self.inst.cluster_models))
        bounds = self.bounds(req)
        if req.locality is not None and req.locality.required:
            groups: dict[str, list[_Node]] = defaultdict(list)
            level = "node" if req.locality.level == "gpu" else req.locality.level
            of = self.topology.node_domains(level)
            for n in nodes:
                groups[of[n.index]].append(n)
            dom_bound = {d: sum(bounds[m.spec.id] for m in ms) for d, ms in groups.items()}
            best: tuple[tuple, str] | None = None
            most = 0
            # While the whole GPUs asked (this gang's and those still to come) fit on the free
            # configured full GPUs, a gang spares 'any' GPUs (GANG_FRESH).
            spare = GANG_FRESH and req.kind == "gpu" and self.pending_gpus + req.count <= st.free_full
            # Tightest domains first; a domain that takes every unit ends the search.
            for dom in sorted(groups, key=lambda d: (dom_bound[d], d)):
                if dom_bound[dom] < req.need_count:
                    most = max(most, dom_bound[dom]) if best is None else most
                    continue
                members = groups[dom]
                unset = sum(1 for m in members for g in m.gpus if g.mode is None) if spare else 0
                mark = st.mark()
                got = self.place_in(req, members)
                k = len(got)
                most = max(most, k)
                # GPUs of mode 'any' this domain would give a mode to (GANG_FRESH)
                fresh = unset - sum(1 for m in members for g in m.gpus if g.mode is None) if spare else 0
                if k >= req.need_count:
                    slack = sum(len(m.gpus) for m in members) - sum(m.units for m in members)
                    key = (-k, fresh, slack, dom)
                    if best is None or key < best[0]:
                        best = (key, dom)
                st.undo(mark)
                if k == req.count and not fresh:
                    break
            if best is None:
                return None, self._reason(req, most, reasons.locality(req, req.locality.level, most, req.need_count))
            return self.place_in(req, groups[best[1]]), ""
        total = sum(bounds.values())
        if total < req.need_count:
            return None, self._reason(req, total, "", bound_only=True)
        mark = st.mark()
        if len(nodes) > _RANK_DIRECT:
            got = self.place_in(req, nodes, whole=self.only is None)  # ranks the admitted nodes itself
        else:
            got = self.place_in(req, [n for n in nodes if bounds[n.spec.id] > 0], whole=True)
        if len(got) >= req.need_count:
            return got, ""
        st.undo(mark)
        return None, self._reason(req, len(got), "")

    def _reason(self, req: Request, got: int, default: str, bound_only: bool = False) -> str:
        """The binding reason, most specific first: quota, isolation, host resources, capacity.

        With ``bound_only``, capacity alone (ignoring tenants) already rules the request out, so
        the relaxations are not tried.
        """
        st = self.state
        quota = st.quota.get(req.tenant)
        unit = self.inst.request_unit_size(req)
        if quota is not None and st.tenant_used[req.tenant] + unit * req.need_count > quota + _EPS:
            return reasons.quota(req.tenant, st.tenant_used[req.tenant], quota, unit * req.need_count)
        if default:
            return default
        if bound_only:
            st.ignore_host = True
            try:
                loose = sum(self.bounds(req).values())  # every candidate node's, host resources ignored
            finally:
                st.ignore_host = False
            if loose >= req.need_count:
                return reasons.host_resources(req, got, req.need_count, without=loose)
            return reasons.capacity(req, got, req.need_count)
        for flag, word in (("ignore_isolation", "isolation"), ("ignore_host", "host resources")):
            setattr(st, flag, True)
            mark = st.mark()
            try:
                fits = len(self.place_in(req, self.candidate_nodes(req))) >= req.need_count
            finally:
                st.undo(mark)
                setattr(st, flag, False)
            if fits:
                if word == "isolation":
                    return reasons.isolation(req, got, req.need_count)
                return reasons.host_resources(req, got, req.need_count)
        return reasons.capacity(req, got, req.need_count)

def _order(inst: Instance, reqs: Iterable[Request], net: Mapping[str, float] | None = None) -> list[Request]:
    """Priority first (``net``: a priority to order some requests by instead of their own, see
    :func:`quota_net`), hard-locality gangs first within a priority, then bigger first (the request's
    size as the model defines it), then file order.

    Work worth nothing to the objective (host requests: size 0) counts with the lowest priority of
    the work that is worth something, whatever its own: it only uses CPU and memory, and placed before
    GPU work of a lower priority it takes the host resources that work needs (sharing-0 at 1,024 GPUs:
    priority-1.5 host pods held 1,362 of 12,288 cores while 104 whole-GPU pods waited for CPU;
    1,054.97 → 1,100.81). Within that lowest priority it keeps its place (hard locality first, size 0
    last).
    """
    hard = lambda r: r.locality is not None and r.locality.required  # noqa: E731
    reqs = list(reqs)
    size = {r.id: inst.request_size(r) for r in reqs}
    floor = min((r.priority for r in reqs if size[r.id] > 0), default=None)

    def priority(r: Request) -> float:
        if size[r.id] > 0 or floor is None:
            return r.priority if net is None else net.get(r.id, r.priority)
        return min(r.priority, floor)

    return sorted(reqs, key=lambda r: (-priority(r), not hard(r), -size[r.id], inst.request_index[r.id]))


def host_pressure(inst: Instance) -> dict[str, float]:
    """How much of the GPU nodes' CPU and memory the waiting GPU work asks for: per resource
    ("cpu", "mem"), asked / capacity of the nodes that limit it (0 where none does)."""
    cpu_cap = sum(n.cpu_milli or 0 for n in inst.nodes if n.num_gpus)
    mem_cap = sum(n.memory_mib or 0 for n in inst.nodes if n.num_gpus)
    cpu = mem = 0
    for r in inst.requests:
        if r.placement is None and r.kind != "host":
            cpu += r.cpu_milli * r.count
            mem += r.memory_mib * r.count
    return {"cpu": cpu / cpu_cap if cpu_cap else 0.0, "mem": mem / mem_cap if mem_cap else 0.0}


#: Host pressure (see :func:`host_pressure`, the larger of CPU and memory) from which the greedy also
#: tries the balanced construction (sharing asks 1.35 times the nodes' CPU; every other suite family
#: at most 0.53 at 1,024 GPUs, seed 0).
BALANCE_PRESSURE = 0.75


class _Run:
    """One construction: its plan, each tried request's outcome in order, and when each node-isolated
    tenant took each new node (what a construction with a node cap replays up to where the cap bites)."""

    def __init__(self, plan: Plan, caps: dict[str, int], outcomes: list[tuple[list[Unit] | None, str]],
                 claims: dict[str, list[int]], held0: dict[str, int], balance: str | None,
                 node_cap: dict[str, int], bites: dict[str, int],
                 memo_log: list[tuple[int, tuple, tuple[int, str]]]) -> None:
        self.plan = plan
        #: Node caps a construction of the same requests could try (:func:`_node_caps`).
        self.caps = caps
        #: Per request in construction order: its units, or None and the reason it is unplaced.
        self.outcomes = outcomes
        #: Node-isolated tenant → the order positions at which it came to hold one more node with
        #: GPUs; ``held0``: the nodes it held before the first (its running work's).
        self.claims = claims
        self.held0 = held0
        self.balance = balance
        #: The caps this construction ran with, and per capped tenant the position of the first
        #: request its cap changed.
        self.node_cap = node_cap
        self.bites = bites
        #: What it remembered of failed requests, and when (:attr:`_Placer.memo_log`).
        self.memo_log = memo_log

    def agrees_until(self, caps: Mapping[str, int]) -> int:
        """How many requests a construction with ``caps`` places exactly as this one did: all before
        the first placement that took a tenant past its new cap here, and before the first request
        whose outcome this construction's own cap changed where that cap is not the same now (until
        then nothing differs, and constructions are deterministic)."""
        first = len(self.outcomes)
        for t, at in self.bites.items():
            if caps.get(t) != self.node_cap.get(t):
                first = min(first, at)
        for t, cap in caps.items():
            taken = self.claims.get(t, [])
            j = cap - self.held0.get(t, 0)
            if j < 0:
                return 0
            if j < len(taken):
                first = min(first, taken[j])
        return first


def _construct(inst: Instance, seed: int | None, t0: float, deadline: float | None, time_limit: float | None,
               progress: object, balance: str | None, node_cap: dict[str, int] | None = None,
               replay: _Run | None = None, net: Mapping[str, float] | None = None) -> _Run:
    """One priority-order construction (see the module docstring); ``balance``: see
    :meth:`_Placer.node_rank`; ``node_cap``: the most nodes with GPUs each named node-isolated tenant
    may hold; ``replay``: an earlier construction with the same ``balance`` whose outcomes are taken
    as they are for the requests before its caps would first bite (:meth:`_Run.agrees_until`);
    ``net``: priorities to order by (:func:`quota_net`; not with ``replay``)."""
    assert net is None or replay is None
    pl = _Placer(inst, balance)
    st = pl.state
    placed: dict[str, list[Unit]] = {}
    unplaced: dict[str, str] = {}
    for r in inst.requests:
        if r.placement is None:
            continue
        for u in r.placement:
            _apply_unit(inst, st, r, u)
        placed[r.id] = list(r.placement)
    st.log.clear()
    gpu_nodes = {n.spec.id for n in st.nodes if n.gpus}
    held0: dict[str, int] = {}
    claims: dict[str, list[int]] = {}
    for t, iso in st.isolation.items():
        if iso == "node":
            pl.held[t] = {n.spec.id for n in st.nodes if n.tenants[t] > 0 and n.gpus}
            held0[t] = len(pl.held[t])
            claims[t] = []
    pl.node_cap.update(node_cap or {})
    todo = _order(inst, (r for r in inst.requests if r.placement is None), net)
    isolated = bool(claims)
    size = {r.id: inst.request_size(r) for r in todo} if isolated else {}
    for r in todo:
        pl.pending[(r.tenant, r.kind)] = pl.pending.get((r.tenant, r.kind), 0.0) + size.get(r.id, 0.0)
    pl.pending_gpus = sum(r.count for r in todo if r.kind == "gpu")
    same = 0 if replay is None or replay.balance != balance else replay.agrees_until(node_cap or {})
    if same:
        # The replayed requests' failures, as the earlier run remembered them for later ones alike.
        pl.memo_log = [w for w in replay.memo_log if w[0] < same]  # type: ignore[union-attr]
        pl.failed.update((key, entry) for _, key, entry in pl.memo_log)
    outcomes: list[tuple[list[Unit] | None, str]] = []
    update = getattr(progress, "update", None)
    for i, r in enumerate(todo):
        if update is not None and i % 256 == 0:
            update(done=i, total=len(todo), note="greedy, balanced" if balance else "greedy")
        pl.pending[(r.tenant, r.kind)] -= size.get(r.id, 0.0)
        if r.kind == "gpu":
            pl.pending_gpus -= r.count
        if i < same:
            units, reason = replay.outcomes[i]  # type: ignore[union-attr]
            for u in units or ():
                _apply_unit(inst, st, r, u)
        elif deadline is not None and time.perf_counter() > deadline:
            units, reason = None, reasons.time_limit("greedy", time_limit)  # type: ignore[arg-type]
        else:
            pl.at = i
            units, reason = pl.place(r)
        outcomes.append((units, reason))
        if units is None:
            unplaced[r.id] = reason
        else:
            placed[r.id] = units
            if r.tenant in claims:
                new = {u.node for u in units if u.node in gpu_nodes} - pl.held[r.tenant]
                if new:
                    pl.held[r.tenant] |= new
                    claims[r.tenant].extend([i] * len(new))
        st.log.clear()
    exchanged = None
    if EXCHANGE and balance is not None and (deadline is None or time.perf_counter() < deadline):
        def offer(taken: list[str]) -> None:
            """Requests an exchange left with no unit, tried again in the construction's order."""
            pl.failed.clear()  # the state no longer only fills up: what failed may fit now
            for r in _order(inst, (inst.request(i) for i in taken), net):
                if r.id in placed:
                    continue
                units, reason = pl.place(r)
                if units is None:
                    unplaced[r.id] = reason
                else:
                    placed[r.id] = units
                    unplaced.pop(r.id, None)
                st.log.clear()

        made, gained = exchange.improve(pl, placed, unplaced, offer, deadline)
        exchanged = f", {made} exchanges (+{gained:.2f})" if made else None
    modes = {(n.spec.id, g.index): g.mode for n in st.nodes for g in n.gpus
             if g.configured == "any" and g.mode is not None and g.units}
    how = "priority order, balanced" if balance else "priority order"
    if exchanged:
        how += exchanged
    if node_cap:
        how += ", isolated tenants' nodes capped"
    if net:
        how += ", quota-bound tenants' work by net value"
    plan = build_plan(inst, solver="greedy", placed=placed, unplaced=unplaced, gpu_modes=modes,  # type: ignore[arg-type]
                      seed=seed, wall_s=time.perf_counter() - t0, solver_info={"construction": how})
    if replay is not None:  # bites in the replayed part are the earlier run's
        for t, at in replay.bites.items():
            if at < same:
                pl.bites[t] = min(at, pl.bites.get(t, at))
    return _Run(plan, _node_caps(pl, inst, unplaced), outcomes, claims, held0, balance, dict(node_cap or {}),
                pl.bites, pl.memo_log)


def _apply_unit(inst: Instance, st: _State, r: Request, u: Unit) -> None:
    """Applies one unit of ``r`` as it is given (running work, or a replayed placement)."""
    node = st.by_id[u.node]
    if r.kind == "host":
        st.apply(r, None, u, 0.0, None, node)
        return
    assert u.gpu is not None
    # A unit fixes its GPU's mode (validated instances never run work on 'any' GPUs).
    st.apply(r, node.gpus[u.gpu], u, inst.unit_size(r, u), MODE_OF_KIND[r.kind])


def _node_caps(pl: _Placer, inst: Instance, unplaced: Mapping[str, str]) -> dict[str, int]:
    """Node caps that would pack each node-isolated tenant tighter than this construction did.

    A node a node-isolated tenant holds is closed to every other tenant, so the idle room left on
    its nodes is lost to them. Where that room adds up to whole nodes (k of them, at the tenant's
    mean GPUs per node) while other tenants' requests wait, a construction that lets the tenant hold
    k nodes fewer hands those nodes to the waiting work; the tenant's own work fits in the room
    (the same total, on fewer nodes), as far as its kinds and shapes allow. The caller keeps the
    better plan, so a cap that costs the tenant more than it gives the others is never kept.
    """
    st = pl.state
    tenant_of = {r.id: r.tenant for r in inst.requests}
    caps: dict[str, int] = {}
    for t, iso in st.isolation.items():
        if iso != "node" or not any(tenant_of[rid] != t for rid in unplaced):
            continue
        held = [st.by_id[i] for i in sorted(pl.held[t])]  # kept up to date by _construct
        if not held:
            continue
        room = sum(pl._room(g) for n in held for g in n.gpus)
        k = int(room * len(held) / sum(len(n.gpus) for n in held) + _EPS)
        if k >= 1:
            caps[t] = len(held) - k
    return caps


#: Whether the greedy also tries a construction that orders the work of tenants whose quota binds
#: by its value net of the capacity it takes (:func:`quota_net`), keeping the better plan.
QUOTA_NET = True


def _kinds_may_trade(inst: Instance, plan: Plan) -> bool:
    """True when some quota-bound tenant both placed and left out waiting work, of different kinds: the
    part of :func:`_net_may_pay`'s test that needs no prices, checked before the capacity LP is solved."""
    bound = quota_bound(inst)
    if not bound:
        return False
    placed = {a.request for a in plan.assignments}
    kinds: dict[tuple[str, bool], set[str]] = defaultdict(set)
    for r in inst.requests:
        if r.placement is None and r.tenant in bound:
            kinds[r.tenant, r.id in placed].add(r.kind)
    return any(kinds[t, False] and kinds[t, True] and len(kinds[t, False] | kinds[t, True]) > 1 for t in bound)


def _net_may_pay(inst: Instance, plan: Plan, net: Mapping[str, float]) -> bool:
    """True when some quota-bound tenant left out a request of a higher net value than one it placed
    on a dearer kind of capacity: only then can ordering by net value change what its quota buys."""
    placed = {a.request for a in plan.assignments}
    best_left: dict[tuple[str, str], float] = {}
    worst_in: dict[tuple[str, str], float] = {}
    price: dict[str, float] = {}
    for rid, v in net.items():
        r = inst.request(rid)
        price[r.kind] = r.priority - v
        key = (r.tenant, r.kind)
        if rid in placed:
            worst_in[key] = min(v, worst_in.get(key, v))
        else:
            best_left[key] = max(v, best_left.get(key, v))
    return any(v > w + _EPS and price[kq] > price[kr] + _EPS
               for (t, kr), v in best_left.items() for (tq, kq), w in worst_in.items() if tq == t)


#: The options :func:`solve` takes (see :mod:`packer.options`).
OPTIONS = frozenset({"time_limit", "seed", "progress"})


def solve(inst: Instance, file_order: bool = True, *, time_limit: float | None = None, seed: int | None = 0,
          progress: object = None) -> Plan:
    """Greedy plan for ``inst``; deterministic (``seed`` does not change it, the plan records it).

    With ``time_limit``, requests not yet tried when it runs out are listed as unplaced, with a
    reason that says so; the plan so far is valid. ``progress`` (a :class:`packer.progress.Progress`)
    is told how many requests were tried, every 256. ``file_order=False`` returns the priority-order
    construction alone, without the online placer's file-order runs (whose kernels take 0.5 s to load
    in a fresh process, and much longer to compile on a fresh machine): for a caller that searches
    on from the plan anyway. (``file_order`` is an internal switch of the CP-SAT hint, not one of the
    back ends' :data:`OPTIONS`, so it is not keyword-only.)
    """
    t0 = time.perf_counter()
    deadline = None if time_limit is None else t0 + time_limit
    pressure = host_pressure(inst)
    tight = max(pressure, key=lambda k: (pressure[k], k == "cpu"))
    # Where host resources are asked for, the balanced construction comes first (usually the better
    # one there, and the one kept when a time limit cuts the second short), then the packed one.
    kinds: list[str | None] = [tight, None] if pressure[tight] >= BALANCE_PRESSURE else [None]
    best = _construct(inst, seed, t0, deadline, time_limit, progress, balance=kinds[0])
    for balance in kinds[1:]:
        if deadline is not None and time.perf_counter() >= deadline:
            break
        alt = _construct(inst, seed, t0, deadline, time_limit, progress, balance=balance)
        if alt.plan.objective > best.plan.objective + _EPS:
            best = alt
    caps = best.caps
    for _ in range(CAP_ROUNDS):
        if not caps or (deadline is not None and time.perf_counter() >= deadline):
            break
        # Node-isolated tenants left whole nodes' worth of idle room on the nodes they hold while
        # others wait: the same construction with those tenants held to fewer nodes (replayed up
        # to where the caps bite), again from its own idle room while that pays.
        alt = _construct(inst, seed, t0, deadline, time_limit, progress, balance=best.balance, node_cap=caps,
                         replay=best)
        if alt.plan.objective <= best.plan.objective + _EPS:
            break
        best = alt
        tighter = {**caps, **{t: min(c, caps.get(t, c)) for t, c in alt.caps.items()}}
        if tighter == caps:
            break
        caps = tighter
    net = (quota_net(inst) if QUOTA_NET and (deadline is None or time.perf_counter() < deadline)
           and _kinds_may_trade(inst, best.plan) else {})
    if net and _net_may_pay(inst, best.plan, net):
        # Tenants whose quota binds spend it first where others cannot use the capacity instead.
        alt = _construct(inst, seed, t0, deadline, time_limit, progress, balance=best.balance,
                         node_cap=best.node_cap or None, net=net)
        if alt.plan.objective > best.plan.objective + _EPS:
            best = alt
    plan = best.plan
    if file_order and (deadline is None or time.perf_counter() < deadline):
        plan = _best_of_file_order(inst, plan, seed, t0, deadline)
    return plan


#: The online placer's policies the greedy also runs in file order, keeping the best plan.
FILE_ORDER_POLICIES = ("first-fit", "packer")


def _best_of_file_order(inst: Instance, plan: Plan, seed: int | None, t0: float, deadline: float | None) -> Plan:
    """``plan`` or, where one has a higher objective, the online placer's plan in file order.

    Priority order first is the greedy's own construction and usually much better, but not always:
    where the file order happens to pair requests well (sharing-2 at 64 GPUs: 57.3 against
    first-fit's 61.4) the plain file-order first-fit wins. A batch solver may try both orders, so the
    greedy never returns less than first-fit in file order (issue 16)."""
    try:
        from packer.online.solver import solve as online_solve
    except ImportError:  # the online fast path needs numba
        return plan
    best = plan
    for policy in FILE_ORDER_POLICIES:
        left = None if deadline is None else deadline - time.perf_counter()
        if left is not None and left <= 0:
            break
        try:
            alt = online_solve(inst, seed=seed, policy=policy, time_limit=left, rollout=False)
        except ValueError:  # a cluster the online placer does not handle (e.g. > 64 GPUs a node)
            return best
        if alt.objective > best.objective + _EPS:
            best = alt
    if best is plan:
        return plan
    info = best.solver.model_dump()
    info.update(name="greedy", wall_s=time.perf_counter() - t0, construction=f"online {info.get('policy')}, file order")
    return best.model_copy(update={"solver": type(best.solver)(**info)})


__all__ = ["solve"]
