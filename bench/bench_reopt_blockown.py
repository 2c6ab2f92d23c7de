"""Merged block LPs at prices from own-node share solves (block_bound.OWN_SHARE; session 18).

    python bench/bench_reopt_blockown.py prices fragmented --seed 0 [--own 0 1 ... 15] --jsonl X.jsonl
    python bench/bench_reopt_blockown.py oneblock fragmented --seed 0 --nodes 128 --jsonl X.jsonl
    python bench/bench_reopt_blockown.py bound fragmented --seed 0 --own-share 4 --iterations 5 [--rooms-above 0|1] --jsonl X.jsonl

``prices`` (16,384 GPUs (``--nodes`` 2048), the re-optimizer's 16 blocks, merged block LPs as block_bound builds them):
the merged round 1 (each class's median share dual over the merged blocks), then, block by block,
the share solve of the block's own-node LP (each own LP built, solved and dropped in turn) with, per
block: its CPU seconds, how many of its waiting classes are a merged class as they stand, and the
block's value at its own prices in both forms (own LP; merged LP with the prices mapped by
block_bound.to_merged) and the merged LP at its own merged share prices; then the merged round at the
median of the own prices over N evenly spaced blocks (N = 1, 2, 4, 8, all asked). ``bound``:
block_bound as the re-optimizer's child runs it, with OWN_SHARE blocks, rounds as (round, bound, wall s,
process CPU s). ``oneblock``: the whole state as one block (1,024 GPUs: ``--nodes 128``), no multipliers:
its LP on its own nodes, merged (ROOMS_ABOVE off / on), and on its own nodes without the waiting work's
rack/pod locality or with GPU instead of node isolation. Bounds are deterministic; seconds move with the
load (printed beside).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import defaultdict


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _cpu() -> float:
    return round(time.process_time(), 2)


def prices(args: argparse.Namespace, inst, row: dict) -> None:  # type: ignore[no-untyped-def, type-arg]
    from packer.cpsat import block_bound as bbm
    from packer.cpsat.reopt_blocks import blocks

    parts = blocks(inst, args.size)
    level = bbm.merge_level(inst, "auto")
    c0, t0 = time.process_time(), time.perf_counter()
    lps, big_u = bbm.block_lps(inst, parts, merge=level)
    row["merged_build_cpu_s"] = round(time.process_time() - c0, 2)
    n_k: dict[object, int] = defaultdict(int)
    rho: dict[object, float] = {}
    for bl in lps:
        for k in bl.U:
            n_k[k] += 1
        rho.update(bl.rho)
    per_m = []
    c1 = time.process_time()
    for bl in lps:
        per_m.append(bl.share_duals({k: big_u[k] / n_k[k] for k in bl.U}))
    row["merged_share_cpu_s"] = round(time.process_time() - c1, 2)
    lam_m, eta_m = bbm.median_prices(per_m, rho, {k: 0.0 for k in big_u}, {})

    def rem() -> None:
        return None

    c1 = time.process_time()
    r1, pb1, *_ = bbm._round(lps, big_u, lam_m, eta_m, rem)
    row["merged_round_cpu_s"] = round(time.process_time() - c1, 2)
    row["merged_round1"] = round(r1, 3)
    row["merged_round1_blocks"] = [round(v, 2) for v in pb1]
    print(json.dumps(row), flush=True)
    own_got: dict[int, tuple] = {}  # type: ignore[type-arg]
    per_block = []
    which = args.own if args.own else list(range(len(lps)))
    for b in which:
        c1 = time.process_time()
        own = bbm.own_lp(lps[b])
        if own is None:
            continue
        build = time.process_time() - c1
        lf, ef = own.share_duals(bbm.own_caps(lps[b], own, n_k))
        cpu = time.process_time() - c1
        mapped = bbm.to_merged(lps[b], own, lf)
        own_got[b] = (mapped, ef)
        same = sum(1 for k in own.U if k in lps[b].U)
        lm, em = per_m[b]
        ks = [k for k in mapped if k in lm and rho.get(k, 0) > 0]
        d = {"block": b, "own_build_cpu_s": round(build, 2), "own_cpu_s": round(cpu, 2),
             "own_classes": len(own.U), "same_classes": same, "merged_classes": len(lps[b].U),
             "own_at_own": round(own.solve(lf, ef)[0], 2),
             "merged_at_own": round(lps[b].solve(mapped, ef)[0], 2),
             "merged_at_merged": round(lps[b].solve(lm, em)[0], 2),
             "lam_rho_own_mean": round(statistics.fmean([mapped[k] / rho[k] for k in ks]), 3) if ks else None,
             "lam_rho_merged_mean": round(statistics.fmean([lm[k] / rho[k] for k in ks]), 3) if ks else None,
             "eta_own_nonzero": sum(1 for x in ef.values() if abs(x) > 1e-6), "eta_own": len(ef),
             "eta_merged_nonzero": sum(1 for x in em.values() if abs(x) > 1e-6), "eta_merged": len(em),
             "eta_own_mean": round(statistics.fmean(ef.values()), 3) if ef else None,
             "eta_merged_mean": round(statistics.fmean(em.values()), 3) if em else None,
             "load": _load()}
        del own
        per_block.append(d)
        print(json.dumps(d), flush=True)
    row["per_block"] = per_block
    rounds = []
    done = sorted(own_got)
    for n in (1, 2, 4, 8, 16):
        if n > len(done):
            break
        pick = [done[(i * len(done)) // n] for i in range(n)]
        lam, eta = bbm.median_prices([own_got[b] for b in pick], rho, lam_m, eta_m)
        v, pb, *_ = bbm._round(lps, big_u, lam, eta, rem)
        rounds.append({"n": n, "blocks": pick, "bound": round(v, 3), "per_block": [round(x, 2) for x in pb]})
        print(json.dumps(rounds[-1]), flush=True)
    row["own_rounds"] = rounds
    row["wall_s"] = round(time.perf_counter() - t0, 1)


def bound(args: argparse.Namespace, inst, row: dict) -> None:  # type: ignore[no-untyped-def, type-arg]
    from packer.cpsat.block_bound import block_bound
    from packer.cpsat.reopt_blocks import blocks

    rounds: list[tuple[int, float, float, float]] = []
    c0 = time.process_time()
    bb = block_bound(inst, blocks(inst, args.size), iterations=args.iterations, own_share=args.own_share, time_limit=args.time_limit_bound,
                     progress=lambda i, v, s: rounds.append((i, round(v, 3), round(s, 2),
                                                             round(time.process_time() - c0, 2))))
    row.update(block_bound=bb.value, rounds=rounds, own_blocks=bb.own_blocks, own_value=bb.own_value,
               first_s=round(bb.first_s, 2), seconds=round(bb.seconds, 2), fallbacks=bb.fallbacks)


def oneblock(args: argparse.Namespace, inst, row: dict) -> None:  # type: ignore[no-untyped-def, type-arg]
    """The whole state as ONE block (no multipliers): its LP on its own nodes, merged with and without
    ROOMS_ABOVE, and its own-node LP with the waiting work's rack/pod locality dropped and with node
    isolation made GPU isolation (what each part of the merge's relaxation costs)."""
    from packer.cpsat import block_bound as bbm

    parts = [[n.id for n in inst.nodes]]
    level = bbm.merge_level(inst, "auto")

    def val(i, merge=None, rooms=None) -> tuple[float, list[int]]:  # type: ignore[no-untyped-def]
        lps, _ = bbm.block_lps(i, parts, merge=merge, rooms_above=rooms)
        return round(lps[0].solve({}, {})[0], 3), [len(lps[0].sub.nodes), *lps[0].a.shape]

    row["level"] = level
    for key, i, merge, rooms in (("own", inst, None, None), ("merged", inst, level, False),
                                 ("merged_rooms", inst, level, True)):
        c0 = time.process_time()
        row[key], row[key + "_size"] = val(i, merge, rooms)
        row[key + "_cpu_s"] = round(time.process_time() - c0, 2)
    norack = inst.replace(requests=[r.model_copy(update={"locality": None}) if (
        r.locality is not None and r.locality.level in ("rack", "pod") and r.placement is None) else r
        for r in inst.requests])
    row["own_no_rack_locality"] = val(norack)[0]
    gpuiso = inst.model_copy(update={"tenants": tuple(t.model_copy(update={"isolation": "gpu"}) if t.isolation == "node"
                                                      else t for t in inst.tenants)})
    row["own_gpu_isolation"] = val(gpuiso)[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["prices", "bound", "oneblock"])
    ap.add_argument("family")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nodes", type=int, default=2048, help="8-GPU nodes (a dry run: 128 with --size 32)")
    ap.add_argument("--size", type=int, default=None, help="nodes a block (default the re-optimizer's)")
    ap.add_argument("--own", type=int, nargs="*", default=None, help="prices: these blocks' own LPs (default all)")
    ap.add_argument("--own-share", type=int, default=4)
    ap.add_argument("--rooms-above", type=int, choices=[0, 1], default=None,
                    help="block_bound.ROOMS_ABOVE for this run (default: the module's)")
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--time-limit-bound", type=float, default=None)
    ap.add_argument("--jsonl", default="bench/reopt_blockown_s18.jsonl")
    args = ap.parse_args()
    from packer.cpsat import block_bound as bbm
    from packer.cpsat.bound import capacity_bound
    from packer.generate import generate

    if args.rooms_above is not None:
        bbm.ROOMS_ABOVE = bool(args.rooms_above)
    row: dict[str, object] = {"rooms_above": bbm.ROOMS_ABOVE, "mode": args.mode, "family": args.family, "seed": args.seed,
                              "start_utc": time.strftime("%H:%M:%S", time.gmtime()), "load_start": _load()}
    if args.mode == "bound":
        row["own_share"] = args.own_share
        row["iterations"] = args.iterations
    inst = generate(args.family, seed=args.seed, nodes=args.nodes)
    row["nodes"] = args.nodes
    row["capacity"] = capacity_bound(inst)
    {"prices": prices, "bound": bound, "oneblock": oneblock}[args.mode](args, inst, row)
    row["cpu_s"] = _cpu()
    row["load_end"] = _load()
    row["end_utc"] = time.strftime("%H:%M:%S", time.gmtime())
    print(json.dumps(row), flush=True)
    with open(args.jsonl, "a") as f:
        f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
