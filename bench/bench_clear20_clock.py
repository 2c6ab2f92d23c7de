"""Plans unchanged by session 20's step clock (reopt.step_clock, shared by the clear step and the pack
fill): deterministic move steps (one worker, fixed steps and CP-SAT deterministic time) with clear steps
on, ungated and priced as in session 19 (GATE, ROOM_PRICE off), pack steps and fills as they are; prints
the objective and the clear / pack-fill step counts. Run it on the tree before and after the change
(PYTHONPATH) and compare.

    python bench/bench_clear20_clock.py fragmented --nodes 32 --seeds 0 1 --steps 12 --det 0.5
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_reopt import state, state_parser

    ap = state_parser(__doc__)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--det", type=float, default=0.5)
    args = ap.parse_args()

    import packer.cpsat.reopt as reopt
    from packer.cpsat import reopt_clear
    from packer.plans import objective_value

    reopt_clear.CLEAR, reopt_clear.GATE, reopt_clear.ROOM_PRICE = True, False, False
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes)
        # a deterministic start: the running placements themselves (no time-limited solve)
        placed = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
        bb = reopt.BudgetBound(inst)
        bb.stays_lp(None, 60.0)
        guide = reopt._guide_of(bb, inst, None)
        got, stats = reopt.move_steps(inst, placed, cap=None, deadline=time.perf_counter() + 3600, seed=0,
                                      workers=1, guide=guide, max_steps=args.steps, det=args.det)
        bk = stats.get("by_kind", {})
        print(f"{inst.name}: objective {objective_value(inst, got):.6f} moves {reopt.moves(inst, got)} "
              f"clear {bk.get('clear', {}).get('steps', 0)}/{bk.get('clear', {}).get('improved', 0)} "
              f"pack_fill {bk.get('pack_fill', {}).get('steps', 0)}/{bk.get('pack_fill', {}).get('improved', 0)} "
              f"steps {stats['steps']}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
