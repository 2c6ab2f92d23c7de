"""The repack/stays LP bound with and without fixing the waiting whole-GPU requests no plan can place
(packer.cpsat.reopt_gangcap, session 18), per running state: F (GPUs that may be in full mode less the
running whole-GPU units), the unplaceable requests, the stays LP of no limit off and on (deterministic:
no search), and the share the LP gave those requests with the fixing off.

    python bench/bench_reopt_gangcap.py issue --seeds 100 5 101 --json bench/reopt_gangcap_issue_s18.json
    python bench/bench_reopt_gangcap.py fragmented --seeds 103 104 0 1 2 3 4
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_reopt import state, state_parser

    ap = state_parser(__doc__)
    ap.add_argument("--json", default=None)
    ap.add_argument("--lp-s", type=float, default=300.0, help="time limit of each LP")
    args = ap.parse_args()

    import packer.cpsat.reopt as reopt
    from packer.cpsat import reopt_gangcap

    out: dict[str, object] = {}
    print("| state | F | unplaceable (need, priority) | LP share of them (off) | stays LP off | on | on − off | s off/on | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes)
        never = sorted(reopt_gangcap.unplaceable(inst))
        row: dict[str, object] = {"F": reopt_gangcap.free_whole_gpus(inst),
                                  "unplaceable": [(rid, inst.request(rid).need_count, inst.request(rid).priority)
                                                  for rid in never]}
        for arm in (False, True):
            if arm and not never:  # nothing fixed: the same model, the same LP
                row["on"], row["on_s"] = row["off"], 0.0
                continue
            reopt_gangcap.FIX = arm
            bb = reopt.BudgetBound(inst)
            t0 = time.perf_counter()
            v = bb.stays_lp(None, args.lp_s)
            row["on" if arm else "off"] = v
            row[("on" if arm else "off") + "_s"] = round(time.perf_counter() - t0, 1)
            if not arm and bb.guide is not None:
                row["share_off"] = {rid: round(bb.guide.share.get(rid, 0.0), 3) for rid in never}
        reopt_gangcap.FIX = True
        row["load"] = round(os.getloadavg()[0], 2)
        off, on = row["off"], row["on"]
        diff = None if off is None or on is None else on - off  # type: ignore[operator]
        out[f"{inst.name}/{inst.num_gpus}"] = row
        print(f"| {inst.name} | {row['F']} | {row['unplaceable']} | {row.get('share_off')} | {off} | {on} | "
              f"{'-' if diff is None else format(diff, '+.2f')} | {row['off_s']}/{row['on_s']} | {row['load']} |", flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
