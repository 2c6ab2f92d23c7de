"""Benchmark: every replay policy on the default openb trace under the FGD protocol, 10 seeds.

Writes bench/replay_default.json (all runs, with the offline ceiling), bench/replay_default.md (the
table next to FGD's published numbers) and bench/replay_default.png (allocation curves).

    python bench/bench_replay.py [--seeds 42-51] [--policies all] [--no-plot]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from packer.progress import Progress
from packer.replay.commands import add_bound
from packer.replay.openb import read_nodes, read_pods
from packer.replay.protocol import parse_seeds
from packer.replay.published import read_published
from packer.replay.report import plot, table
from packer.replay.runner import POLICY_NAMES, run_policy

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT.parent / "shared" / "traces" / "alibaba-gpu-v2023"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="42-51")
    ap.add_argument("--policies", default="all")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "bench" / "replay_default"))
    a = ap.parse_args()
    seeds = parse_seeds(a.seeds)
    names = POLICY_NAMES if a.policies == "all" else tuple(a.policies.split(","))
    cluster = read_nodes(TRACES / "csv" / "openb_node_list_gpu_node.csv")
    pods = read_pods(TRACES / "csv" / "openb_pod_list_default.csv", cluster)
    published = read_published(TRACES / "fgd-expected-results" / "analysis_allo_discrete.csv")
    results = []
    for name in names:
        t0 = time.perf_counter()
        res = run_policy(cluster, pods, name, seeds, progress=Progress(f"replay {name}"))
        res["replay_wall_s"] = time.perf_counter() - t0
        add_bound(res, cluster, pods, 1.3)
        results.append(res)
        print(f"{name:14s} alloc@100 {res['allocation_pct']['100']:.2f}  alloc@130 {res['allocation_pct']['130']:.2f}"
              f"  unallocated {res['unallocated_gpus']['130']:.1f}  replay {res['replay_wall_s']:.1f}s", flush=True)
    out = Path(a.out)
    out.with_suffix(".json").write_text(json.dumps({"runs": results}, indent=1) + "\n")
    out.with_suffix(".md").write_text(table(results, published) + "\n")
    if not a.no_plot:
        plot(results, out.with_suffix(".png"), published)
    print(table(results, published))


if __name__ == "__main__":
    main()
