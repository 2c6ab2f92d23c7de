"""Does integral node ownership tighten the re-optimizer's bound? (issue 17 part 2, session 11)

The bound of a running cluster is the repack LP with migration costs (``packer.cpsat.reopt_stays``).
Its node-isolation rows let a node-isolated tenant keep a fraction of a node and the other tenants use
the rest (on haein-5, 20 of 128 ownership columns fractional, bench/RESULTS_reopt.md "Session 10").
Here the same LP is solved as a MIP with only the ownership columns (``owns``) integer, by HiGHS branch
and bound under each time cap of ``--mip``; its dual bound is valid whatever its status (every plan of
the running state has integral ownership). ``--stays-int`` also makes the stay columns of the
node-isolated tenants' running requests integer. Deterministic in what it solves; the times are wall.

    python bench/bench_reopt_ownbound.py issue --seeds 0 1 2 3 4 5 --mip 5 20
    python bench/bench_reopt_ownbound.py fragmented --seeds 0 1 2 3 4 100 101 102 103 104 --mip 5 20
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_reopt import state, state_parser

    ap = state_parser(__doc__)
    ap.add_argument("--mip", type=float, nargs="+", default=[5.0, 20.0], help="branch-and-bound seconds (each a run)")
    ap.add_argument("--stays-int", action="store_true", help="the isolated tenants' stay columns integer too")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp

    from packer.cpsat.bound import _to_max
    from packer.cpsat.proof import padded_bound
    from packer.cpsat.reopt import repack_model
    from packer.cpsat.reopt_stays import stays_form

    rows = []
    heads = " | ".join(f"MIP {t:g} s: dual (s, status)" for t in args.mip)
    print(f"| state | owns columns | fractional in LP | stays LP (s) | {heads} | load |")
    print("|---|---|---|---|" + "---|" * len(args.mip) + "---|")
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes)
        model = repack_model(inst)
        got = None if model is None else stays_form(inst, model, None)
        if got is None:
            print(f"| {inst.name} | - | nothing movable or not linear |", flush=True)
            continue
        form, col, const = got
        c, a, bl, bh, lo, hi, obj = form
        own = sorted(v.index for v in model.vars.owns.values())
        iso = {t.id for t in inst.tenant_map.values() if t.isolation == "node"}
        if args.stays_int:
            own += sorted(ci for rid, ci in col.items() if inst.request(rid).tenant in iso)
        cons, bounds = LinearConstraint(a, bl, bh), Bounds(lo, hi)
        t0 = time.perf_counter()
        res = milp(c, constraints=cons, bounds=bounds, integrality=np.zeros(len(c)), options={"presolve": True})
        lp_s = time.perf_counter() - t0
        lp = None if res.fun is None else padded_bound(model, _to_max(obj, float(res.fun)) + const)
        frac = 0 if res.x is None else sum(1 for i in own if 1e-6 < res.x[i] < 1 - 1e-6)
        row: dict[str, object] = {"state": inst.name, "seed": seed, "owns": len(model.vars.owns),
                                  "integer_columns": len(own), "fractional": frac, "lp": lp, "lp_s": round(lp_s, 1)}
        cells = []
        integ = np.zeros(len(c))
        integ[own] = 1
        for cap in args.mip:
            t0 = time.perf_counter()
            r2 = milp(c, constraints=cons, bounds=bounds, integrality=integ,
                      options={"presolve": True, "time_limit": cap}) if own else None
            secs = time.perf_counter() - t0
            raw = None if r2 is None else getattr(r2, "mip_dual_bound", None)
            dual = None
            if raw is not None and np.isfinite(raw):
                dual = padded_bound(model, _to_max(obj, float(raw)) + const)
                if lp is not None:
                    dual = min(dual, lp)
            row[f"mip_{cap:g}"] = {"dual": dual, "s": round(secs, 1), "status": None if r2 is None else r2.status}
            cells.append("-" if dual is None else f"{dual:.2f} ({secs:.1f}, {r2.status})")
        row["load"] = round(os.getloadavg()[0], 2)
        rows.append(row)
        lps = "-" if lp is None else f"{lp:.2f}"
        print(f"| {inst.name} | {len(own)} | {frac} | {lps} ({lp_s:.1f}) | {' | '.join(cells)} | {row['load']} |",
              flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
