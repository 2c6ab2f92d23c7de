"""The stays LP's room rows: a cold second solve against the kept solver re-solved with the rows added
(session 24, branch frag24; ``reopt_stays.WARM_ROWS``).

Per running state: the repack model once, the stays form without the rows, then

- ``plain``: the LP as ``lp_solve`` (scipy's ``milp``) solves it: its CPU seconds;
- ``kept``: the same LP by :class:`packer.cpsat.bound.KeptLP`: CPU seconds, and whether its solution
  equals ``plain``'s to the bit (the guide the search gets);
- how many room rows that solution breaks;
- ``cold``: the LP with the rows solved from scratch (session 23's second solve): value, CPU seconds;
- ``warm``: the kept solver with the rows added, re-solved from its basis: value, CPU seconds, pivots.

CPU seconds (``time.process_time``: HiGHS runs in this thread) move less with the load than wall
seconds; the load is printed beside them. The values are deterministic.

    python bench/bench_frag24_rows.py fragmented --seeds 0 1 2 3 4 100 101 102 103 104
    python bench/bench_frag24_rows.py issue --seeds 100 101
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_reopt import state, state_parser

    from packer.cpsat.bound import KeptLP, lp_solve
    from packer.cpsat.proof import padded_bound
    from packer.cpsat.reopt import repack_model
    from packer.cpsat.reopt_stays import stays_form, violated, with_rows
    from packer.cpsat.room_cuts import room_cuts

    ap = state_parser(__doc__)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    out = json.loads(Path(args.json).read_text()) if args.json and Path(args.json).exists() else {}
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes or (128 if args.family == "fragmented" else None))
        model = repack_model(inst)
        _ = model.linear_form
        form, _col, const = stays_form(inst, model, cuts=False)
        load0 = os.getloadavg()[0]
        t = time.process_time()
        plain = lp_solve(model.model, form=form)
        plain_s = time.process_time() - t
        kept = KeptLP(form)
        t = time.process_time()
        got = kept.solve()
        kept_s = time.process_time() - t
        assert plain is not None and got is not None
        same = bool(np.array_equal(plain[1], got[1]) and plain[0] == got[0])
        t = time.process_time()
        rows = room_cuts(model)
        rows_s = time.process_time() - t
        broken = violated(rows, plain[1])
        row: dict[str, object] = {"rows": len(rows), "rows_s": round(rows_s, 3), "broken": broken,
                                  "plain_bound": padded_bound(model, plain[0] + const),
                                  "plain_s": round(plain_s, 3), "kept_s": round(kept_s, 3), "same_x": same}
        if broken:
            t = time.process_time()
            cold = lp_solve(model.model, form=with_rows(form, rows))
            cold_s = time.process_time() - t
            t = time.process_time()
            warm = kept.add_rows(rows)
            warm_s = time.process_time() - t
            pivots = kept.highs.getInfo().simplex_iteration_count if kept.highs is not None else None
            assert cold is not None and warm is not None
            row.update({"cold_raw": cold[0], "warm_raw": warm, "raw_diff": warm - cold[0],
                        "cold_bound": padded_bound(model, cold[0] + const),
                        "warm_bound": padded_bound(model, warm + const),
                        "cold_s": round(cold_s, 3), "warm_s": round(warm_s, 3), "warm_pivots": pivots})
            row["bound_diff"] = row["warm_bound"] - row["cold_bound"]  # type: ignore[operator]
            row["delta"] = row["cold_bound"] - row["plain_bound"]  # type: ignore[operator]
        row["load"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
        kept.drop()
        print(f"{inst.name} ({inst.num_gpus} GPUs): plain LP {row['plain_bound']:.4f} {plain_s:.2f} s, kept "
              f"{kept_s:.2f} s, same x {same}; {len(rows)} rows ({rows_s:.2f} s), {broken} broken"
              + ("" if not broken else
                 f"; rows LP cold {row['cold_bound']:.6f} ({row['cold_s']:.2f} s) warm {row['warm_bound']:.6f} "
                 f"({row['warm_s']:.3f} s, {row['warm_pivots']} pivots), Δ {row['delta']:+.2f}, "
                 f"warm − cold {row['bound_diff']:+.2e}")
              + f"; load {row['load']}", flush=True)
        out[f"{inst.name}/{inst.num_gpus}"] = row
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
