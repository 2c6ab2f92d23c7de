"""The deferral protocol (packer.replay.deferral): arrivals and departures from the trace's times,
a queue retried on departures; packer vs FGD (ours), with the offline (fluid) ceiling.

    python bench/bench_replay_deferral.py [--seeds 42-51] [--policies packer,fgd]
        [--workloads default,...] [--compress 3000,10000,30000]

Every real pod list with creation/deletion times is replayed (the multi-GPU lists have none).
Writes bench/replay_deferral.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from packer.replay.deferral import run_deferral
from packer.replay.openb import read_nodes, read_pods
from packer.replay.protocol import parse_seeds

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT.parent / "shared" / "traces" / "alibaba-gpu-v2023"
TIMED = ("default", "cpu050", "cpu100", "gpushare40", "gpushare60", "gpuspec10", "gpuspec20")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="42-51")
    ap.add_argument("--policies", default="packer,fgd")
    ap.add_argument("--workloads", default=",".join(TIMED))
    ap.add_argument("--compress", default="10000", help="comma list; the first workload gets all of them, "
                                                        "the others the middle one")
    ap.add_argument("--out", default=str(ROOT / "bench" / "replay_deferral"))
    a = ap.parse_args()
    seeds = parse_seeds(a.seeds)
    ks = [float(x) for x in a.compress.split(",")]
    cluster = read_nodes(TRACES / "csv" / "openb_node_list_gpu_node.csv")
    rows = []
    for wi, w in enumerate(a.workloads.split(",")):
        pods = read_pods(TRACES / "csv" / f"openb_pod_list_{w}.csv", cluster)
        for k in (ks if wi == 0 else [ks[len(ks) // 2]]):
            for pol in a.policies.split(","):
                t0 = time.perf_counter()
                r = run_deferral(cluster, pods, pol, seeds, compress=k)
                r["workload"] = w
                r["wall_s"] = time.perf_counter() - t0
                rows.append(r)
                print(f"{w} k={k:g} {pol}: time-avg {r['time_avg_allocation_pct']:.2f} saturated "
                      f"{r['sat_avg_allocation_pct']:.2f} final {r['final_allocation_pct']:.2f} waited "
                      f"{r['pods_waited']:.1f} waiting@end {r['waiting_at_end']:.1f} ({r['wall_s']:.0f} s)", flush=True)
    out = Path(a.out)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = ["| workload | k | policy | time-avg alloc % | saturated-window alloc % | final alloc % | pods queued | "
             "mean / p95 wait (s) | waiting at end (pods / GPUs) | fluid ceiling % (all / saturated window) |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['workload']} | {r['compress']:g} | {r['policy']} | {r['time_avg_allocation_pct']:.2f} | "
                     f"{r['sat_avg_allocation_pct']:.2f} | {r['final_allocation_pct']:.2f} | {r['pods_waited']:.1f} | "
                     f"{r['mean_wait_s']:.0f} / {r['p95_wait_s']:.0f} | {r['waiting_at_end']:.1f} / "
                     f"{r['waiting_gpu_milli_at_end'] / 1000:.0f} | {r['fluid_ceiling_pct']:.2f} / "
                     f"{r['sat_fluid_ceiling_pct']:.2f} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
