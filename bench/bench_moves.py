"""Move sequences on fragmented 1,024-GPU clusters: steps, waves, temporary stops, make-before-break share.

Run: python bench/bench_moves.py [--seeds 100-104] [--moved 0,8,32,128,all] [--family haein|xl]
     [--break-order cycles|cheapest|waited|smallest] [--json OUT.json]

The clusters are built as in issue 17: ``packer generate haein --seed S --demand 1.6`` (1,024 GPUs),
``OnlinePlacer(policy="first-fit")`` places the first two thirds of the requests, 35 % of the placed
ones are released (drawn with ``numpy.random.default_rng(S)``), the rest of the requests are placed,
and :meth:`OnlinePlacer.running_instance` freezes the result (all running work movable, no cap).

Targets (plans for the frozen cluster), for each ``--moved`` value K:

- K = 0: ``packer solve --solver greedy`` on the frozen cluster (running work stays, waiting work is
  placed where it fits: only starts, MIG creates and mode changes);
- K > 0 (or ``all``): K running requests drawn at random are lifted and re-placed *first* by the online
  placer (best-fit) on the cluster without them, then the waiting requests; requests among the K that
  no longer fit stay where they run (redrawn without them), so the plan is valid and moves at most K.

For each (cluster, target) the planner's sequence is checked by ``packer.check_moves`` (the replay
must be valid) and one row is printed. Step counts are deterministic; the seconds depend on the load.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np

from packer.check import check
from packer.check_moves import check_moves
from packer.generate import generate
from packer.greedy.solver import solve as greedy
from packer.model import Instance, Plan
from packer.moves.planner import plan_moves
from packer.online import OnlinePlacer
from packer.plans import build_plan


def fragmented(seed: int, demand: float = 1.6, family: str = "haein") -> Instance:
    """The issue's fragmented cluster (haein: 1,024 GPUs; xl: 16,384) for ``seed``, frozen with everything movable."""
    inst = generate(family, seed, demand=demand)
    pl = OnlinePlacer(inst, "first-fit")
    reqs = list(inst.requests)
    k = 2 * len(reqs) // 3
    for r in reqs[:k]:
        pl.place(r)
    rng = np.random.default_rng(seed)
    ids = sorted(pl.placed_ids())
    for rid in rng.choice(ids, size=int(0.35 * len(ids)), replace=False):
        pl.release(str(rid))
    for r in reqs[k:]:
        pl.place(r)
    return pl.running_instance(movable="all", max_migrations=None)


def repack(state: Instance, num_moved: int, seed: int) -> Plan:
    """A valid target moving at most ``num_moved`` running requests (module docstring)."""
    rng = np.random.default_rng(seed)
    running = sorted(r.id for r in state.requests if r.running)
    drawn = list(rng.choice(running, size=min(num_moved, len(running)), replace=False))
    stay: set[str] = set()
    while True:
        movers = [rid for rid in drawn if rid not in stay]
        lifted = set(movers)
        free = state.replace(requests=[
            r.model_copy(update={"placement": None, "movable": False, "migration_cost": None})
            if r.id in lifted else r for r in state.requests])
        pl = OnlinePlacer(free, "best-fit")
        by_id = {r.id: r for r in free.requests}
        for rid in movers:
            pl.place(by_id[rid])
        missing = [rid for rid in movers if rid not in pl.placed_ids()]
        if missing:
            stay |= set(missing)
            continue
        for r in free.requests:
            if r.placement is None and r.id not in lifted:
                pl.place(r)
        placed = {rid: pl.units(rid) for rid in pl.placed_ids()}
        unplaced = {r.id: "does not fit" for r in state.requests if r.id not in placed}
        return build_plan(state, solver=f"repack-{num_moved}", placed=placed, unplaced=unplaced,
                          gpu_modes=pl.gpu_modes(), seed=seed)


#: Orders the planner may break cycles in (``--break-order``); "cycles" is the planner's own.
BREAK_ORDERS = {
    "cycles": None,
    "cheapest": lambda self, rid, o, i: (self._cost(self.moves[rid].req), -(o * i), rid),
    "waited": lambda self, rid, o, i: (-i, -(o * i), self._cost(self.moves[rid].req), rid),
    "smallest": lambda self, rid, o, i: (sum(self.moves[rid].leave.values()), -(o * i), rid),
}


def row(seed: int, label: str, state: Instance, plan: Plan) -> dict[str, Any]:
    """Plans and checks one sequence; the figures of one table row."""
    rep = check(state, plan)
    assert rep.ok, rep.format()
    t = time.perf_counter()
    moves = plan_moves(state, plan)
    t_plan = time.perf_counter() - t
    t = time.perf_counter()
    mrep = check_moves(state, plan, moves)
    t_check = time.perf_counter() - t
    s = moves.stats
    return {"seed": seed, "target": label, "utilization_before": None, "utilization_after": plan.metrics["utilization"],
            **s, "valid": mrep.ok, "plan_s": round(t_plan, 2), "check_s": round(t_check, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="100-104")
    ap.add_argument("--moved", default="0,8,32,128,all")
    ap.add_argument("--family", default="haein", help="haein (1,024 GPUs) or xl (16,384)")
    ap.add_argument("--break-order", default="cycles", choices=sorted(BREAK_ORDERS),
                    help="order in which the planner interrupts the moves of a cycle (tuning only)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if BREAK_ORDERS[args.break_order] is not None:
        from packer.moves.planner import MovePlanner

        MovePlanner._break_key = BREAK_ORDERS[args.break_order]  # type: ignore[method-assign,assignment]
    lo, _, hi = args.seeds.partition("-")
    seeds = list(range(int(lo), int(hi or lo) + 1))
    print(f"load: {os.getloadavg()[0]:.2f} (1-min average) on {os.cpu_count()} CPUs; break order {args.break_order}")
    cols = ["seed", "target", "util before → after", "moved", "steps", "waves", "temporary stops",
            "make-before-break share", "new started", "creates", "destroys", "mode changes",
            "creates at the driver's start", "valid", "plan s", "check s"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    rows = []
    for seed in seeds:
        state = fragmented(seed, family=args.family)
        before = check(state, build_plan(state, solver="now", placed={r.id: r.placement for r in state.requests
                                                                       if r.placement is not None},
                                         unplaced={r.id: "w" for r in state.requests if r.placement is None}))
        for k in args.moved.split(","):
            if k == "0":
                plan, label = greedy(state), "greedy (no moves)"
            else:
                n = sum(1 for r in state.requests if r.running) if k == "all" else int(k)
                plan, label = repack(state, n, seed), f"repack {k}"
            r = row(seed, label, state, plan)
            r["utilization_before"] = round(before.utilization, 4)
            rows.append(r)
            mbb = r["make_before_break_share"]
            print(f"| {seed} | {label} | {100 * r['utilization_before']:.1f}% → {100 * r['utilization_after']:.1f}% "
                  f"| {r['moved_requests']} | {r['steps']} | {r['waves']} | {r['temporary_stops']} "
                  f"| {'-' if mbb is None else f'{100 * mbb:.0f}%'} | {r['new_requests']} | {r['creates']} "
                  f"| {r['destroys']} | {r['mode_changes']} | {r['driver_start_creates']}/{r['creates']} "
                  f"| {'yes' if r['valid'] else 'NO'} | {r['plan_s']} | {r['check_s']} |", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"load": os.getloadavg()[0], "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
