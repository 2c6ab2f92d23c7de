"""An upper bound on the time-averaged GPU allocation of the dynamic (deferral) replay (issue 17 part 4).

:func:`window_bound` bounds ∫ used GPU milli dt over a window [t0, T] of
:func:`packer.replay.deferral.replay_deferral`'s protocol, for every placer of a stated class, with any
number of migrations (every running pod may move at every instant):

**The class (``t_free``, ``always_free``).** Placers under which no pod that arrived before ``t_free`` ever
waited (pods in ``always_free`` excepted: they are free whenever they arrive). Such a
pod started at its arrival and runs exactly [a_i, a_i + d_i): it is *forced*. Every other pod (arrived at
or after ``t_free``) is *free*: the bound may run it or not at any time after its arrival, even after its
nominal departure a_i + d_i (a placer that delayed it could still hold it). ``t_free = 0`` makes every pod
free, so the bound holds for every placer and every migration schedule, however it waits pods. A run's
first wait (``first_wait_s``, the arrival of the first pod that waited) is the latest ``t_free`` of the class
that run belongs to; the bench takes the earliest first wait of the policies it compares.

**Per interval.** The window is cut into ``intervals`` pieces. On [t_k, t_{k+1}) the running set holds
every forced pod in flight over the whole piece (a_i <= t_k, a_i + d_i >= t_{k+1}) and possibly any forced
pod that arrives or departs inside it and any free pod that arrived before t_{k+1}. The most GPU milli such a set can place
(:func:`_Lp`, a linear relaxation) bounds the allocation at every instant of the piece.

**The relaxation of a placement** (nodes aggregated by type: CPU, memory, GPU count, model):
- a pod uses CPU and memory of its type (sums over the type's nodes), and only a type whose one node
  holds it (CPU, memory, GPU count, model set);
- a pod of more than 500 milli per GPU (*big*) owns each of its devices: no other big pod shares them,
  and the room beside it (1000 − milli) takes only pods no larger than that room (a fluid: milli may
  split);
- the other pods (*small*, at most 500 milli) fill rooms they fit in, or devices without a big pod
  (fluid, 1000 milli each);
- big pods' devices plus the devices the small ones fill alone are at most the type's GPUs.
Every real placement of the running set satisfies these (per node, then summed), so the LP optimum is at
least the placed GPU milli. By default (``configs``) the devices are tighter (:func:`_build_cfg`): each
device holds one *configuration*, a multiset of pods above ``tiny`` (200) milli that fits it (at most one
big pod); the counts of configurations per type are fractional, the pods inside one are whole; the tiny
pods fill what a configuration leaves, as a fluid, each only where it fits whole. The fluid rooms above
(``configs=False``) are the weaker relaxation. CPU and memory are rounded down to ``cpu_q``/``mem_q`` (a relaxation: fewer
shapes, smaller LP). Forced pods that the LP cannot hold mean the stated class is empty for this stream;
the interval is then reported as infeasible (``None``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from packer.replay.openb import Cluster, Pods

BIG = 500  # milli per GPU above which a pod owns its device (two such pods never share one)


@dataclass
class _Lp:
    """The placement relaxation for one stream: the matrix is built once, each interval sets bounds."""

    A: Any  # scipy sparse, rows: shape lower/upper, type cpu/mem/devices, rooms, small balance
    b_fixed: np.ndarray
    c: np.ndarray
    n_shapes: int
    n_x: int
    x_shape: np.ndarray  # shape of each x column
    n_eq: int
    A_eq: Any

    def solve(self, lo: np.ndarray, hi: np.ndarray) -> float | None:
        """Most GPU milli with lo[s] <= pods of shape s placed <= hi[s] (None: infeasible)."""
        out = self.solve_x(lo, hi)
        return None if out is None else out[0]

    def solve_x(self, lo: np.ndarray, hi: np.ndarray) -> tuple[float, np.ndarray] | None:
        """:meth:`solve`'s optimum and the solution vector (columns: x per (shape, type), then the
        relaxation's own: device configurations per type and tiny flows for :func:`_build_cfg`)."""
        b = np.concatenate([-lo.astype(np.float64), hi.astype(np.float64), self.b_fixed])
        eq = {"A_eq": self.A_eq, "b_eq": np.zeros(self.n_eq)} if self.n_eq else {}
        res = linprog(self.c, A_ub=self.A, b_ub=b, bounds=(0, None), method="highs", **eq)
        if res.status == 2:
            return None
        if res.status != 0:
            raise RuntimeError(f"window bound LP: {res.message}")
        return float(-res.fun), np.asarray(res.x)


