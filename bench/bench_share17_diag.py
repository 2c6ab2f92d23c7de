"""Where sharing's greedy plan loses against another plan (session 17): per node mode, GPUs used and CPU
left; shares per GPU (the patterns); and the greedy's waiting work by reason.

    python bench/bench_share17_diag.py SEED [OTHER_PLAN.json] [--nodes 128] [--no-exchange]

(session 17 compared sharing-0 with session 16's 300 s CP-SAT plan, /tmp/cpgap16/plans/sharing0_300.json,
written by bench/bench_cpsat_gapdiag.py --save.)
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict

from packer.formats import load_plan
from packer.generate import generate
from packer.greedy import solver as greedy


def report(inst, name: str, plan) -> None:  # type: ignore[no-untyped-def]
    req = {r.id: r for r in inst.requests}
    cpu: Counter[str] = Counter()
    pattern: dict[tuple[str, int], list[int]] = defaultdict(list)
    for a in plan.assignments:
        r = req[a.request]
        for u in a.units:
            cpu[u.node] += r.cpu_milli
            if r.kind == "share":
                pattern[(u.node, u.gpu)].append(r.gpu_milli)
            elif r.kind == "gpu":
                pattern[(u.node, u.gpu)].append(1000)
    print(f"{name}: objective {plan.objective:.3f}")
    for mode in ("full", "shared", "any"):
        ns = [n for n in inst.nodes if n.num_gpus and n.gpu_mode(0) == mode]
        left = sum(n.cpu_milli - cpu[n.id] for n in ns) / 1000
        used = sum(sum(pattern.get((n.id, i), ())) for n in ns for i in range(n.num_gpus)) / 1000
        free = sum(1 for n in ns for i in range(n.num_gpus) if not pattern.get((n.id, i)))
        print(f"  mode {mode:6s} nodes {len(ns):4d} GPUs {sum(n.num_gpus for n in ns):5d} GPU-eq used {used:9.2f}"
              f" free GPUs {free:4d} cores left {left:9.2f}")
    pats = Counter(tuple(sorted(v, reverse=True)) for v in pattern.values())
    print("  patterns:", ", ".join(f"{'+'.join(map(str, k))} x{c}" for k, c in pats.most_common(12)))
    why: Counter[tuple] = Counter()
    for u in plan.unplaced:
        r = req[u.request]
        why[(r.kind, r.gpu_milli or r.count, u.reason.split(":")[0])] += 1
    print("  unplaced:", ", ".join(f"{k} {v}" for k, v in sorted(why.items(), key=str)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("seed", type=int)
    ap.add_argument("other", nargs="?")
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--no-exchange", action="store_true")
    args = ap.parse_args()
    inst = generate("sharing", seed=args.seed, nodes=args.nodes)
    greedy.EXCHANGE = not args.no_exchange
    report(inst, f"greedy (exchanges {'off' if args.no_exchange else 'on'})", greedy.solve(inst, file_order=False))
    if args.other:
        report(inst, args.other, load_plan(args.other))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
