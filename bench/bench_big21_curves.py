"""Each block's gain curve at deterministic step time, 16,384 GPUs (session 21; not a unit test).

    nice -n 5 python bench/bench_big21_curves.py hint fragmented 0 /work/scratch21/hint_frag0.pkl
    nice -n 5 python bench/bench_big21_curves.py curves fragmented 0 /work/scratch21/hint_frag0.pkl \
        --blocks 0-7 --steps 24 --det 1.0 --jsonl bench/big21_curves_frag0.jsonl

``hint`` saves the fast placers' no-move plan of the 2,048-node instance (the re-optimizer's start).
``curves`` cuts each block's sub-instance from that plan as the one-block-at-a-time path does
(:func:`packer.cpsat.decompose._sub_instance`, BLOCK_OFFER waiting requests, the whole quota and
migration slack) and runs move steps on it with one worker, ``--steps`` CP-SAT steps of deterministic
time ``--det`` (reproducible objective path), recording the gain after every improvement with its step
number and the process CPU seconds: how much each block gains per step, where its curve flattens, and
so what a time allocation over the blocks can buy (``--pack 1``: with pack steps, as session 21's ``reopt_blocks.BLOCK_PACK`` had them, removed in
session 26).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import time

from packer.cpsat import reopt
from packer.cpsat.decompose import _sub_instance
from packer.cpsat.reopt_blocks import BLOCK_OFFER, blocks
from packer.generate import generate
from packer.plans import objective_value


class _Trace:
    def __init__(self, start: float) -> None:
        self.start, self.c0 = start, time.process_time()
        self.points: list[tuple[int, float, float]] = []

    def update(self, *, best: float | None = None, note: str = "", **_: object) -> None:
        m = re.search(r"(\d+)$", note)
        if best is not None:
            self.points.append((int(m.group(1)) if m else -1, round(time.process_time() - self.c0, 2),
                                round(best - self.start, 3)))


def _range(s: str) -> list[int]:
    out: list[int] = []
    for part in s.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


def _visits(inst, placed, parts, i, a) -> None:  # type: ignore[no-untyped-def]
    """``--visits V``: the block's ``--steps`` in V visits of steps/V each; each visit cuts the block's
    sub-instance again from the plan with the earlier visits merged (the next rotating offer slice, as
    the one-block-at-a-time path's passes do) and runs with the next seed."""
    from packer.cpsat.decompose import merge_units

    cur = {rid: list(us) for rid, us in placed.items()}
    start = objective_value(inst, cur)
    c0 = time.process_time()
    per: list[dict[str, object]] = []
    for v in range(a.visits):
        sub, hint = _sub_instance(inst, cur, set(parts[i]), i + v * len(parts), offer=BLOCK_OFFER)
        assert hint is not None
        here = {x.request: list(x.units) for x in hint.assignments}
        before = objective_value(sub, here)
        out, st = reopt.move_steps(sub, here, cap=sub.objective.max_migrations, deadline=time.perf_counter() + 1e9,
                                   seed=i + v * len(parts), workers=1, max_steps=a.steps // a.visits, det=a.det,
                                   pack=bool(a.pack))
        after = objective_value(sub, out)
        ok = after > before + 1e-9 and merge_units(inst, sub, out, cur)
        per.append({"visit": v, "gain": round(after - before, 3), "merged": ok, "steps": st["steps"],
                    "cpu_s": round(time.process_time() - c0, 2)})
    row = {"family": a.family, "seed": a.seed, "block": i, "visits": a.visits, "max_steps": a.steps, "det": a.det,
           "gain": round(objective_value(inst, cur) - start, 3), "cpu_s": round(time.process_time() - c0, 2),
           "per_visit": per, "load": round(os.getloadavg()[0], 2)}
    print(json.dumps(row), flush=True)
    if a.jsonl:
        with open(a.jsonl, "a") as f:
            f.write(json.dumps(row) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["hint", "curves"])
    ap.add_argument("family")
    ap.add_argument("seed", type=int)
    ap.add_argument("pkl")
    ap.add_argument("--blocks", default="0-15")
    ap.add_argument("--steps", type=int, default=24)
    ap.add_argument("--det", type=float, default=1.0)
    ap.add_argument("--jsonl")
    ap.add_argument("--visits", type=int, default=1)
    ap.add_argument("--pack", type=int, default=0, help="1: pack steps in the blocks")
    a = ap.parse_args()
    inst = generate(a.family, seed=a.seed, nodes=2048)
    if a.what == "hint":
        t = time.perf_counter()
        hint = reopt.no_move_hint(inst, time_limit=300, seed=0)
        assert hint is not None
        with open(a.pkl, "wb") as f:
            pickle.dump({x.request: list(x.units) for x in hint.assignments}, f)
        print(json.dumps({"hint": hint.objective, "s": round(time.perf_counter() - t, 1), "load": os.getloadavg()[0]}))
        return 0
    with open(a.pkl, "rb") as f:
        placed = pickle.load(f)  # noqa: S301 - our own file
    parts = blocks(inst)
    for i in _range(a.blocks):
        if a.visits > 1:
            _visits(inst, placed, parts, i, a)
            continue
        sub, hint = _sub_instance(inst, placed, set(parts[i]), i, offer=BLOCK_OFFER)
        assert hint is not None
        here = {x.request: list(x.units) for x in hint.assignments}
        before = objective_value(sub, here)
        tr = _Trace(before)
        c0 = time.process_time()
        out, st = reopt.move_steps(sub, here, cap=sub.objective.max_migrations, deadline=time.perf_counter() + 1e9,
                                   seed=i, workers=1, max_steps=a.steps, det=a.det, pack=bool(a.pack),
                                   progress=tr)  # type: ignore[arg-type]
        row = {"family": a.family, "seed": a.seed, "block": i, "requests": len(sub.requests), "start": round(before, 3),
               "gain": round(objective_value(sub, out) - before, 3), "steps": st["steps"], "improved": st["improved"],
               "cpu_s": round(time.process_time() - c0, 2), "det": a.det, "pack": a.pack,
               "by_kind": {k: {"steps": v.get("steps"), "gain": v.get("gain")} for k, v in st.get("by_kind", {}).items()}, "max_steps": a.steps, "curve": tr.points,
               "load": round(os.getloadavg()[0], 2)}
        print(json.dumps(row), flush=True)
        if a.jsonl:
            with open(a.jsonl, "a") as f:
                f.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
