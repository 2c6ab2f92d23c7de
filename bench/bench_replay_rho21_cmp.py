"""Session 21: packer's static figures under a rho rule (bench_replay_rho21.py --out NEW, one rule) against a
stored run of bench_replay_workloads.py on the same seeds (OLD, default bench/replay_workloads.json).

    python bench/bench_replay_rho21_cmp.py NEW.json [OLD.json]

Prints a markdown table: per workload rho, packer old / new at 130%, new − old per seed and in the mean, and
new − our FGD (OLD's fgd runs, same streams).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def main() -> None:
    new = json.loads(Path(sys.argv[1]).read_text())
    old = {r["workload"]: r for r in json.loads(Path(sys.argv[2] if len(sys.argv) > 2 else
                                                         "bench/replay_workloads.json").read_text())}
    rule = new["rules"][0]
    print(f"| workload | list | rho ({rule}) | packer @130 old | packer @130 new | new − old per seed | new − old mean | "
          "seeds lost | new − our FGD (old − our FGD) |")
    print("|---|---|---:|---:|---:|---|---:|---:|---|")
    for r in new["rows"]:
        o = old.get(r["workload"])
        if o is None:
            continue
        nv, ov, fv = r["per_seed_130"][rule], o["packer"]["per_seed_130"], o["fgd"]["per_seed_130"]
        d = [x - y for x, y in zip(nv, ov, strict=True)]
        f_new = statistics.fmean(x - y for x, y in zip(nv, fv, strict=True))
        f_old = statistics.fmean(x - y for x, y in zip(ov, fv, strict=True))
        print(f"| {r['workload']} | {r['source']} | {r['rho'][rule]:.2f} | {statistics.fmean(ov):.2f} | "
              f"{statistics.fmean(nv):.2f} | {' '.join(f'{x:+.2f}' for x in d)} | {statistics.fmean(d):+.3f} | "
              f"{sum(x < 0 for x in d)}/{len(d)} | {f_new:+.2f} ({f_old:+.2f}) |")


if __name__ == "__main__":
    main()
