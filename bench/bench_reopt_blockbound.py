"""The bound by blocks (packer/cpsat/block_bound.py) against the capacity bound and the stays LP.

    python bench/bench_reopt_blockbound.py small fragmented --seeds 0 1 2 3 4 --size 32 [--combined]
    python bench/bench_reopt_blockbound.py big fragmented --seeds 0 100 101 [--iterations 2]
    python bench/bench_reopt_blockbound.py reopt fragmented --seeds 100 --arms off on --time-limit 300 --workers 2

Rounds are (round, bound, wall s, process CPU s). ``small``: 1,024-GPU states (128 nodes) cut into blocks of ``--size`` nodes: capacity bound, the stays
LP of the whole state (no limit), the block bound round by round; ``--combined`` also solves the
blocks' LPs with the coupling rows as one LP (the best any multipliers can give: the Lagrangian
dual's value). ``big``: 16,384-GPU states (2,048 nodes, the re-optimizer's blocks): capacity bound
and the block bound round by round, with seconds. ``reopt``: packer.cpsat.solve on the 16,384-GPU
state (what ``packer bench --solvers cpsat`` runs) with reopt.BLOCK_BOUND off and on (``on`` and ``late``: on,
started with the steps; session 17's ``on`` started it before the no-move hint, reopt.BLOCK_BOUND_EARLY, ``up``
added own-node LPs for merged blocks while its time lasted, reopt.BLOCK_BOUND_UPGRADE, session 18's ``rooms`` /
``own`` set block_bound.ROOMS_ABOVE / OWN_SHARE and session 19's ``both`` / ``bothranges`` block_bound.THEN_OWN:
all removed in session 27, they run at git tag flags-s26; the other arms
as in sessions 15-20), arms in the
order given: objective, bound, gap, the block steps' gain, the block bound, when it came and when the
steps started (seconds from the run's start); every plan
is checked. One JSON line per state (and arm) to ``--jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def combined(inst, parts, merge=None, ipm: bool = False, time_limit: float | None = None  # type: ignore[no-untyped-def]
             ) -> tuple[float | None, float]:
    """The blocks' LPs and the coupling rows solved as one LP: (optimum, seconds). ``ipm``: HiGHS's
    interior point without crossover, the bound from its row duals (bound.lagrangian_min: valid
    whatever its status) instead of scipy's milp optimum."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import block_diag, csr_matrix, vstack

    from packer.cpsat.block_bound import block_lps

    t0 = time.perf_counter()
    lps, _ = block_lps(inst, parts, merge=merge)
    a = block_diag([lp.a for lp in lps]).tocsr()
    offs = np.cumsum([0] + [lp.a.shape[1] for lp in lps])
    cmax = np.concatenate([lp.c0 * lp.sf / lp.scale for lp in lps])
    const = sum((lp.sf * lp.offset + lp.const) / lp.scale + lp.mconst for lp in lps)
    big_u: dict[object, float] = {}
    for lp in lps:
        for k, u in lp.U.items():
            big_u[k] = max(big_u.get(k, 0.0), u)
    ks = list(big_u)
    js = sorted({j for lp in lps for j in (*lp.imports, *lp.exports)}, key=repr)
    r, c, v = [], [], []
    for i, k in enumerate(ks):
        for b, lp in enumerate(lps):
            for col in lp.units.get(k, []):
                r.append(i)
                c.append(offs[b] + col)
                v.append(1.0)
    for i, j in enumerate(js):
        for b, lp in enumerate(lps):
            for col in lp.imports.get(j, []):
                r.append(len(ks) + i)
                c.append(offs[b] + col)
                v.append(1.0)
            for col in lp.exports.get(j, []):
                r.append(len(ks) + i)
                c.append(offs[b] + col)
                v.append(-1.0)
    a2 = vstack([a, csr_matrix((v, (r, c)), shape=(len(ks) + len(js), a.shape[1]))]).tocsr()
    lo = np.concatenate([np.concatenate([lp.bl for lp in lps]), np.full(len(ks), -np.inf), np.zeros(len(js))])
    hi = np.concatenate([np.concatenate([lp.bh for lp in lps]), np.array([big_u[k] for k in ks]), np.zeros(len(js))])
    xlo = np.concatenate([lp.lo for lp in lps])
    xhi = np.concatenate([lp.hi for lp in lps])
    if ipm:
        from packer.cpsat.bound import highs_simplex, lagrangian_min

        cmin = -cmax
        h = highs_simplex(cmin, a2, lo, hi, xlo, xhi)
        h.setOptionValue("solver", "ipm")
        h.setOptionValue("run_crossover", "off")
        if time_limit is not None:
            h.setOptionValue("time_limit", float(time_limit))
        h.run()
        sol = h.getSolution()
        if not sol.dual_valid:
            return None, time.perf_counter() - t0
        low = lagrangian_min(cmin, a2, lo, hi, xlo, xhi, np.asarray(sol.row_dual, dtype=float))
        return -low + const, time.perf_counter() - t0
    res = milp(-cmax, constraints=LinearConstraint(a2, lo, hi), bounds=Bounds(xlo, xhi),
               integrality=np.zeros(a2.shape[1]),
               options={"presolve": True, **({} if time_limit is None else {"time_limit": time_limit})})
    value = None if res.fun is None else float(-res.fun + const)
    return value, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["small", "big", "reopt"])
    ap.add_argument("--arms", nargs="+", default=["off", "on"], choices=["off", "on", "late", "plain", "fold", "ownfold",
                                                                       "ranges"])
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--nodes", type=int, default=2048, help="reopt: 8-GPU nodes (below 2,048 the huge path is forced)")
    ap.add_argument("family")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--size", type=int, default=None, help="nodes a block (small: 32; big: the re-optimizer's)")
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--combined", action="store_true")
    ap.add_argument("--combined-only", action="store_true", help="skip the rounds (big states: the combined LP alone)")
    ap.add_argument("--ipm", action="store_true", help="combined: HiGHS's interior point, bound from its duals")
    ap.add_argument("--combined-limit", type=float, default=None)
    ap.add_argument("--merge", default=None,
                    help="small/big: block LPs of the typed relaxation at this level ('auto': the finest; 'none': "
                         "the block's own nodes); default block_bound.MERGE")
    ap.add_argument("--time-limit-bound", type=float, default=None, help="small/big: block_bound's time limit")
    ap.add_argument("--jsonl", default="bench/reopt_blockbound_s15.jsonl")
    args = ap.parse_args()

    from packer.cpsat import block_bound as block_bound_mod
    from packer.cpsat.block_bound import block_bound, merge_level
    from packer.cpsat.bound import capacity_bound
    from packer.cpsat.reopt import BudgetBound
    from packer.cpsat.reopt_blocks import blocks
    from packer.generate import generate

    if args.mode == "reopt":
        _reopt(args)
        return
    nodes = 128 if args.mode == "small" else 2048
    size = args.size if args.size is not None else (32 if args.mode == "small" else None)
    for seed in args.seeds:
        row: dict[str, object] = {"mode": args.mode, "family": args.family, "seed": seed, "nodes": nodes,
                                  "size": size, "start_utc": time.strftime("%H:%M:%S", time.gmtime()),
                                  "load_start": _load()}
        inst = generate(args.family, seed=seed, nodes=nodes)
        t = time.perf_counter()
        row["capacity"] = capacity_bound(inst)
        row["capacity_s"] = round(time.perf_counter() - t, 3)
        if args.mode == "small":
            t = time.perf_counter()
            row["stays_lp"] = BudgetBound(inst).stays_lp(None)
            row["stays_s"] = round(time.perf_counter() - t, 2)
        parts = blocks(inst, size)
        row["blocks"] = len(parts)
        rounds: list[tuple[int, float, float, float]] = []
        merge = "default" if args.merge is None else (None if args.merge == "none" else args.merge)
        row["merge"] = args.merge
        c0 = time.process_time()
        if args.combined_only:
            lvl = merge_level(inst, block_bound_mod.MERGE if merge == "default" else merge)
            row["combined_lp"], cs = combined(inst, parts, lvl, args.ipm, args.combined_limit)
            row["combined_s"], row["combined_cpu_s"] = round(cs, 2), round(time.process_time() - c0, 2)
            row["ipm"] = args.ipm
            row["load_end"] = _load()
            row["end_utc"] = time.strftime("%H:%M:%S", time.gmtime())
            print(json.dumps(row), flush=True)
            with open(args.jsonl, "a") as f:
                f.write(json.dumps(row) + "\n")
            continue
        bb = block_bound(inst, parts, iterations=args.iterations, merge=merge,
                         time_limit=args.time_limit_bound,
                         progress=lambda i, v, s, rounds=rounds, c0=c0: rounds.append(
                             (i, round(v, 3), round(s, 2), round(time.process_time() - c0, 2))))
        row["block_bound"] = bb.value
        row["rounds"] = rounds
        row["block_first_s"] = round(bb.first_s, 2)
        row["block_s"] = round(bb.seconds, 2)
        row["fallbacks"] = bb.fallbacks
        if args.combined:
            lvl = merge_level(inst, block_bound_mod.MERGE if merge == "default" else merge)
            row["combined_lp"], cs = combined(inst, parts, lvl, args.ipm, args.combined_limit)
            row["combined_s"] = round(cs, 2)
        row["load_end"] = _load()
        row["end_utc"] = time.strftime("%H:%M:%S", time.gmtime())
        print(json.dumps(row), flush=True)
        with open(args.jsonl, "a") as f:
            f.write(json.dumps(row) + "\n")


def _reopt(args: argparse.Namespace) -> None:
    from packer.check import check
    from packer.cpsat import reopt
    from packer.cpsat import solve as cpsat_solve
    from packer.generate import generate

    if args.nodes < 2048:  # a dry run of the same path on a small state
        from packer.cpsat import reopt_blocks, tuning

        tuning.DECOMPOSE_ABOVE = 0
        reopt_blocks.BLOCK_NODES = 16
        reopt.BLOCK_BOUND_MIN_S = 1.0
    from packer.cpsat import block_bound as bbm
    from packer.cpsat import block_fold

    for seed in args.seeds:
        inst = generate(args.family, seed=seed, nodes=args.nodes)
        for arm in args.arms:
            reopt.BLOCK_BOUND = arm in ("on", "late", "plain", "fold", "ownfold", "ranges")
            # Session 20: "ranges" is "fold" with η from the share solves' ranges (block_bound.ETA_RANGES).
            bbm.ETA_RANGES = arm == "ranges"
            block_fold.FOLD_TAGS = ("w", "f")
            # Session 19: "plain" is main's bound by blocks before folding (merged LPs, block_fold.FOLD
            # off); "fold" the same folded; "ownfold" the blocks' own-node LPs folded (block_bound.MERGE
            # None).
            block_fold.FOLD = arm != "plain"
            bbm.MERGE = None if arm == "ownfold" else "auto"
            row: dict[str, object] = {"mode": "reopt", "family": args.family, "seed": seed, "arm": arm,
                                      "fold": block_fold.FOLD, "merge": bbm.MERGE,
                                      "eta_ranges": bbm.ETA_RANGES, "fold_tags": list(block_fold.FOLD_TAGS),
                                      "time_limit": args.time_limit, "workers": args.workers,
                                      "start_utc": time.strftime("%H:%M:%S", time.gmtime()), "load_start": _load()}
            t = time.perf_counter()
            plan = cpsat_solve(inst, time_limit=args.time_limit, workers=args.workers)
            row["wall_s"] = round(time.perf_counter() - t, 2)
            rep = check(inst, plan)
            assert rep.ok, [(v.kind, v.message) for v in rep.violations][:5]
            info = plan.solver.model_dump()
            row["objective"] = plan.objective
            row["bound"] = plan.bound
            row["gap_pct"] = None if not plan.bound else round(100 * (plan.bound - plan.objective) / plan.bound, 3)
            steps = info.get("steps") or {}
            row["steps_gain"] = steps.get("gain") if isinstance(steps, dict) else None
            row["steps"] = steps.get("steps") if isinstance(steps, dict) else None
            for key in ("no_move_objective", "bound", "capacity_bound", "block_bound", "block_bound_s",
                        "block_bound_first_at_s", "block_bound_at_s", "steps_at_s", "block_bound_values",
                        "block_bound_first_s", "block_bound_error", "block_bound_fallbacks"):
                row[key if key != "bound" else "bound_kind"] = info.get(key)
            row["load_end"] = _load()
            row["end_utc"] = time.strftime("%H:%M:%S", time.gmtime())
            print(json.dumps(row), flush=True)
            with open(args.jsonl, "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
