"""Session 26: is reopt_offer.fit a necessary condition on real step regions? (offer26)

Per state: the shared no-move start of the deterministic A/Bs (``bench_reopt.det_start``), then regions of
whole racks (``--racks`` of them) drawn at random; each is offered *every* waiting request (reopt.OFFER
large), solved by CP-SAT (one worker, ``--det``), and every waiting request the sub-plan places is checked
against :func:`packer.cpsat.reopt_offer.fit` (a placed request the test rejected is a bug). Prints per
region: waiting offered, judged to fit, placed, placed-but-judged-no (must be 0), gain of the sub-solve.

    python bench/bench_offer26_sound.py fragmented --seeds 1 --nodes 128 --regions 4 --racks 3 --det 1.0
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_reopt import det_start, state, state_parser

    ap = state_parser(__doc__)
    ap.add_argument("--regions", type=int, default=4)
    ap.add_argument("--racks", type=int, default=3)
    ap.add_argument("--det", type=float, default=1.0)
    ap.add_argument("--start-s", type=float, default=10.0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from packer.cpsat import reopt, reopt_offer
    from packer.cpsat.search import solve_monolithic

    out = []
    bad_total = 0
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes)
        placed, _bb, _guide = det_start(inst, args.start_s)
        racks = reopt._domains(inst, reopt._level(inst))
        view = reopt._View(inst, placed)
        waiting = [r for r in inst.requests if r.id not in placed and view.quota_left(r) >= reopt._least_size(inst, r) - 1e-9]
        rng = random.Random(seed)
        old = reopt.OFFER
        reopt.OFFER = 100_000
        try:
            for i in range(args.regions):
                nodes = {nid for d in rng.sample(sorted(racks), args.racks) for nid in racks[d]}
                nodes = view.close(nodes, len(nodes) + 8, rng)
                sub, hint, unc = reopt._sub_instance(inst, placed, nodes, None, waiting, None, random.Random(i))
                reg = reopt_offer.Region.of(sub, {n.id for n in sub.nodes}, {}, sub.requests)
                verdict = {r.id: reopt_offer.fit(sub, reg, r)[0] for r in sub.requests if r.placement is None}
                whys: dict[str, int] = {}
                for r in sub.requests:
                    if r.placement is None and not verdict[r.id]:
                        w = reopt_offer.why(sub, reg, r)
                        whys[w] = whys.get(w, 0) + 1
                t0 = time.perf_counter()
                plan = solve_monolithic(sub, hint, seed=0, workers=1, start=t0, left=lambda: 600.0, info={}, lp=False,
                                        uncounted=unc, det=args.det)
                got = [a.request for a in plan.assignments if a.request in verdict]
                bad = [rid for rid in got if not verdict[rid]]
                bad_total += len(bad)
                row = {"state": inst.name, "region": i, "nodes": len(nodes), "offered": len(verdict),
                       "fit": sum(verdict.values()), "why_not": whys, "placed": len(got), "placed_not_fit": bad,
                       "wall_s": round(time.perf_counter() - t0, 1)}
                print(json.dumps(row), flush=True)
                out.append(row)
        finally:
            reopt.OFFER = old
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    print(f"placed but judged unable to fit: {bad_total}")
    return int(bad_total > 0)


if __name__ == "__main__":
    raise SystemExit(main())
