"""Deterministic fingerprints of the online path and the trace replay, to compare a refactor against.

    python bench/referee_engine.py OUT.json [online] [replay] [mig] [sizedesc] [--quick]

(default: online, replay and mig; run it with ``PYTHONPATH=<another tree>`` to fingerprint that tree.)

Records, exactly (never timed): the replay's per-seed allocation and a hash of every placement for
the workloads default, cpu050, gpushare40, multigpu20 on seeds 42-43 under fgd, packer, bestfit
(kernels engine), the same through the online placer (``--engine placer``, default workload, seed
42), the MIG replay (all policies, seeds 42-43), and the online objectives plus a plan hash on the
suite (seeds 100-101 at 8 and 128 nodes, every online policy). Two runs on trees that behave the
same give identical files.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT.parent / "shared" / "traces" / "alibaba-gpu-v2023" / "csv"


def _h(*arrays) -> str:  # type: ignore[no-untyped-def]
    m = hashlib.sha256()
    for a in arrays:
        m.update(np.ascontiguousarray(np.asarray(a)).tobytes())
    return m.hexdigest()[:16]


def replay_part(out: dict, quick: bool) -> None:
    from packer.replay.openb import read_nodes, read_pods
    from packer.replay.protocol import make_stream, typical_pods
    from packer.replay.runner import run_stream
    from packer.replay.workloads import derived_workload

    cluster = read_nodes(TRACES / "openb_node_list_gpu_node.csv")
    base = read_pods(TRACES / "openb_pod_list_default.csv", cluster)
    for w in ("default", "cpu050", "gpushare40", "multigpu20"):
        real = TRACES / f"openb_pod_list_{w}.csv"
        pods = read_pods(real, cluster) if real.exists() else derived_workload(base, cluster, w)
        tp = typical_pods(pods)
        for pol in ("fgd", "packer", "bestfit"):
            for seed in (42, 43):
                stream = make_stream(pods, cluster, seed, 1.3)
                run = run_stream(cluster, stream, tp, pol)
                key = f"replay/{w}/{pol}/{seed}"
                out[key] = {"used": int(run.used[-1]), "failed": int((run.node < 0).sum()),
                            "hash": _h(run.node, run.devmask, run.used, np.round(run.frag, 6))}
                print(key, out[key], flush=True)
    if quick:
        return
    from packer.replay.via_placer import replay_with_placer

    pods = base
    for pol in ("packer", "fgd", "bestfit"):
        r = replay_with_placer(cluster, pods, pol, 42)
        key = f"placer/default/{pol}/42"
        out[key] = {"used": int(r.used[-1]), "hash": _h(r.node, r.used, np.round(r.frag, 6))}
        print(key, out[key], flush=True)


def mig_part(out: dict) -> None:
    from packer.replay.mig_variant import MigTables, mig_run
    from packer.replay.openb import read_nodes, read_pods
    from packer.replay.protocol import typical_pods

    cluster = read_nodes(TRACES / "openb_node_list_gpu_node.csv")
    pods = read_pods(TRACES / "openb_pod_list_default.csv", cluster)
    tp = typical_pods(pods)
    tables = MigTables(cluster)
    for pol in ("firstfit", "bestfit", "fgd", "packer"):
        for seed in (42, 43):
            r = mig_run(cluster, pods, pol, seed, 1.3, tp, tables)
            key = f"mig/{pol}/{seed}"
            out[key] = {"alloc130": round(r["allocation_pct"][130], 9), "failed": r["failed_pods"],
                        "hash": _h(*r["placements"])}
            print(key, out[key], flush=True)


def online_part(out: dict) -> None:
    from packer.check import check
    from packer.dispatch import solve
    from packer.generate import SUITE, generate

    pols = ("packer", "first-fit", "best-fit", "fgd", "random", "dotproduct", "gpupacking", "gpuclustering")
    for nodes in (8, 128):
        for fam in SUITE:
            for seed in (100, 101):
                inst = generate(fam, seed, nodes=nodes)
                for pol in pols:
                    plan = solve(inst, "online", policy=pol)
                    rep = check(inst, plan)
                    sig = json.dumps([a.model_dump(mode="json") for a in plan.assignments], sort_keys=True)
                    reasons = json.dumps(sorted((u.request, u.reason) for u in plan.unplaced))
                    key = f"online/{fam}/{nodes}/{seed}/{pol}"
                    out[key] = {"ok": rep.ok, "obj": round(rep.objective, 6),
                                "hash": hashlib.sha256(sig.encode()).hexdigest()[:16],
                                "reasons": hashlib.sha256(reasons.encode()).hexdigest()[:16]}
            print("online", fam, nodes, flush=True)


def sizedesc_part(out: dict) -> None:
    """Online ``packer`` objectives with ``--order size-desc`` (suite, seeds 100-102, 8 and 128 nodes):
    the one figure the request-size unification may move."""
    from packer.check import check
    from packer.dispatch import solve
    from packer.generate import SUITE, generate

    for nodes in (8, 128):
        for fam in SUITE:
            for seed in (100, 101, 102):
                inst = generate(fam, seed, nodes=nodes)
                rep = check(inst, solve(inst, "online", policy="packer", order="size-desc"))
                out[f"sizedesc/{fam}/{nodes}/{seed}"] = round(rep.objective, 6) if rep.ok else None


def main() -> None:
    path = sys.argv[1]
    quick = "--quick" in sys.argv
    parts = [a for a in sys.argv[2:] if not a.startswith("--")] or ["online", "replay", "mig"]
    out: dict = {}
    if "online" in parts:
        online_part(out)
    if "replay" in parts:
        replay_part(out, quick)
    if "mig" in parts:
        mig_part(out)
    if "sizedesc" in parts:
        sizedesc_part(out)
    Path(path).write_text(json.dumps(out, indent=0, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
