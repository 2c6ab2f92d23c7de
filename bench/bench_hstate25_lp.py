"""The stays LP's bound with session 25's strengthenings, alone (deterministic values; branch hstate25).

Per running state: the repack model once, then the stays LP (``reopt_stays.stays_form`` + HiGHS, the bound
the re-optimizer reports at 1,024 GPUs, with the defaults of ``reopt_stays``) in the arms given:

- ``off``: as main (the room rows of session 23 in the one LP: on haein they break nothing, so the same value);
- ``iso``: with ``reopt_stays.ISO_CUTS`` (the repack model's LP-only node-isolation rows,
  ``constraints.ISOLATION_OTHERS`` / ``ISOLATION_CONFLICTS``, as the batch bound has them);
- ``branch``: ``own_branch.own_branch`` (best-first branching on node ownership, every LP warm), at most
  ``--lps`` LPs; deterministic for a given number of LPs.
- ``dive``: an ownership dive (session 13's, warm): fix the most fractional ownership column at 0 and at 1,
  keep the better child, until ownership is integral or ``--lps`` LPs. Its end value is the LP of one
  integral ownership: not a bound, but LP − end is an upper estimate of what any bound that makes ownership
  integral (and nothing else) can take off (the best integral ownership is worth at least the dive's).
- ``closed``: a what-if, not a bound: the LP with ``own[n, t]`` fixed at 0 on every node where only other
  tenants' work runs now (a plan may empty such a node for t, so this LP can be below the optimum). LP − it
  is what the LP gets from giving t fractions of nodes that other tenants' running work fills.

LP values do not depend on the load; the seconds do (the 1-min load is printed beside them).

    python bench/bench_hstate25_lp.py issue --seeds 0 1 2 3 4 5 100 101 102 103 104 --json bench/hstate25_lp_issue.json
    python bench/bench_hstate25_lp.py fragmented --seeds 0 1 2 3 4 100 101 102 103 104 --arms off branch
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def dive(form, const, model, max_lps: int):  # type: ignore[no-untyped-def]
    """The ownership dive of the docstring: {root, end, fixes, left (fractional columns at the end)}."""
    import numpy as np

    from packer.cpsat.bound import KeptLP
    from packer.cpsat.own_branch import _fractional, _Tree
    from packer.cpsat.proof import padded_bound

    owns = np.array(sorted(v.index for v in model.vars.owns.values()), dtype=np.int64)
    kept = KeptLP(form)
    got = kept.solve()
    if got is None or kept.highs is None or owns.size == 0:
        return None
    value, x = got
    root = padded_bound(model, value + const)
    tree = _Tree(kept, np.asarray(form[4], dtype=float), np.asarray(form[5], dtype=float))
    fixed: dict[int, float] = {}
    lps = 0
    while lps + 2 <= max_lps:
        col = _fractional(x, owns, fixed)
        if col is None:
            break
        best = None
        for val in (0.0, 1.0):
            res = tree.solve({**fixed, col: val}, None)
            lps += 1
            if isinstance(res, tuple) and (best is None or res[0] > best[1]):
                best = (val, res[0], res[1])
        if best is None:
            break
        fixed[col] = best[0]
        value, x = best[1], best[2]
    left = int(np.sum(np.abs(x[owns] - np.round(x[owns])) > 1e-6))
    return {"root": root, "end": padded_bound(model, value + const), "fixes": len(fixed), "lps": lps, "left": left}


def closed(inst, form, const, model):  # type: ignore[no-untyped-def]
    """The what-if of the docstring: {root, value (None: infeasible), fixed (columns)}."""
    import numpy as np

    from packer.cpsat.bound import KeptLP
    from packer.cpsat.own_branch import _Tree
    from packer.cpsat.proof import padded_bound

    tenants_on: dict[str, set[str]] = {}
    for r in inst.requests:
        for u in r.placement or ():
            tenants_on.setdefault(u.node, set()).add(r.tenant)
    rp = model.data.inst
    fix = {var.index: 0.0 for (ni, t), var in model.vars.owns.items()
           if tenants_on.get(rp.nodes[ni].id) and t not in tenants_on[rp.nodes[ni].id]}
    kept = KeptLP(form)
    got = kept.solve()
    if got is None or kept.highs is None:
        return None
    tree = _Tree(kept, np.asarray(form[4], dtype=float), np.asarray(form[5], dtype=float))
    res = tree.solve(fix, None)
    value = padded_bound(model, res[0] + const) if isinstance(res, tuple) else None
    return {"root": padded_bound(model, got[0] + const), "value": value, "fixed": len(fix)}


def main() -> int:
    from bench_reopt import state, state_parser

    from packer.cpsat import own_branch, reopt_stays
    from packer.cpsat.bound import lp_solve
    from packer.cpsat.proof import padded_bound
    from packer.cpsat.reopt import repack_model

    ap = state_parser(__doc__)
    ap.add_argument("--arms", nargs="+", default=["off", "iso", "branch"], choices=("off", "iso", "branch", "dive", "closed"))
    ap.add_argument("--lps", type=int, default=own_branch.MAX_LPS, help="LPs of the ownership branching")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    out = json.loads(Path(args.json).read_text()) if args.json and Path(args.json).exists() else {}
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes or (128 if args.family == "fragmented" else None))
        t = time.perf_counter()
        model = repack_model(inst)
        row: dict[str, object] = {"build_s": round(time.perf_counter() - t, 1), "owns": len(model.vars.owns),
                                  "lp_cuts": len(model.lp_cuts)}
        line = [f"{inst.name} ({inst.num_gpus} GPUs, {len(model.vars.owns)} ownership columns, "
                f"{len(model.lp_cuts)} isolation rows)"]
        for arm in args.arms:
            load0 = os.getloadavg()[0]
            t = time.perf_counter()
            if arm == "closed":
                form, _col, const = reopt_stays.stays_form(inst, model)
                got = closed(inst, form, const, model)
                s = time.perf_counter() - t
                row[arm] = None if got is None else {**got, "s": round(s, 1), "load": round(load0, 2)}
                line.append("closed -" if got is None else
                            f"closed {got['root']:.2f} -> {got['value']:.2f} ({got['fixed']} columns fixed at 0, "
                            f"{s:.1f} s, load {load0:.1f})")
                continue
            if arm == "dive":
                form, _col, const = reopt_stays.stays_form(inst, model)
                got = dive(form, const, model, args.lps)
                s = time.perf_counter() - t
                row[arm] = None if got is None else {**got, "s": round(s, 1), "load": round(load0, 2)}
                line.append("dive -" if got is None else
                            f"dive {got['root']:.2f} -> {got['end']:.2f} ({got['fixes']} fixes, {got['left']} fractional "
                            f"left, {s:.1f} s, load {load0:.1f})")
                continue
            if arm == "branch":
                form, _col, const = reopt_stays.stays_form(inst, model)
                got = own_branch.own_branch(form, const, model, max_lps=args.lps)
                s = time.perf_counter() - t
                if got is None:
                    row[arm] = None
                    line.append("branch -")
                    continue
                row[arm] = {"bound": got.bound, "root": got.root, "lps": got.lps, "open": got.open,
                            "closed": got.closed, "integral": got.integral, "s": round(s, 1),
                            "load": round(load0, 2)}
                line.append(f"branch {got.bound:.2f} (root {got.root:.2f}, {got.lps} LPs, {got.open} open, "
                            f"{got.closed} infeasible, integral {got.integral}, {s:.1f} s, load {load0:.1f})")
                continue
            old = reopt_stays.ISO_CUTS
            reopt_stays.ISO_CUTS = arm == "iso"
            try:
                form, _col, const = reopt_stays.stays_form(inst, model)
            finally:
                reopt_stays.ISO_CUTS = old
            res = lp_solve(model.model, form=form)
            s = time.perf_counter() - t
            if res is None:
                row[arm] = None
                line.append(f"{arm} -")
                continue
            value = padded_bound(model, res[0] + const)
            row[arm] = {"bound": value, "s": round(s, 1), "load": round(load0, 2), "rows": int(form[1].shape[0])}
            line.append(f"{arm} {value:.2f} ({s:.1f} s, {form[1].shape[0]} rows, load {load0:.1f})")
        print(", ".join(line), flush=True)
        out[f"{inst.name}/{inst.num_gpus}"] = row
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
