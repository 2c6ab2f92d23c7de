"""Session 26 (branch cleanup26): the default outputs that the flags removed this session could reach, for a
before/after identity check. Run once with the tree before the removal on PYTHONPATH and once with the tree
after it; the two JSON files must be equal (``--compare A.json B.json``).

Parts (``--parts``, default all):

- ``replay``: the dynamic replay (``packer.replay.rebalance.run_dynamic``, packer and FGD, rebalanced every 20
  arrivals and not) on openb workloads default and cpu050 at K = 10000, seeds 100-101, and the static openb
  replay (``packer.replay.runner.run_policy``, policy "packer", the rho rule's path) on default and cpu050, seeds 42-43;
- ``greedy``: the greedy plan (assignments, unplaced, objective) of 10 suite instances at ``--nodes 8``
  and 4 at ``--nodes 128``;
- ``blocks``: the re-optimizer's block steps (``reopt_blocks.block_steps``, deterministic: det 0.5 s, 4 steps,
  1 worker, blocks of 16 nodes) on fragmented-0 at 32 nodes with cap None and 3; the same in waves of 2
  blocks side by side (pool processes, ``parallel=2``, det 0.3 s, 2 steps, blocks of 8 nodes, cap 6); and the
  bound by blocks (``block_bound.block_bound``, 3 rounds, no time limit) of the same state in blocks of 16 nodes.

Every value written is a result, never a time::

    PYTHONPATH=BEFORE python bench/bench_cleanup26_identity.py --out before.json
    PYTHONPATH=AFTER python bench/bench_cleanup26_identity.py --out after.json
    python bench/bench_cleanup26_identity.py --compare before.json after.json
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT.parent / "shared" / "traces" / "alibaba-gpu-v2023" / "csv"
GREEDY = [("haein", 0, 8), ("training", 1, 8), ("inference", 2, 8), ("sharing", 3, 8), ("hetero", 4, 8),
          ("tenants", 100, 8), ("fragmented", 101, 8), ("adversarial", 102, 8), ("quota", 103, 8),
          ("isolated", 104, 8), ("sharing", 100, 128), ("hetero", 101, 128), ("tenants", 0, 128),
          ("fragmented", 1, 128)]


def _wall(key: str) -> bool:
    """Whether ``key`` names a wall-clock or CPU time (not a result)."""
    return key in ("wall", "seconds", "elapsed", "cpu_s") or key.endswith(("wall_s", "_seconds", "elapsed_s"))


def _strip(x: Any) -> Any:
    """``x`` without wall-clock fields."""
    if isinstance(x, dict):
        return {k: _strip(v) for k, v in x.items() if not _wall(k)}
    if isinstance(x, list):
        return [_strip(v) for v in x]
    return x


def replay_part() -> dict[str, Any]:
    from packer.replay.openb import read_nodes, read_pods
    from packer.replay.rebalance import run_dynamic
    from packer.replay.runner import run_policy

    out: dict[str, Any] = {}
    cluster = read_nodes(TRACES / "openb_node_list_gpu_node.csv")
    for w in ("default", "cpu050"):
        pods = read_pods(TRACES / f"openb_pod_list_{w}.csv", cluster)
        for pol in ("packer", "fgd"):
            for every, moves in ((0, 0), (20, 8)):
                r = run_dynamic(cluster, pods, pol, [100, 101], compress=10000.0, rebalance_every=every,
                                max_moves=moves, budget_pct=1.0, min_gain_per_move=1, pace=True)
                out[f"dynamic/{w}/{pol}/{every}"] = _strip(r)
        out[f"static/{w}/packer"] = _strip(run_policy(cluster, pods, "packer", [42, 43], workers=1))
    return out


def greedy_part() -> dict[str, Any]:
    from packer.generate import generate
    from packer.greedy.solver import solve

    out: dict[str, Any] = {}
    for fam, seed, nodes in GREEDY:
        plan = solve(generate(fam, seed=seed, nodes=nodes))
        out[f"{fam}/{seed}/{nodes}"] = {"assignments": [a.model_dump(mode="json") for a in plan.assignments],
                                        "unplaced": [u.model_dump(mode="json") for u in plan.unplaced],
                                        "objective": plan.objective}
    return out


def blocks_part() -> dict[str, Any]:
    from packer.cpsat import reopt
    from packer.cpsat.block_bound import block_bound
    from packer.cpsat.reopt_blocks import block_steps, blocks
    from packer.generate import generate
    from packer.plans import objective_value

    out: dict[str, Any] = {}
    inst = generate("fragmented", seed=0, nodes=32)
    start = reopt.no_move_hint(inst, time_limit=None, seed=0)
    assert start is not None
    placed0 = {a.request: list(a.units) for a in start.assignments}
    for cap in (None, 3):
        got, stats = block_steps(inst, placed0, cap=cap, deadline=time.perf_counter() + 600, workers=1,
                                 max_steps=4, det=0.5, size=16)
        out[f"steps/cap{cap}"] = {"placed": {r: [u.model_dump(mode="json") for u in us] for r, us in sorted(got.items())},
                                  "objective": objective_value(inst, got), "moves": reopt.moves(inst, got),
                                  "blocks": stats["blocks"], "passes": stats["passes"]}
    # the waves (blocks side by side in a pool): reproducible with det and parallel=2, as tests/test_big21_rate.py
    got, stats = block_steps(inst, placed0, cap=6, deadline=time.perf_counter() + 600, workers=1, max_steps=2,
                             det=0.3, size=8, parallel=2)
    out["waves/cap6"] = {"placed": {r: [u.model_dump(mode="json") for u in us] for r, us in sorted(got.items())},
                         "objective": objective_value(inst, got), "moves": reopt.moves(inst, got),
                         "stats": {k: stats[k] for k in ("blocks", "parallel", "passes", "steps", "improved",
                                                         "blocks_improved", "gain")},
                         "per_block": sorted((r["block"], r["visit"], r["gain"], r["start"], r["merged"], r["steps"])
                                             for r in stats["per_block"])}  # type: ignore[union-attr]
    bb = block_bound(inst, blocks(inst, 16), iterations=3, time_limit=None)
    out["bound"] = {"value": bb.value, "values": bb.values, "per_block": bb.per_block, "fallbacks": bb.fallbacks}
    return out


def main() -> None:
    from identity_parts import run

    run({"replay": replay_part, "greedy": greedy_part, "blocks": blocks_part}, "replay,greedy,blocks")


if __name__ == "__main__":
    main()
