"""Seed-by-seed comparisons for session 20 (issue 17 part 4), saturated-window allocation.

    python bench/bench_replay_dynamic_s20_cmp.py OUT.json [OUT2.json ...]            # tuning seeds 0-4
    python bench/bench_replay_dynamic_s20_cmp.py --heldout OUT.json [OUT2.json ...]  # held-out seeds 100-104

Tuning: a bench_replay_dynamic.py OUT.json's rebalanced runs against session 19's packer + rebalance runs on
the same seeds (bench/replay_dynamic_gap.json, arm "rebalanced"). Held-out: against session 6's runs in
bench/replay_dynamic.json (the same policy rebalanced, and fgd plain). Per seed: new, new − old, new − fgd
plain (held-out), pods migrated new / old.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from statistics import median
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _session6() -> tuple[dict[tuple[Any, ...], dict[str, Any]], dict[tuple[Any, ...], dict[str, Any]]]:
    old, fgd = {}, {}
    for run in json.loads((ROOT / "bench" / "replay_dynamic.json").read_text())["runs"]:
        for x in run["per_seed"]:
            key = (run["workload"], run["compress"], run["policy"], x["seed"])
            if run["rebalance_every"]:
                old[key] = x
            elif run["policy"] == "fgd":
                fgd[(run["workload"], run["compress"], x["seed"])] = x
    return old, fgd


def main() -> None:
    args = sys.argv[1:]
    held = bool(args) and args[0] == "--heldout"
    files = args[1:] if held else args
    if held:
        old, fgd = _session6()
    else:
        old = {(r["workload"], r["compress"], r["policy"], r["seed"]): r
               for r in json.loads((ROOT / "bench" / "replay_dynamic_gap.json").read_text()) if r["arm"] == "rebalanced"}
        fgd = {}
    print("| file | workload | K | per seed (seed: new, new − old" + (", new − fgd plain" if held else "")
          + ", migrated new / old) | median new − old | median new" + (" − fgd plain" if held else "") + " |")
    print("|---|---|---:|---|---:|---:|")
    for f in files:
        for run in json.loads(Path(f).read_text())["runs"]:
            cells, d_old, d_fgd = [], [], []
            for x in run["per_seed"]:
                b = old.get((run["workload"], run["compress"], run["policy"], x["seed"]))
                if b is None:
                    continue
                new = x["sat_avg_allocation_pct"]
                d_old.append(new - b["sat_avg_allocation_pct"])
                cell = f"{x['seed']}: {new:.2f}, {d_old[-1]:+.3f}"
                if held:
                    d_fgd.append(new - fgd[(run["workload"], run["compress"], x["seed"])]["sat_avg_allocation_pct"])
                    cell += f", {d_fgd[-1]:+.2f}"
                cells.append(cell + f", {x['pods_migrated']} / {b['pods_migrated']}")
            if d_old:
                last = median(d_fgd) if held else median(x["sat_avg_allocation_pct"] for x in run["per_seed"])
                print(f"| {Path(f).name} | {run['workload']} | {run['compress']:g} | {'; '.join(cells)} | "
                      f"{median(d_old):+.3f} | {last:+.2f} |" if held else
                      f"| {Path(f).name} | {run['workload']} | {run['compress']:g} | {'; '.join(cells)} | "
                      f"{median(d_old):+.3f} | {last:.2f} |")


if __name__ == "__main__":
    main()
