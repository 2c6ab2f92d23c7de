"""Session 25 (branch hetero25): what a reach step (``lns.REACH_STEPS``) anchored on given waiting requests
gains from a saved plan, and how it compares with the ownership-exchange step on the same anchor.

Loads the plan as the incumbent (``lns_from_plan.plan_space``), and for every reach candidate whose request
id is listed (``all``: every candidate) solves its step once with DET deterministic units (one worker, seed
0): the anchor's share of the draw, its nodes, the step's nodes and GPU models, the gain, whether proven.
With ``--owner`` it also solves the ownership-exchange step of the same anchor, where it is one.

    python bench/bench_hetero25_reach_probe.py hetero 108 PLAN.json req-00121,req-00161 DET [--owner] [--out FILE]
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from benchargs import pop_option
from lns_from_plan import plan_space

from packer.cpsat import lns as lns_mod
from packer.cpsat import lns_owner, lns_reach


def _solve(space, names: set[str], nodes: set[int], det: float) -> dict[str, object]:  # type: ignore[no-untyped-def]
    t0, got = time.perf_counter(), {}
    found = lns_mod._step(space.sub_model(space.best, names, [], nodes), space.best_obj, seconds=3600.0, det=det,
                          seed=0, workers=1, gap=space.gap, info=got)
    gain = 0.0 if found is None else (found[1] - space.best_obj) / space.model.data.scale
    return {"gain": round(gain, 3), "proven": bool(got.get("proven")), "det": round(got.get("det", 0.0), 3),
            "wall_s": round(time.perf_counter() - t0, 1)}


def main(fam: str, seed: int, path: str, ids: list[str], det: float, owner: bool, out: str | None) -> None:
    lns_mod.REACH_STEPS = True
    inst, model, space = plan_space(fam, seed, path)
    assert space is not None and space.reach is not None
    ix, d = space.reach, model.data
    vals = np.asarray(space.best, dtype=np.int64)
    most = lns_mod.REACH_MAX_NODES
    cands = lns_reach.candidates(ix, vals, space.per_node, most)
    total = sum(ix.anchors[k][5] for k in cands)
    for k in cands:
        r = d.groups[ix.anchors[k][0]].req
        if ids != ["all"] and r.id not in ids:
            continue
        nodes, _, _ = lns_reach.view(ix, vals, k, space.per_node, most)
        row: dict[str, object] = {
            "family": fam, "seed": seed, "plan": path, "request": r.id, "tenant": r.tenant, "kind": r.kind,
            "count": r.count, "size": r.profile or r.slices or r.gpu_milli, "priority": r.priority,
            "draw_share": round(ix.anchors[k][5] / total, 4), "anchor_nodes": len(ix.anchors[k][4]),
            "step_nodes": len(nodes), "models": sorted({inst.nodes[n].gpu_model or "" for n in nodes}),
            "reach": _solve(space, {space.node_domain[n] for n in nodes}, set(nodes), det)}
        if owner and space.owner is not None:
            ox = space.owner
            pos = [j for j, a in enumerate(ox.anchors) if a[0] == ix.anchors[k][0]]
            if pos and pos[0] in lns_owner.candidates(ox, vals):
                onodes = lns_owner._step_nodes(ox, vals, pos[0])
                row["owner_nodes"] = len(onodes)
                row["owner"] = _solve(space, {space.node_domain[n] for n in onodes}, onodes, det)
        print(json.dumps(row), flush=True)
        if out:
            with open(out, "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    argv = sys.argv[1:]
    dest = pop_option(argv, "--out")
    with_owner = "--owner" in argv
    argv = [a for a in argv if a != "--owner"]
    main(argv[0], int(argv[1]), argv[2], argv[3].split(","), float(argv[4]), with_owner, dest)
