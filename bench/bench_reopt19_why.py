"""Why a re-optimized plan leaves out waiting work the stays LP places (issue 17 part 2, session 19).

For one running state and one plan of it (``--plan``: a plan file, gzipped or not, e.g. from
``bench/bench_reopt19_timed.py --plans``), the stays LP of no limit is solved (its bound and guide, as the
re-optimizer's), and every waiting request the LP places at a share above ``--share`` that the plan leaves
out is tested on the plan's own state with the online placer (first-fit, no isolation guard; every rule
of the checker but the objective):

- ``quota``: its tenant's quota left in the plan is below the request's fewest GPU-equivalents;
- ``fits now``: it can be placed as the plan stands (free room the search did not use);
- ``fits w/o waiting``: it fits once every placed waiting request (none running) is taken out: the room is
  there but the plan gave it to other waiting work (a trade the plan made);
- ``needs moves``: it does not fit even then: running work (as the plan has it) blocks it. For these,
  once the placed waiting work is out: for a spread, ``units`` = Σ over the domains of its spread level
  of the most units that fit there together (at most its per-domain cap; against its ``need_count``), the
  domains with room for one, and how many it needs (ceil(need / per-domain)); without either, the most
  units that fit anywhere; ``closed`` (requests of tenants that are not node-isolated): how many more
  units would fit with node isolation off (a what-if: room that only another tenant's isolation closes);
  for a required locality, the domains that hold it whole.

Prints one row per request and totals of LP value (share × priority × fewest GPU-equivalents) by class;
writes everything to ``--json``.

    python bench/bench_reopt19_why.py issue --seeds 101 --plan bench/reopt19_plans/haein-101-home-on-0.json.gz \
        --json bench/reopt19_why_issue101.json
"""

from __future__ import annotations

import gzip
import json
import math
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _load(path: str):  # type: ignore[no-untyped-def]
    from packer.formats import plan_from_dict

    raw = Path(path).read_bytes()
    if path.endswith(".gz"):
        raw = gzip.decompress(raw)
    return plan_from_dict(json.loads(raw), file=path)


