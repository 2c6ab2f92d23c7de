"""The openb replay through the library's online placer beside the dedicated engine.

For each policy, seeds 42-51 of the default workload (FGD's protocol: 130% stream, arrivals only)
run through ``packer.replay.via_placer.replay_with_placer`` (``OnlinePlacer.place``, one pod at a time)
and through ``packer.replay.runner.run_seed`` (the tracesim engine), one seed after the other in one
thread. Writes ``bench/replay_placer.json`` (the two paths' ``packer replay`` summaries per policy,
per-seed headline numbers) and ``bench/replay_placer.md`` (the table).

Run pinned to one core on a shared machine:
``NUMBA_NUM_THREADS=1 taskset -c 0 python bench/bench_replay_placer.py``
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from statistics import mean, pstdev
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from packer.replay.openb import read_nodes, read_pods  # noqa: E402
from packer.replay.protocol import parse_seeds, typical_pods  # noqa: E402
from packer.replay.runner import run_seed, summarise  # noqa: E402
from packer.replay.via_placer import placer_policy, run_seed_placer  # noqa: E402

TRACE = Path("/work/shared/traces/alibaba-gpu-v2023/csv")
if not TRACE.exists():
    TRACE = ROOT.parent / "shared" / "traces" / "alibaba-gpu-v2023" / "csv"


def _headline(r: dict[str, Any]) -> dict[str, Any]:
    keep = ("seed", "num_pods", "num_tuned", "failed_pods", "failed_gpu_pods", "arrived_milli", "used_milli",
            "final_allocation_pct", "wall_s")
    out = {k: r[k] for k in keep}
    out["allocation_pct_100"] = r["allocation_pct"][100]
    out["allocation_pct_130"] = r["allocation_pct"][130]
    return out


def _run(path: str, cluster, pods, tp, policy: str, seeds: list[int], inflation: float) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    one = run_seed_placer if path == "placer" else run_seed
    one(cluster, pods, policy, seeds[0], 0.05, tp=tp)  # JIT load / compile (a 5% stream), not timed
    t0 = time.perf_counter()
    per_seed = []
    for s in seeds:
        per_seed.append(one(cluster, pods, policy, s, inflation, tp=tp))
        print(f"  {path} {policy} seed {s}: {per_seed[-1]['allocation_pct'][130]} "
              f"({per_seed[-1]['wall_s']:.2f} s)", flush=True)
    wall = time.perf_counter() - t0
    summ = summarise(policy, per_seed, cluster, inflation, wall, len(tp))
    a100 = [r["allocation_pct"][100] for r in per_seed]
    summ["allocation_pct_std"]["100"] = pstdev(a100) if len(a100) > 1 else 0.0
    summ["failed_pods_mean"] = mean(r["failed_pods"] for r in per_seed)
    summ["failed_gpu_pods_mean"] = mean(r["failed_gpu_pods"] for r in per_seed)
    summ["per_seed"] = [_headline(r) for r in per_seed]
    summ["path"] = path
    if path == "placer":
        summ["placer_policy"] = placer_policy(policy)
    return summ


def _fmt(v: float | None, nd: int = 2) -> str:
    return "–" if v is None else f"{v:.{nd}f}"


def table(res: dict[str, Any]) -> str:
    lines = [
        "| policy | path | alloc@100 | sd@100 | alloc@130 | sd@130 | unalloc GPUs@130 | failed pods | "
        f"failed GPU pods | frag amount@100 | wall ({len(res['seeds'])} seeds) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for pol, both in res["policies"].items():
        for path in ("engine", "placer"):
            s = both[path]
            name = s.get("placer_policy", pol) if path == "placer" else pol
            lines.append(
                f"| {pol} | {path} (`{name}`) | {_fmt(s['allocation_pct']['100'])} | "
                f"{_fmt(s['allocation_pct_std']['100'])} | {_fmt(s['allocation_pct']['130'])} | "
                f"{_fmt(s['allocation_pct_std']['130'])} | {_fmt(s['unallocated_gpus'].get('130'), 1)} | "
                f"{_fmt(s['failed_pods_mean'], 1)} | {_fmt(s['failed_gpu_pods_mean'], 1)} | "
                f"{_fmt(s['frag_amount_pct']['100'])} | {s['wall_s']:.1f} s |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", default=str(TRACE / "openb_node_list_gpu_node.csv"))
    ap.add_argument("--pods", default=str(TRACE / "openb_pod_list_default.csv"))
    ap.add_argument("--seeds", default="42-51")
    ap.add_argument("--policies", default="packer,fgd,bestfit,firstfit")
    ap.add_argument("--inflation", type=float, default=1.3)
    ap.add_argument("--out", default=str(ROOT / "bench" / "replay_placer"))
    args = ap.parse_args()
    seeds = parse_seeds(args.seeds)
    cluster = read_nodes(args.nodes)
    pods = read_pods(args.pods, cluster)
    tp = typical_pods(pods)
    res: dict[str, Any] = {
        "format": "packer.bench.replay_placer/v1",
        "nodes": args.nodes, "pods": args.pods, "seeds": seeds, "inflation": args.inflation,
        "num_gpus": cluster.num_gpus, "num_nodes": cluster.num_nodes,
        "machine": f"{platform.machine()}, {platform.python_version()}, one thread (taskset -c 0 advised)",
        "policies": {},
    }
    for pol in args.policies.split(","):
        pol = pol.strip()
        res["policies"][pol] = {path: _run(path, cluster, pods, tp, pol, seeds, args.inflation)
                                for path in ("engine", "placer")}
        Path(args.out + ".json").write_text(json.dumps(res, indent=1))
    md = [
        "# openb replay: the online placer beside the engine",
        "",
        f"Default workload ({cluster.num_nodes} nodes, {cluster.num_gpus} GPUs), seeds {args.seeds}, "
        f"{int(round(100 * args.inflation))}% stream, arrivals only. Means over seeds; sd is the population sd "
        "over seeds; failed pods are means per seed; wall is the whole seed loop in one thread (JIT load excluded).",
        "",
        table(res),
        "",
        "`python bench/bench_replay_placer.py` (pinned: `NUMBA_NUM_THREADS=1 taskset -c 0 ...`)",
        "",
    ]
    Path(args.out + ".md").write_text("\n".join(md))
    print(table(res))


if __name__ == "__main__":
    main()
