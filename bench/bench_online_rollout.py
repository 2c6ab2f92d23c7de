"""The online ``packer`` policy with and without its rollout, back to back (never run by the tests).

    python bench/bench_online_rollout.py --seeds 100 --nodes 2048 [--families haein,...] [--repeat 1]

For each instance (``packer generate FAMILY --seed N --nodes N``): ``packer solve --solver online``
with the rollout (the default) and with ``--no-rollout``, alternated ``--repeat`` times; prints the
objectives, whether the two plans are identical (same assignments, unplaced and GPU modes: the
16,384-GPU fallback must give the policy's own plan), the in-solver seconds of each (median of the
repeats; wall-clock, so the 1-min load is printed beside), and what the rollout did. Every plan is
checked.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import time

from packer.check import check
from packer.dispatch import solve
from packer.generate import SUITE, generate


def _seeds(text: str) -> list[int]:
    a, _, b = text.partition("-")
    return list(range(int(a), int(b or a) + 1))


def plan_hash(plan) -> str:  # type: ignore[no-untyped-def]
    """Hash of what a plan decides (assignments, unplaced ids, GPU modes), not of its timing fields."""
    body = json.dumps([[a.model_dump(mode="json") for a in plan.assignments], sorted(u.request for u in plan.unplaced),
                       [g.model_dump(mode="json") for g in plan.gpu_modes]], sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", default="100")
    p.add_argument("--nodes", default="2048")
    p.add_argument("--families", default=",".join(SUITE))
    p.add_argument("--repeat", type=int, default=1)
    a = p.parse_args()
    print("| family | GPUs | seed | objective rollout / without | same plan | in-solver s rollout / without | load (1 min) "
          "| rollout: simulated of allowed, steps, improved, start base, fallback |")
    print("|---|---:|---:|---:|---|---:|---:|---|")
    for nodes in (int(x) for x in a.nodes.split(",")):
        for fam in a.families.split(","):
            for seed in _seeds(a.seeds):
                inst = generate(fam, seed=seed, nodes=nodes)
                ts: dict[bool, list[float]] = {True: [], False: []}
                plans = {}
                for _ in range(a.repeat):
                    for on in (True, False):
                        t0 = time.perf_counter()
                        plan = solve(inst, solver="online", rollout=None if on else False)
                        ts[on].append(time.perf_counter() - t0)
                        plans[on] = plan
                for plan in plans.values():
                    assert check(inst, plan).ok, (fam, seed)
                ro = plans[True].solver.model_dump().get("rollout", {})
                same = plan_hash(plans[True]) == plan_hash(plans[False])
                print(f"| {fam} | {inst.num_gpus:,} | {seed} | {plans[True].objective:.3f} / {plans[False].objective:.3f} "
                      f"| {'yes' if same else 'no'} | {statistics.median(ts[True]):.2f} / {statistics.median(ts[False]):.2f} "
                      f"| {os.getloadavg()[0]:.1f} | {ro.get('simulated')} of {ro.get('allowed')}, {ro.get('steps')}, "
                      f"{ro.get('improved')}, {ro.get('start_base') or '—'}, {ro.get('fallback')} |", flush=True)


if __name__ == "__main__":
    main()
