"""Session 27 (branch clean27): the default outputs that the re-optimizer's flags removed this session could
reach, for a before/after identity check. Run once with the tree before the removal on PYTHONPATH and once with
the tree after it, each part in a fresh process; the two JSON files must be equal (``--compare A.json B.json``).

Parts (``--parts``, default all; every value written is a result, never a time):

- ``steps``: ``reopt.move_steps`` (deterministic: one worker, det 0.5 a CP-SAT step, 12 steps) on fragmented-0
  and the haein issue state 0 at 16 nodes, from the no-move hint (``reopt.no_move_hint``, untimed), with the stays
  LP's guide (``reopt._guide_of``) at cap None and at a binding cap of 4; the plan, objective, moves and the step
  statistics (counts per kind, gains);
- ``bounds``: the LP child's LPs run in this process (``reopt._budget_bounds`` with the child's share and no
  time limit) for caps None and 4 of the same states:
  every bound, the stays LP's values and moves, each guide;
- ``blocks``: the bound by blocks (``block_bound.block_bound``, 3 rounds, untimed, the defaults the re-optimizer's
  child passes) and the block steps (``reopt_blocks.block_steps``, det 0.5, 4 steps, cap None) on fragmented-0 at
  32 nodes in blocks of 16 nodes;
- ``children``: the two child processes the re-optimizer starts, untimed: the LP child
  (``reopt_late.LateBounds`` with no deadline pressure, read back by ``finish``: the child's stays LP and guide
  of the two states above) and the bound by blocks' child as ``reopt._start_child`` starts it (fragmented-0 at
  32 nodes, untimed: one block of reopt_blocks.BLOCK_NODES);
- ``relax``: the typed relaxation (``relax.typed_relaxation`` at the finest merge level: its instance, node map
  and bars) of fragmented-0, haein-0 and training-1 at 32 nodes and of the haein issue state 0 at 16 nodes.

::

    PYTHONPATH=BEFORE python bench/bench_clean27_identity.py --out before_steps.json --parts steps
    PYTHONPATH=AFTER python bench/bench_clean27_identity.py --out after_steps.json --parts steps
    python bench/bench_clean27_identity.py --compare before_steps.json after_steps.json
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

STATES = [("fragmented", 0, 16), ("issue", 0, 16)]
#: Statistics that are times or that name a removed flag's always-idle bookkeeping (see RESULTS_cleanup.md).
SKIP = {"portfolio"}


def _time(key: str) -> bool:
    """Whether ``key`` names a wall-clock or CPU time (not a result)."""
    return key in ("wall", "seconds", "elapsed", "cpu_s") or key.endswith("_s") or key in SKIP


def _strip(x: Any) -> Any:
    """``x`` without time fields, as JSON-able values."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        x = dataclasses.asdict(x)
    if isinstance(x, dict):
        return {str(k): _strip(v) for k, v in x.items() if not _time(str(k))}
    if isinstance(x, (list, tuple)):
        return [_strip(v) for v in x]
    if isinstance(x, (set, frozenset)):
        return sorted(_strip(v) for v in x)
    return x


def _state(fam: str, seed: int, nodes: int):  # type: ignore[no-untyped-def]
    from bench_reopt import state

    return state(fam, seed, nodes)


def _placed(inst):  # type: ignore[no-untyped-def]
    from packer.cpsat import reopt

    start = reopt.no_move_hint(inst, time_limit=None, seed=0)
    assert start is not None
    return {a.request: list(a.units) for a in start.assignments}


def _plan(inst, got) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from packer.cpsat import reopt
    from packer.plans import objective_value

    return {"placed": {r: [u.model_dump(mode="json") for u in us] for r, us in sorted(got.items())},
            "objective": objective_value(inst, got), "moves": reopt.moves(inst, got)}


def steps_part() -> dict[str, Any]:
    from packer.cpsat import reopt

    out: dict[str, Any] = {}
    for fam, seed, nodes in STATES:
        inst = _state(fam, seed, nodes)
        placed = _placed(inst)
        bb = reopt.BudgetBound(inst)
        bb.stays_lp(None, 120.0)
        bb.stays_lp(4, 120.0)
        for cap in (None, 4):
            guide = reopt._guide_of(bb, inst, cap)
            got, stats = reopt.move_steps(inst, placed, cap=cap, deadline=time.perf_counter() + 3600, seed=0,
                                          workers=1, guide=guide, max_steps=12, det=0.5)
            assert reopt._valid(inst, got)
            out[f"{fam}/{seed}/{nodes}/cap{cap}"] = {**_plan(inst, got), "guide": guide is not None,
                                                     "stats": _strip(stats)}
    return out


