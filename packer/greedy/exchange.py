"""Exchanges on one GPU after a construction: waiting work worth more takes the place of placed work
worth less (session 17, issue 16: sharing at 16,384 GPUs).

Where host CPU binds (the suite's ``sharing``: GPU work asks 1.35 times the nodes' CPU), the
priority-order construction fills GPUs with the CPU-cheap 810-milli shares first; each leaves 190
milli that no waiting share fits, and the CPU-heavy 470-milli pairs, 650 + 320 pairs and CPU-light
whole GPUs that fill a GPU better are left waiting for CPU that host work (worth 0) or the lone
shares hold. An exchange frees one GPU of at most one unit of placed work (a request that can lose
it) and the node of host units (worth nothing; fewest first) as far as needed, and puts up to two
waiting units there, when what it places is worth more than what it takes away (priority × GPU
equivalents, the objective's value). Every hard rule is checked as the construction checks it
(mode, GPU model, milli, CPU and memory, GPU and node isolation, quota); requests with a locality or
a spread, running work and MIG work are left alone. Whatever an exchange took away is offered to
the rest of the cluster again afterwards, in the construction's order.

Exact in what it promises: a plan's objective never falls (each exchange gains), and the plan is
checked like any other.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING

from packer import reasons
from packer.model import MILLI_PER_GPU, Request, Unit

if TYPE_CHECKING:
    from packer.greedy.solver import _Gpu, _Node, _Placer

_EPS = 1e-9
#: Waiting units one exchange may put on one GPU.
MOST_ADDED = 2
#: Also the exchange of one whole-GPU unit for two waiting ones over two GPUs of a node
#: (:meth:`_Exchanger.best_whole_move`).
WHOLE_PAIRS = True
#: Passes over the cluster at most (each after the one before made an exchange).
PASSES = 2


def _simple(req: Request, isolation: dict) -> bool:
    """A new share, whole-GPU or host request with no locality and no spread (units are
    interchangeable), of a tenant not isolated by node (whose node count the construction caps)."""
    return (req.placement is None and req.kind in ("share", "gpu", "host") and req.locality is None
            and req.spread is None and isolation.get(req.tenant) != "node")


def _size(r: Request) -> float:
    """GPU-equivalents of one unit of a share, whole-GPU or host request."""
    return 1.0 if r.kind == "gpu" else (r.gpu_milli or 0) / MILLI_PER_GPU if r.kind == "share" else 0.0


class _Exchanger:
    def __init__(self, pl: _Placer, placed: dict[str, list[Unit]], unplaced: dict[str, str]) -> None:
        self.pl = pl
        self.st = pl.state
        self.inst = pl.inst
        self.placed = placed
        self.unplaced = unplaced
        self.req = {r.id: r for r in pl.inst.requests}
        #: (node index, gpu index) → [(request, unit)] of the removable GPU units there.
        self.on_gpu: dict[tuple[int, int], list[tuple[Request, Unit]]] = defaultdict(list)
        #: node index → [(request, unit)] of the removable host units there.
        self.hosts: dict[int, list[tuple[Request, Unit]]] = defaultdict(list)
        for rid, units in placed.items():
            r = self.req[rid]
            if not _simple(r, self.st.isolation):
                continue
            for u in units:
                n = self.st.by_id[u.node]
                if r.kind == "host":
                    self.hosts[n.index].append((r, u))
                else:
                    self.on_gpu[(n.index, u.gpu)].append((r, u))  # type: ignore[index]
        self.taken: list[str] = []  # requests an exchange took units from, to offer again
        self.val = {r.id: r.priority * _size(r) for r in pl.inst.requests}
        self.node_ok: dict[tuple[int, int, str], bool] = {}

    # ---- what waits

    def waiting(self) -> list[list[Request]]:
        """Waiting units grouped by shape (kind, milli, CPU, memory, priority, tenant, models): one
        list of requests per shape (each request once per unit it may still add), best value first."""
        groups: dict[tuple, list[Request]] = defaultdict(list)
        for r in self.inst.requests:
            if not _simple(r, self.st.isolation) or r.kind == "host":
                continue
            have = len(self.placed.get(r.id, ()))
            if have == 0 and r.need_count != 1:
                continue
            key = (r.kind, r.gpu_milli or 0, r.cpu_milli, r.memory_mib, r.priority, r.tenant, r.gpu_models)
            groups[key].extend([r] * (r.count - have))
        return sorted((rs for rs in groups.values() if rs), key=lambda rs: -self.value(rs[0]))

    def bounds(self, shapes: list[list[Request]]) -> None:
        """The least milli of a waiting share and the least CPU and memory of a waiting unit (lower
        bounds while the shapes only shrink): a GPU or node with less takes nothing."""
        self.least_milli = min((rs[0].gpu_milli or 0 for rs in shapes if rs[0].kind == "share"),
                               default=MILLI_PER_GPU + 1)
        self.least_cpu = min((rs[0].cpu_milli for rs in shapes), default=0)
        self.least_mem = min((rs[0].memory_mib for rs in shapes), default=0)

    def value(self, r: Request) -> float:
        """One unit's worth to the objective."""
        return self.val[r.id]

    def removable(self, r: Request) -> bool:
        """Whether one unit of ``r`` may go (the request keeps its ``need_count``, or had one unit)."""
        have = len(self.placed.get(r.id, ()))
        return have - 1 >= r.need_count or have == 1

    # ---- one GPU

    def best_move(self, n: _Node, g: _Gpu, shapes: list[list[Request]]) -> tuple | None:
        """The exchange on GPU ``g`` worth most: (gain, (request, unit, GPU) taken away or None,
        [(request, GPU) added])."""
        here = self.on_gpu.get((n.index, g.index), [])
        if g.units != len(here) and g.mode != "shared":
            return None  # something that may not move holds a whole GPU
        free_hosts = [x for x in self.hosts.get(n.index, ()) if self.removable(x[0])]
        host_cpu = sum(r.cpu_milli for r, _ in free_hosts)
        host_mem = sum(r.memory_mib for r, _ in free_hosts)
        cpu0 = n.cpu if n.cpu is not None else 1 << 40
        mem0 = n.mem if n.mem is not None else 1 << 50
        best = None
        outs: list[tuple[Request, Unit, _Gpu] | None] = [None] + [(*x, g) for x in here if self.removable(x[0])]
        for out in outs:
            lose = self.value(out[0]) if out is not None else 0.0
            mine = out is not None  # a unit taken away is one of g's
            left = g.units - (1 if mine else 0)
            if mine and out[0].kind == "gpu":
                milli_free = MILLI_PER_GPU
            elif g.whole:
                continue
            else:
                milli_free = MILLI_PER_GPU - g.milli + ((out[0].gpu_milli or 0) if mine else 0)
            mode = g.mode if (left or g.configured != "any") else None
            whole_ok = not left and mode in (None, "full")
            if milli_free < self.least_milli and not whole_ok:
                continue  # no waiting share fits the milli (the least is a bound over every shape)
            holders = dict(g.tenants)
            if mine:
                holders[out[0].tenant] -= 1
            cpu = cpu0 + host_cpu + (out[0].cpu_milli if out is not None else 0)
            mem = mem0 + host_mem + (out[0].memory_mib if out is not None else 0)
            if cpu < self.least_cpu or mem < self.least_mem:
                continue
            val = self.val
            for first_i, first in enumerate(shapes):
                a = first[0]
                va = val[a.id]
                if va * MOST_ADDED <= lose + (best[0] if best else 0) + _EPS:
                    break  # sorted by value: nothing further gains more
                ma = a.gpu_milli or 0
                if ma > milli_free or a.cpu_milli > cpu or a.memory_mib > mem:
                    continue
                if not self._fits(a, n, mode, left, milli_free, holders, cpu, mem, 1):
                    continue
                gain1 = va - lose
                if gain1 > _EPS and (best is None or gain1 > best[0] + _EPS):
                    best = (gain1, out, [(a, g)])
                if a.kind == "gpu":
                    continue
                room, cpu_b, mem_b = milli_free - ma, cpu - a.cpu_milli, mem - a.memory_mib
                for second in shapes[first_i:]:
                    if second is first and len(first) < 2:
                        continue
                    b = second[1] if second is first else second[0]  # two units: two requests
                    if va + val[b.id] - lose <= (best[0] if best else 0) + _EPS:
                        break  # sorted by value: no later second gains more
                    if b.kind != "share" or (b.gpu_milli or 0) > room or b.cpu_milli > cpu_b or b.memory_mib > mem_b:
                        continue
                    if not self._fits_pair(a, b, n, mode, left, milli_free, holders, cpu, mem):
                        continue
                    best = (va + val[b.id] - lose, out, [(a, g), (b, g)])
        return best

    def best_whole_move(self, n: _Node, g: _Gpu, shapes: list[list[Request]], best: tuple | None) -> tuple | None:
        """On an empty GPU ``g`` that may hold a whole GPU: a CPU-heavy whole-GPU unit on another GPU
        of the node makes way for two waiting whole-GPU units, one on ``g`` and one where it was, when
        they are worth more (host units of the node go first, as in :meth:`best_move`)."""
        if g.units or g.mode not in (None, "full"):
            return best
        free_hosts = [x for x in self.hosts.get(n.index, ()) if self.removable(x[0])]
        cpu0 = (n.cpu if n.cpu is not None else 1 << 40) + sum(r.cpu_milli for r, _ in free_hosts)
        mem0 = (n.mem if n.mem is not None else 1 << 50) + sum(r.memory_mib for r, _ in free_hosts)
        wholes = [rs for rs in shapes if rs[0].kind == "gpu"]
        for h in n.gpus:
            if h is g:
                continue
            for out in self.on_gpu.get((n.index, h.index), ()):
                r0 = out[0]
                if r0.kind != "gpu" or not self.removable(r0):
                    continue
                lose = self.value(r0)
                cpu, mem = cpu0 + r0.cpu_milli, mem0 + r0.memory_mib
                holders = dict(h.tenants)
                holders[r0.tenant] -= 1
                mode_h = h.mode if h.configured != "any" else None
                for i, first in enumerate(wholes):
                    a = first[0]
                    if 2 * self.value(a) <= lose + (best[0] if best else 0) + _EPS:
                        break
                    if not self._fits(a, n, g.mode, 0, MILLI_PER_GPU, dict(g.tenants), cpu, mem, 1):
                        continue
                    for second in wholes[i:]:
                        if second is first and len(first) < 2:
                            continue
                        b = second[1] if second is first else second[0]
                        gain = self.value(a) + self.value(b) - lose
                        if gain <= (best[0] if best else 0) + _EPS:
                            break
                        if not self._fits(b, n, mode_h, 0, MILLI_PER_GPU, holders, cpu - a.cpu_milli,
                                          mem - a.memory_mib, 1):
                            continue
                        quota = self.st.quota.get(a.tenant)
                        if a.tenant == b.tenant and quota is not None and \
                                self.st.tenant_used[a.tenant] + 2.0 > quota + _EPS:
                            continue
                        best = (gain, (*out, h), [(a, g), (b, h)])
        return best

    def _fits(self, r: Request, n: _Node, mode: str | None, left: int, milli_free: int,
              holders: dict[str, int], cpu: int, mem: int, k: int) -> bool:
        """Whether ``k`` units of ``r`` fit the GPU as the exchange leaves it (arithmetic only)."""
        st = self.st
        allowed = self.pl.allowed(r)
        if allowed is not None and n.canonical_model not in allowed:
            return False
        if r.kind == "gpu":
            if left or k != 1 or mode not in (None, "full"):
                return False
        elif mode not in (None, "shared") or (r.gpu_milli or 0) * k > milli_free:
            return False
        if r.cpu_milli * k > cpu or r.memory_mib * k > mem:
            return False
        key = (n.index, n.version, r.tenant)  # node isolation: the same for every shape of a tenant
        ok = self.node_ok.get(key)
        if ok is None:
            ok = self.node_ok[key] = st.tenant_ok_node(n, r.tenant)
        if not ok:
            return False
        others = [t for t, c in holders.items() if c > 0 and t != r.tenant]
        if others and (st.isolation.get(r.tenant) == "gpu" or any(st.isolation.get(t) == "gpu" for t in others)):
            return False
        quota = st.quota.get(r.tenant)
        return quota is None or st.tenant_used[r.tenant] + k * _size(r) <= quota + _EPS

    def _fits_pair(self, a: Request, b: Request, n: _Node, mode: str | None, left: int, milli_free: int,
                   holders: dict[str, int], cpu: int, mem: int) -> bool:
        if (a.tenant, a.cpu_milli, a.memory_mib, a.gpu_milli, a.gpu_models) == \
                (b.tenant, b.cpu_milli, b.memory_mib, b.gpu_milli, b.gpu_models):
            return self._fits(a, n, mode, left, milli_free, holders, cpu, mem, 2)
        if (a.gpu_milli or 0) + (b.gpu_milli or 0) > milli_free:
            return False
        if a.cpu_milli + b.cpu_milli > cpu or a.memory_mib + b.memory_mib > mem:
            return False
        if not self._fits(a, n, mode, left, milli_free, holders, cpu, mem, 1):
            return False
        with_a = dict(holders)
        with_a[a.tenant] = with_a.get(a.tenant, 0) + 1
        if not self._fits(b, n, mode, left, milli_free - (a.gpu_milli or 0), with_a,
                          cpu - a.cpu_milli, mem - a.memory_mib, 1):
            return False
        if a.tenant == b.tenant:
            quota = self.st.quota.get(a.tenant)
            size = _size(a) + _size(b)
            if quota is not None and self.st.tenant_used[a.tenant] + size > quota + _EPS:
                return False
        return True

    # ---- doing it

    def _take(self, r: Request, u: Unit, n: _Node, g: _Gpu | None) -> None:
        """Takes unit ``u`` of ``r`` away (a request left with none waits, offered again later)."""
        self.st.remove(r, g, u, _size(r), n)
        units = self.placed[r.id]
        units.remove(u)
        if g is None:
            self.hosts[n.index].remove((r, u))
        else:
            self.on_gpu[(n.index, g.index)].remove((r, u))
        if not units:
            del self.placed[r.id]
            self.unplaced[r.id] = reasons.objective(r)
            self.taken.append(r.id)

    def _put(self, r: Request, n: _Node, g: _Gpu) -> bool:
        """Puts one unit of ``r`` on ``g`` if every rule allows it (as the construction checks)."""
        st = self.st
        mode = "full" if r.kind == "gpu" else "shared"
        if g.mode is not None and g.mode != mode:
            return False
        allowed = self.pl.allowed(r)
        if allowed is not None and n.canonical_model not in allowed:
            return False
        if not st.host_ok(n, r) or not st.tenant_ok_node(n, r.tenant) or not st.tenant_ok_gpu(g, r.tenant):
            return False
        if r.kind == "gpu":
            if g.units:
                return False
            unit = Unit(node=n.spec.id, gpu=g.index)
        else:
            if g.whole or g.milli + (r.gpu_milli or 0) > MILLI_PER_GPU:
                return False
            unit = Unit(node=n.spec.id, gpu=g.index, gpu_milli=r.gpu_milli)
        quota = st.quota.get(r.tenant)
        if quota is not None and st.tenant_used[r.tenant] + _size(r) > quota + _EPS:
            return False
        st.apply(r, g, unit, _size(r), mode)
        self.placed.setdefault(r.id, []).append(unit)
        self.unplaced.pop(r.id, None)
        self.on_gpu[(n.index, g.index)].append((r, unit))
        return True

    def apply(self, n: _Node, g: _Gpu, move: tuple, shapes: list[list[Request]]) -> bool:
        """Carries out ``move`` on GPU ``g``; False (and nothing changed) where a rule refuses it."""
        _, out, puts = move
        adds = [r for r, _ in puts]
        st = self.st
        undo: list[tuple[Request, Unit, _Gpu | None]] = []
        if out is not None:
            self._take(out[0], out[1], n, out[2])
            undo.append((out[0], out[1], out[2]))
        cpu = sum(r.cpu_milli for r in adds)
        mem = sum(r.memory_mib for r in adds)
        for r, u in sorted((x for x in self.hosts.get(n.index, ()) if self.removable(x[0])),
                           key=lambda x: (-x[0].cpu_milli, -x[0].memory_mib, x[0].id)):
            if (n.cpu is None or n.cpu >= cpu) and (n.mem is None or n.mem >= mem):
                break
            self._take(r, u, n, None)
            undo.append((r, u, None))
        done: list[Request] = []
        before = {r.id: self.unplaced.get(r.id) for r in adds}
        for r, on in puts:
            if not self._put(r, n, on):
                break
            done.append((r, on))
        if len(done) == len(adds):
            for r in adds:  # the units added leave the waiting shapes
                for rs in shapes:
                    i = next((k for k, x in enumerate(rs) if x is r), -1)
                    if i >= 0:
                        del rs[i]
                        break
            st.log.clear()
            return True
        for r, on in reversed(done):  # refused: put everything back as it was
            u = self.placed[r.id][-1]
            self._take(r, u, n, on)
            if r.id in self.taken:
                self.taken.remove(r.id)
            if before[r.id] is not None:
                self.unplaced[r.id] = before[r.id]  # type: ignore[assignment]
        for r, u, gg in reversed(undo):
            st.apply(r, gg, u, _size(r), None if gg is None else ("full" if r.kind == "gpu" else "shared"), n)
            self.placed.setdefault(r.id, []).append(u)
            if r.id in self.unplaced and self.placed[r.id]:
                del self.unplaced[r.id]
            if r.id in self.taken:
                self.taken.remove(r.id)
            (self.hosts[n.index] if gg is None else self.on_gpu[(n.index, gg.index)]).append((r, u))
        st.log.clear()
        return False


