"""Where the bound by blocks' time goes at 16,384 GPUs, phase by phase (not a unit test).

    python bench/bench_reopt_blockcost.py profile fragmented --seed 0 --blocks 0 1

``profile``: the state's block instances (:func:`packer.cpsat.block_bound.block_instances`, timed
once), then for each block asked: the repack instance, its CP-SAT model (CpsatModel), the stays form,
the rest of BlockLP (export and coupling rows, HiGHS model), the share solve and one solve at the share
multipliers; wall and process CPU seconds each, the LP's rows / columns / nonzeros. One JSON line a block.
"""

from __future__ import annotations

import argparse
import json
import os
import time


def _load() -> float:
    return round(os.getloadavg()[0], 2)


class _Clock:
    def __init__(self) -> None:
        self.t, self.c = time.perf_counter(), time.process_time()

    def lap(self) -> tuple[float, float]:
        t, c = time.perf_counter(), time.process_time()
        out = (round(t - self.t, 2), round(c - self.c, 2))
        self.t, self.c = t, c
        return out


def profile(args: argparse.Namespace) -> None:
    from packer.cpsat import block_bound as bbm
    from packer.cpsat import model as model_mod
    from packer.cpsat import reopt, reopt_stays
    from packer.cpsat.reopt_blocks import blocks
    from packer.generate import generate

    inst = generate(args.family, seed=args.seed, nodes=args.nodes)
    parts = blocks(inst, args.size)
    clk = _Clock()
    subs, tags = bbm.block_instances(inst, parts)
    inst_s = clk.lap()
    times: dict[str, list[float]] = {}

    def timed(name, fn):  # type: ignore[no-untyped-def]
        def wrap(*a, **k):  # type: ignore[no-untyped-def]
            t, c = time.perf_counter(), time.process_time()
            out = fn(*a, **k)
            acc = times.setdefault(name, [0.0, 0.0])
            acc[0] += time.perf_counter() - t
            acc[1] += time.process_time() - c
            return out
        return wrap

    reopt.repack_instance = timed("repack_instance", reopt.repack_instance)
    model_mod.CpsatModel = timed("cpsat_model", model_mod.CpsatModel)
    reopt_stays.stays_form = timed("stays_form", reopt_stays.stays_form)
    for b in args.blocks:
        times.clear()
        row: dict[str, object] = {"family": args.family, "seed": args.seed, "block": b, "nodes": len(parts[b]),
                                  "requests": len(subs[b].requests), "block_instances": inst_s,
                                  "start_utc": time.strftime("%H:%M:%S", time.gmtime()), "load_start": _load()}
        clk = _Clock()
        lp = bbm.BlockLP(subs[b], tags[b])
        row["blocklp"] = clk.lap()
        row.update({k: (round(v[0], 2), round(v[1], 2)) for k, v in times.items()})
        row["rows"], row["cols"], row["nnz"] = lp.a.shape[0], lp.a.shape[1], int(lp.a.nnz)
        caps = {k: u / 2 for k, u in lp.U.items()}
        lam, eta = lp.share_duals(caps)
        row["share_solve"] = clk.lap()
        v = lp.solve(lam, eta)
        row["solve_at_share"] = clk.lap()
        row["value"] = round(v[0], 3)
        row["load_end"] = _load()
        print(json.dumps(row), flush=True)
        with open(args.jsonl, "a") as f:
            f.write(json.dumps(row) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["profile"])
    ap.add_argument("family")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nodes", type=int, default=2048)
    ap.add_argument("--size", type=int, default=None)
    ap.add_argument("--blocks", type=int, nargs="+", default=[0])
    ap.add_argument("--jsonl", default="bench/reopt_blockcost_s16.jsonl")
    args = ap.parse_args()
    profile(args)


if __name__ == "__main__":
    main()
