"""Session 23: seconds of gang steps with and without the shared tries and remembered sizes
(reopt_gang.LAZY, reopt_base.SIZES), the arms in lockstep: each step runs in the old arm, then in the new
one, from the same plan with the same draws; the results must be equal (value, tier, the plan in its order
unit for unit: asserted) and a better one is kept, as the move steps keep it. The states' deterministic
starts (``bench_reopt.det_start``) are cached under ``--cache``.

    python bench/bench_fragstep23_gang.py fragmented --seeds 104 1 100 --steps 12 --json bench/fragstep23_gang.json
"""

from __future__ import annotations

import json
import os
import pickle
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_reopt import det_start, state, state_parser

    ap = state_parser(__doc__)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--cache", default="/tmp/fs23")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from packer.cpsat import reopt_base, reopt_gang
    from packer.cpsat.hints import online_ready
    from packer.plans import objective_value

    assert online_ready(), "warm the tree first"
    keep = reopt_gang.LAZY, reopt_base.SIZES
    out = {}
    print("| state | gang steps | kept | old arm s | new arm s | new / old | load |")
    print("|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes or (128 if args.family == "fragmented" else None))
        path = Path(args.cache) / f"{args.family}-{seed}.pkl"
        if path.exists():
            placed, guide = pickle.loads(path.read_bytes())
        else:
            placed, _bb, guide = det_start(inst, 10.0)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(pickle.dumps((placed, guide)))
        waiting = [r for r in inst.requests if r.id not in placed]
        cur = {k: list(v) for k, v in placed.items()}
        best = objective_value(inst, cur)
        cache = reopt_base.BaseCache(inst)
        rng = random.Random(seed)
        secs = {False: 0.0, True: 0.0}
        kept = 0
        loads = [os.getloadavg()[0]]
        for i in range(args.steps):
            cands = reopt_gang.gangs(inst, cur)
            if not cands:
                break
            state_rng = rng.getstate()
            res = {}
            for new in ((False, True) if i % 2 == 0 else (True, False)):  # who goes first turns
                rng.setstate(state_rng)
                reopt_gang.LAZY = reopt_base.SIZES = new
                t = time.perf_counter()
                got, info = reopt_gang.gang_step(inst, cur, reopt_gang.pick_gang(rng, cands, guide), rng, waiting,
                                                 guide, cache=cache)
                secs[new] += time.perf_counter() - t
                res[new] = (None if got is None else float(info["value"]), info.get("victims"),  # type: ignore[arg-type]
                            None if got is None else [(k, [u.key() for u in us]) for k, us in got.items()], got)
            assert res[False][:3] == res[True][:3], (inst.name, i)
            got, v = res[True][3], res[True][0]
            if got is not None and v is not None and v > best + 1e-9:
                cur, best = got, v
                kept += 1
        loads.append(os.getloadavg()[0])
        row = {"steps": args.steps, "kept": kept, "old_s": round(secs[False], 2), "new_s": round(secs[True], 2),
               "load": [round(x, 2) for x in loads]}
        out[inst.name] = row
        print(f"| {inst.name} | {args.steps} | {kept} | {secs[False]:.2f} | {secs[True]:.2f} | "
              f"{secs[True] / max(secs[False], 1e-9):.2f} | {loads[0]:.1f}-{loads[1]:.1f} |", flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    reopt_gang.LAZY, reopt_base.SIZES = keep
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
