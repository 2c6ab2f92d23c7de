"""Session 22: packer's static figures under one rho rule (bench_replay_rho21.py --rules RULE --out NEW) against
stored runs of the same seeds: a bench_replay_rho21.py run with several rules (e.g. session 21's tuning run,
rules typical and competing), or bench_replay_workloads.py's file (the rule "typical"; its fgd runs too).

    python bench/bench_replay_rho22_cmp.py NEW.json OLD.json [RULE]   # RULE: one of NEW's rules (default: its first)

Prints a markdown table: per workload the rule's rho per GPU model (G2, T4; with RHO_SPLIT also the weight's), packer's mean at 130% under each
stored rule and the new one, new − stored per seed and in the mean, and seeds lost against "typical".
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

#: openb's GPU models in the node list's order (packer.replay.openb.read_nodes).
MODELS = ("A10", "G2", "G3", "P100", "T4", "V100M16", "V100M32")


def _stored(path: str) -> tuple[dict[str, dict[str, list[float]]], dict[str, list[float]]]:
    """Per workload {rule: per-seed figures at 130%}, and per workload our FGD's (empty if not stored)."""
    data = json.loads(Path(path).read_text())
    if isinstance(data, dict):
        return {r["workload"]: r["per_seed_130"] for r in data["rows"]}, {}
    return ({r["workload"]: {"typical": r["packer"]["per_seed_130"]} for r in data},
            {r["workload"]: r["fgd"]["per_seed_130"] for r in data})


def _per_model(par: list[float]) -> tuple[list[float], list[float] | None]:
    """The balance rho per model from the kernel's knobs (packer.replay.policy.rho_params), and the penalty
    weight per model when the knobs carry one (RHO_SPLIT, session 23; else None)."""
    k = int(par[1]) if len(par) > 1 else 0
    bal = list(par[2:2 + k]) if k else [par[0]] * len(MODELS)
    rest = par[2 + k:]
    if not rest or rest[0] <= 0:
        return bal, None
    kw = int(rest[1]) if len(rest) > 1 else 0
    return bal, (list(rest[2:2 + kw]) if kw else [rest[0]] * len(MODELS))


def main() -> None:
    new = json.loads(Path(sys.argv[1]).read_text())
    old, fgd = _stored(sys.argv[2])
    rule = sys.argv[3] if len(sys.argv) > 3 else new["rules"][0]
    rules = sorted({r for v in old.values() for r in v}, key=lambda r: (r != "typical", r))
    head = " | ".join(f"{r} → {rule}" for r in rules)
    print(f"| workload | list | rho G2 / T4 | {' | '.join(rules)} | {rule} | {head} (mean; per seed) | "
          f"lost vs typical |{' new − our FGD (typical − our FGD) |' if fgd else ''}")
    print("|---|---|---|" + "---:|" * (len(rules) + 1) + "---|" * len(rules) + "---:|" + ("---|" if fgd else ""))
    for r in new["rows"]:
        w = r["workload"]
        if w not in old:
            continue
        nv = r["per_seed_130"][rule]
        par = r.get("rho_params", {}).get(rule, [r["rho"][rule]])
        per, wper = _per_model(par)
        cells = []
        for o in rules:
            d = [x - y for x, y in zip(nv, old[w][o], strict=True)]
            cells.append(f"{statistics.fmean(d):+.3f}; " + " ".join(f"{x:+.2f}" for x in d))
        lost = sum(x < y for x, y in zip(nv, old[w]["typical"], strict=True))
        wcell = "" if wper is None else f" (w {wper[MODELS.index('G2')]:.2f} / {wper[MODELS.index('T4')]:.2f})"
        row = (f"| {w} | {r['source']} | {per[MODELS.index('G2')]:.2f} / {per[MODELS.index('T4')]:.2f}{wcell} | "
               + " | ".join(f"{statistics.fmean(old[w][o]):.2f}" for o in rules)
               + f" | {statistics.fmean(nv):.2f} | " + " | ".join(cells) + f" | {lost}/{len(nv)} |")
        if fgd:
            f_new = statistics.fmean(x - y for x, y in zip(nv, fgd[w], strict=True))
            f_old = statistics.fmean(x - y for x, y in zip(old[w]["typical"], fgd[w], strict=True))
            row += f" {f_new:+.2f} ({f_old:+.2f}) |"
        print(row)


if __name__ == "__main__":
    main()
