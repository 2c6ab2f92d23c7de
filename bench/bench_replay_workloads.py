"""packer vs FGD (ours) and BestFit on all 17 workloads FGD published, identical paired streams.

A workload's real openb pod list is used wherever it is in shared/ (the default list and eight of
the sixteen variants); the other eight are rebuilt from the default list in their spirit
(packer.replay.workloads) and labelled ``rebuilt`` — their published numbers are for FGD's own,
different, lists.

    python bench/bench_replay_workloads.py [--seeds 42-51] [--policies fgd,packer,bestfit] [--workloads ...] [--ray]

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


def load(cluster, name: str, base):  # type: ignore[no-untyped-def]
    """(pods, source): the real list when shared/ has it, else the rebuilt one."""
    real = TRACES / "csv" / f"openb_pod_list_{name}.csv"
    if real.exists():
        return read_pods(real, cluster), "real"
    return derived_workload(base, cluster, name), "rebuilt"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="42-51")
    ap.add_argument("--policies", default="fgd,packer,bestfit")
    ap.add_argument("--workloads", default=",".join(("default",) + NAMES))
    ap.add_argument("--out", default=str(ROOT / "bench" / "replay_workloads"))
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
        pods, source = load(cluster, w, base)
        row = {"workload": w, "source": source,
               "demand_pct": 100 * float(pods.gpu_demand.sum()) / cluster.capacity_milli}
        for pol in policies:
            t0 = time.perf_counter()
            res = run_policy(cluster, pods, pol, seeds, ray_address=address_of(a))
            row[pol] = {"100": res["allocation_pct"]["100"], "130": res["allocation_pct"]["130"],
                        "std130": res["allocation_pct_std"]["130"], "wall_s": time.perf_counter() - t0,
                        "per_seed_130": [r["allocation_pct"][130] for r in res["per_seed"]]}
            pub = published.get((w, PUBLISHED_NAMES.get(pol, "")))
            if pub:
                row[pol]["published_130"] = pub["mean"][130]
        if "packer" in row and "fgd" in row:
            d = [p - f for p, f in zip(row["packer"]["per_seed_130"], row["fgd"]["per_seed_130"], strict=True)]
            row["packer_minus_fgd"] = sum(d) / len(d)
            row["seeds_won"] = sum(x > 0 for x in d)
        rows.append(row)
        print(w, source, {p: round(row[p]["130"], 2) for p in policies}, flush=True)
    out = Path(a.out)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    head = ("| workload | list | demand % | " + " | ".join(f"{p} @130" for p in policies)
            + " | packer − fgd (pts) | seeds won | published FGD @130 | packer − published FGD |")
    lines = [head, "|---|---|---:|" + "---:|" * (len(policies) + 4)]
    for r in rows:
        pf = published.get((r["workload"], "06-FGD"))
        pub = pf["mean"][130] if pf else float("nan")
        diff = r.get("packer_minus_fgd", float("nan"))
        vs_pub = r["packer"]["130"] - pub if "packer" in r else float("nan")
        lines.append(f"| {r['workload']} | {r['source']} | {r['demand_pct']:.1f} | "
                     + " | ".join(f"{r[p]['130']:.2f}" for p in policies)
                     + f" | {diff:+.2f} | {r.get('seeds_won', '–')}/{len(seeds)} | {pub:.2f} | {vs_pub:+.2f} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
