"""Why a pack step (packer.cpsat.reopt_pack) cannot empty a node-isolated tenant's node: per node, the
running request that finds no room on the tenant's other nodes, and the rule that blocks it.

Per state: the no-move plan (``--start-s`` seconds, one worker); for each node-isolated tenant with work
on two nodes or more and each of its nodes, :func:`reopt_pack.empty_and_fill` with that node alone;
where it fails, the blocking request (``info["blocked"]``) is classified by the first rule that leaves it
no kept node (pure Python over the incumbent with the tenant's lifted work taken off):

- ``pinned``: the node holds work that may not move (never ranked);
- ``mode``: no kept node of the tenant has a GPU of a mode the request's kind takes, with free room;
- ``spread``: kept nodes have room in its mode, but every one of them already holds as many of its
  units as its spread allows per node (or per domain of the spread's level);
- ``locality``: its required locality domain holds no kept node with room;
- ``host``: room in mode and spread, but not the node's CPU or memory;
- ``placer``: every rule above leaves a node, yet the placer found no place (MIG geometry: free slices
  that no legal start of its profile fits, or room split across GPUs).

    python bench/bench_reopt_pack_trace.py issue --seeds 100 5 101 --json bench/reopt_pack_trace_issue_s18.json
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def classify(inst, cur, tenant: str, nodes, empty, rid: str) -> str:  # type: ignore[no-untyped-def]
    """The first rule (module doc) that leaves the lifted request ``rid`` no kept node."""
    from packer.model import MODE_OF_KIND

    gone = set(empty)
    keep = [m for m in nodes if m not in gone]
    lifted = {q for q, us in cur.items() if inst.request(q).tenant == tenant and any(u.node in gone for u in us)}
    used: dict[tuple[str, int], float] = defaultdict(float)
    cpu: dict[str, float] = defaultdict(float)
    mem: dict[str, float] = defaultdict(float)
    for q, us in cur.items():
        if q in lifted:
            continue
        rq = inst.request(q)
        for u in us:
            cpu[u.node] += rq.cpu_milli or 0
            mem[u.node] += rq.memory_mib or 0
            if u.gpu is not None:
                used[(u.node, u.gpu)] += inst.unit_size(rq, u)
    r = inst.request(rid)
    mode = MODE_OF_KIND.get(r.kind)
    unit = inst.request_unit_size(r)

    def room(nid: str) -> float:
        n = inst.node(nid)
        return sum(max(0.0, 1.0 - used[(nid, g)]) for g in range(n.num_gpus)
                   if mode is None or n.gpu_mode(g) in (mode, "any"))

    fit = [m for m in keep if room(m) >= unit - 1e-9]
    if not fit:
        return "mode"
    if r.spread is not None:
        level = r.spread.level if r.spread.level != "gpu" else "node"
        dom = Counter(inst.domain(inst.node(u.node), level) for u in cur[rid] if u.node not in gone)
        fit = [m for m in fit if dom[inst.domain(inst.node(m), level)] < r.spread.max_per_domain]
        if not fit:
            return "spread"
    if r.locality is not None and r.locality.required:
        doms = {inst.domain(inst.node(u.node), r.locality.level) for u in cur[rid]}
        fit = [m for m in fit if inst.domain(inst.node(m), r.locality.level) in doms]
        if not fit:
            return "locality"
    n_cpu = [m for m in fit if inst.node(m).cpu_milli is None
             or inst.node(m).cpu_milli - cpu[m] >= (r.cpu_milli or 0)]
    n_mem = [m for m in n_cpu if inst.node(m).memory_mib is None
             or inst.node(m).memory_mib - mem[m] >= (r.memory_mib or 0)]
    if not n_mem:
        return "host"
    return "placer"


def main() -> int:
    from bench_reopt import state, state_parser

    ap = state_parser(__doc__)
    ap.add_argument("--start-s", type=float, default=10.0, help="seconds of the no-move solve")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import packer.cpsat.reopt as reopt
    from packer.cpsat import reopt_pack
    from packer.plans import objective_value

    out: dict[str, object] = {}
    print("| state | tenant | node | mode | its requests | emptied alone? | blocking request | its spread / locality | rule | load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes)
        t0 = time.perf_counter()
        start = reopt.no_move_plan(inst, time_limit=args.start_s, seed=0, workers=1)
        cur = {a.request: list(a.units) for a in start.assignments}
        waiting = [r for r in inst.requests if r.id not in cur]
        rows = []
        for t, nodes in reopt_pack.tenants(inst, cur).items():
            stuck = {u.node for rid, us in cur.items() for u in us
                     if inst.request(rid).tenant == t and inst.request(rid).placement is not None
                     and not inst.request(rid).movable}
            for nid in nodes:
                on = sorted({rid for rid, us in cur.items() if inst.request(rid).tenant == t
                             and any(u.node == nid for u in us)})
                row: dict[str, object] = {"tenant": t, "node": nid, "mode": inst.node(nid).mode, "requests": on}
                if nid in stuck:
                    row.update(ok=False, rule="pinned")
                else:
                    got, info = reopt_pack.empty_and_fill(inst, cur, t, nodes, [nid], waiting)
                    row["ok"] = got is not None
                    if got is None:
                        b = str(info.get("blocked"))
                        r = inst.request(b)
                        row.update(blocked=b, spread=None if r.spread is None else f"{r.spread.level}≤{r.spread.max_per_domain}",
                                   locality=None if r.locality is None else f"{r.locality.level} req={r.locality.required}",
                                   kind=r.kind, count=r.count,
                                   rule=classify(inst, cur, t, nodes, [nid], b))
                    else:
                        row["gain"] = objective_value(inst, got) - objective_value(inst, cur)
                row["load"] = round(os.getloadavg()[0], 2)
                rows.append(row)
                ok = f"yes, {row['gain']:+.2f}" if row["ok"] else "no"
                print(f"| {inst.name} | {t} | {nid} | {row['mode']} | {len(on)} | {ok} | {row.get('blocked', '-')} "
                      f"({row.get('kind', '')} ×{row.get('count', '')}) | {row.get('spread')} / {row.get('locality')} | "
                      f"{row.get('rule', '-')} | {row['load']} |", flush=True)
        rules = Counter(str(r.get("rule", "ok")) for r in rows)
        print(f"{inst.name}: {dict(rules)} ({time.perf_counter() - t0:.1f} s)", flush=True)
        out[f"{inst.name}/{inst.num_gpus}"] = {"start": objective_value(inst, cur), "rules": dict(rules), "rows": rows}
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
