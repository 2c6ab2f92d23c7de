"""Bound or search on issue 17's haein states (session 21, branch haein21): the stays LP's form solved by
HiGHS branch and bound (scipy ``milp``, one thread) for a long, untimed look, with more of its
integrality kept than session 18's ``bench_frag18_intstays.py`` arms:

- ``owns``: placed counts, required-locality domains, node ownership of the node-isolated tenant
  and the stay columns integer (every one of them integral in every plan of the running state);
- ``within``: placed counts and required-locality domains (session 18's arm);
- ``owns-only`` / ``stays-only``: node ownership alone / the stay columns alone;
- ``full``: every column integer (the repack model itself as a MIP; still a relaxation of the
  running state's re-optimization, since the repack model aggregates GPUs into classes).

Per state and arm: the dual bound (valid whenever reported), the best integral-in-those-columns
solution found (``primal``: the arm's MIP optimum lies between it and the dual bound, so
LP − primal is the most any bound of that integrality can take off the LP), and what that solution
still does fractionally, counted by kind of column (units per class ``x``, modes, MIG configurations,
share patterns, ...) with the waiting value it places by request shape.

    python bench/bench_haein21_settle.py issue --seeds 100 --mip 480 --arms owns --json bench/haein21_settle.json
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


def kinds(model, col: dict[str, int]) -> dict[int, str]:  # type: ignore[no-untyped-def]
    """Column index → its kind."""
    out: dict[int, str] = {}
    v = model.vars
    for name in ("x", "stay", "mode", "config", "pattern", "within", "uses", "owns"):
        for var in getattr(v, name).values():
            idx = getattr(var, "index", None)
            if isinstance(idx, int) and idx >= 0:
                out.setdefault(idx, name)
    for expr in v.active.values():
        idx = getattr(expr, "index", None)
        if isinstance(idx, int) and idx >= 0:
            out[idx] = "active"
    for idx in col.values():
        out[idx] = "stays"
    return out


def columns(model, col: dict[str, int], arm: str, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    from packer.cpsat.intbound import integer_columns

    if arm == "full":
        return list(range(n))
    if arm == "owns-only":  # node ownership alone: what integral isolation is worth
        return sorted(v.index for v in model.vars.owns.values())
    if arm == "stays-only":  # the stay columns alone: what whole moves are worth
        return sorted(col.values())
    cols = set(integer_columns(model))
    cols |= {v.index for v in model.vars.within.values()}
    if arm in ("owns", "stays"):
        cols |= set(col.values())
    if arm == "owns":
        cols |= {v.index for v in model.vars.owns.values()}
    return sorted(cols)


def waiting_by_shape(model, xs: np.ndarray) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Waiting requests the solution ``xs`` places, by shape (kind × count × priority, locality/spread
    level), the 12 shapes with the most GPU-sized units placed (count × priority weight)."""
    data = model.data
    out: dict[str, float] = defaultdict(float)
    for gi, expr in model.vars.active.items():
        idx = getattr(expr, "index", None)
        if not isinstance(idx, int) or idx < 0:
            continue
        r = data.groups[gi].req
        if r.placement is not None:
            continue
        val = float(xs[idx])
        if val <= 1e-6:
            continue
        shape = f"{r.kind}{'/' + r.profile if r.profile else ''} x{r.count} p{r.priority:g}"
        if r.locality is not None:
            shape += f" loc:{r.locality.level}"
        if r.spread is not None:
            shape += f" spread:{r.spread.level}"
        out[shape] += val
    return {k: round(v, 2) for k, v in sorted(out.items(), key=lambda kv: -kv[1])[:12]}


