"""Folded block LPs (packer.cpsat.block_fold, session 19): what folding saves, block by block and for the bound.

    python bench/bench_reopt_blockfold.py cost fragmented --seed 0 --blocks 0 1 [--merge none|auto] --jsonl X.jsonl
    python bench/bench_reopt_blockfold.py bound fragmented --seed 0 --merge none --fold 1 --iterations 5 --jsonl X.jsonl
    python bench/bench_reopt_blockfold.py bound fragmented --seed 0 --merge auto --fold-tags w i f --eta-ranges 1 ...

``cost`` (16,384 GPUs by default, the re-optimizer's blocks): for each block asked, its LP built plain
and folded (the order turning per block), each: process CPU seconds to build (BlockLP), for the share
solve (each waiting class held to U_k / the number of blocks, the same caps in both forms) and for the
solve at those share prices, the LP's rows / columns / nonzeros, and the block's value at its share
prices (deterministic: the two forms must agree to the cent). ``bound``: block_bound (own nodes or
merged, folded or not) with every round as (round, bound, wall s, process CPU s) and the capacity
bound beside; ``--fold-tags`` sets block_fold.FOLD_TAGS (own-node LPs), ``--eta-ranges`` block_bound's
η rule (session 20). Bounds are deterministic; seconds move with the load (printed beside).
"""

from __future__ import annotations

import argparse
import json
import os
import time


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _merge(inst, arg: str):  # type: ignore[no-untyped-def]
    from packer.cpsat.block_bound import merge_level

    return None if arg == "none" else merge_level(inst, arg)


def cost(args: argparse.Namespace, inst, row: dict) -> None:  # type: ignore[no-untyped-def, type-arg]
    from packer.cpsat import block_bound as bbm
    from packer.cpsat.reopt_blocks import blocks

    parts = blocks(inst, args.size)
    subs, tags = bbm.block_instances(inst, parts)
    merge = _merge(inst, args.merge)
    row["blocks"] = len(parts)
    per = []
    for i, b in enumerate(args.blocks):
        out: dict[str, object] = {"block": b, "load_start": _load()}
        for fold in ((False, True) if i % 2 == 0 else (True, False)):
            c0 = time.process_time()
            lp = bbm.BlockLP(subs[b], tags[b], merge=merge, fold=fold)
            c1 = time.process_time()
            caps = {k: u / len(parts) for k, u in lp.U.items()}
            lam, eta = lp.share_duals(caps)
            c2 = time.process_time()
            v = lp.solve(lam, eta)[0]
            c3 = time.process_time()
            name = "fold" if fold else "plain"
            out[name] = {"rows": lp.a.shape[0], "cols": lp.a.shape[1], "nnz": int(lp.a.nnz),
                         "families": len(lp.folds), "build_cpu_s": round(c1 - c0, 2),
                         "share_cpu_s": round(c2 - c1, 2), "solve_cpu_s": round(c3 - c2, 2),
                         "total_cpu_s": round(c3 - c0, 2), "value_at_share": round(v, 4)}
            del lp
        out["load_end"] = _load()
        print(json.dumps(out), flush=True)
        per.append(out)
    row["per_block"] = per


def bound(args: argparse.Namespace, inst, row: dict) -> None:  # type: ignore[no-untyped-def, type-arg]
    from packer.cpsat import block_fold
    from packer.cpsat.block_bound import block_bound
    from packer.cpsat.reopt_blocks import blocks

    block_fold.FOLD = bool(args.fold)
    row["fold"] = block_fold.FOLD
    if args.fold_tags is not None:
        block_fold.FOLD_TAGS = tuple(args.fold_tags)
    row["fold_tags"] = list(block_fold.FOLD_TAGS)
    from packer.cpsat import block_bound as bbm

    ranges = bbm.ETA_RANGES if args.eta_ranges is None else bool(args.eta_ranges)
    row["eta_ranges"] = ranges
    parts = blocks(inst, args.size)
    rounds: list[tuple[int, float, float, float]] = []
    c0 = time.process_time()
    bb = block_bound(inst, parts, iterations=args.iterations, merge=_merge(inst, args.merge),
                     time_limit=args.time_limit_bound, eta_ranges=ranges,
                     progress=lambda i, v, s: rounds.append((i, round(v, 3), round(s, 2),
                                                             round(time.process_time() - c0, 2))))
    row["blocks"] = len(parts)
    row["block_bound"] = bb.value
    row["rounds"] = rounds
    row["first_s"] = round(bb.first_s, 2)
    row["seconds"] = round(bb.seconds, 2)
    row["fallbacks"] = bb.fallbacks


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["cost", "bound"])
    ap.add_argument("family")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nodes", type=int, default=2048)
    ap.add_argument("--size", type=int, default=None, help="nodes a block (default the re-optimizer's)")
    ap.add_argument("--blocks", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--merge", default="none", help="none: the blocks' own nodes; auto: merged (block_bound.MERGE)")
    ap.add_argument("--fold", type=int, choices=[0, 1], default=1)
    ap.add_argument("--fold-tags", nargs="+", default=None,
                    help="block_fold.FOLD_TAGS for own-node LPs (w, i, f); default the module's")
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--eta-ranges", type=int, choices=[0, 1], default=None,
                    help="block_bound(eta_ranges=): η from the blocks' ranges of optimal share duals "
                         "(default block_bound.ETA_RANGES)")
    ap.add_argument("--time-limit-bound", type=float, default=None)
    ap.add_argument("--jsonl", default="bench/reopt_blockfold_s19.jsonl")
    args = ap.parse_args()
    from packer.cpsat.bound import capacity_bound
    from packer.generate import generate

    row: dict[str, object] = {"mode": args.mode, "family": args.family, "seed": args.seed, "nodes": args.nodes,
                              "merge": args.merge, "start_utc": time.strftime("%H:%M:%S", time.gmtime()),
                              "load_start": _load()}
    if args.mode == "bound":
        row["iterations"] = args.iterations
    inst = generate(args.family, seed=args.seed, nodes=args.nodes)
    row["capacity"] = capacity_bound(inst)
    {"cost": cost, "bound": bound}[args.mode](args, inst, row)
    row["cpu_s"] = round(time.process_time(), 2)
    row["load_end"] = _load()
    row["end_utc"] = time.strftime("%H:%M:%S", time.gmtime())
    print(json.dumps(row), flush=True)
    with open(args.jsonl, "a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
