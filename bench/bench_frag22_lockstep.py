"""Session 22: seconds of the placer steps (spread, gang, pack) with and without the kept placer
(reopt_spread.INCREMENTAL, reopt_base.SHARED), the arms in lockstep: each step runs in the old arm, then
in the new one, from the same plan with the same draws; the results must be equal (asserted) and the
better one is kept, as the move steps keep it. Interleaving step by step puts both arms under the same
load, which on this machine moves by a factor 2 within minutes.

    python bench/bench_frag22_lockstep.py fragmented --seeds 104 1 --steps 12 --json bench/frag22_lockstep.json
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_reopt import det_start, state, state_parser

    ap = state_parser(__doc__)
    ap.add_argument("--steps", type=int, default=12, help="steps of each kind")
    ap.add_argument("--kinds", nargs="+", default=["spread", "gang", "pack"])
    ap.add_argument("--start-s", type=float, default=10.0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from packer.cpsat import reopt_base, reopt_gang, reopt_pack, reopt_spread
    from packer.plans import objective_value

    keep = reopt_spread.INCREMENTAL, reopt_base.SHARED
    out = {}
    print("| state | kind | steps | kept | old arm s | new arm s | new / old | load |")
    print("|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes or (128 if args.family == "fragmented" else None))
        placed, _bb, guide = det_start(inst, args.start_s)
        waiting = [r for r in inst.requests if r.id not in placed]
        for kind in args.kinds:
            cur = {k: list(v) for k, v in placed.items()}
            best = objective_value(inst, cur)
            cache = reopt_base.BaseCache(inst)
            rng = random.Random(seed)
            secs = {False: 0.0, True: 0.0}
            kept = n = 0
            loads = [os.getloadavg()[0]]
            for i in range(args.steps):
                state_rng = rng.getstate()
                res = {}
                for inc in (False, True):
                    rng.setstate(state_rng)
                    reopt_spread.INCREMENTAL = reopt_base.SHARED = inc
                    c = cache if inc else None
                    t = time.perf_counter()
                    if kind == "spread":
                        cands = reopt_spread.spreads(inst, cur, guide)
                        if not cands:
                            break
                        r = reopt_spread.pick(rng, inst, cands, guide)
                        got, info = reopt_spread.spread_step(inst, cur, r, rng, waiting, guide, None, cache=c)
                    elif kind == "gang":
                        cands = reopt_gang.gangs(inst, cur)
                        if not cands:
                            break
                        g = reopt_gang.pick_gang(rng, cands, guide)
                        got, info = reopt_gang.gang_step(inst, cur, g, rng, waiting, guide, cache=c)
                    else:
                        ts = reopt_pack.tenants(inst, cur)
                        if not ts:
                            break
                        tn = sorted(ts)[i % len(ts)]
                        got, info = reopt_pack.pack_step(inst, cur, tn, ts[tn], rng, waiting, cache=c)
                    secs[inc] += time.perf_counter() - t
                    res[inc] = (got, None if got is None else float(info["value"]))  # type: ignore[arg-type]
                if len(res) < 2:
                    break
                n += 1
                (a, va), (b, vb) = res[False], res[True]
                assert va == vb and (a is None) == (b is None), (kind, i, va, vb)
                if a is not None:
                    assert {k: sorted(u.key() for u in v) for k, v in a.items()} == \
                        {k: sorted(u.key() for u in v) for k, v in b.items()}, (kind, i)
                    if va > best + 1e-9:  # type: ignore[operator]
                        cur, best = b, vb
                        kept += 1
            loads.append(os.getloadavg()[0])
            ratio = secs[True] / secs[False] if secs[False] else float("nan")
            out[f"{inst.name}/{kind}"] = {"steps": n, "kept": kept, "old_s": round(secs[False], 2),
                                          "new_s": round(secs[True], 2), "ratio": round(ratio, 3),
                                          "load": [round(x, 2) for x in loads], "cache": dict(cache.stats)}
            print(f"| {inst.name} | {kind} | {n} | {kept} | {secs[False]:.2f} | {secs[True]:.2f} | {ratio:.2f} | "
                  f"{loads[0]:.1f}-{loads[-1]:.1f} |", flush=True)
            if args.json:
                Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    reopt_spread.INCREMENTAL, reopt_base.SHARED = keep
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
