"""Session 24 (issue 17 part 4, step 3): how far the rebalancer's own re-pairing reaches on one list, by arm.

    NUMBA_NUM_THREADS=1 nice -n 5 python bench/bench_replay_dynamic_s24_scope.py --workload cpu050 --compress 10000
        --seeds 0-4 --arms base,wide,budget5 [--workers 2] [--out bench/replay_dynamic_s24_scope]

Each arm is packer + rebalance (every 20 events, 8 moves a call, 1% budget paced, as bench_replay_dynamic.py) with
the Rebalancer's fields set as named in ARMS: ``base`` the defaults; ``wide`` four times the candidate nodes and
shapes per call and no patience (the scope of its plans); ``budget5`` 5% instead of 1%. (Session 24's arms
``pair_fit``, ``repair`` and ``repair_pair`` set rules removed in session 26; they run at git tag flags-s25.) Arms run on
identical streams; prints per seed each arm minus ``base`` (saturated-window time-averaged allocation, points) and
the pods migrated. Writes OUT.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_replay_dynamic import _load  # noqa: E402

import packer.replay.rebalance as rb  # noqa: E402
from packer.replay.protocol import parse_seeds, typical_pods  # noqa: E402

ARMS: dict[str, dict[str, Any]] = {
    "base": {},
    "wide": {"max_nodes": 48, "max_shapes": 64, "patience": False},
    "budget5": {"_budget_pct": 5.0},
}


def _job(args: tuple[str, float, str, int]) -> dict[str, Any]:
    w, k, arm, seed = args
    cluster, pods = _load(w)
    kw = dict(ARMS[arm])
    budget_pct = kw.pop("_budget_pct", 1.0)
    orig = rb.Rebalancer
    rb.Rebalancer = partial(orig, **kw)  # type: ignore[misc]  # replay_dynamic builds its hook from the module's name
    try:
        t0 = time.perf_counter()
        r = rb.replay_dynamic(cluster, pods, "packer", seed, compress=k, rebalance_every=20, max_moves=8,
                              budget_pct=budget_pct, tp=typical_pods(pods))
    finally:
        rb.Rebalancer = orig  # type: ignore[misc]
    return {"workload": w, "compress": k, "arm": arm, "seed": seed, "wall_s": time.perf_counter() - t0,
            **{key: r[key] for key in ("sat_avg_allocation_pct", "time_avg_allocation_pct", "pods_migrated",
                                       "pods_migrated_pct", "moves_applied")}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", default="cpu050")
    ap.add_argument("--compress", type=float, default=10000.0)
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--arms", default="base,wide,budget5")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "replay_dynamic_s24_scope"))
    a = ap.parse_args()
    arms = a.arms.split(",")
    seeds = parse_seeds(a.seeds)
    jobs = [(a.workload, a.compress, arm, s) for s in seeds for arm in arms]
    with ProcessPoolExecutor(max_workers=a.workers) as ex:
        rows = list(ex.map(_job, jobs))
    for r in rows:
        print(json.dumps(r), flush=True)
    by = {(r["arm"], r["seed"]): r for r in rows}
    ref = arms[0]
    for arm in arms[1:]:
        d = [by[(arm, s)]["sat_avg_allocation_pct"] - by[(ref, s)]["sat_avg_allocation_pct"] for s in seeds]
        print(f"{a.workload} K={a.compress:g} {arm} − {ref}: per seed {' '.join(f'{x:+.3f}' for x in d)} median "
              f"{statistics.median(d):+.3f}; pods migrated {[by[(arm, s)]['pods_migrated'] for s in seeds]} vs "
              f"{[by[(ref, s)]['pods_migrated'] for s in seeds]}", flush=True)
    Path(a.out + ".json").write_text(json.dumps({"arms": arms, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
