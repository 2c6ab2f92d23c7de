"""Session 21 (issue 17 part 4): packer's CPU-balance weight rho by rule (packer.replay.policy.RHO_RULE), A/B on
FGD's static protocol, paired seeds; the rules run one after the other per workload on identical streams.

    NUMBA_NUM_THREADS=1 nice -n 5 python bench/bench_replay_rho21.py [--seeds 0-4] [--rules typical,competing]
        [--workloads default,cpu050,...] [--out bench/replay_rho21_static]

A rule may be a pair BALANCE/WEIGHT (session 23, packer.replay.policy.RHO_SPLIT): the balance rho follows rule
BALANCE, the penalty weight rule WEIGHT (e.g. ``competing/typical``); BALANCE/WEIGHT/CPUONLY also gives CPU-only
pods their own balance (RHO_CPU_ONLY_RULE; WEIGHT ``-``: the balance's); a fourth part FRAC gives fractional pods
theirs (RHO_FRAC_RULE; CPUONLY ``-``: the balance's).

Prints per workload rho under each rule, packer's allocation at 130% per rule, and per seed the later rules
minus the first. Writes OUT.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_replay_workloads import TRACES, load  # noqa: E402

import packer.replay.policy as pol  # noqa: E402
from packer.replay.openb import read_nodes, read_pods  # noqa: E402
from packer.replay.protocol import parse_seeds, typical_pods  # noqa: E402
from packer.replay.runner import run_policy  # noqa: E402
from packer.replay.workloads import NAMES  # noqa: E402


def _apply(spec: str) -> None:
    """Sets the policy's rule from ``spec``: RULE (one rho), BALANCE/WEIGHT (RHO_SPLIT on), or
    BALANCE/WEIGHT/CPUONLY (also RHO_CPU_ONLY_RULE; WEIGHT "-": no split)."""
    bal, weight, cpu_only, frac = ([*spec.split("/"), "", "", ""])[:4]
    pol.RHO_RULE = bal
    pol.RHO_SPLIT = bool(weight) and weight != "-"
    if pol.RHO_SPLIT:
        pol.RHO_WEIGHT_RULE = weight
    pol.RHO_CPU_ONLY_RULE = cpu_only if cpu_only not in ("", "-") else None
    pol.RHO_FRAC_RULE = frac or None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--rules", default="typical,competing")
    ap.add_argument("--workloads", default=",".join(("default",) + NAMES))
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "replay_rho21_static"))
    a = ap.parse_args()
    seeds = parse_seeds(a.seeds)
    rules = a.rules.split(",")
    cluster = read_nodes(TRACES / "csv" / "openb_node_list_gpu_node.csv")
    base = read_pods(TRACES / "csv" / "openb_pod_list_default.csv", cluster)
    rows = []
    keep = (pol.RHO_RULE, pol.RHO_SPLIT, pol.RHO_WEIGHT_RULE, pol.RHO_CPU_ONLY_RULE, pol.RHO_FRAC_RULE)
    try:
        for w in a.workloads.split(","):
            pods, source = load(cluster, w, base)
            tp = typical_pods(pods)
            row = {"workload": w, "source": source, "rho": {}, "rho_params": {}, "per_seed_130": {}, "wall_s": {}}
            for r in rules:
                _apply(r)
                row["rho"][r] = pol.rho_of(tp, cluster)
                row["rho_params"][r] = list(pol.rho_params(tp, cluster))
                t0 = time.perf_counter()
                res = run_policy(cluster, pods, "packer", seeds)
                row["wall_s"][r] = time.perf_counter() - t0
                row["per_seed_130"][r] = [s["allocation_pct"][130] for s in res["per_seed"]]
            ref = row["per_seed_130"][rules[0]]
            row["diff"] = {r: [x - y for x, y in zip(row["per_seed_130"][r], ref, strict=True)] for r in rules[1:]}
            rows.append(row)
            print(w, source, " ".join(f"{r}: rho {row['rho'][r]:.2f} ({row['rho'][r] / row['rho'][rules[0]]:.3f}x) "
                                      f"mean {statistics.fmean(row['per_seed_130'][r]):.3f}" for r in rules),
                  "| diff per seed", {r: [round(x, 2) for x in d] for r, d in row["diff"].items()},
                  "mean", {r: round(statistics.fmean(d), 3) for r, d in row["diff"].items()}, flush=True)
    finally:
        pol.RHO_RULE, pol.RHO_SPLIT, pol.RHO_WEIGHT_RULE, pol.RHO_CPU_ONLY_RULE, pol.RHO_FRAC_RULE = keep
    Path(a.out).with_suffix(".json").write_text(json.dumps({"seeds": seeds, "rules": rules, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