def _bounds(inst, cap) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from packer.cpsat import reopt

    bb = reopt.BudgetBound(inst)
    snaps: list[Any] = []

    def left() -> float:
        return 1e6

    reopt._budget_bounds(bb, cap, left, lambda: snaps.append(1), reopt.LATE_BOUND_SHARE)
    return {"best": bb.best(cap), "values": _strip(bb.values), "repack": bb.repack, "stays": _strip(bb.stays),
            "stays_moves": _strip(bb.stays_moves), "failed": _strip(bb.failed), "guide": _strip(bb.guide),
            "guides": _strip(bb.guides), "snapshots": len(snaps), "int_stays": _strip(bb.int_stays)}


def bounds_part_run() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for fam, seed, nodes in STATES:
        inst = _state(fam, seed, nodes)
        for cap in (None, 4):
            out[f"{fam}/{seed}/{nodes}/cap{cap}"] = _bounds(inst, cap)
    return out


def blocks_part() -> dict[str, Any]:
    from packer.cpsat.block_bound import block_bound
    from packer.cpsat.reopt_blocks import block_steps, blocks
    from packer.generate import generate

    out: dict[str, Any] = {}
    inst = generate("fragmented", seed=0, nodes=32)
    placed = _placed(inst)
    got, stats = block_steps(inst, placed, cap=None, deadline=time.perf_counter() + 600, workers=1,
                             max_steps=4, det=0.5, size=16)
    out["steps"] = {**_plan(inst, got), "blocks": stats["blocks"], "passes": stats["passes"]}
    bb = block_bound(inst, blocks(inst, 16), iterations=3, time_limit=None)
    out["bound"] = {"value": bb.value, "values": bb.values, "per_block": bb.per_block, "fallbacks": bb.fallbacks,
                    "lam_u": bb.lam_u}
    return out


def children_part() -> dict[str, Any]:
    from packer.cpsat import reopt
    from packer.cpsat.reopt_late import LateBounds
    from packer.generate import generate

    out: dict[str, Any] = {}
    for fam, seed, nodes in STATES:
        inst = _state(fam, seed, nodes)
        bb = reopt.BudgetBound(inst)
        late = LateBounds(bb, None, time.time() + 600.0)
        rec = late.finish(600.0)
        out[f"late/{fam}/{seed}/{nodes}"] = {"stays": _strip(bb.stays), "stays_moves": _strip(bb.stays_moves),
                                             "guide": _strip(bb.guide), "int_stays": _strip(bb.int_stays),
                                             "rows_broken": _strip(bb.stays_rows_broken),
                                             "answers": {k: rec.get(k) for k in ("snapshots", "ended")}}
    inst = generate("fragmented", seed=0, nodes=32)
    got = reopt._start_child(inst, None, None).get(600.0)  # a fresh interpreter: reopt_blocks' own blocks
    out["blocks_child"] = None if got is None else {"value": got.value, "values": got.values,
                                                    "per_block": got.per_block, "fallbacks": got.fallbacks}
    return out


def relax_part() -> dict[str, Any]:
    from packer.cpsat.relax import merge_levels, typed_relaxation

    out: dict[str, Any] = {}
    for fam, seed, nodes in (("fragmented", 0, 32), ("haein", 0, 32), ("training", 1, 32), ("issue", 0, 16)):
        inst = _state(fam, seed, nodes)
        levels = merge_levels(inst)
        if not levels:
            out[f"{fam}/{seed}/{nodes}"] = None
            continue
        rel = typed_relaxation(inst, levels[0])
        out[f"{fam}/{seed}/{nodes}"] = {"level": levels[0], "instance": rel.instance.model_dump(mode="json"),
                                        "where": sorted((repr(k), repr(v)) for k, v in rel.where.items()),
                                        "barred": {k: sorted(v) for k, v in sorted(rel.barred.items())}}
    return out


def main() -> None:
    from identity_parts import run

    run({"steps": steps_part, "bounds": bounds_part_run, "blocks": blocks_part, "children": children_part,
         "relax": relax_part}, "steps,bounds,blocks,children,relax")


if __name__ == "__main__":
    main()