def _shape_columns(cluster: Cluster, pods: Pods, shape_of: np.ndarray, n_shapes: int, cpu_q: int, mem_q: int):  # type: ignore[no-untyped-def]
    """What both relaxations start from: the node types (unique CPU, memory, GPUs, model; their counts),
    one representative pod per shape (CPU and memory rounded down to ``cpu_q`` / ``mem_q``), and one
    column (shape, type) wherever a shape's pod fits a node of the type (host resources, GPU count, GPU
    model). Returns (types, count, shape CPU, shape memory, shape GPUs, shape milli, column shapes, column types)."""
    key = np.stack([cluster.cpu, cluster.mem, cluster.gpus, cluster.model], axis=1)
    types, count = np.unique(key, axis=0, return_counts=True)
    rep = np.zeros(n_shapes, np.int64)
    rep[shape_of] = np.arange(len(shape_of))
    s_cpu = pods.cpu[rep] // cpu_q * cpu_q
    s_mem = pods.mem[rep] // mem_q * mem_q
    s_num, s_milli, s_spec = pods.num_gpu[rep], pods.gpu_milli[rep], pods.spec[rep]
    cols: list[tuple[int, int]] = []  # (shape, type) per x
    for s in range(n_shapes):
        for t, (tc, tm, tg, tmod) in enumerate(types.tolist()):
            if s_cpu[s] > tc or s_mem[s] > tm:
                continue
            if s_milli[s] > 0:
                if s_num[s] > tg or tg <= 0:
                    continue
                if s_spec[s] != 0 and (tmod < 0 or not (int(s_spec[s]) >> tmod) & 1):
                    continue
            cols.append((s, t))
    xs = np.array([c[0] for c in cols], np.int64)
    xt = np.array([c[1] for c in cols], np.int64)
    return types, count, s_cpu, s_mem, s_num, s_milli, xs, xt


