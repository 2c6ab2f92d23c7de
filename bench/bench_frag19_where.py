"""Where the stalled plan misses what the stays LP places, with HOME on (session 19, branch frag19).

Per state: one no-move plan (``--start-s``, two workers: the 60 s recipe's 12 s), the stays LP of no
limit (its bound and guide), then ONE run of ``reopt.move_steps`` (two workers, ``--steps-s`` wall
seconds, the code's defaults: HOME on) whose improvements are recorded (bench_frag18_horizon.Recorder).
At each of ``--marks`` (seconds of steps: 48 ≈ a 60 s run, 240 ≈ 300 s) the plan of that moment is
compared with the LP: every waiting request the LP places (share above 0.3) that the plan leaves out,
and for each

- node gangs (whole GPUs, required node locality): the nodes the LP puts it on and what holds them
  (free GPUs, GPUs of running work movable or not, of placed waiting work; the host CPU left), and over
  the whole cluster how many nodes could take it once their movable work and placed waiting work leave
  (``clearable``), the cheapest such node's price (migration cost of the running work it must move, value
  of the waiting work it must lift), the free whole GPUs elsewhere where that work could go, and the
  tenant's quota left;
- MIG and share work: the same per LP node (free room of its mode, who holds the node: isolation);
- every request: its tenant's quota left in the plan (a waiting request that does not fit its quota
  needs that tenant's placed waiting work to leave, which no step offers).

    python bench/bench_frag19_where.py fragmented --seeds 101 --steps-s 240 --marks 48 240 \
        --json bench/frag19_where_101.json
    python bench/bench_frag19_where.py fragmented --seeds 0 1 2 3 4 --steps-s 48 --marks 48 \
        --json bench/frag19_where_tune.json
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def node_holds(inst, placed, nid):  # type: ignore[no-untyped-def]
    """Per GPU of node ``nid``: who holds it in ``placed`` (a list of (rid, tenant, kind, size, what)),
    ``what`` one of pinned / movable / moved-here / waiting."""
    per: dict[int, list] = defaultdict(list)
    for rid, units in placed.items():
        r = inst.request(rid)
        for u in units:
            if u.node != nid or u.gpu is None:
                continue
            if r.placement is None:
                what = "waiting"
            elif not r.movable:
                what = "pinned"
            elif any(p.node == nid and p.gpu == u.gpu for p in r.placement):
                what = "movable"
            else:
                what = "moved-here"
            per[u.gpu].append((rid, r.tenant, r.kind, round(inst.unit_size(r, u), 3), what))
    return per


def cpu_used(inst, placed, nid):  # type: ignore[no-untyped-def]
    cpu = mem = 0
    for rid, units in placed.items():
        r = inst.request(rid)
        k = sum(1 for u in units if u.node == nid)
        cpu += k * r.cpu_milli
        mem += k * r.memory_mib
    return cpu, mem


def quota_left(inst, placed):  # type: ignore[no-untyped-def]
    used: dict[str, float] = defaultdict(float)
    for rid, units in placed.items():
        r = inst.request(rid)
        used[r.tenant] += sum(inst.unit_size(r, u) for u in units)
    return {t.id: (None if t.max_gpus is None else round(t.max_gpus - used[t.id], 3)) for t in inst.tenants}


def gang_room(inst, placed, r):  # type: ignore[no-untyped-def]
    """Over every node of a whole-GPU mode: can node-gang ``r`` go there once movable running work and
    placed waiting work leave it, and at what price (cheapest GPUs first: free, then waiting work by its
    value, then movable running work by its migration cost, a request leaving whole)."""
    from packer.plans import migration_cost, request_value

    iso = {t.id for t in inst.tenants if t.isolation == "node"}
    allowed = inst.allowed_models(r)
    k = r.count
    rows = []
    free_whole_total = 0
    for n in inst.nodes:
        if not n.num_gpus or (allowed is not None and n.gpu_model not in allowed):
            continue
        modes = [n.gpu_mode(g) for g in range(n.num_gpus)]
        holds = node_holds(inst, placed, n.id)
        whole = [g for g in range(n.num_gpus) if modes[g] in ("full", "any")]
        free = [g for g in whole if not holds.get(g)]
        free_whole_total += len(free)
        if len(whole) < k:
            continue
        pinned = [g for g in whole if any(h[4] == "pinned" for h in holds.get(g, ()))]
        usable = [g for g in whole if g not in pinned]
        if len(usable) < k:
            rows.append({"node": n.id, "clearable": False, "free": len(free), "pinned": len(pinned)})
            continue
        # price per request on the node: a request leaves whole (its cost once)
        cost_of: dict[str, float] = {}
        for g in usable:
            for rid, _t, _kind, _s, what in holds.get(g, ()):
                rr = inst.request(rid)
                if what == "waiting":
                    cost_of[rid] = request_value(inst, rr, placed[rid])
                elif what == "movable":
                    cost_of[rid] = migration_cost(inst, rr)
                else:  # moved here already: moving again costs nothing more
                    cost_of[rid] = 0.0
        gpu_cost = sorted((sum(cost_of[h[0]] for h in holds.get(g, ())), g) for g in usable)
        take = gpu_cost[:k]
        leave = {h[0] for _c, g in take for h in holds.get(g, ())}
        price = sum(cost_of[rid] for rid in leave)
        cpu, mem = cpu_used(inst, placed, n.id)
        cpu_after = cpu - sum(inst.request(rid).cpu_milli * sum(1 for u in placed[rid] if u.node == n.id)
                              for rid in leave)
        host_ok = (n.cpu_milli is None or cpu_after + k * r.cpu_milli <= n.cpu_milli)
        tenants = {h[1] for g in range(n.num_gpus) for h in holds.get(g, ())}
        iso_block = any(t in iso and t != r.tenant for t in tenants - {inst.request(x).tenant for x in leave})
        rows.append({"node": n.id, "clearable": True, "free": len(free), "pinned": len(pinned), "price": round(price, 3),
                     "leave": sorted(leave), "leave_running": sum(1 for x in leave if inst.request(x).placement is not None),
                     "leave_units": sum(len(placed[x]) for x in leave), "host_ok": host_ok, "iso_block": iso_block})
    ok = [x for x in rows if x["clearable"] and x["host_ok"] and not x["iso_block"]]
    ok.sort(key=lambda x: x["price"])
    return {"whole_nodes": len(rows), "clearable": len(ok), "free_whole_gpus": free_whole_total,
            "cheapest": ok[:4], "pinned_blocked": sum(1 for x in rows if not x["clearable"])}


def lp_nodes(inst, placed, guide, r):  # type: ignore[no-untyped-def]
    """The nodes the LP puts ``r`` on (units there) and what holds each in ``placed``."""
    out = []
    for nid, u in sorted(guide.where(r.id).items(), key=lambda x: -x[1]):
        n = inst.node(nid)
        holds = node_holds(inst, placed, nid)
        modes = sorted({n.gpu_mode(g) for g in range(n.num_gpus)})
        per_what: dict[str, float] = defaultdict(float)
        for hs in holds.values():
            for h in hs:
                per_what[h[4]] += h[3]
        free_gpus = sum(1 for g in range(n.num_gpus) if not holds.get(g))
        tenants = sorted({h[1] for hs in holds.values() for h in hs})
        cpu, _mem = cpu_used(inst, placed, nid)
        out.append({"node": nid, "lp_units": round(u, 3), "modes": modes, "free_gpus": free_gpus,
                    "held": {k: round(v, 2) for k, v in per_what.items()}, "tenants": tenants,
                    "cpu_left": None if n.cpu_milli is None else n.cpu_milli - cpu,
                    "dest_of_running": []})
    # where the LP sends the running work it moves off these nodes
    for row in out:
        for rid, d in guide.dest.items():
            rr = inst.request(rid)
            if rr.placement and any(p.node == row["node"] for p in rr.placement) and guide.moved.get(rid, 0) > 0.2:
                row["dest_of_running"].append({"id": rid, "kind": rr.kind, "count": rr.count,
                                               "moved": round(guide.moved[rid], 2),
                                               "to": {k: round(v, 2) for k, v in sorted(d.items())[:4]}})
    return out


def analyse(inst, guide, placed, share_min: float = 0.3) -> dict:  # type: ignore[no-untyped-def]
    import packer.cpsat.reopt as reopt

    quota = quota_left(inst, placed)
    rows = []
    for r in inst.requests:
        if r.placement is not None or r.id in placed:
            continue
        share = guide.share.get(r.id, 0.0)
        if share <= share_min:
            continue
        size = reopt._least_size(inst, r) / max(1, r.need_count) * r.count
        row = {"id": r.id, "tenant": r.tenant, "kind": r.kind, "count": r.count, "priority": r.priority,
               "profile": r.profile, "gpu_milli": r.gpu_milli,
               "spread": None if r.spread is None else f"{r.spread.level}<={r.spread.max_per_domain}",
               "locality": None if r.locality is None else f"{r.locality.level}{'!' if r.locality.required else ''}",
               "min_count": r.min_count, "size": round(size, 3), "lp_share": round(share, 3),
               "lp_value": round(share * r.priority * size, 2), "quota_left": quota.get(r.tenant),
               "quota_short": (quota.get(r.tenant) is not None and quota[r.tenant] < reopt._least_size(inst, r) - 1e-9),
               "lp_nodes": lp_nodes(inst, placed, guide, r)}
        if r.kind == "gpu" and r.locality is not None and r.locality.required and r.locality.level == "node":
            row["gang_room"] = gang_room(inst, placed, r)
        rows.append(row)
    rows.sort(key=lambda x: -x["lp_value"])
    return {"quota_left": quota, "missed": rows}


def summary(a: dict) -> list[str]:
    out = [f"    quota left: {a['quota_left']}"]
    for m in a["missed"]:
        head = (f"    {m['id']} {m['tenant']} {m['kind']} x{m['count']} p{m['priority']} "
                f"{m['profile'] or ''}{'' if m['gpu_milli'] is None else str(m['gpu_milli']) + 'm'} "
                f"spread={m['spread']} loc={m['locality']} LP share {m['lp_share']} value {m['lp_value']} "
                f"quota short={m['quota_short']}")
        out.append(head)
        for nd in m["lp_nodes"][:4]:
            out.append(f"      LP {nd['node']} {nd['lp_units']} u, modes {nd['modes']}, free GPUs {nd['free_gpus']}, "
                       f"held {nd['held']}, tenants {nd['tenants']}, cpu left {nd['cpu_left']}, "
                       f"LP moves off: {[(d['id'], d['kind'], d['count'], d['moved']) for d in nd['dest_of_running']][:4]}")
        g = m.get("gang_room")
        if g:
            out.append(f"      gang room: {g['clearable']} of {g['whole_nodes']} whole-GPU nodes clearable "
                       f"({g['pinned_blocked']} blocked by pinned work), free whole GPUs {g['free_whole_gpus']}; cheapest: "
                       + "; ".join(f"{c['node']} price {c['price']} (free {c['free']}, leave {c['leave_running']} running / "
                                   f"{len(c['leave']) - c['leave_running']} waiting, {c['leave_units']} units)"
                                   for c in g["cheapest"]))
    return out


def main() -> int:
    from bench_frag18_horizon import Recorder
    from bench_reopt import state, state_parser
    from bench_reopt_missed import decompose

    ap = state_parser(__doc__)
    ap.add_argument("--start-s", type=float, default=12.0)
    ap.add_argument("--steps-s", type=float, default=240.0)
    ap.add_argument("--marks", type=float, nargs="+", default=[48.0, 240.0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import packer.cpsat.reopt as reopt
    from packer.plans import objective_value

    out = json.loads(Path(args.json).read_text()) if args.json and Path(args.json).exists() else {}
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes or (128 if args.family == "fragmented" else None))
        key = f"{inst.name}/{inst.num_gpus}"
        if key in out:
            print(f"{key}: in {args.json} already, skipped")
            continue
        load0 = os.getloadavg()[0]
        t = time.perf_counter()
        start = reopt.no_move_plan(inst, time_limit=args.start_s, seed=0, workers=args.workers)
        placed = {a.request: list(a.units) for a in start.assignments}
        bb = reopt.BudgetBound(inst)
        bb.stays_lp(None)
        guide = reopt._guide_of(bb, inst, None)
        bound = bb.best(None)
        nm = objective_value(inst, placed)
        print(f"{key}: no-move {nm:.2f}, stays LP {bound:.2f} ({time.perf_counter() - t:.1f} s), HOME={reopt.HOME}, "
              f"load {load0:.2f}", flush=True)
        t0 = time.perf_counter()
        rec = Recorder(t0)
        got, stats = reopt.move_steps(inst, placed, cap=None, deadline=t0 + args.steps_s, seed=0,
                                      workers=args.workers, guide=guide, progress=rec)  # type: ignore[arg-type]
        assert reopt._valid(inst, got)
        marks = []
        for m in args.marks:
            before = [e for e in rec.events if e[0] <= m]
            plan = before[-1][3] if before and before[-1][3] is not None else placed
            obj = objective_value(inst, plan)
            dec = decompose(inst, guide, bb, plan)
            gains: dict[str, float] = defaultdict(float)
            prev = nm
            for e in before:
                gains[e[2]] += e[1] - prev
                prev = e[1]
            a = analyse(inst, guide, plan)
            row = {"steps_s": m, "objective": round(obj, 3), "gap": round((bound - obj) / bound, 5),
                   "moves": reopt.moves(inst, plan), "gain_by_kind": {k: round(v, 2) for k, v in gains.items()},
                   "decompose": dec, **a}
            marks.append(row)
            print(f"  steps {m:.0f} s: {obj:.2f} gap {100 * row['gap']:.2f}% moves {row['moves']} "
                  f"(cost {dec['plan_migration_cost']}; LP {dec['lp_moves']} at {dec['lp_migration_cost']}); "
                  f"waiting value LP {dec['lp_waiting_value']} plan {dec['plan_waiting_value']}; "
                  f"gain by kind {row['gain_by_kind']}", flush=True)
            print("\n".join(summary(a)), flush=True)
        load1 = os.getloadavg()[0]
        print(f"  end {objective_value(inst, got):.2f}, steps {stats.get('steps')} improved {stats.get('improved')}, "
              f"gang fails {stats.get('gang_fail')}, load {load0:.2f} -> {load1:.2f}", flush=True)
        out[key] = {"seed": seed, "no_move": nm, "bound": bound, "load": [round(load0, 2), round(load1, 2)],
                    "home": reopt.HOME, "marks": marks, "trajectory": [(round(e[0], 1), round(e[1], 3), e[2])
                                                                       for e in rec.events],
                    "stats": {k: v for k, v in stats.items() if k != "by_kind"}, "by_kind": stats.get("by_kind")}
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
