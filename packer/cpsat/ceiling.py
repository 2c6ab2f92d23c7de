"""The offline ceiling of an openb trace replay: a proven upper bound on what any placement of a known pod stream could allocate (offline ceiling).

Linear relaxation over node classes (identical nodes grouped: model, GPUs, CPU, memory) and pod
shapes (CPU, memory, GPUs, milli, allowed models). x[s, j] is how many pods of shape s go to class j.
Every real placement of any subset of the stream gives such an x, and satisfies:

- x[s, j] = 0 unless one empty node of class j could host shape s (CPU, memory, GPUs, model);
- Σ_j x[s, j] ≤ count of shape s;
- per class: GPU milli, CPU and memory used ≤ the class's totals;
- per class, devices: a device holds at most one pod of more than 500 milli, and a whole GPU holds
  nothing else, so Σ (pods over 500 milli) + Σ num_gpu × (whole-GPU pods) ≤ the class's GPUs;
- per class, gangs: a pod of k' ≥ k whole GPUs uses at least k devices of one node, so a class of
  nodes with g GPUs holds at most ⌊g / k⌋ per node of them (k = 2, 4, 8).

The LP optimum (GLOP) is therefore ≥ the best allocation of any placement, online or offline. CPU-only
pods are left out of the LP: placing them only consumes resources.

It lives in the cpsat package because that is the one place in packer that imports ortools; the
replay (:mod:`packer.replay.ceiling`) calls it for ``packer replay --bound``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from packer.replay.openb import Cluster, Pods


def allocation_bound(cluster: Cluster, pods: Pods) -> dict[str, float]:
    """The LP bound: allocatable GPU milli and % of capacity, for ``pods`` (all of them known)."""
    from ortools.linear_solver import pywraplp

    classes = Counter(zip(cluster.model.tolist(), cluster.gpus.tolist(), cluster.cpu.tolist(), cluster.mem.tolist(), strict=True))
    gpu = pods.gpu_milli > 0
    shapes = Counter(zip(pods.cpu[gpu].tolist(), pods.mem[gpu].tolist(), pods.num_gpu[gpu].tolist(),
                         pods.gpu_milli[gpu].tolist(), pods.spec[gpu].tolist(), strict=True))
    solver = pywraplp.Solver.CreateSolver("GLOP")
    if solver is None:  # pragma: no cover
        raise RuntimeError("OR-Tools GLOP is not available")
    inf = solver.infinity()
    xs: dict[tuple[int, int], object] = {}
    cls = list(classes.items())
    shp = list(shapes.items())
    for j, ((model, g, cpu, mem), _k) in enumerate(cls):
        for s, ((pc, pm, pn, _pmi, spec), _c) in enumerate(shp):
            if g == 0 or pc > cpu or pm > mem or pn > g or (spec and not (spec >> model) & 1):
                continue
            xs[s, j] = solver.NumVar(0, inf, f"x{s}_{j}")
    for s, (_shape, c) in enumerate(shp):
        terms = [v for (s2, _), v in xs.items() if s2 == s]
        if terms:
            solver.Add(solver.Sum(terms) <= c)
    for j, ((_model, g, cpu, mem), k) in enumerate(cls):
        row = [(s, v) for (s2, j2), v in xs.items() if j2 == j for s in [s2]]
        if not row:
            continue
        sh = [shp[s][0] for s, _ in row]
        solver.Add(solver.Sum([v * (p[2] * p[3]) for (s, v), p in zip(row, sh, strict=True)]) <= 1000 * g * k)
        solver.Add(solver.Sum([v * p[0] for (s, v), p in zip(row, sh, strict=True)]) <= cpu * k)
        solver.Add(solver.Sum([v * p[1] for (s, v), p in zip(row, sh, strict=True)]) <= mem * k)
        big = [(v, p[2] if p[3] >= 1000 else 1) for (s, v), p in zip(row, sh, strict=True) if p[3] > 500]
        if big:
            solver.Add(solver.Sum([v * w for v, w in big]) <= g * k)
        for kk in (2, 4, 8):
            gang = [v for (s, v), p in zip(row, sh, strict=True) if p[2] >= kk and p[3] >= 1000]
            if gang and g >= kk:
                solver.Add(solver.Sum(gang) <= (g // kk) * k)
    solver.Maximize(solver.Sum([v * (shp[s][0][2] * shp[s][0][3]) for (s, _j), v in xs.items()]))
    status = solver.Solve()
    if status != pywraplp.Solver.OPTIMAL:  # pragma: no cover
        raise RuntimeError(f"bound LP did not solve (status {status})")
    value = float(solver.Objective().Value())
    demand = float(np.sum(pods.gpu_demand))
    value = min(value, demand, float(cluster.capacity_milli))
    return {"bound_milli": value, "bound_pct": 100.0 * value / cluster.capacity_milli,
            "demand_pct": 100.0 * demand / cluster.capacity_milli}

__all__ = ["allocation_bound"]