def _build(cluster: Cluster, pods: Pods, shape_of: np.ndarray, n_shapes: int, cpu_q: int, mem_q: int) -> _Lp:
    types, count, s_cpu, s_mem, s_num, s_milli, xs, xt = _shape_columns(cluster, pods, shape_of, n_shapes, cpu_q, mem_q)
    n_x = len(xs)
    bigs = sorted({int(m) for m in s_milli if m > BIG})
    smalls = sorted({int(m) for m in s_milli if 0 < m <= BIG})
    n_t = len(types)
    # flow columns f[small σ, big b, type]: milli of σ-pods in rooms beside b-pods; o[σ, type]: on open devices
    f_cols = [(si, bi, t) for t in range(n_t) for si, sm in enumerate(smalls) for bi, bm in enumerate(bigs)
              if sm <= 1000 - bm]
    o_cols = [(si, t) for t in range(n_t) for si in range(len(smalls))]
    n_f, n_o = len(f_cols), len(o_cols)
    n_var = n_x + n_f + n_o
    gdem = (s_num * s_milli).astype(np.float64)
    c = np.concatenate([-gdem[xs], np.zeros(n_f + n_o)])
    rows, colsi, vals = [], [], []
    r = 0
    # shape lower bounds (−Σ x ≤ −lo) and upper bounds (Σ x ≤ hi)
    for sign in (-1.0, 1.0):
        rows += (r + xs).tolist()
        colsi += list(range(n_x))
        vals += [sign] * n_x
        r += n_shapes
    b_fixed: list[float] = []
    # per type: CPU, memory, devices
    f_index = {k: n_x + j for j, k in enumerate(f_cols)}
    o_index = {k: n_x + n_f + j for j, k in enumerate(o_cols)}
    for t in range(n_t):
        tc, tm, tg, _ = types[t].tolist()
        sel = np.flatnonzero(xt == t)
        for res_, cap in ((s_cpu, tc), (s_mem, tm)):
            rows += [r] * len(sel)
            colsi += sel.tolist()
            vals += res_[xs[sel]].astype(np.float64).tolist()
            b_fixed.append(float(cap) * int(count[t]))
            r += 1
        # devices: Σ big num·x + Σ_σ o[σ]/1000 ≤ N·G
        for j in sel.tolist():
            if s_milli[xs[j]] > BIG:
                rows.append(r)
                colsi.append(j)
                vals.append(float(s_num[xs[j]]))
        for si in range(len(smalls)):
            rows.append(r)
            colsi.append(o_index[(si, t)])
            vals.append(1.0 / 1000.0)
        b_fixed.append(float(tg) * int(count[t]))
        r += 1
        # rooms: Σ_σ f[σ, b] ≤ (1000 − b)·Σ num·x over b-pods
        for bi, bm in enumerate(bigs):
            for j in sel.tolist():
                if s_milli[xs[j]] == bm:
                    rows.append(r)
                    colsi.append(j)
                    vals.append(-float((1000 - bm) * s_num[xs[j]]))
            for si in range(len(smalls)):
                if (si, bi, t) in f_index:
                    rows.append(r)
                    colsi.append(f_index[(si, bi, t)])
                    vals.append(1.0)
            b_fixed.append(0.0)
            r += 1
    A = sp.csr_matrix((vals, (rows, colsi)), shape=(r, n_var))
    # balance: Σ σ·num·x over σ-pods on t = Σ_b f[σ, b, t] + o[σ, t]
    er, ec, ev = [], [], []
    e = 0
    for t in range(n_t):
        sel = np.flatnonzero(xt == t)
        for si, sm in enumerate(smalls):
            for j in sel.tolist():
                if s_milli[xs[j]] == sm:
                    er.append(e)
                    ec.append(j)
                    ev.append(float(sm * s_num[xs[j]]))
            for bi in range(len(bigs)):
                if (si, bi, t) in f_index:
                    er.append(e)
                    ec.append(f_index[(si, bi, t)])
                    ev.append(-1.0)
            er.append(e)
            ec.append(o_index[(si, t)])
            ev.append(-1.0)
            e += 1
    A_eq = sp.csr_matrix((ev, (er, ec)), shape=(e, n_var))
    return _Lp(A=A, b_fixed=np.array(b_fixed), c=c, n_shapes=n_shapes, n_x=n_x, x_shape=xs, n_eq=e, A_eq=A_eq)


def _configs(sizes: list[int]) -> list[tuple[int, ...]]:
    """Every multiset of ``sizes`` (milli) that one device holds: sum <= 1000, at most one big pod; the empty
    one included."""
    out: list[tuple[int, ...]] = []

    def rec(i: int, cur: list[int], total: int, big: bool) -> None:
        out.append(tuple(cur))
        for j in range(i, len(sizes)):
            m = sizes[j]
            if total + m <= 1000 and not (m > BIG and big):
                cur.append(m)
                rec(j, cur, total + m, big or m > BIG)
                cur.pop()

    rec(0, [], 0, False)
    return out


