"""Gap table (per family: each seed, median, worst) of a `packer bench` JSON file, for bench/RESULTS_cpsat.md.

    python bench/bench_cpsat_value_report.py bench/suite_cpsat1024_s5.json
"""

from __future__ import annotations

import json
import statistics
import sys


def main() -> None:
    path = sys.argv[1]
    rows = json.load(open(path))["results"]
    seeds = sorted({r["seed"] for r in rows})
    families = list(dict.fromkeys(r["family"] for r in rows))
    print("| family | " + " | ".join(str(s) for s in seeds) + " | median | worst | load | all checked |")
    print("|---" * (len(seeds) + 5) + "|")
    for fam in families:
        got = {r["seed"]: r for r in rows if r["family"] == fam}
        gaps = {s: 100 * (r["bound"] - r["objective"]) / r["bound"] for s, r in got.items()}
        loads = [r["load"] for r in got.values()]
        cells = [f"{gaps[s]:.2f} %" if s in gaps else "-" for s in seeds]
        print(f"| {fam} | " + " | ".join(cells) + f" | {statistics.median(gaps.values()):.2f} % | "
              f"{max(gaps.values()):.2f} % | {min(loads):.1f}-{max(loads):.1f} | "
              f"{all(r['ok'] for r in got.values())} |")


if __name__ == "__main__":
    main()
