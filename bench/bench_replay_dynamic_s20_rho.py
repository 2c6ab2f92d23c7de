"""Probe (issue 17 part 4, session 20): how the dynamic replay's saturated window responds to packer's CPU-balance
weight rho (packer.replay.policy.packer_settings: rho = CPU per GPU milli of the typical GPU pod) scaled by a
factor. A diagnostic, not a rule: it patches packer_settings in this process only.

    python bench/bench_replay_dynamic_s20_rho.py WORKLOAD K FACTORS [--rebalanced] [--seeds 0-4]

e.g. ``cpu050 10000 1,1.25``; prints per seed the saturated-window allocation and the median (plain
deferral replay, or packer + rebalance with session 6's settings with --rebalanced).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_replay_dynamic_layouts import _load  # noqa: E402

import packer.replay.policy as pol  # noqa: E402
from packer.replay.deferral import replay_deferral  # noqa: E402
from packer.replay.protocol import parse_seeds  # noqa: E402
from packer.replay.rebalance import replay_dynamic  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workload")
    ap.add_argument("compress", type=float)
    ap.add_argument("factors")
    ap.add_argument("--rebalanced", action="store_true")
    ap.add_argument("--seeds", default="0-4")
    a = ap.parse_args()
    orig = pol.packer_settings
    cluster, pods = _load(a.workload)
    for f in (float(x) for x in a.factors.split(",")):
        pol.packer_settings = lambda tp, f=f: (orig(tp)[0], orig(tp)[1] * f)  # type: ignore[assignment]
        if a.rebalanced:
            rs = [replay_dynamic(cluster, pods, "packer", s, compress=a.compress, rebalance_every=20, max_moves=8)
                  for s in parse_seeds(a.seeds)]
        else:
            rs = [replay_deferral(cluster, pods, "packer", s, compress=a.compress) for s in parse_seeds(a.seeds)]
        vals = [r["sat_avg_allocation_pct"] for r in rs]
        print(a.workload, a.compress, "rebalanced" if a.rebalanced else "plain", "rho x", f, [round(v, 2) for v in vals],
              "median", round(statistics.median(vals), 2), "migrated", [r.get("pods_migrated", 0) for r in rs],
              flush=True)
    pol.packer_settings = orig


if __name__ == "__main__":
    main()