def _build_cfg(cluster: Cluster, pods: Pods, shape_of: np.ndarray, n_shapes: int, cpu_q: int, mem_q: int,
               tiny: int) -> _Lp:
    """The configuration relaxation: each device holds one multiset of the pods above ``tiny`` milli that
    fits it (:func:`_configs`, integral per device, fractional in count), and the pods of at most ``tiny``
    milli fill what each configuration leaves (a fluid, each pod only where it fits whole). Tighter than
    :func:`_build`'s fluid rooms: two 470-milli pods leave 60 milli that only the tiny pods can use."""
    types, count, s_cpu, s_mem, s_num, s_milli, xs, xt = _shape_columns(cluster, pods, shape_of, n_shapes, cpu_q, mem_q)
    n_x, n_t = len(xs), len(types)
    big_sizes = sorted({int(m) for m in s_milli if m > tiny})
    tiny_sizes = sorted({int(m) for m in s_milli if 0 < m <= tiny})
    confs = _configs(big_sizes)
    resid = sorted({1000 - sum(k) for k in confs})
    n_k = len(confs)
    f_cols = [(ti, ri) for ti, tm in enumerate(tiny_sizes) for ri, r in enumerate(resid) if tm <= r]
    n_f = len(f_cols)
    z0 = n_x
    f0 = n_x + n_t * n_k
    n_var = f0 + n_t * n_f
    gdem = (s_num * s_milli).astype(np.float64)
    c = np.concatenate([-gdem[xs], np.zeros(n_var - n_x)])
    rows: list[int] = []
    colsi: list[int] = []
    vals: list[float] = []
    r = 0
    for sign in (-1.0, 1.0):
        rows += (r + xs).tolist()
        colsi += list(range(n_x))
        vals += [sign] * n_x
        r += n_shapes
    b_fixed: list[float] = []

    def add(row: int, cs: list[int], vs: list[float]) -> None:
        rows.extend([row] * len(cs))
        colsi.extend(cs)
        vals.extend(vs)

    for t in range(n_t):
        tc, tm, tg, _ = types[t].tolist()
        sel = np.flatnonzero(xt == t)
        for res_, cap in ((s_cpu, tc), (s_mem, tm)):
            add(r, sel.tolist(), res_[xs[sel]].astype(np.float64).tolist())
            b_fixed.append(float(cap) * int(count[t]))
            r += 1
        add(r, [z0 + t * n_k + k for k in range(n_k)], [1.0] * n_k)  # devices
        b_fixed.append(float(tg) * int(count[t]))
        r += 1
        for m in big_sizes:  # pods of m milli (per GPU) <= the m-slots of the configurations
            js = [j for j in sel.tolist() if s_milli[xs[j]] == m]
            ks = [k for k in range(n_k) if m in confs[k]]
            add(r, js + [z0 + t * n_k + k for k in ks],
                [float(s_num[xs[j]]) for j in js] + [-float(confs[k].count(m)) for k in ks])
            b_fixed.append(0.0)
            r += 1
        for ri, rv in enumerate(resid):  # tiny milli in the rooms of rv <= rv × those configurations
            fs = [f0 + t * n_f + q for q, (_, rr) in enumerate(f_cols) if rr == ri]
            ks = [k for k in range(n_k) if 1000 - sum(confs[k]) == rv]
            add(r, fs + [z0 + t * n_k + k for k in ks], [1.0] * len(fs) + [-float(rv)] * len(ks))
            b_fixed.append(0.0)
            r += 1
        for ti, tmv in enumerate(tiny_sizes):  # tiny pods' milli <= their flow
            js = [j for j in sel.tolist() if s_milli[xs[j]] == tmv]
            fs = [f0 + t * n_f + q for q, (tt, _) in enumerate(f_cols) if tt == ti]
            add(r, js + fs, [float(tmv * s_num[xs[j]]) for j in js] + [-1.0] * len(fs))
            b_fixed.append(0.0)
            r += 1
    A = sp.csr_matrix((vals, (rows, colsi)), shape=(r, n_var))
    return _Lp(A=A, b_fixed=np.array(b_fixed), c=c, n_shapes=n_shapes, n_x=n_x, x_shape=xs, n_eq=0, A_eq=None)


