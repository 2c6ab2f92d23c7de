"""The stays LP with and without the rounded room rows of whole-GPU gangs (session 23, branch fragbound23).

Per running state: the repack model once, then the stays LP (``reopt_stays.stays_lp``, the bound the
re-optimizer reports at 1,024 GPUs) with ``cuts=False`` and ``cuts=True`` (``packer.cpsat.room_cuts``),
arms in the order given (deterministic values: they do not depend on the load; the seconds do). With
``--mip S``: the stays form with placed counts and required-locality domains integer (HiGHS branch and
bound, as ``bench_frag18_intstays.py --arms within``) for S seconds, with the rows: how much integrality
is left after them. Arm ``two``: ``stays_lp`` with the rows (the LP without the rows
first, its solution the guide, then the rows' LP only where that solution breaks a row), its seconds
in all. ``--fractional``: list the gangs whose domain choice the LP splits, per arm.

    python bench/bench_fragbound23_lp.py fragmented --seeds 0 1 2 3 4 100 101 102 103 104
    python bench/bench_fragbound23_lp.py issue --seeds 0 1 2 3 4 5 100
    python bench/bench_fragbound23_lp.py fragmented --seeds 104 --mip 45
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def fractional(model, x) -> list[str]:  # type: ignore[no-untyped-def]
    """Whole-GPU gangs with a required locality whose within columns are fractional in ``x``."""
    data, v = model.data, model.vars
    by: dict[int, dict[str, float]] = defaultdict(dict)
    for (gi, d), var in v.within.items():
        by[gi][d] = float(x[var.index])
    out = []
    for gi, doms in sorted(by.items()):
        r = data.groups[gi].req
        fr = {d: round(val, 3) for d, val in doms.items() if abs(val - round(val)) > 1e-6}
        if fr:
            out.append(f"{r.id} ({r.tenant}, {r.kind} x{r.count}, p{r.priority}, {r.locality.level}, "
                       f"group {data.groups[gi].size}, placed {sum(doms.values()):.3f}): {fr}")
    return out


def main() -> int:
    from bench_reopt import state, state_parser
    from scipy.optimize import Bounds, LinearConstraint, milp

    from packer.cpsat.bound import _to_max, lp_solve
    from packer.cpsat.proof import padded_bound
    from packer.cpsat.reopt import repack_model
    from packer.cpsat.reopt_stays import stays_form, stays_lp
    from packer.cpsat.room_cuts import room_cuts

    ap = state_parser(__doc__)
    ap.add_argument("--arms", nargs="+", default=["off", "on"], choices=("off", "on", "two"),
                    help="off: no rows; on: the rows, one solve; two: reopt_stays.stays_lp with the "
                         "rows (the LP without them, then with them where its point breaks one)")
    ap.add_argument("--mip", type=float, default=0.0, help="seconds of within-integral B&B with the rows (0: none)")
    ap.add_argument("--fractional", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    out = json.loads(Path(args.json).read_text()) if args.json and Path(args.json).exists() else {}
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes or (128 if args.family == "fragmented" else None))
        t = time.perf_counter()
        model = repack_model(inst)
        build_s = time.perf_counter() - t
        _ = model.linear_form
        t = time.perf_counter()
        rows = room_cuts(model)
        rows_s = time.perf_counter() - t
        row: dict[str, object] = {"build_s": round(build_s, 1), "rows": len(rows), "rows_s": round(rows_s, 3)}
        line = [f"{inst.name} ({inst.num_gpus} GPUs): {len(rows)} rows ({rows_s:.2f} s)"]
        for arm in args.arms:
            load0 = os.getloadavg()[0]
            if arm == "two":
                t = time.perf_counter()
                got = stays_lp(inst, model, cuts=True)
                s = time.perf_counter() - t
                row[arm] = None if got is None else {"bound": got.bound, "cpu_s": round(s, 2), "load": round(load0, 2),
                                                     "rows_broken": got.rows_broken}
                line.append("two -" if got is None else
                            f"two {got.bound:.2f} ({s:.1f} s, {got.rows_broken} rows broken, load {load0:.1f})")
                continue
            t = time.perf_counter()
            form, col, const = stays_form(inst, model, cuts=arm == "on")
            res = lp_solve(model.model, form=form)
            s = time.perf_counter() - t
            if res is None:
                row[arm] = None
                line.append(f"{arm} -")
                continue
            value = padded_bound(model, res[0] + const)
            row[arm] = {"bound": value, "cpu_s": round(s, 2), "load": round(load0, 2)}
            line.append(f"{arm} {value:.2f} ({s:.1f} s, load {load0:.1f})")
            if args.fractional:
                row[arm]["fractional"] = fractional(model, res[1])  # type: ignore[index]
        if isinstance(row.get("on"), dict) and isinstance(row.get("off"), dict):
            d = row["on"]["bound"] - row["off"]["bound"]  # type: ignore[index]
            row["delta"] = d
            line.append(f"on - off {d:+.2f}")
        print(", ".join(line), flush=True)
        if args.fractional:
            for arm in args.arms:
                if isinstance(row.get(arm), dict):
                    for f in row[arm]["fractional"]:  # type: ignore[index]
                        print(f"    {arm}: {f}")
        if args.mip > 0:
            from packer.cpsat.intbound import integer_columns

            form, col, const = stays_form(inst, model, cuts=True)
            c, a, bl, bh, lo, hi, obj = form
            cols = set(integer_columns(model)) | {v.index for v in model.vars.within.values()}
            integ = np.zeros(len(c))
            integ[sorted(cols)] = 1
            t = time.perf_counter()
            res = milp(c, constraints=LinearConstraint(a, bl, bh), bounds=Bounds(lo, hi), integrality=integ,
                       options={"presolve": True, "time_limit": args.mip})
            s = time.perf_counter() - t
            raw = getattr(res, "mip_dual_bound", None)
            dual = None if raw is None or not np.isfinite(raw) else padded_bound(model, _to_max(obj, float(raw)) + const)
            primal = None if res.fun is None else (_to_max(obj, float(res.fun)) + const) / model.data.scale + model.constant
            row["mip"] = {"dual": dual, "primal": primal, "s": round(s, 1), "finished": res.status == 0,
                          "load": round(os.getloadavg()[0], 2)}
            print(f"    within-integral B&B with the rows: dual {dual}, relaxed primal {primal}, {s:.1f} s, "
                  f"finished {res.status == 0}", flush=True)
        out[f"{inst.name}/{inst.num_gpus}"] = row
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
