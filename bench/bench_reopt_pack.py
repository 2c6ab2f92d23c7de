"""What one pack step (packer.cpsat.reopt_pack) does on a running state's no-move plan.

Per state: the no-move plan (``--start-s`` seconds, one worker), then for each node-isolated tenant
with work on two nodes or more, ``--draws`` pack steps from it (random tie-breaks): its nodes, the
nodes ranked for emptying, sets tried, nodes emptied in the best set, the objective and gain over the
no-move plan (or why it failed), the moves, whether the result passes ``packer check``. Placer only:
no CP-SAT after the no-move plan.

    python bench/bench_reopt_pack.py issue --seeds 0 5 100 --json bench/reopt_pack_diag_issue_s17.json
    python bench/bench_reopt_pack.py fragmented --seeds 0 1 --json bench/reopt_pack_diag_fragmented_s17.json
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_reopt import state, state_parser

    ap = state_parser(__doc__)
    ap.add_argument("--start-s", type=float, default=10.0, help="seconds of the no-move solve")
    ap.add_argument("--draws", type=int, default=3, help="pack steps per tenant (their random tie-breaks)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import packer.cpsat.reopt as reopt
    from packer.cpsat import reopt_pack
    from packer.plans import objective_value

    out: dict[str, object] = {}
    print("| state | tenant | nodes | draw | ranked | tries | emptied | objective | gain | moves | valid | fail | s | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes)
        start = reopt.no_move_plan(inst, time_limit=args.start_s, seed=0, workers=1)
        cur = {a.request: list(a.units) for a in start.assignments}
        base = objective_value(inst, cur)
        waiting = [r for r in inst.requests if r.id not in cur]
        rows = []
        for t, nodes in reopt_pack.tenants(inst, cur).items():
            for k in range(args.draws):
                t0 = time.perf_counter()
                got, info = reopt_pack.pack_step(inst, cur, t, nodes, random.Random(k), waiting)
                s = time.perf_counter() - t0
                row = {"tenant": t, "nodes": len(nodes), "draw": k, "s": round(s, 3), "load": round(os.getloadavg()[0], 2),
                       **{x: info.get(x) for x in ("ranked", "tries", "emptied", "moved", "fail")}}
                if got is not None:
                    v = objective_value(inst, got)
                    row.update(objective=v, gain=v - base, moves=reopt.moves(inst, got), valid=reopt._valid(inst, got))
                rows.append(row)
                print(f"| {inst.name} | {t} | {len(nodes)} | {k} | {row['ranked']} | {row['tries']} | "
                      f"{row.get('emptied', '-')} | {row.get('objective', float('nan')):.2f} | "
                      f"{row.get('gain', float('nan')):+.2f} | {row.get('moves', '-')} | {row.get('valid', '-')} | "
                      f"{row['fail'] or '-'} | {s:.2f} | {row['load']} |", flush=True)
        out[f"{inst.name}/{inst.num_gpus}"] = {"start": base, "rows": rows}
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
