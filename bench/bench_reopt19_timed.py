"""Timed A/B at the issue recipe, session 19 (branch reopt19): ``--ab home``: reopt.HOME (steps may take a
move back) on / off; ``--ab quotacap``: reopt_quotacap.FIX on / off (set in this process and, through the
environment variable PACKER_QUOTACAP, in the spawned LP child that computes the bound and the guide);
(``--ab never``, reopt_quotacap.SKIP_NEVER, was removed in session 27: it runs at git tag flags-s26.)

Per state ``reopt.curve(inst, [None], time_limit, workers=2)`` (what ``packer bench`` runs on a running
cluster with no migration cap) once per arm, the arms one after the other, their order turning per pair
(a seed named twice is two pairs: the second pair starts with the other arm). Every plan is checked and
saved (``--plans DIR``: ``<state>-<arm>-<k>.json.gz``) for ``bench/bench_reopt19_why.py``. Prints objective,
bound, gap, moves and migration cost, the run's no-move objective and the load beside each run; appends
every run to ``--json``.

    python bench/bench_reopt19_timed.py issue --seeds 101 101 --time-limit 60 --json bench/reopt19_home_timed_issue.json \
        --plans bench/reopt19_plans
    python bench/bench_reopt19_timed.py issue --seeds 5 5 --ab quotacap --json bench/reopt19_quotacap_timed_issue.json
"""

from __future__ import annotations

import gzip
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_reopt import state, state_parser, timed_run

    ap = state_parser(__doc__)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--ab", choices=("home", "quotacap"), default="home")
    ap.add_argument("--arms", nargs="+", default=["on", "off"], help="the flag on / off")
    ap.add_argument("--json", default=None)
    ap.add_argument("--plans", default=None, help="save every checked plan here (gzipped packer.plan/v1)")
    args = ap.parse_args()

    from packer.cpsat import reopt, reopt_quotacap

    default_home, default_qc, env_qc = reopt.HOME, reopt_quotacap.FIX, os.environ.get("PACKER_QUOTACAP")
    out = json.loads(Path(args.json).read_text()) if args.json and Path(args.json).exists() else []
    print(f"| state | {args.ab} | objective | bound | gap | gain over no-move | moves (cost) | steps | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    seen: dict[int, int] = {}
    for i, seed in enumerate(args.seeds):
        k = seen[seed] = seen.get(seed, -1) + 1
        inst = state(args.family, seed, args.nodes or (128 if args.family == "fragmented" else None))
        arms = list(args.arms) if i % 2 == 0 else list(reversed(args.arms))
        for arm in arms:
            if args.ab == "home":
                reopt.HOME = arm == "on"
            else:
                reopt_quotacap.FIX = arm == "on"
                os.environ["PACKER_QUOTACAP"] = "1" if arm == "on" else "0"
            pt, row, cost, load = timed_run(inst, args.time_limit, args.workers, arm)
            nm = pt.info.get("no_move_objective")
            rec = {"state": inst.name, "seed": seed, "pair": k, "ab": args.ab, "arm": arm, "objective": row["objective"],
                   "bound": row["bound"], "gap": row["gap"], "moves": pt.moves, "migration_cost": round(cost, 3),
                   "no_move": nm, "steps": (pt.info.get("steps") or {}).get("steps"),
                   "improved": (pt.info.get("steps") or {}).get("improved"),
                   "by_kind": {k: {f: v.get(f) for f in ("steps", "improved", "gain")}
                               for k, v in ((pt.info.get("steps") or {}).get("by_kind") or {}).items()},
                   "load": load, "time_limit": args.time_limit}
            if args.plans:
                d = Path(args.plans)
                d.mkdir(parents=True, exist_ok=True)
                f = d / f"{inst.name}-{args.ab}-{arm}-{k}.json.gz"
                f.write_bytes(gzip.compress(json.dumps(pt.plan.to_json_dict()).encode()))
                rec["plan"] = str(f)
            out.append(rec)
            gain = "-" if not nm else f"{100 * (row['objective'] / nm - 1):+.2f}%"
            print(f"| {inst.name} | {arm} | {row['objective']:.2f} | {row['bound']:.2f} | {100 * row['gap']:.2f}% | {gain} | "
                  f"{pt.moves} ({cost:.2f}) | {rec['steps']} ({rec['improved']}) | {rec['load'][0]}-{rec['load'][1]} |",
                  flush=True)
            if args.json:
                Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
    reopt.HOME, reopt_quotacap.FIX = default_home, default_qc
    if env_qc is None:
        os.environ.pop("PACKER_QUOTACAP", None)
    else:
        os.environ["PACKER_QUOTACAP"] = env_qc
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
