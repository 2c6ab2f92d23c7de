"""The ``packer replay`` subcommand: FGD-protocol trace replay of one or more policies."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from packer.errors import InputError
from packer.parallel import TaskPool, address_of
from packer.parallel import add_arguments as add_ray_arguments

DEFAULT_POLICY = "packer"


def register(subparsers: Any) -> None:
    """Adds ``replay`` to an argparse subparsers object (``func`` returns the exit code)."""
    p = subparsers.add_parser(
        "replay", help="replay the Alibaba openb trace under the FGD protocol",
        description="Replays an openb pod list on an openb node list exactly as the FGD paper's simulator "
                    "does (seeded shuffle, tuning to INFLATION x GPU capacity, one pod at a time, no "
                    "departures) and reports GPU allocation and fragmentation binned by arrived demand.",
    )
    p.add_argument("--nodes", required=True, help="openb node list CSV (sn,cpu_milli,memory_mib,gpu,model)")
    p.add_argument("--pods", required=True, help="openb pod list CSV")
    p.add_argument("--policy", default=DEFAULT_POLICY,
                   help="policy name, a comma list, or 'all' (packer, fgd, bestfit, gpupacking, "
                        "gpuclustering, dotproduct, random, firstfit); default packer")
    p.add_argument("--seeds", default="42-51", help="seeds, e.g. 42-51 or 42,45 (default 42-51)")
    p.add_argument("--inflation", type=float, default=1.3, help="tune the pod list to this x GPU capacity")
    p.add_argument("--json", dest="json_out", help="write the results here (one policy: its object)")
    p.add_argument("--published", help="FGD's analysis_allo_discrete.csv, to print its numbers beside ours")
    p.add_argument("--workload", default="default", help="workload name in --published (default: default)")
    p.add_argument("--plot", help="write the allocation-curve figure here (.png/.svg; needs matplotlib)")
    p.add_argument("--bound", action="store_true", help="also compute the offline ceiling per seed")
    p.add_argument("--workers", type=int, default=2, help="seeds replayed in parallel (default 2)")
    p.add_argument("--engine", default="kernels", choices=("kernels", "placer"),
                   help="kernels: the trace-exact replay engine (default); placer: every pod through the "
                        "library's OnlinePlacer (its general-purpose policies, slower)")
    p.add_argument("--protocol", default="fgd", choices=("fgd", "deferral"),
                   help="fgd: FGD's protocol (arrivals only, a pod that does not fit fails; default); deferral: "
                        "arrivals at the trace's creation times / --compress, departures after each pod's trace "
                        "duration, a pod that does not fit waits and is retried when others depart")
    p.add_argument("--compress", type=float, default=10000.0,
                   help="deferral: arrival times are the trace's creation times divided by this (durations kept); "
                        "default 10000")
    p.add_argument("--rebalance-every", type=int, default=0, metavar="N",
                   help="deferral: every N events, migrate running pods so waiting pods start "
                        "(packer.replay.rebalance); 0: never (default)")
    p.add_argument("--max-moves", type=int, default=8, metavar="B",
                   help="deferral with --rebalance-every: at most B migrations per call (default 8)")
    p.add_argument("--migration-budget", type=float, default=1.0, metavar="PCT",
                   help="deferral with --rebalance-every: at most PCT %% of the pods migrated over the run, "
                        "earned as pods arrive (never more than PCT %% of the pods arrived so far; default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    add_ray_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from packer.online.policies import ONLINE, REPLAY, resolve
    from packer.progress import SILENT, Progress
    from packer.replay.openb import read_nodes, read_pods
    from packer.replay.protocol import parse_seeds
    from packer.replay.runner import POLICY_NAMES, run_policy

    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as e:
        raise InputError(str(e), field="--seeds") from None
    if not (0.0 < args.inflation <= 10.0):
        raise InputError("must be in (0, 10]", field="--inflation")
    names = list(POLICY_NAMES) if args.policy == "all" else [x.strip() for x in args.policy.split(",") if x.strip()]
    engine = REPLAY if getattr(args, "engine", "kernels") == "kernels" or args.protocol == "deferral" else ONLINE
    for n in names:
        try:
            resolve(n, engine)  # the replay's names (POLICY_NAMES) or a registry name this engine runs
        except ValueError as e:
            raise InputError(str(e), field="--policy") from None
    if not names:
        raise InputError("no policy", field="--policy")
    cluster = read_nodes(args.nodes)
    pods = read_pods(args.pods, cluster)
    if args.protocol == "deferral":
        return _run_deferral(args, cluster, pods, names, seeds)
    published = None
    if args.published:
        from packer.replay.published import read_published

        published = read_published(args.published)
    results = []
    with TaskPool(address_of(args)):  # one Ray (if asked for) for every policy: run_policy's tasks join it
        for name in names:
            prog = SILENT if args.quiet else Progress(f"replay {name}")
            res = run_policy(cluster, pods, name, seeds, inflation=args.inflation, workers=args.workers,
                             progress=prog, engine=args.engine, ray_address=address_of(args))
            if args.bound:
                add_bound(res, cluster, pods, args.inflation)
            results.append(res)
    from packer.replay.report import table

    print(table(results, published, args.workload))
    if args.json_out:
        obj: dict[str, Any] = results[0] if len(results) == 1 else {"runs": results}
        try:
            Path(args.json_out).write_text(json.dumps(obj, indent=1) + "\n", encoding="utf-8")
        except OSError as e:
            raise InputError(f"cannot write: {e}", file=args.json_out) from None
    if args.plot:
        from packer.replay.report import plot

        plot(results, args.plot, published, args.workload)
    sys.stdout.flush()
    return 0


def _run_deferral(args: argparse.Namespace, cluster, pods, names: list[str], seeds: list[int]) -> int:  # type: ignore[no-untyped-def]
    from packer.replay.deferral import make_deferral_stream, run_deferral

    if not args.compress > 0:
        raise InputError("must be > 0", field="--compress")
    if not pods.has_times:
        raise InputError("the deferral protocol needs creation_time and deletion_time columns", file=args.pods)
    make_deferral_stream(pods, cluster, seeds[0], args.inflation, args.compress)  # input errors before any work
    for name, ok in (("--rebalance-every", args.rebalance_every >= 0), ("--max-moves", args.max_moves >= 0),
                     ("--migration-budget", 0 <= args.migration_budget <= 100)):
        if not ok:
            raise InputError("must be >= 0 (--migration-budget: a percentage, 0 to 100)", field=name)
    if args.rebalance_every > 0:
        from packer.replay.rebalance import dynamic_table, run_dynamic

        results = [run_dynamic(cluster, pods, n, seeds, inflation=args.inflation, compress=args.compress,
                               rebalance_every=args.rebalance_every, max_moves=args.max_moves,
                               budget_pct=args.migration_budget) for n in names]
        print(dynamic_table(results))
    else:
        results = [run_deferral(cluster, pods, n, seeds, inflation=args.inflation, compress=args.compress)
                   for n in names]
        print(deferral_table(results))
    if args.json_out:
        obj: dict[str, Any] = results[0] if len(results) == 1 else {"runs": results}
        try:
            Path(args.json_out).write_text(json.dumps(obj, indent=1) + "\n", encoding="utf-8")
        except OSError as e:
            raise InputError(f"cannot write: {e}", file=args.json_out) from None
    sys.stdout.flush()
    return 0


def deferral_table(results: list[dict[str, Any]]) -> str:
    """Markdown table of :func:`packer.replay.deferral.run_deferral` results (seed means)."""
    lines = ["| policy | time-avg alloc % (all / saturated) | final alloc % | pods waited | mean wait s | "
             "p95 wait s | waiting at end | fluid ceiling % (all / saturated) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['policy']} | {r['time_avg_allocation_pct']:.2f} / {r['sat_avg_allocation_pct']:.2f} | "
                     f"{r['final_allocation_pct']:.2f} | {r['pods_waited']:.1f} | {r['mean_wait_s']:.0f} | "
                     f"{r['p95_wait_s']:.0f} | {r['waiting_at_end']:.1f} | {r['fluid_ceiling_pct']:.2f} / "
                     f"{r['sat_fluid_ceiling_pct']:.2f} |")
    return "\n".join(lines)


_BOUNDS: dict[tuple[object, ...], tuple[float, float]] = {}


def add_bound(res: dict[str, Any], cluster, pods, inflation: float) -> None:  # type: ignore[no-untyped-def]
    """Adds the offline ceiling per seed (LP bound, and a feasible offline placement) and the gaps."""
    from statistics import mean

    from packer.cpsat.ceiling import allocation_bound
    from packer.replay.ceiling import offline_decreasing
    from packer.replay.protocol import make_stream

    per = []
    for r in res["per_seed"]:
        key = (r["seed"], inflation, id(cluster), id(pods))
        if key not in _BOUNDS:  # the ceiling depends on the stream only, not on the policy
            stream = make_stream(pods, cluster, r["seed"], inflation).pods
            _BOUNDS[key] = (allocation_bound(cluster, stream)["bound_pct"],
                            offline_decreasing(cluster, stream, "fgd")["offline_pct"])
        r["bound_pct"], r["offline_pct"] = _BOUNDS[key]
        per.append((r["bound_pct"], r["offline_pct"], r["final_allocation_pct"]))
    res["bound"] = {
        "lp_bound_pct": mean(x[0] for x in per),
        "offline_feasible_pct": mean(x[1] for x in per),
        "gap_pts_130_to_offline_feasible": (mean(x[1] for x in per) - res["allocation_pct"]["130"]
                                            if res["allocation_pct"].get("130") is not None else None),
        "gap_pts_130": (mean(x[0] for x in per) - res["allocation_pct"]["130"]
                        if res["allocation_pct"].get("130") is not None else None),
        "note": "lp_bound_pct: proven upper bound on any placement of the whole 130% stream (GLOP "
                "relaxation, packer.cpsat.ceiling); offline_feasible_pct: a real offline placement "
                "(decreasing size, FGD scoring), so the offline optimum lies between the two.",
    }
