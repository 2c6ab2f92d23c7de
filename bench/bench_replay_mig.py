"""The MIG variant of the openb replay (packer.replay.mig_variant): packer's slot-aware policy against
first-fit, best-fit and FGD adapted to MIG, same seeded streams as the shared-GPU replay.

    python bench/bench_replay_mig.py [--seeds 42-51]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from packer.replay.mig_variant import MIG_MODEL_OF, mig_policy
from packer.replay.openb import read_nodes, read_pods
from packer.replay.protocol import parse_seeds

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT.parent / "shared" / "traces" / "alibaba-gpu-v2023"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="42-51")
    ap.add_argument("--policies", default="firstfit,bestfit,fgd,packer")
    a = ap.parse_args()
    seeds = parse_seeds(a.seeds)
    cluster = read_nodes(TRACES / "csv" / "openb_node_list_gpu_node.csv")
    pods = read_pods(TRACES / "csv" / "openb_pod_list_default.csv", cluster)
    rows = []
    for pol in a.policies.split(","):
        t0 = time.perf_counter()
        r = mig_policy(cluster, pods, pol, seeds)
        r["wall_s"] = time.perf_counter() - t0
        rows.append(r)
        print(pol, r["allocation_pct"], f"{r['wall_s']:.1f}s", flush=True)
    out = ROOT / "bench" / "replay_mig"
    out.with_suffix(".json").write_text(json.dumps({"model_map": MIG_MODEL_OF, "runs": rows}, indent=1) + "\n")
    lines = ["| policy | alloc@100 (%) | alloc@130 (%) | unallocated GPUs @130 | frag amount @130 (%) | "
             "placed pod demand (% of GPUs) | failed pods |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        a130 = r["allocation_pct"]["130"]
        failed = sum(x["failed_pods"] for x in r["per_seed"]) / len(r["per_seed"])
        lines.append(f"| {r['policy']} | {r['allocation_pct']['100']:.2f} | {a130:.2f} | "
                     f"{cluster.num_gpus * (100 - a130) / 100:.1f} | {r['frag_amount_pct']['130']:.2f} | "
                     f"{r['placed_demand_pct']:.2f} | {failed:.0f} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
