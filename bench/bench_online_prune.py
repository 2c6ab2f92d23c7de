"""Best-fit's and FGD's pruned node scans against a base tree (session 8): same plans, time per policy.

    python bench/bench_online_prune.py --families haein,fragmented --seeds 100 --nodes 2048 \\
        --policies best-fit,fgd --base /path/to/base/tree

For each instance and policy, the placer alone places the new requests in file order (as the
rollout's start runs each base), once in this tree and once with ``--base`` (a checkout's root, put
first on PYTHONPATH in a child process), back to back, this tree second; prints the seconds of each
and whether the plans are identical (a hash of every request's units, request by request). Never run
by the tests.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time


def _seeds(text: str) -> list[int]:
    a, _, b = text.partition("-")
    return list(range(int(a), int(b or a) + 1))


def one(family: str, seed: int, nodes: int, policy: str) -> dict:
    """Runs one policy over one instance here: seconds and the plan's hash."""
    from packer.generate import generate
    from packer.online.placer import OnlinePlacer, requests_in_order

    small = generate(family, seed, nodes=8)  # compile every kernel this run calls, outside the figure
    warm = OnlinePlacer(small, policy)
    for r in small.requests:
        if r.placement is None:
            warm.place(r, explain=False)
    inst = generate(family, seed, nodes=nodes)
    reqs = [r for r in requests_in_order(inst.requests, "file", inst) if r.placement is None]
    p = OnlinePlacer(inst, policy)
    h = hashlib.sha256()
    placed = 0
    t0 = time.perf_counter()
    for r in reqs:
        res = p.place(r, explain=False)
        h.update(r.id.encode())
        if res.ok:
            placed += 1
            h.update(repr(res._rows.tolist()).encode())
    return {"s": round(time.perf_counter() - t0, 2), "hash": h.hexdigest()[:16], "placed": placed, "requests": len(reqs)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--families", default="haein")
    p.add_argument("--seeds", default="100")
    p.add_argument("--nodes", default="2048")
    p.add_argument("--policies", default="best-fit,fgd")
    p.add_argument("--base", default="")
    p.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.one:
        print(json.dumps(one(a.one[0], int(a.one[1]), int(a.one[2]), a.one[3])))
        return
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    print(f"load {os.getloadavg()[0]:.1f}")
    print("| family | seed | GPUs | policy | base s | this s | same plan | placed |")
    print("|---|---:|---:|---|---:|---:|---|---:|")
    for n in [int(x) for x in a.nodes.split(",")]:
        for fam in a.families.split(","):
            for seed in _seeds(a.seeds):
                for pol in a.policies.split(","):
                    res = {}
                    for arm, root in (("base", a.base), ("this", here)):
                        if arm == "base" and not root:
                            continue
                        # the sharing family reads the openb shapes from shared/ beside the repository
                        env = dict(os.environ, PYTHONPATH=root,
                                   PACKER_SHARED=os.environ.get("PACKER_SHARED", os.path.join(os.path.dirname(here), "shared")))
                        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--one", fam, str(seed), str(n), pol],
                                             env=env, capture_output=True, text=True, check=True, cwd=root)
                        res[arm] = json.loads(out.stdout.strip().splitlines()[-1])
                    b = res.get("base", {})
                    t = res["this"]
                    same = "" if not b else ("yes" if b["hash"] == t["hash"] else "**NO**")
                    print(f"| {fam} | {seed} | {n * 8:,} | {pol} | {b.get('s', '')} | {t['s']} | {same} | {t['placed']}/{t['requests']} |",
                          flush=True)


if __name__ == "__main__":
    main()
