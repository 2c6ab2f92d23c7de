"""What the LP child does for the bound at the issue recipe, in this process, with reopt_stays.WARM_ROWS on
and off (session 24, branch frag24): ``BudgetBound.stays_lp(None, rows_later=True)`` (the repack model, the
plain stays LP: its bound and guide, the child's first snapshot), then ``stays_rows(None)`` (the rows'
LP: the second snapshot). CPU seconds of each part (``time.process_time``), the bounds, and whether the
guide is the same object graph in both arms (pickled bytes equal). Arms interleaved, order turning per
state and repeat.

    python bench/bench_frag24_child.py fragmented --seeds 100 101 102 103 104 --repeats 2
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_reopt import state, state_parser

    from packer.cpsat import reopt, reopt_stays

    ap = state_parser(__doc__)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    was = reopt_stays.WARM_ROWS
    out: list[dict[str, object]] = []
    for i, seed in enumerate(args.seeds):
        inst = state(args.family, seed, args.nodes or (128 if args.family == "fragmented" else None))
        guides: dict[str, bytes] = {}
        for rep in range(args.repeats):
            arms = ["cold", "warm"] if (i + rep) % 2 == 0 else ["warm", "cold"]
            for arm in arms:
                reopt_stays.WARM_ROWS = arm == "warm"
                load0 = os.getloadavg()[0]
                bb = reopt.BudgetBound(inst)
                t0 = time.process_time()
                plain = bb.stays_lp(None, rows_later=True)
                t1 = time.process_time()
                bb.stays_rows(None)
                t2 = time.process_time()
                g = pickle.dumps(bb.guide)
                guides.setdefault(arm, g)
                rec = {"state": inst.name, "arm": arm, "rep": rep, "first_cpu_s": round(t1 - t0, 3),
                       "rows_cpu_s": round(t2 - t1, 3), "plain": plain, "bound": bb.stays.get(None),
                       "broken": bb.stays_rows_broken.get(None), "load": round(load0, 2)}
                out.append(rec)
                print(f"{inst.name} {arm:4s} rep {rep}: repack model + plain LP {t1 - t0:.2f} s CPU (bound {plain:.4f}), "
                      f"rows {t2 - t1:.3f} s CPU (bound {bb.stays.get(None):.6f}, {rec['broken']} broken), load {load0:.1f}",
                      flush=True)
        same = len(set(guides.values())) == 1
        print(f"{inst.name}: guide the same in both arms: {same}", flush=True)
        out.append({"state": inst.name, "same_guide": same})
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    reopt_stays.WARM_ROWS = was
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
