"""Where a long CP-SAT run's extra value is, against a short run's plan of the same instance (session 18,
hetero at 1,024 GPUs): which requests the long plan places that the short one does not (and the
reverse), by tenant, kind, allowed GPU models and priority; on which GPU models and racks the value
moved; what held the room the long plan gave the new work (in the short plan: placed requests with or
without a model restriction); how many placed requests moved node, rack or model between the plans.

    python bench/bench_cpsat_s18_diff.py FAMILY SEED SHORT.json LONG.json [--nodes 128]

Prints a JSON summary; reads plans only (no solve).
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict

from packer.generate import generate
from packer.model import Instance, Plan
from packer.plans import request_value


def _load(path: str) -> Plan:
    with open(path) as f:
        return Plan.model_validate_json(f.read())


def diff(inst: Instance, short: Plan, long: Plan) -> dict[str, object]:
    req = {r.id: r for r in inst.requests}
    node = {n.id: n for n in inst.nodes}
    rack = {n.id: n.domains.get("rack", "") for n in inst.nodes}
    a = {x.request: x.units for x in short.assignments}
    b = {x.request: x.units for x in long.assignments}

    def models_of(units) -> str:  # type: ignore[no-untyped-def]
        return ",".join(sorted({node[u.node].gpu_model or "" for u in units}))

    def restr(r) -> str:  # type: ignore[no-untyped-def]
        return "any" if not r.gpu_models else "|".join(sorted(m.split("-")[0] for m in r.gpu_models))

    def key(r) -> str:  # type: ignore[no-untyped-def]
        size = r.profile or (f"s{r.slices}" if r.slices else None) or (f"m{r.gpu_milli}" if r.gpu_milli else None) \
            or f"x{r.count}"
        return f"{r.tenant}/{r.kind}/{size}/p{r.priority}/{restr(r)}"

    value_a = {rid: request_value(inst, req[rid], u) for rid, u in a.items()}
    value_b = {rid: request_value(inst, req[rid], u) for rid, u in b.items()}
    only_b = sorted(set(b) - set(a))
    only_a = sorted(set(a) - set(b))
    both = sorted(set(a) & set(b))
    gained: Counter = Counter()
    gained_n: Counter = Counter()
    for rid in only_b:
        gained[key(req[rid])] += value_b[rid]
        gained_n[key(req[rid])] += 1
    lost: Counter = Counter()
    lost_n: Counter = Counter()
    for rid in only_a:
        lost[key(req[rid])] += value_a[rid]
        lost_n[key(req[rid])] += 1
    # Value per GPU model in each plan (a request's value split evenly over its units' models).
    by_model_a: Counter = Counter()
    by_model_b: Counter = Counter()
    for plan_units, values, out in ((a, value_a, by_model_a), (b, value_b, by_model_b)):
        for rid, units in plan_units.items():
            for u in units:
                out[node[u.node].gpu_model] += values[rid] / len(units)
    # Where the long plan put its new work: what the short plan had on those GPUs.
    at_a: dict[tuple[str, int | None], list[str]] = defaultdict(list)
    for rid, units in a.items():
        for u in units:
            at_a[(u.node, u.gpu)].append(rid)
    displaced: Counter = Counter()
    displaced_restricted: Counter = Counter()
    new_on: Counter = Counter()
    for rid in only_b:
        for u in b[rid]:
            new_on[node[u.node].gpu_model] += 1
            for other in at_a.get((u.node, u.gpu), []):
                if other == rid:
                    continue
                o = req[other]
                displaced[f"{o.kind}/{'restricted' if o.gpu_models else 'any'}"] += 1
                if o.gpu_models:
                    displaced_restricted[key(o)] += 1
    moved_node = moved_rack = moved_model = 0
    moved_kind: Counter = Counter()
    moved_models: Counter = Counter()
    for rid in both:
        na, nb = {u.node for u in a[rid]}, {u.node for u in b[rid]}
        if na == nb:
            continue
        moved_node += 1
        moved_kind[f"{req[rid].kind}/{'restricted' if req[rid].gpu_models else 'any'}"] += 1
        if {rack[n] for n in na} != {rack[n] for n in nb}:
            moved_rack += 1
        ma, mb = models_of(a[rid]), models_of(b[rid])
        if ma != mb:
            moved_model += 1
            moved_models[f"{ma}->{mb}"] += 1
    # Racks whose plan changed at all (the long run's changes: how spread over the cluster are they?).
    rack_changed = set()
    for rid in set(a) | set(b):
        ua, ub = a.get(rid, ()), b.get(rid, ())
        if {u.key() for u in ua} != {u.key() for u in ub}:
            rack_changed |= {rack[u.node] for u in (*ua, *ub)}
    rack_model = {rack[n.id]: n.gpu_model for n in inst.nodes}
    racks_by_model = Counter(rack_model[r] for r in rack_changed)
    # Gangs over racks in each plan.
    def spans(plan_units) -> int:  # type: ignore[no-untyped-def]
        return sum(1 for units in plan_units.values() if len({rack[u.node] for u in units}) > 1)

    # Idle room per model in each plan: whole GPUs without work, by model and mode.
    def empty_by_model(plan: Plan, units_of) -> Counter:  # type: ignore[no-untyped-def]
        used = {(u.node, u.gpu) for units in units_of.values() for u in units}
        modes = {(m.node, m.gpu): m.mode for m in plan.gpu_modes}
        out: Counter = Counter()
        for n in inst.nodes:
            for g in range(n.num_gpus):
                if (n.id, g) not in used:
                    out[f"{n.gpu_model}/{modes.get((n.id, g), n.gpu_mode(g))}"] += 1
        return out

    by_kind: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for rid, val in value_a.items():
        by_kind[f"{req[rid].kind}/{'restricted' if req[rid].gpu_models else 'any'}"][0] += val
    for rid, val in value_b.items():
        by_kind[f"{req[rid].kind}/{'restricted' if req[rid].gpu_models else 'any'}"][1] += val
    top = lambda c, n=15: [[k, round(v, 2)] for k, v in c.most_common(n)]  # noqa: E731
    return {
        "objective": [round(short.objective, 3), round(long.objective, 3)],
        "placed": [len(a), len(b)], "only_long": len(only_b), "only_short": len(only_a),
        "gained_value": round(sum(value_b[r] for r in only_b), 2),
        "lost_value": round(sum(value_a[r] for r in only_a), 2),
        "gained_by_shape": [[k, gained_n[k], round(v, 2)] for k, v in gained.most_common(20)],
        "lost_by_shape": [[k, lost_n[k], round(v, 2)] for k, v in lost.most_common(20)],
        "value_by_kind": {k: [round(x, 2), round(y, 2), round(y - x, 2)] for k, (x, y) in sorted(by_kind.items())},
        "value_by_model": {m: [round(by_model_a[m], 1), round(by_model_b[m], 1), round(by_model_b[m] - by_model_a[m], 1)]
                           for m in sorted(set(by_model_a) | set(by_model_b), key=str)},
        "new_units_on_model": dict(new_on),
        "short_plan_on_new_gpus": dict(displaced),
        "short_plan_restricted_on_new_gpus": top(displaced_restricted),
        "moved_node": moved_node, "moved_rack": moved_rack, "moved_model": moved_model,
        "moved_kind": dict(moved_kind), "moved_models": top(moved_models, 10),
        "racks_changed": len(rack_changed), "racks_changed_by_model": dict(racks_by_model),
        "racks": len(set(rack.values())),
        "gangs_over_racks": [spans(a), spans(b)],
        "empty_gpus_short": dict(empty_by_model(short, a).most_common()),
        "empty_gpus_long": dict(empty_by_model(long, b).most_common()),
    }


def main(argv: list[str]) -> None:
    nodes = 128
    if "--nodes" in argv:
        i = argv.index("--nodes")
        nodes = int(argv[i + 1])
        del argv[i:i + 2]
    fam, seed, short, long = argv[0], int(argv[1]), argv[2], argv[3]
    inst = generate(fam, seed=seed, nodes=nodes)
    print(json.dumps(diff(inst, _load(short), _load(long)), indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