def shape_index(pods: Pods, cpu_q: int = 1000, mem_q: int = 4096) -> tuple[np.ndarray, int]:
    """Each pod's shape (CPU and memory rounded down to ``cpu_q`` / ``mem_q``, GPUs, milli, model set) as an
    index, and the number of shapes."""
    key = np.stack([pods.cpu // cpu_q, pods.mem // mem_q, pods.num_gpu, pods.gpu_milli, pods.spec], axis=1)
    _, shape_of = np.unique(key, axis=0, return_inverse=True)
    shape_of = shape_of.reshape(-1)
    return shape_of, int(shape_of.max()) + 1 if len(shape_of) else 0


def state_lp(cluster: Cluster, pods: Pods, tiny: int = 200) -> tuple[_Lp, np.ndarray, int]:
    """The configuration relaxation of one stream (CPU and memory in 1 core / 4 GiB), its pods' shape index
    and the number of shapes: what the benches that bound a run's state at an instant solve."""
    shape_of, n_shapes = shape_index(pods)
    return _build_cfg(cluster, pods, shape_of, n_shapes, 1000, 4096, tiny), shape_of, n_shapes


def state_limits(shape_of: np.ndarray, n_shapes: int, running: Any, waiting: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per shape, the fewest (the running pods: they stay placed) and the most (plus the waiting ones) pods
    the state LP may place."""
    run = np.fromiter(running, np.int64, len(running))
    wait = np.array(waiting, np.int64)
    lo = np.bincount(shape_of[run], minlength=n_shapes)
    hi = lo + np.bincount(shape_of[wait], minlength=n_shapes) if len(wait) else lo
    return lo, hi


def window_bound(cluster: Cluster, pods: Pods, arrival: np.ndarray, duration: np.ndarray, t0: float, T: float,
                 t_free: float, *, intervals: int = 48, cpu_q: int = 1000, mem_q: int = 4096,
                 configs: bool = True, tiny: int = 200, always_free: np.ndarray | None = None) -> dict[str, Any]:
    """Upper bound (module docstring) on the time-averaged GPU allocation (%) over [t0, T] of every placer
    under which no pod that arrived before ``t_free`` waited, with any migrations. ``always_free`` (a mask
    over the pods): pods left out of that condition (free whenever they arrive; e.g. the multi-GPU pods,
    which can wait in every placer for a node to empty).

    Returns ``bound_pct`` (None if some interval is infeasible: the class is empty), the per-interval
    bounds (``interval_pct``) and the LP count."""
    if T <= t0:
        return {"bound_pct": None, "interval_pct": [], "lps": 0}
    cap = float(cluster.capacity_milli)
    shape_of, n_shapes = shape_index(pods, cpu_q, mem_q)
    # only pods that can matter: arrived before T and (free, or forced and still in flight at t0)
    end = arrival + duration
    forced = arrival < t_free
    if always_free is not None:
        forced &= ~always_free
    relevant = (arrival < T) & (~forced | (end > t0))
    lp = (_build_cfg(cluster, pods, shape_of, n_shapes, cpu_q, mem_q, tiny) if configs
          else _build(cluster, pods, shape_of, n_shapes, cpu_q, mem_q))
    edges = np.linspace(t0, T, intervals + 1)
    out: list[float | None] = []
    area = 0.0
    solved = 0
    feasible = True
    for k in range(intervals):
        a, b = float(edges[k]), float(edges[k + 1])
        must = relevant & forced & (arrival <= a) & (end >= b)  # forced and in flight over the whole piece
        may = relevant & ~must & ((forced & (arrival < b) & (end > a)) | (~forced & (arrival < b)))
        lo = np.bincount(shape_of[must], minlength=n_shapes)
        hi = lo + np.bincount(shape_of[may], minlength=n_shapes)
        v = lp.solve(lo, hi)
        solved += 1
        if v is None:  # the class is empty: the later pieces need not be solved
            feasible = False
            out += [None] * (intervals - k)
            break
        v = min(v, cap)
        out.append(100.0 * v / cap)
        area += v * (b - a)
    return {"bound_pct": 100.0 * area / (cap * (T - t0)) if feasible else None, "interval_pct": out,
            "lps": solved}


__all__ = ["BIG", "shape_index", "state_limits", "state_lp", "window_bound"]
