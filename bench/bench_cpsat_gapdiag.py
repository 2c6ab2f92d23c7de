"""Where a CP-SAT plan's gap is, on one instance: the same solve at several time limits, and what
each plan leaves out and leaves idle (session 15, issue 16 part 3; for inference, the worst family).

    python bench/bench_cpsat_gapdiag.py inference 0 60,300 [--out FILE.jsonl] [--save DIR]
    python bench/bench_cpsat_gapdiag.py inference 0 60,300 --plans DIR   (describe saved plans again)

Per limit (``--workers 2``, 1,024 GPUs): objective, bound (and whose: CP-SAT, the relaxation, the
model's LP), gap, LNS steps; then, for the plan: the waiting requests by (tenant, kind, size) with the
value they would add at their smallest size (priority × GPU-equivalents) and their reason's rule; the
idle compute slices of MIG GPUs that hold work, by the tenants on the GPU; GPUs that hold nothing, by
model and mode; placed value per tenant; each node-isolated tenant's nodes, their GPUs, the empty GPUs
and idle MIG slices there (room no other tenant may use) against its demand. A search gap shows as a longer run placing more; a bound gap
as long runs that stop short of the bound with the same waiting work. ``--save``: the plans as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter, defaultdict

import packer.cpsat.solver as cpsat
from packer.check import check
from packer.generate import generate
from packer.model import Instance, Plan
from packer.plans import request_value


def describe(inst: Instance, plan: Plan) -> dict[str, object]:
    req = {r.id: r for r in inst.requests}
    shape = {r.id: (r.tenant, r.kind, str(r.profile or r.slices or r.gpu_milli or r.count)) for r in inst.requests}
    waiting: Counter = Counter()
    waiting_value: Counter = Counter()
    rules: Counter = Counter()
    for u in plan.unplaced:
        r = req[u.request]
        waiting[shape[r.id]] += 1
        waiting_value[shape[r.id]] += r.priority * inst.request_size(r)
        rules[(r.tenant, (u.reason or "").split(":", 1)[0])] += 1
    placed_value: Counter = Counter()
    used: dict[tuple[str, int], list] = defaultdict(list)
    for a in plan.assignments:
        r = req[a.request]
        placed_value[r.tenant] += request_value(inst, r, a.units)
        for u in a.units:
            used[(u.node, u.gpu)].append((r.tenant, u.profile, u))
    cat = inst.gpu_catalog
    idle_mig: Counter = Counter()
    mig_gpus = 0
    empty: Counter = Counter()
    modes = {(m.node, m.gpu): m.mode for m in plan.gpu_modes}
    for n in inst.nodes:
        model = cat[n.gpu_model]
        for g in range(n.num_gpus):
            on = used.get((n.id, g), [])
            if not on:
                own = n.gpu_modes[g] if n.gpu_modes else n.mode
                empty[(n.gpu_model, modes.get((n.id, g), own))] += 1
                continue
            profs = [p for _, p, _ in on if p]
            if profs and model.compute_slices:
                mig_gpus += 1
                idle = model.compute_slices - sum(model.profile(p).compute for p in profs)  # type: ignore[union-attr]
                idle_mig[",".join(sorted({t for t, _, _ in on}))] += idle
    # The node-isolated tenants' footprint: their nodes, and the room there nobody else may use.
    isolated = {t.id for t in inst.tenants if t.isolation == "node"}
    by_node: dict[str, set[str]] = defaultdict(set)
    for (node, _), on in used.items():
        by_node[node] |= {t for t, _, _ in on}
    footprint = {}
    for t in sorted(isolated):
        nodes = [n for n in inst.nodes if t in by_node.get(n.id, set())]
        gpus = sum(n.num_gpus for n in nodes)
        busy = sum(1 for n in nodes for g in range(n.num_gpus) if (n.id, g) in used)
        footprint[t] = {"nodes": len(nodes), "gpus": gpus, "empty_gpus_there": gpus - busy,
                        "demand_gpu_eq": round(sum(inst.request_size(r) for r in inst.requests if r.tenant == t), 2),
                        "idle_mig_slices_there": idle_mig.get(t, 0)}
    return {
        "isolated_tenants": footprint,
        "placed": len(plan.assignments), "waiting": len(plan.unplaced),
        "waiting_value": round(sum(waiting_value.values()), 2),
        "waiting_top": [[*k, c, round(waiting_value[k], 2)] for k, c in waiting.most_common(12)],
        "waiting_rules": [[*k, c] for k, c in rules.most_common(10)],
        "placed_value_by_tenant": {t: round(v, 2) for t, v in sorted(placed_value.items())},
        "mig_gpus_with_work": mig_gpus, "idle_mig_slices": sum(idle_mig.values()),
        "idle_mig_by_tenants": dict(idle_mig.most_common(8)),
        "empty_gpus": {f"{m}/{mode}": c for (m, mode), c in empty.most_common()},
    }


def main(argv: list[str]) -> None:
    out = save = None
    if "--out" in argv:
        i = argv.index("--out")
        out = argv[i + 1]
        del argv[i:i + 2]
    if "--save" in argv:
        i = argv.index("--save")
        save = argv[i + 1]
        del argv[i:i + 2]
        os.makedirs(save, exist_ok=True)
    fam, seed, limits = argv[0], int(argv[1]), [float(x) for x in argv[2].split(",")]
    inst = generate(fam, seed=seed, nodes=128)
    if "--plans" in argv:  # describe plans saved by --save, without solving
        folder = argv[argv.index("--plans") + 1]
        for limit in limits:
            with open(os.path.join(folder, f"{fam}{seed}_{int(limit)}.json")) as f:
                plan = Plan.model_validate_json(f.read())
            print(json.dumps({"family": fam, "seed": seed, "time_limit": limit, "objective": round(plan.objective, 3),
                              **describe(inst, plan)}), flush=True)
        return
    for limit in limits:
        load = os.getloadavg()[0]
        t0, c0 = time.perf_counter(), time.process_time()
        plan = cpsat.solve(inst, time_limit=limit, workers=2)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        info = plan.solver.model_extra or {}  # type: ignore[union-attr]
        rel = info.get("relaxed_first") or {}
        st = info.get("lns") or {}
        gap = None if not plan.bound else 100 * (plan.bound - plan.objective) / plan.bound
        row = {"family": fam, "seed": seed, "time_limit": limit, "objective": round(plan.objective, 3),
               "bound": None if plan.bound is None else round(plan.bound, 3),
               "gap_pct": None if gap is None else round(gap, 3), "relaxed_bound": rel.get("bound"),
               "lp_bound": info.get("lp_bound"), "lp_s": info.get("lp_s"), "steps": st.get("steps"),
               "improved": st.get("improved"), "kinds": st.get("kinds"), "wall_s": round(wall, 1),
               "cpu_s": round(cpu, 1), "load": round(load, 2), "load_end": round(os.getloadavg()[0], 2),
               "ok": check(inst, plan).ok, **describe(inst, plan)}
        line = json.dumps(row)
        print(line, flush=True)
        if out:
            with open(out, "a") as f:
                f.write(line + "\n")
        if save:
            with open(os.path.join(save, f"{fam}{seed}_{int(limit)}.json"), "w") as f:
                f.write(plan.model_dump_json())


if __name__ == "__main__":
    main(sys.argv[1:])
