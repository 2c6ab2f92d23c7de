"""Dynamic trace replay (issue 17 part 4): arrivals and departures (packer.replay.deferral) with and
without periodic re-optimisation under a migration budget (packer.replay.rebalance), fgd and packer on
identical streams; seed medians.

    python bench/bench_replay_dynamic.py [--seeds 100-104] [--policies fgd,packer]
        [--workloads default,cpu050,gpushare40,multigpu20] [--compress 1,10000,30000]
        [--rebalance-every 20] [--max-moves 8] [--migration-budget 1] [--workers 2]
        [--min-gain 1] [--no-pace] [--arms both|rebalanced] [--append] [--out PATH]
    python bench/bench_replay_dynamic.py --paired OLD.json [--out PATH]   # no runs: per-seed comparison

``--paired OLD.json`` compares OUT.json's rebalanced runs seed by seed with OLD.json's (the first, unpaced
rebalancer's runs are kept in bench/replay_dynamic_unpaced.json and bench/replay_dynamic_seeds42_unpaced.json):
per (workload, K, policy), each seed's saturated-window allocation new − old, new − the same policy's plain
run, new − fgd's plain run, and the % of pods migrated.

The rebalancer runs as :func:`packer.replay.rebalance.replay_dynamic` sets it: budget earned as pods arrive
(``--no-pace``: spendable at once), any gain per migration (``--min-gain``: GPU milli a migration must start;
1000 with ``--no-pace`` is the first version's setting). ``--arms rebalanced`` runs only the rebalanced arm
(the plain runs do not depend on the rebalancer; with ``--append`` the plain rows already in OUT.json stay).
K = 1 is the trace's real times. A list without creation/deletion times (the multi-GPU ones) cannot be
replayed with departures; it is listed as such. (The arms --device-fit, --chain, --pair and --rho-* set rules
removed in session 26; they run at git tag flags-s25.) Writes bench/replay_dynamic.{json,md} and the table
between the markers of the "Issue 17 part 4" section of bench/RESULTS_replay.md (another --out: only
its .json and .md).
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

from packer.replay.openb import read_nodes, read_pods
from packer.replay.protocol import parse_seeds
from packer.replay.rebalance import run_dynamic

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT.parent / "shared" / "traces" / "alibaba-gpu-v2023" / "csv"
BEGIN, END = "<!-- bench_replay_dynamic:begin -->", "<!-- bench_replay_dynamic:end -->"


@cache
def _load(workload: str):  # type: ignore[no-untyped-def]
    cluster = read_nodes(TRACES / "openb_node_list_gpu_node.csv")
    return cluster, read_pods(TRACES / f"openb_pod_list_{workload}.csv", cluster)


def _job(args: tuple[str, float, str, int, int, float, int, bool, list[int]]) -> dict[str, Any]:
    workload, k, policy, every, moves, budget, min_gain, pace, seeds = args
    cluster, pods = _load(workload)
    t0 = time.perf_counter()
    r = run_dynamic(cluster, pods, policy, seeds, compress=k, rebalance_every=every, max_moves=moves,
                    budget_pct=budget, min_gain_per_move=min_gain, pace=pace)
    r.update(workload=workload, compress=k, wall_s=time.perf_counter() - t0)
    return r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="100-104")
    ap.add_argument("--policies", default="fgd,packer")
    ap.add_argument("--workloads", default="default,cpu050,gpushare40,multigpu20")
    ap.add_argument("--compress", default="1,10000,30000")
    ap.add_argument("--rebalance-every", type=int, default=20)
    ap.add_argument("--max-moves", type=int, default=8)
    ap.add_argument("--migration-budget", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--min-gain", type=int, default=1)
    ap.add_argument("--no-pace", action="store_true")
    ap.add_argument("--arms", choices=("both", "rebalanced"), default="both")
    ap.add_argument("--out", default=str(ROOT / "bench" / "replay_dynamic"))  # resolved below
    ap.add_argument("--append", action="store_true", help="keep the runs already in OUT.json (a new run with the "
                                                         "same workload, K, policy and rebalancing replaces one)")
    ap.add_argument("--paired", default=None, metavar="OLD.json")
    a = ap.parse_args()
    if a.paired:
        print(_paired(json.loads(Path(a.out).resolve().with_suffix(".json").read_text()),
                      json.loads(Path(a.paired).read_text())))
        return
    seeds = parse_seeds(a.seeds)
    jobs, skipped = [], []
    for w in a.workloads.split(","):
        if not _load(w)[1].has_times:
            skipped.append(w)
            continue
        for k in (float(x) for x in a.compress.split(",")):
            for pol in a.policies.split(","):
                arms = ((0, 0), (a.rebalance_every, a.max_moves)) if a.arms == "both" else ((a.rebalance_every,
                                                                                             a.max_moves),)
                for every, moves in arms:
                    jobs.append((w, k, pol, every, moves, a.migration_budget, a.min_gain, not a.no_pace, seeds))
    out = Path(a.out).resolve()
    rows: list[dict[str, Any]] = []
    if a.append and out.with_suffix(".json").exists():
        new = {(w, k, pol, every) for w, k, pol, every, *_ in jobs}
        old = json.loads(out.with_suffix(".json").read_text())
        rows = [r for r in old["runs"] if (r["workload"], r["compress"], r["policy"], r["rebalance_every"]) not in new]
        skipped = sorted(set(skipped) | set(old["skipped_no_times"]))
    with ProcessPoolExecutor(max_workers=a.workers) as ex:
        for r in ex.map(_job, jobs):
            rows.append(r)
            print(f"{r['workload']} K={r['compress']:g} {r['policy']} rebalance={r['rebalance_every']}/"
                  f"{r['max_moves']}: time-avg {r['time_avg_allocation_pct']:.2f} saturated "
                  f"{r['sat_avg_allocation_pct'] or 0:.2f} final {r['final_allocation_pct']:.2f} migrated "
                  f"{r['pods_migrated']:.0f} ({r['pods_migrated_pct']:.2f}%) ({r['wall_s']:.0f} s)", flush=True)
    rows.sort(key=lambda r: (r["workload"], r["compress"], r["policy"], r["rebalance_every"]))
    out.with_suffix(".json").write_text(json.dumps({"skipped_no_times": skipped, "runs": rows}, indent=1) + "\n")
    table = _table(rows, skipped)
    out.with_suffix(".md").write_text(table + "\n")
    res = ROOT / "bench" / "RESULTS_replay.md"
    text = res.read_text()
    if BEGIN in text and END in text and out == ROOT / "bench" / "replay_dynamic":  # other --out: files only
        head, rest = text.split(BEGIN, 1)
        res.write_text(head + BEGIN + "\n" + table + "\n" + END + rest.split(END, 1)[1])
    print(table)


def _paired(new: dict[str, Any], old: dict[str, Any]) -> str:
    """Per seed: rebalanced new − old, new − same policy plain, new − fgd plain (saturated window)."""
    def index(runs: list[dict[str, Any]]) -> dict[tuple[Any, ...], dict[int, dict[str, Any]]]:
        return {(r["workload"], r["compress"], r["policy"], bool(r["rebalance_every"])):
                {x["seed"]: x for x in r["per_seed"]} for r in runs}

    n, o = index(new["runs"]), index(old["runs"])
    lines = ["| workload | K | policy | per seed: new − old | new − own plain | new − fgd plain (min) | "
             "% pods migrated (max) |", "|---|---:|---|---|---|---|---:|"]
    for (w, k, pol, reb), seeds in sorted(n.items()):
        if not reb or seeds[next(iter(seeds))]["sat_avg_allocation_pct"] is None:
            continue
        sat = {s: x["sat_avg_allocation_pct"] for s, x in seeds.items()}
        old_r, own, fgd = o.get((w, k, pol, True), {}), n.get((w, k, pol, False), {}), n.get((w, k, "fgd", False), {})

        def diff(ref: dict[int, dict[str, Any]], sat: dict[int, float] = sat) -> list[float]:
            return [sat[s] - ref[s]["sat_avg_allocation_pct"] for s in sorted(sat) if s in ref]

        d_old, d_own, d_fgd = diff(old_r), diff(own), diff(fgd)
        lines.append(f"| {w} | {k:g} | {pol} | {' '.join(f'{x:+.2f}' for x in d_old)} | "
                     f"{' '.join(f'{x:+.2f}' for x in d_own)} | {' '.join(f'{x:+.2f}' for x in d_fgd)} "
                     f"({min(d_fgd, default=float('nan')):+.2f}) | "
                     f"{max(x['pods_migrated'] / x['num_pods'] * 100 for x in seeds.values()):.2f} |")
    return "\n".join(lines)


def _table(rows: list[dict[str, Any]], skipped: list[str]) -> str:
    """The medians per (workload, K, policy, rebalancing), and each rebalanced run's gain."""
    plain = {(r["workload"], r["compress"], r["policy"]): r for r in rows if not r["rebalance_every"]}
    fgd = {(r["workload"], r["compress"]): r for r in rows if not r["rebalance_every"] and r["policy"] == "fgd"}
    lines = ["| workload | K | policy | rebalance | time-avg alloc % (all / saturated window) | final alloc % | "
             "pods migrated (count / % of pods) | waiting at end | mean wait s | saturated − same policy "
             "plain (pts) | saturated − fgd plain (pts) |",
             "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        key = (r["workload"], r["compress"], r["policy"])
        rb = (f"every {r['rebalance_every']}, ≤{r['max_moves']}/call" + (", paced" if r.get("pace") else "")
              if r["rebalance_every"] else "no")
        sat = r["sat_avg_allocation_pct"]
        own, f = plain.get(key), fgd.get(key[:2])
        d_own = f"{sat - own['sat_avg_allocation_pct']:+.2f}" if sat is not None and own else "-"
        d_fgd = f"{sat - f['sat_avg_allocation_pct']:+.2f}" if sat is not None and f else "-"
        sat_s = "- (never saturated)" if sat is None else f"{sat:.2f}"
        lines.append(f"| {r['workload']} | {r['compress']:g} | {r['policy']} | {rb} | "
                     f"{r['time_avg_allocation_pct']:.2f} / {sat_s} | "
                     f"{r['final_allocation_pct']:.2f} | {r['pods_migrated']:.0f} / {r['pods_migrated_pct']:.2f} | "
                     f"{r['waiting_at_end']:.0f} | {r['mean_wait_s']:.2f} | {d_own} | {d_fgd} |")
    if skipped:
        lines.append("")
        lines.append(f"Not replayable with departures (no creation/deletion times in the list): {', '.join(skipped)}.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
