"""Would legal MIG layouts tighten the capacity bound? A configuration LP against the capacity LP (session 14).

The capacity LP (packer.cpsat.bound.capacity_bound) counts a MIG GPU as fungible slices. Here each
MIG GPU instead takes one of its model's valid profile multisets (``geometry.geometries``: what the
placement rules allow, so slices no layout can use are lost); a GPU holding fixed running MIG work
takes only multisets that contain it. Whole-GPU and share work count against the full and shared
GPUs, 'any' GPUs join whichever side, tenants' quotas hold. Movable running work is counted as
waiting work, so this is an estimate, not a proven bound, and no solver uses it::

    python bench/bench_layout_lp.py haein 2048 100
    python bench/bench_layout_lp.py inference 128 100

Session 14: equal to the capacity LP on haein/inference 2048-100 and haein/sharing 128-100, 0.12%
lower on inference 128-100: the idle single slices of the 16,384-GPU plans are the search's, not
forced by MIG layouts.
"""

from __future__ import annotations

import sys
import time
from collections import Counter, defaultdict

import numpy as np
from scipy.optimize import linprog
from scipy.sparse import coo_matrix

from packer.cpsat.bound import capacity_bound
from packer.generate import generate
from packer.geometry import geometry
from packer.model import MILLI_PER_GPU


class _Lp:
    """A maximization LP, built column by column: min −value, rows ≤ rhs, variables ≥ 0."""

    def __init__(self) -> None:
        self.cost: list[float] = []
        self.rhs: list[float] = []
        self.entries: list[tuple[int, int, float]] = []

    def row(self, rhs: float) -> int:
        self.rhs.append(float(rhs))
        return len(self.rhs) - 1

    def col(self, value: float, coefs: list[tuple[int, float]]) -> int:
        j = len(self.cost)
        self.cost.append(-value)
        self.entries += [(i, j, a) for i, a in coefs]
        return j

    def solve(self) -> float:
        rows, cols, vals = zip(*self.entries, strict=True)
        a = coo_matrix((vals, (rows, cols)), shape=(len(self.rhs), len(self.cost))).tocsr()
        res = linprog(np.array(self.cost), A_ub=a, b_ub=np.array(self.rhs), bounds=(0, None), method="highs")
        assert res.status == 0, res.message
        return -float(res.fun)


def _gpu_groups(inst, fixed_on):  # type: ignore[no-untyped-def]
    """GPUs counted by (model, mode, fixed content): MIG GPUs by their fixed profile multiset, shared
    GPUs with fixed shares by the share they hold; GPUs holding a fixed whole-GPU unit are left out."""
    cat = inst.gpu_catalog
    groups: Counter = Counter()
    for n, g in inst.gpus():
        m = cat.canonical(n.gpu_model)
        mode = n.gpu_mode(g)
        fx = fixed_on.get((n.id, g), [])
        if mode == "mig" or (fx and fx[0][0] == "mig"):
            groups[(m, "mig", tuple(sorted(Counter(p for _, p, _ in fx).items())))] += 1
        elif fx and fx[0][0] == "gpu":
            continue
        elif fx:
            groups[(m, "shared", round(sum(k or 0 for _, _, k in fx) / MILLI_PER_GPU, 6))] += 1
        else:
            groups[(m, mode, ())] += 1
    return groups


def layout_lp(inst) -> float:  # type: ignore[no-untyped-def]
    """The configuration LP's value (see the module's text)."""
    cat = inst.gpu_catalog
    fixed_on: dict[tuple[str, int], list] = defaultdict(list)
    quota_used: Counter = Counter()
    const = 0.0
    for r in inst.requests:
        if r.placement is not None and not r.movable:
            for u in r.placement:
                fixed_on[(u.node, u.gpu)].append((r.kind, u.profile, u.gpu_milli))
                quota_used[r.tenant] += inst.unit_size(r, u)
                const += r.priority * inst.unit_size(r, u)
    groups = _gpu_groups(inst, fixed_on)
    models = {k[0] for k in groups}
    lp = _Lp()
    any_row = {m: lp.row(groups.get((m, "any", ()), 0)) for m in models}
    cover: dict[tuple[str, str], int] = {}  # (model, profile) → row: units placed ≤ instances laid out
    for (m, mode, fx), cnt in groups.items():
        if mode != "mig":
            continue
        have = Counter(dict(fx))
        confs = [dict(c) for c in geometry(cat[m]).geometries()] + [{}]
        group_row = lp.row(cnt)
        if fx == ():
            lp.col(0.0, [(group_row, -1.0), (any_row[m], 1.0)])  # 'any' GPUs laid out as MIG
        for c in confs:
            if any(c.get(p, 0) < k for p, k in have.items()):
                continue
            coefs = [(group_row, 1.0)]
            for p, k in c.items():
                if k > have.get(p, 0):
                    if (m, p) not in cover:
                        cover[(m, p)] = lp.row(0.0)
                    coefs.append((cover[(m, p)], -float(k - have.get(p, 0))))
            lp.col(0.0, coefs)
    full_row: dict[str, int] = {}
    share_row: dict[str, int] = {}
    for m in models:
        full_row[m] = lp.row(groups.get((m, "full", ()), 0))
        lp.col(0.0, [(full_row[m], -1.0), (any_row[m], 1.0)])
        room = groups.get((m, "shared", ()), 0) + sum(
            cnt * (1 - f) for (mm, mode, f), cnt in groups.items() if mm == m and mode == "shared" and f != ())
        share_row[m] = lp.row(room)
        lp.col(0.0, [(share_row[m], -1.0), (any_row[m], 1.0)])
    quota_row = {t.id: lp.row(t.max_gpus - quota_used[t.id]) for t in inst.tenants if t.max_gpus is not None}
    for r in inst.requests:
        if r.kind == "host" or (r.placement is not None and not r.movable):
            continue
        allowed = inst.allowed_models(r)
        req_row = lp.row(r.count)
        for m in models:
            if allowed is not None and m not in allowed:
                continue
            if r.kind == "mig":
                opts = [(p.gpu_equivalents, cover[(m, p.name)]) for p in inst.profile_choices(r, cat[m])
                        if (m, p.name) in cover]
            else:
                size = 1.0 if r.kind == "gpu" else (r.gpu_milli or 0) / MILLI_PER_GPU
                opts = [(size, full_row[m] if r.kind == "gpu" else share_row[m])]
            for size, cap_row in opts:
                coefs = [(req_row, 1.0), (cap_row, 1.0 if r.kind == "mig" else size)]
                if r.tenant in quota_row:
                    coefs.append((quota_row[r.tenant], size))
                lp.col(r.priority * size, coefs)
    return const + lp.solve()


def main(argv: list[str]) -> int:
    fam, nodes, seed = argv[0], int(argv[1]), int(argv[2])
    inst = generate(fam, seed=seed, nodes=nodes)
    t0 = time.perf_counter()
    cap = capacity_bound(inst)
    t1 = time.perf_counter()
    lay = layout_lp(inst)
    t2 = time.perf_counter()
    assert cap is not None
    print(f"{fam} {nodes} nodes seed {seed}: capacity LP {cap:.2f} ({t1 - t0:.2f} s), layout LP {lay:.2f} "
          f"({t2 - t1:.2f} s), {(cap - lay) / cap * 100:.2f}% lower", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
