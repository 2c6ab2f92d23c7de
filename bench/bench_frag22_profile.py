"""Session 22: where a placer step's time goes. Builds a state's deterministic start (the no-move plan and
the stays LP's guide, as bench_reopt_gang.py's ``det_start``), then profiles N spread, gang or pack steps
(``cProfile``, sorted by cumulative time) after one warm-up step.

    python bench/bench_frag22_profile.py fragmented 104 --kind spread --steps 4
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_reopt import det_start, state

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("family", choices=("issue", "fragmented"))
    ap.add_argument("seed", type=int)
    ap.add_argument("--kind", choices=("spread", "gang", "pack"), default="spread")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--lines", type=int, default=45)
    args = ap.parse_args()

    from packer.cpsat import reopt_base, reopt_gang, reopt_pack, reopt_spread

    inst = state(args.family, args.seed, 128 if args.family == "fragmented" else None)
    placed, _bb, guide = det_start(inst, 10.0)
    cur = {k: list(v) for k, v in placed.items()}
    waiting = [r for r in inst.requests if r.id not in cur]
    rng = random.Random(1)
    cache = reopt_base.BaseCache(inst)  # as move_steps keeps one (used with INCREMENTAL / SHARED on)

    def steps(k: int) -> None:
        for i in range(k):
            if args.kind == "spread":
                r = reopt_spread.pick(rng, inst, reopt_spread.spreads(inst, cur, guide), guide)
                reopt_spread.spread_step(inst, cur, r, rng, waiting, guide, None, cache=cache)
            elif args.kind == "gang":
                g = reopt_gang.pick_gang(rng, reopt_gang.gangs(inst, cur), guide)
                reopt_gang.gang_step(inst, cur, g, rng, waiting, guide, cache=cache)
            else:
                ts = reopt_pack.tenants(inst, cur)
                t = sorted(ts)[i % len(ts)]
                reopt_pack.pack_step(inst, cur, t, ts[t], rng, waiting, cache=cache)

    steps(1)
    t0 = time.perf_counter()
    pr = cProfile.Profile()
    pr.enable()
    steps(args.steps)
    pr.disable()
    print(args.kind, args.steps, "steps", round(time.perf_counter() - t0, 2), "s")
    pstats.Stats(pr).sort_stats("cumulative").print_stats(args.lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
