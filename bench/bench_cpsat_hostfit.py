"""Session 16 (issue 16): the bounds with and without the host-resource room rule (``data.HOST_FIT``: work
with a required locality gets no place in a domain whose nodes' CPU and memory cannot hold one request's
units; the merged relaxation bars such super nodes), and how many requests fit no domain.

Usage: python bench/bench_cpsat_hostfit.py FAMILY[,...] SEED[,...] [MODEL_LP_LIMIT_S] [--out FILE.jsonl]

Per instance (128 nodes): node-local requests and those whose units fit no node by CPU/memory (and
their value at priority x GPU-equivalents), placement options with and without the rule, the cluster
relaxation's LP bound (what a 60 s solve reports first) with and without it, and, given a limit, the
model's own LP bound with and without it. Deterministic (no time-limited figure but the LP limit).
"""

from __future__ import annotations

import json
import os
import sys
import time

from packer.cpsat import data as data_mod
from packer.cpsat.model import CpsatModel
from packer.cpsat.proof import lp_bound, relaxed_bound
from packer.generate import generate


def nowhere(inst) -> tuple[int, int, float]:  # type: ignore[no-untyped-def]
    local = bad = 0
    value = 0.0
    for r in inst.requests:
        if r.locality is None or not r.locality.required or r.locality.level != "node" or r.placement is not None:
            continue
        local += 1
        if not any(data_mod.host_units(n.cpu_milli, n.memory_mib, r.cpu_milli, r.memory_mib) >= r.need_count
                   for n in inst.nodes):
            bad += 1
            value += r.priority * inst.request_size(r)
    return local, bad, round(value, 2)


def main(families: list[str], seeds: list[int], lp_limit: float | None, out: str | None) -> None:
    shipped = data_mod.HOST_FIT
    for seed in seeds:
        for fam in families:
            inst = generate(fam, seed=seed, nodes=128)
            local, bad, value = nowhere(inst)
            row: dict[str, object] = {"family": fam, "seed": seed, "node_local": local, "fit_nowhere": bad,
                                      "fit_nowhere_value": value, "load": round(os.getloadavg()[0], 2)}
            for arm, on in (("off", False), ("on", True)):
                data_mod.HOST_FIT = on
                row[f"options_{arm}"] = len(data_mod.build_data(inst).options)
                t0 = time.perf_counter()
                row[f"cluster_lp_{arm}"] = relaxed_bound(inst, "cluster")
                row[f"cluster_lp_s_{arm}"] = round(time.perf_counter() - t0, 2)
                if lp_limit is not None:
                    t0 = time.perf_counter()
                    row[f"model_lp_{arm}"] = lp_bound(CpsatModel(inst), lp_limit)
                    row[f"model_lp_s_{arm}"] = round(time.perf_counter() - t0, 1)
            data_mod.HOST_FIT = shipped
            line = json.dumps(row)
            print(line, flush=True)
            if out:
                with open(out, "a") as f:
                    f.write(line + "\n")


if __name__ == "__main__":
    from benchargs import pop_option

    argv = sys.argv[1:]
    dest = pop_option(argv, "--out")
    main(argv[0].split(","), [int(s) for s in argv[1].split(",")], float(argv[2]) if len(argv) > 2 else None, dest)
