"""Session 26 (offer26): paired statistics of the deterministic A/Bs of reopt_offer.OFFER_FIT.

Reads the JSON files of ``bench/bench_reopt_gang.py ... --ab reopt_offer.OFFER_FIT --measure-offer`` (arms A
off, B on; or ``--arms`` files, the first arm against each other) and prints per state: A, B, B − A, what
the CP-SAT steps' offers were (A: offered / could fit; B: offered, skipped) and what the CP-SAT steps and
the gang steps gained in each arm; then per group of files the mean, median and wins / losses / ties
(|B − A| <= 0.01 is a tie).

    python bench/offer26_summary.py bench/offer26_det_fragmented_0_4.json bench/offer26_det_issue_0_4.json
"""

from __future__ import annotations

import json
import statistics
import sys


def _cpsat_gain(row: dict) -> float:
    off = row.get("offer") or {}
    return float(off.get("changed_gain", 0.0)) + float(off.get("same_gain", 0.0))


def _gang_gain(row: dict) -> float:
    return float(((row.get("by_kind") or {}).get("gang") or {}).get("gain", 0.0))


def main(paths: list[str]) -> int:
    print("| state | A | B | B − A | A: offered / fit | B: offered (skipped) | CP-SAT steps' gain A / B "
          "| gang steps' gain A / B |")
    print("|---|---:|---:|---:|---|---|---|---|")
    diffs: list[float] = []
    for p in paths:
        data = json.load(open(p))
        for name, rows in data.items():
            arms = [k for k in rows if k not in ("start", "bound")]
            if len(arms) < 2:
                continue
            a, b = rows[arms[0]], rows[arms[1]]
            d = b["objective"] - a["objective"]
            diffs.append(d)
            ao, bo = a.get("offer") or {}, b.get("offer") or {}
            print(f"| {name.split('/')[0]} | {a['objective']:.2f} | {b['objective']:.2f} | {d:+.2f} | "
                  f"{ao.get('offered', 0)} / {ao.get('fit', 0)} | {bo.get('offered', 0)} ({bo.get('skipped', 0)}) | "
                  f"{_cpsat_gain(a):.2f} / {_cpsat_gain(b):.2f} | {_gang_gain(a):.2f} / {_gang_gain(b):.2f} |")
    if diffs:
        w = sum(d > 0.01 for d in diffs)
        losses = sum(d < -0.01 for d in diffs)
        print(f"\n{len(diffs)} states: sum {sum(diffs):+.2f}, mean {statistics.mean(diffs):+.2f}, "
              f"median {statistics.median(diffs):+.2f}, wins / losses / ties {w} / {losses} / {len(diffs) - w - losses}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
