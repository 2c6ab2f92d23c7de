"""Session 23: what every ``move_steps`` iteration pays whatever its step changes. Builds a state's
deterministic start (``bench_reopt.det_start``: the no-move plan, the stays LP's guide; cached under
``--cache``), then runs ``move_steps`` (one worker, ``--steps`` CP-SAT steps of ``--det`` deterministic time)
under ``cProfile`` and prints, per function named below, its calls and cumulative seconds, and per step kind
the stats' seconds. Flags can be set as MODULE.NAME=0/1 (``--set``).

    python bench/bench_fragstep23_profile.py fragmented 104 --steps 12 --det 0.3
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import os
import pickle
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: (file suffix, function name) pairs whose cumulative time is reported.
WATCH = [
    ("reopt.py", "__init__"), ("reopt.py", "_valid"), ("reopt.py", "_merge"), ("reopt.py", "_sub_instance"),
    ("reopt.py", "_gang"), ("reopt.py", "_spread"), ("reopt.py", "_pack"), ("reopt.py", "_keep"),
    ("reopt.py", "moves"),
    ("reopt_spread.py", "spreads"), ("reopt_spread.py", "spread_step"), ("reopt_gang.py", "gangs"),
    ("reopt_gang.py", "gang_step"), ("reopt_pack.py", "tenants"), ("reopt_pack.py", "pack_step"),
    ("reopt_base.py", "get"), ("reopt_base.py", "objective"), ("search.py", "solve_monolithic"),
    ("check.py", "check"), ("result.py", "build_plan"), ("result.py", "modes_of"),
]


def main() -> int:
    from bench_reopt import det_start, state

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("family", choices=("issue", "fragmented"))
    ap.add_argument("seed", type=int)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--det", type=float, default=0.3)
    ap.add_argument("--cache", default="/tmp/fs23")
    ap.add_argument("--set", nargs="*", default=[], metavar="MODULE.NAME=V")
    ap.add_argument("--lines", type=int, default=0, help="also print this many lines of the full profile")
    args = ap.parse_args()

    from packer.cpsat import reopt
    from packer.cpsat.hints import online_ready

    assert online_ready(), "warm the tree first (the placer steps would be left out)"
    for s in args.set:
        name, v = s.split("=")
        mod, flag = name.rsplit(".", 1)
        setattr(importlib.import_module(f"packer.cpsat.{mod}"), flag, bool(int(v)))
    inst = state(args.family, args.seed, 128 if args.family == "fragmented" else None)
    cache = Path(args.cache) / f"{args.family}-{args.seed}.pkl"
    if cache.exists():
        placed, guide = pickle.loads(cache.read_bytes())
    else:
        placed, _bb, guide = det_start(inst, 10.0)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps((placed, guide)))
    load0 = os.getloadavg()[0]
    pr = cProfile.Profile()
    t0 = time.perf_counter()
    pr.enable()
    got, stats = reopt.move_steps(inst, placed, cap=None, deadline=time.perf_counter() + 3600, seed=0, workers=1,
                                  guide=guide, max_steps=args.steps, det=args.det)
    pr.disable()
    wall = time.perf_counter() - t0
    print(f"{inst.name}: {wall:.1f} s, {stats['steps']} steps, load {load0:.2f} / {os.getloadavg()[0]:.2f}, "
          f"objective {reopt.objective_value(inst, got):.2f}")
    for k, rec in sorted(stats["by_kind"].items()):
        print(f"  {k}: steps {rec['steps']} improved {rec['improved']} gain {rec['gain']:.2f} build {rec['build_s']:.2f} "
              f"solve {rec['solve_s']:.2f} (model {rec['model_s']:.2f}) check {rec['check_s']:.2f}")
    st = pstats.Stats(pr)
    print("| function | calls | cum s | per call ms |")
    print("|---|---|---|---|")
    for (fn, _line, name), (_cc, nc, _tt, ct, _callers) in sorted(st.stats.items(), key=lambda kv: -kv[1][3]):  # type: ignore[attr-defined]
        if any(fn.endswith("/" + f) and name == n for f, n in WATCH):
            label = f"{Path(fn).name}:{name}"
            if name == "__init__":
                if _line != reopt._View.__init__.__code__.co_firstlineno:  # reopt._View.__init__ only
                    continue
                label = "reopt.py:_View"
            print(f"| {label} | {nc} | {ct:.2f} | {1000 * ct / max(1, nc):.1f} |")
    if args.lines:
        st.sort_stats("cumulative").print_stats(args.lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
