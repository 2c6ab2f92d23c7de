"""The repack/stays LP bound with and without the quota cut (packer.cpsat.reopt_quotacap, session 19), per
running state: each quota tenant's room for waiting work (``max_gpus`` less its running work's fewest
GPU-equivalents), the waiting requests no plan fits in it, the group rows added, the stays LP of no limit
off and on (deterministic: no search) and the share the LP gave the fixed requests with the cut off.

    python bench/bench_reopt19_quotacap.py issue --seeds 5 100 101 0 1 2 3 4 --json bench/reopt19_quotacap_issue.json
    python bench/bench_reopt19_quotacap.py fragmented --seeds 0 1 2 3 4 100 101 102 103 104
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
    from packer.cpsat import lpguide, reopt_quotacap

    lpguide.WAITING_SHARE = True  # the fixed requests' own share (a listing; the bound does not depend on it)
    default = reopt_quotacap.FIX
    out: dict[str, object] = {}
    print("| state | rooms (tenant: room) | unplaceable (need, priority) | group rows | LP share of them (off) | "
          "stays LP off | on | on − off | s off/on | load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes or (128 if args.family == "fragmented" else None))
        never = sorted(reopt_quotacap.unplaceable(inst))
        rooms = {t: round(v, 2) for t, v in reopt_quotacap.rooms(inst).items()}
        reopt_quotacap.FIX = False
        model = reopt.repack_model(inst)
        rows_added = 0 if model is None else reopt_quotacap.add_caps(inst, model, frozenset(reopt.movable_ids(inst)))
        row: dict[str, object] = {"rooms": rooms, "group_rows": rows_added,
                                  "unplaceable": [(rid, reopt._least_size(inst, inst.request(rid)), inst.request(rid).priority)
                                                  for rid in never]}
        load0 = os.getloadavg()[0]
        for arm in (False, True):
            if not rows_added:  # nothing added: the same model, the same LP (not solved)
                row["on"] = row["off"] = None
                row["on_s"] = row["off_s"] = 0.0
                break
            reopt_quotacap.FIX = arm
            bb = reopt.BudgetBound(inst)
            t0 = time.perf_counter()
            v = bb.stays_lp(None, args.lp_s)
            row["on" if arm else "off"] = v
            row[("on" if arm else "off") + "_s"] = round(time.perf_counter() - t0, 1)
            if not arm and bb.guide is not None:
                row["share_off"] = {rid: round(bb.guide.share.get(rid, 0.0), 3) for rid in never
                                    if bb.guide.share.get(rid, 0.0) > 1e-6}
        reopt_quotacap.FIX = default
        row["load"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
        off, on = row["off"], row["on"]
        diff = None if off is None or on is None else on - off  # type: ignore[operator]
        row["diff"] = diff
        out[f"{inst.name}/{inst.num_gpus}"] = row
        short = ", ".join(f"{t}: {v:g}" for t, v in rooms.items())
        fixed = ", ".join(f"{rid} ({need:g}, {p:g})" for rid, need, p in row["unplaceable"])  # type: ignore[misc]
        print(f"| {inst.name} | {short} | {fixed or '-'} | {rows_added} | {row.get('share_off') or '-'} | "
              f"{'-' if off is None else format(off, '.2f')} | {'-' if on is None else format(on, '.2f')} | "
              f"{'-' if diff is None else format(diff, '+.2f')} | {row['off_s']}/{row['on_s']} | "
              f"{row['load'][0]}-{row['load'][1]} |", flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
