"""Where the 16,384-GPU fragmented gap is, block by block (session 24; not a unit test).

    nice -n 5 python bench/bench_big24_decomp.py steps fragmented 100 /work/scratch21/hint_frag100.pkl \
        --det 1.0 --max-steps 12 --out /work/scratch24/steps100.pkl --jsonl bench/big24_decomp_frag100.jsonl
    nice -n 5 python bench/bench_big24_decomp.py lps /work/scratch24/steps100.pkl \
        --jsonl bench/big24_decomp_frag100.jsonl

``steps``: the block steps of the re-optimizer's huge path (:func:`packer.cpsat.reopt_blocks.block_steps`,
waves of 2 blocks, deterministic: ``det`` per CP-SAT step and ``max_steps`` per block, one pass) from a
saved no-move plan (bench_big21_curves.py ``hint``), each block's sub-instance kept as the wave cut it
(its offer of waiting work, its part of the slack, border work pinned) with its value before and after
its steps; the plan is checked (``packer check``'s rules, with GPU modes). ``--set MOD.FLAG=VALUE``: a
module flag for the run (an A/B arm).

``lps``: for each kept block sub-instance, its own stays LP (the repack LP with migration costs on the
block's own nodes, :meth:`packer.cpsat.reopt.BudgetBound.stays_lp`: the bound the 1,024-GPU path would
report for that sub-instance), so that the block's plateau is ``LP - after`` and what it could still gain
from where it started is ``LP - before``. LP values do not depend on the load.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import time


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _set(flags: list[str]) -> dict[str, object]:
    import importlib

    done: dict[str, object] = {}
    for s in flags:
        name, val = s.split("=", 1)
        mod, attr = name.rsplit(".", 1)
        m = importlib.import_module(f"packer.cpsat.{mod}")
        v = json.loads(val.lower()) if val.lower() in ("true", "false") else json.loads(val)
        setattr(m, attr, v)
        done[name] = v
    return done


def steps(a: argparse.Namespace) -> dict[str, object]:
    from packer.cpsat import decompose, reopt, reopt_blocks
    from packer.generate import generate
    from packer.plans import objective_value

    arm = _set(a.set or [])
    inst = generate(a.family, seed=a.seed, nodes=a.nodes)
    with open(a.pkl, "rb") as f:
        placed0 = pickle.load(f)  # noqa: S301 - our own file
    parts = reopt_blocks.blocks(inst)
    of_nodes = {frozenset(p): i for i, p in enumerate(parts)}
    cut: list[tuple[int, object, dict]] = []
    orig = decompose._sub_instance

    def keep(inst_, placed, nodes, *args, **kw):  # type: ignore[no-untyped-def]
        sub, hint = orig(inst_, placed, nodes, *args, **kw)
        if hint is not None:
            cut.append((of_nodes.get(frozenset(nodes), -1), sub, {x.request: list(x.units) for x in hint.assignments}))
        return sub, hint

    decompose._sub_instance = keep
    start = objective_value(inst, placed0)
    load0 = _load()
    t0 = time.perf_counter()
    out, st = reopt_blocks.block_steps(inst, placed0, cap=None, deadline=t0 + 3600, seed=0, workers=2,
                                       det=a.det, max_steps=a.max_steps, parallel=2)
    wall = time.perf_counter() - t0
    decompose._sub_instance = orig
    ok = reopt._valid(inst, out)
    recs = st.get("per_block", [])
    row = {"mode": "steps", "family": a.family, "seed": a.seed, "arm": arm, "det": a.det, "max_steps": a.max_steps,
           "start": round(start, 3), "end": round(objective_value(inst, out), 3), "check_ok": ok,
           "wall_s": round(wall, 1), "load": [load0, _load()], "utc": time.strftime("%H:%M", time.gmtime()),
           "per_block": [{k: r.get(k) for k in ("block", "start", "gain", "cpu_s", "steps", "merged", "lp", "guide_cpu_s")} for r in recs]}
    with open(a.out, "wb") as f:
        pickle.dump({"row": row, "cut": cut, "out": out, "family": a.family, "seed": a.seed, "nodes": a.nodes}, f)
    return row


def lps(a: argparse.Namespace) -> dict[str, object]:
    from packer.cpsat.reopt import BudgetBound
    from packer.plans import objective_value

    with open(a.pkl, "rb") as f:
        saved = pickle.load(f)  # noqa: S301 - our own file
    row0 = saved["row"]
    recs = {r["block"]: r for r in row0["per_block"]}
    per = []
    for b, sub, here in saved["cut"]:
        if a.blocks and b not in a.blocks:
            continue
        c0 = time.process_time()
        bb = BudgetBound(sub)
        lp = bb.stays_lp(sub.objective.max_migrations)
        before = objective_value(sub, here)
        r = recs.get(b, {})
        after = before + float(r.get("gain") or 0.0)
        one = {"block": b, "before": round(before, 3), "after": round(after, 3), "lp": None if lp is None else round(lp, 3),
               "merged": r.get("merged"), "offered": sum(1 for q in sub.requests if q.id not in here),
               "requests": len(sub.requests), "cpu_s": round(time.process_time() - c0, 2), "load": _load()}
        print(json.dumps(one), flush=True)
        per.append(one)
    done = [p for p in per if p["lp"] is not None]
    return {"mode": "lps", "family": saved["family"], "seed": saved["seed"], "arm": row0.get("arm"),
            "det": row0.get("det"), "max_steps": row0.get("max_steps"), "per_block": per,
            "sum_lp_minus_after": round(sum(p["lp"] - p["after"] for p in done), 3),
            "sum_lp_minus_before": round(sum(p["lp"] - p["before"] for p in done), 3),
            "sum_gain": round(sum(p["after"] - p["before"] for p in done), 3),
            "utc": time.strftime("%H:%M", time.gmtime())}


def main() -> int:
    ap = argparse.ArgumentParser()
    sp = ap.add_subparsers(dest="mode", required=True)
    s = sp.add_parser("steps")
    s.add_argument("family")
    s.add_argument("seed", type=int)
    s.add_argument("pkl")
    s.add_argument("--nodes", type=int, default=2048)
    s.add_argument("--det", type=float, default=1.0)
    s.add_argument("--max-steps", type=int, default=12)
    s.add_argument("--out", required=True)
    s.add_argument("--set", nargs="*")
    s.add_argument("--jsonl")
    p = sp.add_parser("lps")
    p.add_argument("pkl")
    p.add_argument("--blocks", type=int, nargs="*")
    p.add_argument("--jsonl")
    a = ap.parse_args()
    row = steps(a) if a.mode == "steps" else lps(a)
    print(json.dumps(row), flush=True)
    if a.jsonl:
        with open(a.jsonl, "a") as f:
            f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
