"""The online placer's plans before and after a speed change to its mechanics: a digest per instance.

``python bench/bench_hint_identity.py record OUT.json`` writes, for every suite family x seed x size
and every policy, a digest of the online solve's plan (assignments, unplaced reasons, objective) and
its wall time; ``python bench/bench_hint_identity.py compare BEFORE.json AFTER.json`` says which
plans differ (none may) and the wall-time ratio per instance. Extra instance files can be given with
``--file PATH`` (for example the 16,384-GPU haein instance).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time

FAMILIES = ("haein", "training", "inference", "sharing", "hetero", "tenants", "fragmented", "adversarial")
POLICIES = ("packer", "first-fit", "best-fit", "fgd", "random", "gpupacking")


def plan_digest(plan) -> str:  # type: ignore[no-untyped-def]
    """SHA-256 of what the placer chose: assignments, unplaced reasons, gpu modes, objective."""
    d = plan.to_json_dict()
    keep = {k: d[k] for k in ("assignments", "unplaced", "gpu_modes", "objective")}
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


def instances(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from packer.formats import load_instance
    from packer.generate import generate

    for fam in args.families:
        for seed in args.seeds:
            for nodes in args.nodes:
                yield f"{fam}-{seed}-n{nodes}", generate(fam, seed, nodes=nodes)
    for path in args.file:
        yield os.path.basename(path), load_instance(path)


def record(args: argparse.Namespace) -> None:
    from packer.online.solver import solve

    rows = {}
    for name, inst in instances(args):
        for pol in args.policies:
            t = time.perf_counter()
            plan = solve(inst, seed=1, policy=pol)
            wall = time.perf_counter() - t
            rows[f"{name}/{pol}"] = {"digest": plan_digest(plan), "objective": plan.objective, "wall_s": round(wall, 4)}
            print(f"{name:28s} {pol:10s} {rows[f'{name}/{pol}']['digest']} {plan.objective:12.2f} {wall:8.3f} s",
                  flush=True)
    out = {"date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "load": os.getloadavg()[0],
           "argv": sys.argv, "rows": rows}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


def compare(args: argparse.Namespace) -> int:
    a = json.load(open(args.before))["rows"]
    b = json.load(open(args.after))["rows"]
    diff = [k for k in a if k in b and a[k]["digest"] != b[k]["digest"]]
    common = [k for k in a if k in b]
    for k in common:
        ratio = a[k]["wall_s"] / max(b[k]["wall_s"], 1e-9)
        print(f"{k:40s} {'DIFF' if k in diff else 'same'} {a[k]['wall_s']:8.3f} -> {b[k]['wall_s']:8.3f} s  x{ratio:.2f}")
    print(f"{len(common)} plans compared, {len(diff)} differ")
    return 1 if diff else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("out")
    r.add_argument("--families", nargs="*", default=list(FAMILIES))
    r.add_argument("--seeds", nargs="*", type=int, default=[0, 100])
    r.add_argument("--nodes", nargs="*", type=int, default=[8, 128])
    r.add_argument("--policies", nargs="*", default=list(POLICIES))
    r.add_argument("--file", action="append", default=[])
    c = sub.add_parser("compare")
    c.add_argument("before")
    c.add_argument("after")
    args = ap.parse_args()
    if args.cmd == "record":
        record(args)
        return 0
    return compare(args)


if __name__ == "__main__":
    sys.exit(main())
