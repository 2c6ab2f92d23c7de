"""Value-versus-migrations curves of running clusters (issue 17 part 2): packer.cpsat.reopt.curve.

Instances:
- ``issue``: the issue's fragmented haein cluster (``bench/reopt_state.py``: haein at demand 1.6,
  first-fit fills 2/3 of the requests, 35% released, the rest placed, everything placed running and
  movable), seed = the haein seed (the issue's is 5);
- ``fragmented``: the suite family (``packer generate fragmented``), 128 nodes unless ``--nodes``.

Every plan is checked (packer.check) and must move at most its budget; a failure stops the run.
Prints one markdown row per (instance, budget) with the machine load, and writes everything as JSON.

    python bench/bench_reopt.py issue --seeds 5 --budgets 0,8,32,128,all --time-limit 60 --workers 2
    python bench/bench_reopt.py fragmented --seeds 100 101 102 --time-limit 60 --workers 2
    python bench/bench_reopt.py fragmented --nodes 8 --seeds 100 101 102 --budgets 0,8,all --time-limit 20 \
        --json bench/reopt_small.json [--split-only]

``--split-only``: never the exact model (reopt.EXACT_HYBRID_VARIABLES = 0), to compare small clusters
with the path they took before it. ``--moves``: also plan the move sequence of every budget's plan
(packer.moves.planner.plan_moves) and replay it with the independent checker (packer.check_moves);
a sequence that does not replay stops the run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def state(family: str, seed: int, nodes: int | None):  # type: ignore[no-untyped-def]
    if family == "issue":
        from reopt_state import fragmented_state

        return fragmented_state(seed, nodes=nodes)
    from packer.generate import generate

    return generate(family, seed, nodes=nodes)


def timed_run(inst, time_limit: float, workers: int, arm: str = ""):  # type: ignore[no-untyped-def]
    """One run at the issue recipe, what ``packer bench`` runs on a running cluster with no migration cap:
    ``reopt.curve(inst, [None], time_limit, workers)``, its plan checked (a failure stops the bench).
    Returns (the point, its row, the migration cost of the running work it moved, [load before, after])."""
    from packer.check import check
    from packer.cpsat import reopt
    from packer.plans import migration_cost

    load0 = os.getloadavg()[0]
    pt = reopt.curve(inst, [None], time_limit=time_limit, workers=workers, seed=0)[-1]
    rep = check(inst, pt.plan)
    assert rep.ok, (inst.name, arm)
    placed = {a.request: a.units for a in pt.plan.assignments}
    cost = sum(migration_cost(inst, r) for r in inst.requests
               if r.placement is not None and r.id in placed and reopt.moves(inst, {r.id: placed[r.id]}))
    return pt, pt.row(), cost, [round(load0, 2), round(os.getloadavg()[0], 2)]


def state_parser(doc: str | None, default_seed: int = 0) -> argparse.ArgumentParser:
    """The arguments every re-optimization bench shares: which running states (family, seeds, nodes)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("family", choices=("issue", "fragmented"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[default_seed])
    ap.add_argument("--nodes", type=int, default=None)
    return ap


def det_parser(doc: str | None) -> argparse.ArgumentParser:
    """The arguments of the deterministic move-step benches: the states, ``--steps`` CP-SAT steps of ``--det``
    deterministic time each, ``--start-s`` seconds of the shared no-move solve, ``--json``."""
    ap = state_parser(doc)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--det", type=float, default=1.0, help="CP-SAT deterministic time per region step")
    ap.add_argument("--start-s", type=float, default=10.0, help="seconds of the shared no-move solve")
    ap.add_argument("--json", default=None)
    return ap


def det_start(inst, start_s: float):  # type: ignore[no-untyped-def]
    """The shared start of a deterministic A/B: the no-move plan (one worker), the stays LP (its bound) and
    its guide. Returns (placed, BudgetBound, guide)."""
    from packer.cpsat import reopt

    start = reopt.no_move_plan(inst, time_limit=start_s, seed=0, workers=1)
    placed = {a.request: list(a.units) for a in start.assignments}
    bb = reopt.BudgetBound(inst)
    bb.stays_lp(None, 60.0)
    return placed, bb, reopt._guide_of(bb, inst, None)


def main() -> int:
    ap = state_parser(__doc__, default_seed=5)
    ap.add_argument("--budgets", default="0,8,32,128,all")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", default=None, help="write the results here (default bench/reopt_<family>.json)")
    ap.add_argument("--split-only", action="store_true", help="never use the exact model (comparison)")
    ap.add_argument("--moves", action="store_true", help="plan and replay each plan's move sequence")
    ap.add_argument("--no-guide", action="store_true", help="aimed steps by room alone, not the repack LP (A/B)")
    ap.add_argument("--no-exchange", action="store_true",
                    help="aimed steps without the LP's exchange nodes (reopt.EXCHANGE = False; A/B)")
    ap.add_argument("--no-wide", action="store_true", help="no regions sized to the aimed request (reopt.WIDE = False; A/B)")
    ap.add_argument("--no-gang", action="store_true",
                    help="no gang steps (packer.cpsat.reopt_gang.GANG = False; the A/B arm of session 9)")
    ap.add_argument("--no-fill", action="store_true",
                    help="tenant steps without the fill offer (packer.cpsat.reopt.TENANT_FILL = False; session 10's A/B arm)")
    ap.add_argument("--no-links", action="store_true",
                    help="the stays LP without its ownership links (reopt_stays.OWN_LINKS = False; session 11's A/B arm)")
    ap.add_argument("--no-spread", action="store_true",
                    help="no spread steps (packer.cpsat.reopt_spread.SPREAD = False; session 12's A/B arm)")
    ap.add_argument("--no-grow", action="store_true",
                    help="regions of fixed size (packer.cpsat.reopt.GROW = False; session 14's A/B arm)")
    ap.add_argument("--no-late", action="store_true",
                    help="the LPs first, then the steps (packer.cpsat.reopt.LATE_LP = False; session 15's A/B arm)")
    ap.add_argument("--pack", choices=("on", "off"), default=None,
                    help="pack steps on/off (packer.cpsat.reopt_pack.PACK; session 17's A/B; default: as the code has it)")
    ap.add_argument("--gangcap", choices=("on", "off"), default=None,
                    help="the repack/stays LP places no whole-GPU request wider than the whole GPUs running work leaves "
                         "(packer.cpsat.reopt_gangcap.FIX; default: as the code has it). It does NOT reach the LP "
                         "child process of a timed run (reopt.LATE_LP), which imports the default: use --no-late with it")
    args = ap.parse_args()
    if args.gangcap is not None:
        from packer.cpsat import reopt_gangcap as _gangcap

        _gangcap.FIX = args.gangcap == "on"
    if args.pack is not None:
        from packer.cpsat import reopt_pack as _pack

        _pack.PACK = args.pack == "on"
    if args.no_late:
        import packer.cpsat.reopt as _reopt_l

        _reopt_l.LATE_LP = False
    if args.no_grow:
        import packer.cpsat.reopt as _reopt

        _reopt.GROW = False
    if args.no_spread:
        from packer.cpsat import reopt_spread

        reopt_spread.SPREAD = False
    if args.no_links:
        from packer.cpsat import reopt_stays

        reopt_stays.OWN_LINKS = False
    if args.no_fill:
        import packer.cpsat.reopt as reopt_f

        reopt_f.TENANT_FILL = False
    if args.no_gang:
        from packer.cpsat import reopt_gang

        reopt_gang.GANG = False
    if args.no_wide:
        import packer.cpsat.reopt as reopt_w

        reopt_w.WIDE = False
    if args.no_exchange:
        import packer.cpsat.reopt as reopt_x

        reopt_x.EXCHANGE = False
    if args.no_guide:
        import packer.cpsat.reopt as reopt_mod

        reopt_mod.LP_GUIDE = False
    if args.split_only:
        import packer.cpsat.reopt as reopt

        reopt.EXACT_HYBRID_VARIABLES = 0

    from packer.check import check
    from packer.cpsat.reopt import curve
    from packer.reopt_commands import parse_budgets

    budgets = parse_budgets(args.budgets)
    out_path = Path(args.json or Path(__file__).resolve().parent / f"reopt_{args.family}.json")
    results = json.loads(out_path.read_text()) if out_path.exists() else {}
    print("| instance | budget | objective | bound | gap | migrations | utilization | wall s | load (1 min) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes)
        running = sum(1 for r in inst.requests if r.placement is not None)
        movable = sum(1 for r in inst.requests if r.placement is not None and r.movable)
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        points = curve(inst, budgets, time_limit=args.time_limit, workers=args.workers, seed=0)
        rows = []
        for pt in points:
            rep = check(inst, pt.plan)
            assert rep.ok, (inst.name, pt.budget, rep.kinds() if hasattr(rep, "kinds") else rep.violations[:3])
            assert pt.budget is None or pt.moves <= pt.budget, (inst.name, pt.budget, pt.moves)
            row = pt.row()
            if args.moves:
                from packer.check_moves import check_moves
                from packer.moves.planner import plan_moves

                seq = plan_moves(inst, pt.plan)
                mrep = check_moves(inst, pt.plan, seq)
                assert mrep.ok, (inst.name, pt.budget, mrep.format())
                row["moves_replayed"] = True
                row["sequence"] = {k: v for k, v in seq.stats.items() if k in ("steps", "waves", "temporary_stops")}
            row["load"] = round(os.getloadavg()[0], 2)
            row["steps"] = pt.info.get("steps")
            row["bound_s"] = pt.info.get("bound_s")
            row["late_lp"] = pt.info.get("late_lp")
            nm = pt.info.get("no_move_objective")
            if nm:  # the first budget's own no-move plan (its start)
                row["no_move_objective"] = nm
                row["gain_vs_no_move"] = round(row["objective"] / nm - 1, 6)
            if "final" in pt.info:
                row["final"] = pt.info["final"]
            rows.append(row)
            gap = "-" if row["gap"] is None else f"{100 * row['gap']:.2f}%"
            bound = "-" if row["bound"] is None else f"{row['bound']:.2f}"
            print(f"| {inst.name}{' (split)' if args.split_only else ''} | {row['budget']} | {row['objective']:.2f} | {bound} | {gap} | {row['migrations']} "
                  f"| {100 * row['utilization']:.2f}% | {row['wall_s']:.1f} | {row['load']} |"
                  f"{' gain vs no-move ' + format(100 * row['gain_vs_no_move'], '+.2f') + '% |' if 'gain_vs_no_move' in row else ''}{(' replayed: ' + str(row['sequence'])) if args.moves else ''}", flush=True)
        base = points[0].plan.objective if points and points[0].budget == 0 else None
        key = f"{inst.name}/{inst.num_gpus}" + ("/split" if args.split_only else "") + ("/noguide" if args.no_guide else "") + ("/noexchange" if args.no_exchange else "") + ("/nowide" if args.no_wide else "") + ("/nogang" if args.no_gang else "") + ("/nofill" if args.no_fill else "") + ("/nolinks" if args.no_links else "") + ("/nospread" if args.no_spread else "") + ("/nogrow" if args.no_grow else "") + ("/nolate" if args.no_late else "") + ("" if args.pack is None else f"/pack{args.pack}") + ("" if args.gangcap is None else f"/gangcap{args.gangcap}")
        results[key] = {"gangcap": args.gangcap, "pack": args.pack, "late": not args.no_late, "grow": not args.no_grow, "spread": not args.no_spread, "fill": not args.no_fill, "links": not args.no_links, "family": args.family, "split_only": args.split_only, "guide": not args.no_guide, "exchange": not args.no_exchange, "wide": not args.no_wide, "gang": not args.no_gang, "seed": seed, "gpus": inst.num_gpus, "running": running,
                                   "movable": movable,
                                   "waiting": len(inst.requests) - running, "time_limit_s": args.time_limit,
                                   "workers": args.workers, "load_start": round(load0, 2),
                                   "total_s": round(time.perf_counter() - t0, 1), "rows": rows,
                                   "gain_all_vs_0": None if base is None or base == 0 else
                                   round(points[-1].plan.objective / base - 1, 6)}
        out_path.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
