"""Session 21: a dynamic-replay run (bench_replay_dynamic.py --out NEW) against an older run of the same seeds
(OLD, e.g. session 6's bench/replay_dynamic.json), per workload × K × arm (plain / rebalanced), packer only.

    python bench/bench_replay_dynamic_s21_cmp.py NEW.json OLD.json [--fgd FGD.json]

Prints a markdown table: per seed new − old (saturated-window allocation), the medians, new − fgd plain (the
median of per-seed differences; fgd's plain runs from FGD.json, default OLD.json) and the pods migrated.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any


def _index(path: str) -> dict[tuple[Any, ...], dict[int, dict[str, Any]]]:
    runs = json.loads(Path(path).read_text())["runs"]
    return {(r["workload"], r["compress"], r["policy"], bool(r["rebalance_every"])): {x["seed"]: x for x in r["per_seed"]}
            for r in runs}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("new")
    ap.add_argument("old")
    ap.add_argument("--fgd", default=None)
    a = ap.parse_args()
    new, old, fgd = _index(a.new), _index(a.old), _index(a.fgd or a.old)
    print("| workload | K | arm | per seed: new − old | median new − old | old / new median | new − fgd plain, median "
          "(per seed) | old − fgd plain, median | pods migrated new (max %) |")
    print("|---|---:|---|---|---:|---|---|---:|---:|")
    for (w, k, pol, reb), seeds in sorted(new.items()):
        if pol != "packer" or (w, k, pol, reb) not in old:
            continue
        o, f = old[(w, k, pol, reb)], fgd.get((w, k, "fgd", False), {})
        ss = sorted(s for s in seeds if s in o and seeds[s]["sat_avg_allocation_pct"] is not None)
        if not ss:
            continue
        nv = [seeds[s]["sat_avg_allocation_pct"] for s in ss]
        ov = [o[s]["sat_avg_allocation_pct"] for s in ss]
        d = [x - y for x, y in zip(nv, ov, strict=True)]
        nf = [seeds[s]["sat_avg_allocation_pct"] - f[s]["sat_avg_allocation_pct"] for s in ss if s in f]
        of = [o[s]["sat_avg_allocation_pct"] - f[s]["sat_avg_allocation_pct"] for s in ss if s in f]
        mig = max(seeds[s]["pods_migrated_pct"] for s in ss)
        print(f"| {w} | {k:g} | {'rebalanced' if reb else 'plain'} | {' '.join(f'{x:+.2f}' for x in d)} | "
              f"{statistics.median(d):+.2f} | {statistics.median(ov):.2f} / {statistics.median(nv):.2f} | "
              + (f"{statistics.median(nf):+.2f} ({' '.join(f'{x:+.2f}' for x in nf)})" if nf else "–") + " | "
              + (f"{statistics.median(of):+.2f}" if of else "–") + f" | {mig:.2f} |")


if __name__ == "__main__":
    main()