def improve(pl: _Placer, placed: dict[str, list[Unit]], unplaced: dict[str, str],
            offer: Callable[[list[str]], None], deadline: float | None = None) -> tuple[int, float]:
    """Exchanges on every GPU of the cluster, node by node, while one gains (see the module
    docstring), in up to :data:`PASSES` passes; after each, ``offer`` gets the requests an exchange
    left with no unit (the caller tries them on the rest of the cluster). Stops at ``deadline``
    (``time.perf_counter()``). Returns (exchanges made, value they gained)."""
    ex = _Exchanger(pl, placed, unplaced)
    made, gained = 0, 0.0
    for _ in range(PASSES):
        shapes = ex.waiting()
        ex.bounds(shapes)
        before = made
        for n in pl.state.nodes:
            if not n.gpus or not shapes:
                continue
            if deadline is not None and time.perf_counter() > deadline:
                break
            for g in n.gpus:
                while shapes:
                    move = ex.best_move(n, g, shapes)
                    if WHOLE_PAIRS:
                        move = ex.best_whole_move(n, g, shapes, move)
                    if move is None or not ex.apply(n, g, move, shapes):
                        break
                    made += 1
                    gained += move[0]
                    shapes = [rs for rs in shapes if rs]
        if ex.taken:
            offer(ex.taken)
            ex.taken = []
        if made == before:
            break
    return made, gained