def main() -> int:
    from bench_reopt import state, state_parser
    from scipy.optimize import Bounds, LinearConstraint, milp

    from packer.cpsat.bound import _to_max
    from packer.cpsat.proof import padded_bound
    from packer.cpsat.reopt import repack_model
    from packer.cpsat.reopt_stays import stays_form

    ap = state_parser(__doc__)
    ap.add_argument("--mip", type=float, default=480.0, help="seconds of branch and bound per arm")
    ap.add_argument("--arms", nargs="+", default=["owns"])
    ap.add_argument("--json", default=None)
    ap.add_argument("--disp", action="store_true", help="HiGHS log (the dual bound over time)")
    ap.add_argument("--dual-only", action="store_true",
                    help="only the dual bound, by reopt_intstays._mip_dual (reported without an integral solution)")
    args = ap.parse_args()
    out = json.loads(Path(args.json).read_text()) if args.json and Path(args.json).exists() else {}
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes)
        model = repack_model(inst)
        form, col, const = stays_form(inst, model)
        c, a, bl, bh, lo, hi, obj = form
        kind = kinds(model, col)
        cons, bounds = LinearConstraint(a, bl, bh), Bounds(lo, hi)
        t = time.perf_counter()
        lp = milp(c, constraints=cons, bounds=bounds, integrality=np.zeros(len(c)), options={"presolve": True})
        lp_s = time.perf_counter() - t

        def value(fun: float, obj=obj, const=const, model=model) -> float:  # type: ignore[no-untyped-def]
            return (_to_max(obj, float(fun)) + const) / model.data.scale + model.constant

        lp_v = padded_bound(model, _to_max(obj, float(lp.fun)) + const)

        def fractional(xs: np.ndarray, kind=kind) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
            fr = np.abs(xs - np.round(xs))
            got: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
            for i in np.nonzero(fr > 1e-6)[0]:
                k = kind.get(int(i), "other")
                got[k][0] += 1
                got[k][1] += float(fr[i])
            return {k: [int(n), round(s, 2)] for k, (n, s) in got.items()}

        row: dict[str, object] = {"lp": lp_v, "lp_value": value(lp.fun), "lp_s": round(lp_s, 1), "columns": len(c),
                                  "rows": a.shape[0], "lp_fractional": fractional(lp.x),
                                  "lp_waiting": waiting_by_shape(model, lp.x)}
        print(f"{inst.name}: stays LP {lp_v:.2f} ({lp_s:.1f} s, {a.shape[0]} rows, {len(c)} columns), "
              f"fractional {row['lp_fractional']}, load {os.getloadavg()[0]:.2f}", flush=True)
        for arm in args.arms:
            cols = columns(model, col, arm, len(c))
            integ = np.zeros(len(c))
            integ[cols] = 1
            t = time.perf_counter()
            if args.dual_only:  # session 21: HiGHS's dual bound also without an integral solution
                from packer.cpsat.reopt_intstays import _mip_dual

                got = _mip_dual(c, a, bl, bh, lo, hi, integ, args.mip)
                s = time.perf_counter() - t
                dual = None if got is None or not np.isfinite(got[0]) else min(
                    lp_v, padded_bound(model, _to_max(obj, got[0]) + const))
                row[arm] = {"dual": dual, "s": round(s, 1), "finished": bool(got and got[1]),
                            "integer_columns": len(cols), "load": round(os.getloadavg()[0], 2)}
                ds = "-" if dual is None else f"{dual:.2f} ({dual - lp_v:+.2f})"
                print(f"  {arm}: dual {ds}, {len(cols)} integer columns, {s:.1f} s, load {os.getloadavg()[0]:.2f}",
                      flush=True)
                continue
            res = milp(c, constraints=cons, bounds=bounds, integrality=integ,
                       options={"presolve": True, "time_limit": max(0.1, args.mip), "disp": args.disp})
            s = time.perf_counter() - t
            raw = getattr(res, "mip_dual_bound", None)
            dual = None
            if raw is not None and np.isfinite(raw):
                dual = min(lp_v, padded_bound(model, _to_max(obj, float(raw)) + const))
            primal = None if res.fun is None else value(res.fun)
            rec: dict[str, object] = {"dual": dual, "primal": primal, "integer_columns": len(cols), "s": round(s, 1),
                                      "finished": res.status == 0, "load": round(os.getloadavg()[0], 2),
                                      "gap_nodes": getattr(res, "mip_node_count", None)}
            if res.x is not None:
                rec["fractional"] = fractional(res.x)
                rec["waiting"] = waiting_by_shape(model, res.x)
            row[arm] = rec
            ds = "-" if dual is None else f"{dual:.2f} ({dual - lp_v:+.2f})"
            ps = "-" if primal is None else f"{primal:.2f} ({primal - lp_v:+.2f})"
            print(f"  {arm}: dual {ds}, primal {ps}, {len(cols)} integer columns, {s:.1f} s, "
                  f"nodes {rec['gap_nodes']}, finished {res.status == 0}, load {os.getloadavg()[0]:.2f}", flush=True)
            print(f"    still fractional: {rec.get('fractional')}", flush=True)
            print(f"    waiting value by shape: {rec.get('waiting')}", flush=True)
        out[f"{inst.name}/{inst.num_gpus}"] = row
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
