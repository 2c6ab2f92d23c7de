"""Relaxation bounds on running clusters: what node isolation of fixed running work and level-``gpu``
spreads do to them (session 10).

For one generated instance, prints the capacity LP, and for each merge level asked for the typed
relaxation's LP bound with and without the owner rule (``relax._owners`` emptied), on the instance as
it is (``plain``), its no-move instance (``pinned``: every running request fixed) and its repack
instance (``repack``: every movable running request waiting; bounds re-optimizing under any budget).
With ``--full`` also the LP of the full model on real nodes (the repack LP, 1,024 GPUs and below).
LP values are deterministic; the seconds are wall time under the machine's load::

    python bench/bench_relax_owners.py fragmented --nodes 128 --seed 100 --full
    python bench/bench_relax_owners.py fragmented --nodes 2048 --seed 100 --what pinned repack
    python bench/bench_relax_owners.py adversarial --nodes 2048 --seed 100 --what plain
"""

from __future__ import annotations

import argparse
import time

from packer.cpsat import proof, relax
from packer.cpsat.bound import capacity_bound
from packer.cpsat.reopt import BudgetBound, pinned, repack_instance
from packer.generate import generate


def main(argv: list[str] | None = None) -> int:
    """Prints one line per (instance variant, level, owner rule on/off)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("family")
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--levels", nargs="*", default=["nvlink"], help="merge levels of the typed relaxation")
    ap.add_argument("--what", nargs="*", default=["pinned", "repack"], choices=["plain", "pinned", "repack"])
    ap.add_argument("--limit", type=float, default=250.0, help="seconds for each relaxation (model and LP)")
    ap.add_argument("--full", action="store_true", help="also the repack LP on real nodes (small clusters)")
    args = ap.parse_args(argv)
    inst = generate(args.family, args.seed, nodes=args.nodes)
    print(f"{args.family}-{args.seed}, {inst.num_gpus} GPUs, {len(inst.requests)} requests; capacity LP {capacity_bound(inst):.2f}")
    variants = {"plain": lambda: inst, "pinned": lambda: pinned(inst), "repack": lambda: repack_instance(inst)[0]}
    owners = relax._owners
    try:
        for what in args.what:
            target = variants[what]()
            for level in args.levels:
                for rule, fn in (("owners", owners), ("no owners", lambda i: {})):
                    relax._owners = fn
                    t0 = time.perf_counter()
                    bound = proof.relaxed_bound(target, level, typed=True, time_limit=args.limit)
                    shown = "none in time" if bound is None else f"{bound:.2f}"
                    print(f"{what:7s} typed-{level:7s} {rule:9s} super nodes {relax.typed_super_nodes(target, level):4d}"
                          f"  bound {shown}  {time.perf_counter() - t0:.1f} s", flush=True)
    finally:
        relax._owners = owners
    if args.full:
        t0 = time.perf_counter()
        print(f"repack LP on real nodes {BudgetBound(inst).repack_lp(args.limit):.2f}  {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
