"""Why clear steps (packer.cpsat.reopt_clear) find nothing where they find nothing (session 20).

Per state: one no-move plan and the stays LP's guide (as bench_reopt_gang.py builds them), then per
candidate gang at that start: its value, its domains priced by what leaves them alone (session 19) and
with the room that what leaves needs elsewhere (ROOM_PRICE, session 20), the cheapest of each, and the
whole-GPU room of the plan (free GPUs, GPUs held by placed waiting work by their value per GPU). Then
``--steps`` deterministic move steps with clear steps on and ungated (GATE off, ROOM_PRICE off: session
19's step), every clear step recorded (gang, domain, price, what leaves, region, outcome), and the
same pricing at the end plan.

    python bench/bench_clear20_why.py issue --seeds 0 1 --steps 20 --det 1.0 --json bench/clear20_why_issue.json
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def price_table(inst, cur, guide):  # type: ignore[no-untyped-def]
    from packer.cpsat import reopt_clear

    use = reopt_clear.gpu_prices(inst, cur)
    room = reopt_clear.Room(inst, cur, use[0])
    rows = []
    for g in reopt_clear.gangs(inst, cur, guide):
        keep = reopt_clear.ROOM_PRICE
        reopt_clear.ROOM_PRICE = False
        old = reopt_clear.prices(inst, cur, g, use)
        reopt_clear.ROOM_PRICE = True
        new = reopt_clear.prices(inst, cur, g, use, room)
        reopt_clear.ROOM_PRICE = keep
        rows.append({"gang": g.id, "tenant": g.tenant, "count": g.count, "priority": g.priority,
                     "level": g.locality.level if g.locality else None,
                     "value": g.priority * g.count, "share": round(guide.share.get(g.id, 0.0), 3) if guide else None,
                     "domains_old": len(old), "cheapest_old": round(old[0][0], 3) if old else None,
                     "domains_room": len(new), "cheapest_room": round(new[0][0], 3) if new else None})
    held: Counter = Counter()
    for rid, _units in cur.items():
        r = inst.request(rid)
        if r.kind == "gpu" and r.placement is None:
            held[(r.count, r.priority)] += 1
    return rows, {"free_whole_gpus": {c: len(f) for c, f in room.free.items()},
                  "cover_star_1_to_16": [round(x, 2) for x in room.cover["*"][1:17]],
                  "placed_waiting_whole_gpu_by_count_priority": {f"{k[0]}x{k[1]}": v for k, v in sorted(held.items())}}


def main() -> int:
    from bench_reopt import det_parser, det_start, state

    ap = det_parser(__doc__)
    args = ap.parse_args()

    import packer.cpsat.reopt as reopt
    from packer.cpsat import reopt_clear
    from packer.plans import objective_value

    out = json.loads(Path(args.json).read_text()) if args.json and Path(args.json).exists() else {}
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes)
        placed, bb, guide = det_start(inst, args.start_s)
        t0 = time.perf_counter()
        rows0, room0 = price_table(inst, placed, guide)
        price_s = time.perf_counter() - t0
        steps = []
        orig_region = reopt_clear.region

        def region(*a, **k):  # type: ignore[no-untyped-def]
            nodes, info = orig_region(*a, **k)  # noqa: B023 (called within this iteration)
            steps.append(dict(info))  # noqa: B023
            return nodes, info

        reopt_clear.region = region
        reopt_clear.CLEAR, reopt_clear.GATE, reopt_clear.ROOM_PRICE = True, False, False
        try:
            got, stats = reopt.move_steps(inst, placed, cap=None, deadline=time.perf_counter() + 3600, seed=0,
                                          workers=1, guide=guide, max_steps=args.steps, det=args.det)
        finally:
            reopt_clear.region = orig_region
            reopt_clear.CLEAR, reopt_clear.GATE, reopt_clear.ROOM_PRICE = False, True, True
        rows1, room1 = price_table(inst, got, guide)
        ck = stats.get("by_kind", {}).get("clear", {})
        rec = {"start": objective_value(inst, placed), "end": objective_value(inst, got), "bound": bb.best(None),
               "gangs_start": rows0, "room_start": room0, "price_s": round(price_s, 3),
               "gangs_end": rows1, "room_end": room1, "clear_regions": steps, "clear_fail": stats.get("clear_fail"),
               "clear": ck, "load": round(os.getloadavg()[0], 2)}
        out[inst.name] = rec
        print(f"## {inst.name}: start {rec['start']:.2f} end {rec['end']:.2f} bound {rec['bound']:.2f} "
              f"load {rec['load']} (pricing all gangs {price_s:.3f} s)")
        for tag, rows, room in (("start", rows0, room0), ("end", rows1, room1)):
            print(f"{tag}: room {room}")
            print("| gang | tenant | count | priority | level | value | LP share | domains (cheapest) old | with room |")
            print("|---|---|---|---|---|---|---|---|---|")
            for r in rows:
                print(f"| {r['gang']} | {r['tenant']} | {r['count']} | {r['priority']} | {r['level']} | {r['value']} | "
                      f"{r['share']} | {r['domains_old']} ({r['cheapest_old']}) | {r['domains_room']} ({r['cheapest_room']}) |")
        print(f"clear steps: {ck.get('steps', 0)} improved {ck.get('improved', 0)} gain {ck.get('gain', 0.0):.2f} "
              f"fail {stats.get('clear_fail')}")
        for s in steps:
            print("  ", s)
        print(flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
