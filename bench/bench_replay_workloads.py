"""Robustness: packer vs FGD (ours) and BestFit on derived openb workloads (packer.replay.workloads).

The 16 published variant pod lists are not in shared/, so the workloads are rebuilt in their spirit
from the default list; FGD's published numbers for the same names are shown for orientation only.

    python bench/bench_replay_workloads.py [--seeds 42-51] [--policies fgd,packer,bestfit] [--ray]

With ``--ray`` (or ``--ray-address ADDR``) the seeds of each workload and policy run as Ray tasks.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from packer.parallel import TaskPool, address_of
from packer.parallel import add_arguments as add_ray_arguments
from packer.replay.openb import read_nodes, read_pods
from packer.replay.protocol import parse_seeds
from packer.replay.published import read_published
from packer.replay.runner import PUBLISHED_NAMES, run_policy
from packer.replay.workloads import NAMES, derived_workload

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT.parent / "shared" / "traces" / "alibaba-gpu-v2023"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="42-51")
    ap.add_argument("--policies", default="fgd,packer,bestfit")
    ap.add_argument("--workloads", default=",".join(NAMES))
    add_ray_arguments(ap)
    a = ap.parse_args()
    with TaskPool(address_of(a)):  # one Ray (if asked for) for every run_policy call
        _run(a)


def _run(a: argparse.Namespace) -> None:
    seeds = parse_seeds(a.seeds)
    policies = a.policies.split(",")
    cluster = read_nodes(TRACES / "csv" / "openb_node_list_gpu_node.csv")
    base = read_pods(TRACES / "csv" / "openb_pod_list_default.csv", cluster)
    published = read_published(TRACES / "fgd-expected-results" / "analysis_allo_discrete.csv")
    rows = []
    for w in a.workloads.split(","):
        pods = derived_workload(base, cluster, w)
        row = {"workload": w, "demand_pct": 100 * float(pods.gpu_demand.sum()) / cluster.capacity_milli}
        for pol in policies:
            t0 = time.perf_counter()
            res = run_policy(cluster, pods, pol, seeds, ray_address=address_of(a))
            row[pol] = {"100": res["allocation_pct"]["100"], "130": res["allocation_pct"]["130"],
                        "std130": res["allocation_pct_std"]["130"], "wall_s": time.perf_counter() - t0}
            pub = published.get((w, PUBLISHED_NAMES.get(pol, "")))
            if pub:
                row[pol]["published_130"] = pub["mean"][130]
        rows.append(row)
        print(w, {p: round(row[p]["130"], 2) for p in policies}, flush=True)
    out = ROOT / "bench" / "replay_workloads"
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    head = "| workload | demand % | " + " | ".join(f"{p} @130" for p in policies) + \
        " | packer − fgd (pts) | published FGD @130 | published BestFit @130 |"
    lines = [head, "|---|---:|" + "---:|" * (len(policies) + 3)]
    for r in rows:
        pf = published.get((r["workload"], "06-FGD"))
        pb = published.get((r["workload"], "05-BestFit"))
        diff = r["packer"]["130"] - r["fgd"]["130"] if "packer" in r and "fgd" in r else float("nan")
        lines.append(f"| {r['workload']} | {r['demand_pct']:.1f} | "
                     + " | ".join(f"{r[p]['130']:.2f}" for p in policies)
                     + f" | {diff:+.2f} | {pf['mean'][130]:.2f} | {pb['mean'][130]:.2f} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
