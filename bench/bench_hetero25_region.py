"""Session 25 (branch hetero25): what one LNS step over a chosen node set gains from a saved plan.

Loads the plan as the model's incumbent (``lns_from_plan.plan_space``: complete hint, a token run), frees
every node of the given GPU models (``model:A+B``) or the given node ids (``n0001+n0002``) and nothing else
(the rest stays at the plan; every request may grow, as a sequential step), and solves that step once with
DET deterministic units, one worker, seed 0. Prints the gain, whether CP-SAT proved the step optimal (to
lns.STEP_GAP), and every request whose units changed (+ placed, - dropped, ~ moved: nodes before -> after).
Unlike bench_hetero23_subexact.py (a sub-instance solved from its own greedy hint, partly placed requests
pinned), the step starts from the plan and its partly placed requests may move within the freed nodes.

    python bench/bench_hetero25_region.py hetero 108 PLAN.json model:H100-80GB DET [--out FILE.jsonl]
"""

from __future__ import annotations

import collections
import json
import sys
import time

from benchargs import pop_option
from lns_from_plan import plan_space

from packer.cpsat import lns as lns_mod


def main(fam: str, seed: int, path: str, sel: str, det: float, out: str | None) -> None:
    inst, model, space = plan_space(fam, seed, path)
    assert space is not None
    if sel.startswith("model:"):
        models = set(sel[len("model:"):].split("+"))
        nodes = {i for i, n in enumerate(inst.nodes) if n.gpu_model in models}
    else:
        ids = set(sel.split("+"))
        nodes = {i for i, n in enumerate(inst.nodes) if n.id in ids}
    nodes = {ni for ni in nodes if ni in space.node_domain}
    names = {space.node_domain[ni] for ni in nodes}
    t0, got = time.perf_counter(), {}
    found = lns_mod._step(space.sub_model(space.best, names, [], nodes), space.best_obj, seconds=3600.0, det=det,
                          seed=0, workers=1, gap=space.gap, info=got)
    d = model.data
    start = space.best_obj / d.scale + model.constant
    gain = 0.0 if found is None else (found[1] - space.best_obj) / d.scale
    row = {"family": fam, "seed": seed, "plan": path, "select": sel, "nodes": len(nodes), "start": round(start, 3),
           "gain": round(gain, 3), "proven": bool(got.get("proven")), "det": round(got.get("det", 0.0), 3),
           "wall_s": round(time.perf_counter() - t0, 1)}
    print(json.dumps(row), flush=True)
    if out:
        with open(out, "a") as f:
            f.write(json.dumps(row) + "\n")
    if found is None:
        return
    model.values = space.best
    before = model.placement()[0]
    model.values = found[0]
    after = model.placement()[0]
    by_id = {r.id: r for r in inst.requests}
    for rid in sorted(set(before) | set(after)):
        a = collections.Counter(u.node for u in before.get(rid, []))
        b = collections.Counter(u.node for u in after.get(rid, []))
        if a != b:
            r = by_id[rid]
            tag = "+" if not a else "-" if not b else "~"
            print(tag, rid, r.tenant, r.kind, r.count, r.profile or r.slices or r.gpu_milli, r.priority,
                  r.gpu_models, dict(sorted(a.items())), "->", dict(sorted(b.items())))


if __name__ == "__main__":
    argv = sys.argv[1:]
    dest = pop_option(argv, "--out")
    main(argv[0], int(argv[1]), argv[2], argv[3], float(argv[4]), dest)
