"""A/B of LNS steps chosen by value (issue 16 part 3, session 5): `packer.cpsat.solve` at 60 s, 2 workers.

Arms (back to back on each instance, their order alternating from one instance to the next so that
neither always runs on the warmer or busier machine):

- ``value``: the shipped code, value and exchange steps in a portfolio that adapts (lns.VALUE_SHARE,
  EXCHANGE_SHARE, ADAPT_KINDS as shipped);
- ``fixed``: value and exchange steps at their base shares, no adaptation;
- ``off``: no value steps, no adaptation: the step mix before this session.

Every plan is checked. One JSON line per run, with the 1-min load, the LNS statistics (steps,
improved, and per kind [steps, improved, gain, seconds]).

    python bench/bench_cpsat_value.py --families adversarial,inference --seeds 0 1 --arms value,off
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="adversarial,inference,hetero,haein,training")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--arms", default="value,off")
    ap.add_argument("--solver-seed", type=int, default=0)
    args = ap.parse_args()
    from packer import cpsat
    from packer.check import check
    from packer.cpsat import lns
    from packer.generate import generate

    shipped = (lns.VALUE_SHARE, lns.EXCHANGE_SHARE, lns.ADAPT_KINDS)
    settings = {"value": shipped, "fixed": (shipped[0], shipped[1], False), "off": (0.0, 0.0, False)}
    arms = args.arms.split(",")
    turn = 0
    for fam in args.families.split(","):
        for seed in args.seeds:
            inst = generate(fam, seed=seed, nodes=args.nodes)
            order = arms if turn % 2 == 0 else arms[::-1]
            turn += 1
            for arm in order:
                lns.VALUE_SHARE, lns.EXCHANGE_SHARE, lns.ADAPT_KINDS = settings[arm]
                load = os.getloadavg()[0]
                t0 = time.time()
                plan = cpsat.solve(inst, time_limit=args.time_limit, workers=2, seed=args.solver_seed)
                assert check(inst, plan).ok, (fam, seed, arm)
                info = plan.solver.model_dump()
                gap = None if plan.bound is None else 100 * (plan.bound - plan.objective) / plan.bound
                print(json.dumps({"family": fam, "seed": seed, "arm": arm, "objective": round(plan.objective, 3),
                                  "bound": plan.bound, "gap_pct": None if gap is None else round(gap, 3),
                                  "lns": info.get("lns"), "lp_s": info.get("lp_s"),
                                  "wall_s": round(time.time() - t0, 1), "load": round(load, 2),
                                  "load_end": round(os.getloadavg()[0], 2),
                                  "utc": time.strftime("%H:%M", time.gmtime(t0))}), flush=True)
    lns.VALUE_SHARE, lns.EXCHANGE_SHARE, lns.ADAPT_KINDS = shipped


if __name__ == "__main__":
    main()
