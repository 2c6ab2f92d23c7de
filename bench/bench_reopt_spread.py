"""What blocks the waiting spread replicas the stays LP places (issue 17 part 2, session 12), and what one
spread step (packer.cpsat.reopt_spread) makes of each.

Per state: one no-move plan (``--start-s``, 1 worker) and the stays LP of no limit (its guide). For every
waiting request with a spread over nodes or racks that the LP places (share above ``--share``) and the
plan leaves out: its units, spread, the domains it needs, the domains that hold a free legal slot of
it now, and the domains where moving one freeable request (movable running, or cheaper placed waiting
work) opens one (reopt_spread.openings); then one spread step from the start aimed at it (valid plans
only) and its gain.

    python bench/bench_reopt_spread.py issue --seeds 0 1 2 3 4 5
    python bench/bench_reopt_spread.py fragmented --seeds 0 1 2
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_reopt import state, state_parser

    ap = state_parser(__doc__)
    ap.add_argument("--start-s", type=float, default=10.0)
    ap.add_argument("--share", type=float, default=0.3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import packer.cpsat.reopt as reopt
    from packer.cpsat import reopt_spread
    from packer.plans import objective_value

    out = {}
    print("| state | request | prio | units | spread | LP share | domains free now | + one move | step gain | s | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes)
        start = reopt.no_move_plan(inst, time_limit=args.start_s, seed=0, workers=1)
        cur = {a.request: list(a.units) for a in start.assignments}
        base = objective_value(inst, cur)
        bb = reopt.BudgetBound(inst)
        bb.stays_lp(None, 60.0)
        guide = reopt._guide_of(bb, inst, None)
        waiting = [r for r in inst.requests if r.id not in cur]
        rows = []
        for r in sorted(reopt_spread.spreads(inst, cur), key=lambda r: -r.priority * r.count):
            share = 0.0 if guide is None else guide.share.get(r.id, 0.0)
            if share <= args.share:
                continue
            t0 = time.perf_counter()
            free, opens, _evac = reopt_spread.openings(inst, cur, r)
            level = r.spread.level

            def dom(nid: str, level: str = level, inst=inst) -> str:  # type: ignore[no-untyped-def]
                return nid if level == "node" else inst.domain(inst.node(nid), level)

            free_d = {dom(n) for n in free}
            open_d = {dom(n) for n in opens} - free_d
            got, info = reopt_spread.spread_step(inst, cur, r, random.Random(seed), waiting, guide)
            gain = None
            if got is not None and reopt._valid(inst, got):
                gain = objective_value(inst, got) - base
            s = time.perf_counter() - t0
            row = {"request": r.id, "priority": r.priority, "units": r.count,
                   "spread": f"{level}<={r.spread.max_per_domain}", "lp_share": round(share, 3),
                   "free_domains": len(free_d), "open_domains": len(open_d), "gain": gain,
                   "fail": info.get("fail"), "released": info.get("released"), "s": round(s, 2),
                   "load": round(os.getloadavg()[0], 2)}
            rows.append(row)
            gs = "-" if gain is None else f"{gain:+.2f}"
            print(f"| {inst.name} | {r.id} | {r.priority} | {r.count} | {row['spread']} | {share:.2f} | "
                  f"{len(free_d)} | {len(open_d)} | {gs} ({info.get('fail') or 'ok'}) | {s:.2f} | {row['load']} |",
                  flush=True)
        by = defaultdict(int)
        for x in rows:
            by["positive" if (x["gain"] or 0) > 1e-9 else "none"] += 1
        out[inst.name] = {"start": base, "bound": bb.best(None), "rows": rows, "summary": dict(by)}
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
