"""Why the move steps stall (issue 17 part 2, session 6): the waiting requests the no-limit LP with
migration costs places (share above ``--share``) that the re-optimized plan leaves out, by shape.

Runs ``reopt.curve`` with budgets 0 and no limit (``--time-limit`` each), then lists, for each missed
request, its kind, count, spread and locality, tenant quota, how many nodes the LP spreads it over,
and the fewest nodes it can lie on (``reopt._span_nodes``), with totals by shape. A request whose span
is above half a usual region (``REGION_NODES // 2``) cannot be placed by an ordinary aimed step.

    python bench/bench_reopt_missed.py issue --seed 0 --time-limit 60
    python bench/bench_reopt_missed.py fragmented --seed 1 --time-limit 60 [--no-wide]
    python bench/bench_reopt_missed.py issue --seed 100 --time-limit 60 --extra-s 240   # session 18: + what 240 s more placed
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("family", choices=("issue", "fragmented"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nodes", type=int, default=None)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--share", type=float, default=0.3)
    ap.add_argument("--no-wide", action="store_true", help="reopt.WIDE = False, reopt.EXCHANGE = False")
    ap.add_argument("--json", default=None)
    ap.add_argument("--extra-s", type=float, default=0.0,
                    help="then this many more seconds of move steps from the unlimited plan (does the search stall?)")
    args = ap.parse_args()

    from bench_reopt import state

    import packer.cpsat.reopt as reopt

    if args.no_wide:
        reopt.WIDE = False
        reopt.EXCHANGE = False
    inst = state(args.family, args.seed, args.nodes)
    load0 = os.getloadavg()[0]
    pts = reopt.curve(inst, [0, None], time_limit=args.time_limit, workers=args.workers, seed=0)
    placed = {a.request for a in pts[-1].plan.assignments}
    from packer.cpsat import lpguide

    lpguide.WAITING_SHARE = True  # the listing counts the LP's waiting placements right (session 11)
    bb = reopt.BudgetBound(inst)
    bb.stays_lp(None)
    guide = bb.guide
    assert guide is not None
    half = reopt.REGION_NODES // 2
    rows = []
    by_shape: dict[str, float] = defaultdict(float)
    for r in inst.requests:
        if r.placement is not None or r.id in placed:
            continue
        share = guide.share.get(r.id, 0.0)
        if share <= args.share:
            continue
        size = reopt._least_size(inst, r) / max(1, r.need_count) * r.count
        value = share * r.priority * size
        span = reopt._span_nodes(inst, r)
        t = inst.tenant_map.get(r.tenant)
        spread = None if r.spread is None else f"{r.spread.level}<={r.spread.max_per_domain}"
        loc = None if r.locality is None else f"{r.locality.level}{'!' if r.locality.required else ''}"
        rows.append({"id": r.id, "kind": r.kind, "count": r.count, "priority": r.priority, "lp_share": round(share, 3),
                     "lp_value": round(value, 2), "spread": spread, "locality": loc, "span_nodes": span,
                     "lp_nodes": len(guide.where(r.id)), "tenant": r.tenant,
                     "quota": None if t is None else t.max_gpus})
        by_shape[f"{r.kind} x{r.count} spread={spread} locality={loc} span={span}{' (wide)' if span > half else ''}"] += value
    rows.sort(key=lambda x: -x["lp_value"])
    decomp = decompose(inst, guide, bb, {a.request: list(a.units) for a in pts[-1].plan.assignments})
    last = pts[-1].row()
    print(f"{inst.name}: no-move {pts[0].plan.objective:.2f}, all {last['objective']:.2f} (bound {last['bound']}), "
          f"steps {pts[-1].info.get('steps')}, load {load0:.2f} -> {os.getloadavg()[0]:.2f}")
    total = sum(x["lp_value"] for x in rows)
    wide = sum(x["lp_value"] for x in rows if x["span_nodes"] > half)
    print(f"missed LP value (share × priority × size): {total:.1f}, of it by requests wider than {half} nodes: {wide:.1f}")
    print("| shape | LP value missed |")
    print("|---|---|")
    for k, v in sorted(by_shape.items(), key=lambda kv: -kv[1])[:15]:
        print(f"| {k} | {v:.1f} |")
    for key in ("kind", "priority", "tenant"):
        print(f"| by {key} | LP places (waiting) | plan places (waiting) | LP − plan |")
        print("|---|---|---|---|")
        for k, (lpv, plv) in sorted(decomp[key].items(), key=lambda kv: -(kv[1][0] - kv[1][1])):
            print(f"| {k} | {lpv:.1f} | {plv:.1f} | {lpv - plv:+.1f} |")
    for k in ("lp_migration_cost", "plan_migration_cost", "lp_moves", "plan_moves", "fractional_groups",
              "fractional_value", "lp_waiting_value", "plan_waiting_value"):
        print(f"{k}: {decomp[k]}")
    extra = None
    if args.extra_s > 0:
        import time

        placed_all = {a.request: list(a.units) for a in pts[-1].plan.assignments}
        got, st = reopt.move_steps(inst, placed_all, cap=None, deadline=time.perf_counter() + args.extra_s, seed=1,
                                   workers=args.workers, guide=guide)
        from packer.plans import objective_value

        extra = {"seconds": args.extra_s, "objective": objective_value(inst, got), "steps": st.get("steps"),
                 "improved": st.get("improved"), "by_kind": st.get("by_kind")}
        print(f"{args.extra_s:.0f} s more steps: { {k: v for k, v in extra.items() if k != 'by_kind'} }")
        # session 18: what the longer search placed that the 60 s plan did not, and what it gave up
        from packer.plans import request_size

        diff = []
        for r in inst.requests:
            if r.placement is not None or (r.id in got) == (r.id in placed_all):
                continue
            units = got.get(r.id) or placed_all.get(r.id)
            spread = None if r.spread is None else f"{r.spread.level}<={r.spread.max_per_domain}"
            loc = None if r.locality is None else f"{r.locality.level}{'!' if r.locality.required else ''}"
            diff.append({"id": r.id, "gained": r.id in got, "tenant": r.tenant, "kind": r.kind, "count": r.count,
                         "priority": r.priority, "spread": spread, "locality": loc,
                         "value": round(r.priority * request_size(inst, r, units), 2),
                         "lp_share": round(guide.share.get(r.id, 0.0), 3)})
        diff.sort(key=lambda x: (not x["gained"], -x["value"]))
        extra["placed_diff"] = diff
        print("| waiting request | longer run | tenant | kind ×count | spread | locality | priority × size | LP share |")
        print("|---|---|---|---|---|---|---|---|")
        for x in diff:
            print(f"| {x['id']} | {'placed' if x['gained'] else 'dropped'} | {x['tenant']} | {x['kind']} ×{x['count']} | "
                  f"{x['spread']} | {x['locality']} | {x['value']:.2f} | {x['lp_share']} |")
        print(f"moves: 60 s plan {reopt.moves(inst, placed_all)}, longer {reopt.moves(inst, got)}")
    if args.json:
        Path(args.json).write_text(json.dumps({"state": inst.name, "seed": args.seed, "wide": not args.no_wide,
                                               "curve": [p.row() for p in pts], "missed": rows,
                                               "missed_value": total, "missed_wide_value": wide,
                                               "decompose": decomp, "extra": extra},
                                              indent=2, default=str) + "\n")
    return 0


def decompose(inst, guide, bb, placed):  # type: ignore[no-untyped-def]
    """Where bound − plan lies: value of waiting work the LP places against what the plan places, by kind,
    priority and tenant (priority × least GPU-equivalents × share), and the migration costs of each."""
    import packer.cpsat.reopt as reopt
    from packer.plans import migration_cost, request_size

    out: dict = {"kind": defaultdict(lambda: [0.0, 0.0]), "priority": defaultdict(lambda: [0.0, 0.0]),
                 "tenant": defaultdict(lambda: [0.0, 0.0])}
    frac_groups = 0
    frac_value = 0.0
    seen = set()
    for r in inst.requests:
        if r.placement is not None:
            continue
        share = guide.share.get(r.id, 0.0)
        unit_value = r.priority * reopt._least_size(inst, r) / max(1, r.need_count) * r.count
        lpv = share * unit_value
        plv = r.priority * request_size(inst, r, placed[r.id]) if r.id in placed else 0.0
        if 1e-3 < share < 1 - 1e-3:
            key = tuple(sorted(guide.nodes.get(r.id, {}).items()))[:3]
            if (share, key) not in seen:
                seen.add((share, key))
                frac_groups += 1
            frac_value += min(share, 1 - share) * unit_value
        for k, v in (("kind", r.kind), ("priority", r.priority), ("tenant", r.tenant)):
            out[k][v][0] += lpv
            out[k][v][1] += plv
    lp_cost = 0.0
    for rid, m in guide.moved.items():
        lp_cost += m * migration_cost(inst, inst.request(rid))
    plan_cost = 0.0
    plan_moves = 0
    for r in inst.requests:
        if r.placement is not None and r.id in placed and reopt.moves(inst, {r.id: placed[r.id]}):
            plan_cost += migration_cost(inst, r)
            plan_moves += 1
    for k in ("kind", "priority", "tenant"):
        out[k] = {str(a): [round(b[0], 2), round(b[1], 2)] for a, b in out[k].items()}
    out["lp_migration_cost"] = round(lp_cost, 2)
    out["plan_migration_cost"] = round(plan_cost, 2)
    out["lp_moves"] = round(sum(guide.moved.values()), 2)
    out["plan_moves"] = plan_moves
    out["fractional_groups"] = frac_groups
    out["fractional_value"] = round(frac_value, 2)
    out["lp_waiting_value"] = round(sum(v[0] for v in out["kind"].values()), 2)
    out["plan_waiting_value"] = round(sum(v[1] for v in out["kind"].values()), 2)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
