"""How much of the fragmented family's bound is integrality (session 18, branch frag18): the stays LP
(the repack LP with migration costs, ``reopt_stays``: the bound the re-optimizer reports at 1,024 GPUs)
solved again by HiGHS branch and bound with some columns integer, stopped at ``--mip`` seconds, and
its dual bound (valid whenever reported: a relaxation of the running state's re-optimization with more
of its integrality kept; ``intbound.py`` did this on the plain repack LP in session 5).

Arms (``--arms``):
- ``active``: every group's placed count integer (a gang placed whole or not);
- ``within``: those, and the required-locality domain choices (``within``: a node gang on ONE node);
- ``stays``: those, and the stay columns (a running request stays or moves, not a share of it);
- ``owns``: ``within`` plus node ownership of the node-isolated tenant.

    python bench/bench_frag18_intstays.py fragmented --seeds 100 101 --mip 60 --arms active within
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def columns(model, col: dict[str, int], arm: str) -> list[int]:  # type: ignore[no-untyped-def]
    from packer.cpsat.intbound import integer_columns

    cols = set(integer_columns(model))
    if arm in ("within", "stays", "owns"):
        cols |= {v.index for v in model.vars.within.values()}
    if arm == "stays":
        cols |= set(col.values())
    if arm == "owns":
        cols |= {v.index for v in model.vars.owns.values()}
    return sorted(cols)


def main() -> int:
    from bench_reopt import state, state_parser
    from scipy.optimize import Bounds, LinearConstraint, milp

    from packer.cpsat.bound import _to_max
    from packer.cpsat.proof import padded_bound
    from packer.cpsat.reopt import repack_model
    from packer.cpsat.reopt_stays import stays_form

    ap = state_parser(__doc__)
    ap.add_argument("--mip", type=float, default=60.0, help="seconds of branch and bound per arm")
    ap.add_argument("--arms", nargs="+", default=["active", "within"])
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    out = json.loads(Path(args.json).read_text()) if args.json and Path(args.json).exists() else {}
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes or (128 if args.family == "fragmented" else None))
        model = repack_model(inst)
        form, col, const = stays_form(inst, model)
        c, a, bl, bh, lo, hi, obj = form
        cons, bounds = LinearConstraint(a, bl, bh), Bounds(lo, hi)
        t = time.perf_counter()
        lp = milp(c, constraints=cons, bounds=bounds, integrality=np.zeros(len(c)), options={"presolve": True})
        lp_s = time.perf_counter() - t
        lp_v = padded_bound(model, _to_max(obj, float(lp.fun)) + const)
        row: dict[str, object] = {"lp": lp_v, "lp_s": round(lp_s, 1), "columns": len(c), "rows": a.shape[0]}
        print(f"{inst.name}: stays LP {lp_v:.2f} ({lp_s:.1f} s, {a.shape[0]} rows, {len(c)} columns), "
              f"load {os.getloadavg()[0]:.2f}", flush=True)
        for arm in args.arms:
            cols = columns(model, col, arm)
            integ = np.zeros(len(c))
            integ[cols] = 1
            t = time.perf_counter()
            res = milp(c, constraints=cons, bounds=bounds, integrality=integ,
                       options={"presolve": True, "time_limit": max(0.1, args.mip)})
            s = time.perf_counter() - t
            raw = getattr(res, "mip_dual_bound", None)
            dual = None
            if raw is not None and np.isfinite(raw):
                dual = min(lp_v, padded_bound(model, _to_max(obj, float(raw)) + const))
            primal = None if res.fun is None else (_to_max(obj, float(res.fun)) + const) / model.data.scale + model.constant
            row[arm] = {"dual": dual, "primal": primal, "integer_columns": len(cols), "s": round(s, 1),
                        "finished": res.status == 0, "load": round(os.getloadavg()[0], 2)}
            ds = "-" if dual is None else f"{dual:.2f} ({dual - lp_v:+.2f})"
            ps = "-" if primal is None else f"{primal:.2f}"
            print(f"  {arm}: dual {ds}, relaxed primal {ps}, {len(cols)} integer columns, {s:.1f} s, "
                  f"finished {res.status == 0}, load {os.getloadavg()[0]:.2f}", flush=True)
        out[f"{inst.name}/{inst.num_gpus}"] = row
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