def main() -> int:
    from bench_reopt import state, state_parser

    ap = state_parser(__doc__)
    ap.add_argument("--plan", required=True)
    ap.add_argument("--share", type=float, default=0.3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from packer.cpsat import lpguide, reopt
    from packer.model import Request
    from packer.online import OnlinePlacer
    from packer.plans import objective_value

    lpguide.WAITING_SHARE = True  # count the LP's waiting placements right (the listing, not the steps)
    inst = state(args.family, args.seeds[0], args.nodes)
    plan = _load(args.plan)
    placed = {a.request: list(a.units) for a in plan.assignments}
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    bb = reopt.BudgetBound(inst)
    bound = bb.stays_lp(None)
    guide = bb.guide
    assert guide is not None
    lp_s = time.perf_counter() - t0
    obj = objective_value(inst, placed)

    base = OnlinePlacer(inst, policy="first-fit", place_running=False, isolation_guard=None)
    for rid, units in placed.items():
        assert base._place_exact(inst.request(rid), units).ok
    bare = base.fork()
    for rid in placed:
        if inst.request(rid).placement is None:
            bare.release(rid)
    iso = {t.id for t in inst.tenants if t.isolation == "node"}
    # the same state with node isolation off (a what-if: which room only isolation closes)
    inst_open = inst.replace(tenants=tuple(t.model_copy(update={"isolation": "none"}) if t.id in iso else t
                                           for t in inst.tenants))
    open_bare = OnlinePlacer(inst_open, policy="first-fit", place_running=False, isolation_guard=None)
    for rid, units in placed.items():
        if inst.request(rid).placement is not None:
            assert open_bare._place_exact(inst_open.request(rid), units).ok
    used: dict[str, float] = defaultdict(float)
    for rid, units in placed.items():
        r = inst.request(rid)
        used[r.tenant] += sum(inst.unit_size(r, u) for u in units)

    def fits(p: OnlinePlacer, r: Request, nodes: set[str] | None) -> bool:
        q = p.fork()
        allow = q._nallow
        if nodes is not None:
            allow[:] = 0
            for nid in nodes:
                allow[q._node_ix[nid]] = 1
        try:
            return q.place(r, explain=False).ok
        finally:
            allow[:] = 1

    def units_room(p: OnlinePlacer, r: Request, nodes: set[str], most: int) -> int:
        """The most units of ``r`` (up to ``most``) that fit together on ``nodes`` now."""
        for c in range(min(most, r.count), 0, -1):
            one = r.model_copy(update={"id": f"{r.id}#{c}", "count": c, "min_count": None, "spread": None,
                                       "locality": None})
            if fits(p, one, nodes):
                return c
        return 0

    def domains(level: str) -> dict[str, set[str]]:
        out: dict[str, set[str]] = defaultdict(set)
        for n in inst.nodes:
            out[inst.domain(n, level) if level != "node" else n.id].add(n.id)
        return out

    rows = []
    for r in inst.requests:
        if r.placement is not None or r.id in placed:
            continue
        share = guide.share.get(r.id, 0.0)
        if share <= args.share:
            continue
        least = reopt._least_size(inst, r)
        value = share * r.priority * least / max(1, r.need_count) * r.count
        t = inst.tenant_map.get(r.tenant)
        spread = None if r.spread is None else f"{r.spread.level}<={r.spread.max_per_domain}"
        loc = None if r.locality is None else f"{r.locality.level}{'!' if r.locality.required else ''}"
        row: dict[str, object] = {"id": r.id, "tenant": r.tenant, "kind": r.kind, "count": r.count,
                                  "priority": r.priority, "spread": spread, "locality": loc,
                                  "lp_share": round(share, 3), "lp_value": round(value, 2),
                                  "lp_nodes": len(guide.where(r.id))}
        if t is not None and t.max_gpus is not None and t.max_gpus - used[r.tenant] < least - 1e-9:
            row["why"] = "quota"
        elif fits(base, r, None):
            row["why"] = "fits now"
        elif fits(bare, r, None):
            row["why"] = "fits w/o waiting"
        else:
            row["why"] = "needs moves"
            if r.spread is not None and r.spread.max_per_domain < r.count:
                k = r.spread.max_per_domain
                doms = domains(r.spread.level)
                here = {d: units_room(bare, r, ns, k) for d, ns in doms.items()}
                row["units"] = sum(here.values())
                row["domains"] = sum(1 for v in here.values() if v)
                row["domains_needed"] = math.ceil(r.need_count / k)
                if r.tenant not in iso:
                    row["closed"] = sum(units_room(open_bare, r, ns, k) for ns in doms.values()) - row["units"]
            elif r.locality is not None and r.locality.required:
                doms = domains(r.locality.level)
                row["domains"] = sum(1 for ns in doms.values() if fits(bare, r, ns))
                row["domains_needed"] = 1
            else:  # no spread, no required locality: its units anywhere
                every = {n.id for n in inst.nodes}
                row["units"] = units_room(bare, r, every, r.count)
                row["domains"] = row["domains_needed"] = 1
                if r.tenant not in iso:
                    row["closed"] = units_room(open_bare, r, every, r.count) - int(row["units"])  # type: ignore[call-overload]
        rows.append(row)
    rows.sort(key=lambda x: -float(x["lp_value"]))  # type: ignore[arg-type]
    total: dict[str, float] = defaultdict(float)
    for x in rows:
        total[str(x["why"])] += float(x["lp_value"])  # type: ignore[arg-type]
    print(f"{inst.name}: plan {obj:.2f}, stays LP {bound:.2f} ({lp_s:.1f} s), gap {100 * (1 - obj / bound):.2f}%, "
          f"load {load0:.2f} -> {os.getloadavg()[0]:.2f}")
    print("| request | tenant | kind ×count | spread | locality | LP share | LP value | why | units room (domains, needed) | "
          "+ units if other isolated tenants' work left |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for x in rows:
        dom = "" if "domains" not in x else f"{x.get('units', '')} ({x['domains']}, {x['domains_needed']})"
        print(f"| {x['id']} | {x['tenant']} | {x['kind']} ×{x['count']} | {x['spread']} | {x['locality']} | {x['lp_share']} | "
              f"{x['lp_value']} | {x['why']} | {dom} | {x.get('closed', '')} |")
    print("LP value by class: " + ", ".join(f"{k} {v:.1f}" for k, v in sorted(total.items(), key=lambda kv: -kv[1])))
    if args.json:
        Path(args.json).write_text(json.dumps({"state": inst.name, "plan": args.plan, "objective": obj, "bound": bound,
                                               "lp_s": round(lp_s, 1), "load": load0, "rows": rows,
                                               "by_class": total}, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
