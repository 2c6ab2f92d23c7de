"""Benchmarks of the online placer (never run by the tests). Every figure in bench/RESULTS_online.md
comes from one of these commands:

    python bench/bench_online.py latency  [--sizes 1024,16384,131072] [--policy packer]
    python bench/bench_online.py churn    # ops/s on 1,024 GPUs: batch kernel and single calls
    python bench/bench_online.py churn1m  # 1,000,000 ops, then compare with a rebuild from scratch
    python bench/bench_online.py memory   # state bytes of 131,072 GPUs
    python bench/bench_online.py quality  [--seeds 10] [--seed0 0|100] [--demands 1.0,1.3]
    python bench/bench_online.py cli      # `packer solve --solver online` on a 2,048-node instance

The JIT is warmed up (and cached on disk) before anything is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

from packer.generate import generate
from packer.model import Instance, Request
from packer.online import OnlinePlacer
from packer.online.placer import requests_in_order

SHAPES = [
    Request(id="m1", kind="mig", profile="1g.23gb", cpu_milli=2000, memory_mib=16384),
    Request(id="m2", kind="mig", slices=2, cpu_milli=4000, memory_mib=32768),
    Request(id="m3", kind="mig", profile="3g.90gb", cpu_milli=8000, memory_mib=65536),
    Request(id="s1", kind="share", gpu_milli=250, cpu_milli=2000, memory_mib=16384),
    Request(id="s2", kind="share", gpu_milli=500, cpu_milli=2000, memory_mib=16384),
    Request(id="g1", kind="gpu", cpu_milli=16000, memory_mib=131072),
]


def cluster(num_gpus: int) -> Instance:
    """B200 nodes × 8 in racks of 4 and pods of 32, modes as in haein (45% full, 30% mig, 15% shared, 10% any)."""
    rng = np.random.default_rng(7)
    nodes = []
    for i in range(num_gpus // 8):
        r = rng.random()
        mode = "full" if r < 0.45 else "mig" if r < 0.75 else "shared" if r < 0.9 else "any"
        nodes.append({"id": f"n{i:05d}", "gpu_model": "B200-180GB", "num_gpus": 8, "mode": mode,
                      "cpu_milli": 224000, "memory_mib": 2 * 1024 * 1024,
                      "domains": {"rack": f"r{i // 4:04d}", "pod": f"p{i // 32:03d}"}})
    return Instance.model_validate({"name": f"bench-{num_gpus}", "topology": {"levels": ["node", "rack", "pod"]},
                                    "nodes": nodes})


def fill(p: OnlinePlacer, occupancy: float, seed: int = 0) -> int:
    """Places random single-unit shapes (one batch kernel call per round) until ``occupancy`` of GPU-eq is used."""
    rng = np.random.default_rng(seed)
    target = occupancy * p.inst.num_gpus
    done, slot0 = 0, 0
    while sum(p._used.values()) < target:
        k = max(256, int((target - sum(p._used.values())) * 1.5))
        ops = np.stack([rng.integers(0, len(SHAPES), k), np.arange(slot0, slot0 + k)], axis=1)
        res = p.churn(SHAPES, ops, num_slots=slot0 + k)
        slot0 += k
        done += res.placed
        if res.placed == 0:
            break
    return done


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.array(xs), q))


def cmd_latency(args: argparse.Namespace) -> dict:
    out = {}
    for size in [int(s) for s in args.sizes.split(",")]:
        inst = cluster(size)
        p = OnlinePlacer(inst, args.policy)
        fill(p, 0.8)
        occ = sum(p._used.values()) / size
        rng = np.random.default_rng(1)
        reqs = [SHAPES[i].model_copy(update={"id": f"lat{k}"}) for k, i in enumerate(rng.integers(0, len(SHAPES), args.n))]
        for r in reqs[:200]:  # warm-up
            if p.place(r).ok:
                p.release(r.id)
        tp, tr = [], []
        pc = time.perf_counter_ns
        for r in reqs:
            t0 = pc()
            res = p.place(r)
            t1 = pc()
            tp.append((t1 - t0) / 1000)
            if res.ok:
                t2 = pc()
                p.release(r.id)
                tr.append((pc() - t2) / 1000)
        out[size] = {"occupancy": round(occ, 3), "place_p50_us": round(_pct(tp, 50), 1),
                     "place_p99_us": round(_pct(tp, 99), 1), "release_p50_us": round(_pct(tr, 50), 1),
                     "release_p99_us": round(_pct(tr, 99), 1), "n": args.n}
        print(size, out[size], flush=True)
    return out


def _churn_ops(n: int, num_slots: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ops = np.zeros((n, 2), dtype=np.int64)
    ops[:, 0] = np.where(rng.random(n) < 0.5, rng.integers(0, len(SHAPES), n), -1)
    ops[:, 1] = rng.integers(0, num_slots, n)
    return ops


def cmd_churn(args: argparse.Namespace) -> dict:
    inst = cluster(1024)
    out = {}
    p = OnlinePlacer(inst, args.policy)
    fill(p, 0.8)
    ops = _churn_ops(200_000, 1200)
    warm = p.churn(SHAPES, ops[:1000], num_slots=1200)  # warm-up
    for rid in warm.ids.values():
        p.release(rid)
    t0 = time.perf_counter()
    res = p.churn(SHAPES, ops, num_slots=1200)
    dt = time.perf_counter() - t0
    out["batch_ops_per_s"] = round(len(ops) / dt)
    out["batch_placed_failed_released"] = [res.placed, res.failed, res.released]
    # single calls: place()/release() from Python, one op each
    q = OnlinePlacer(inst, args.policy)
    fill(q, 0.8)
    reqs = [[s.model_copy(update={"id": f"{s.id}@{k}"}) for k in range(1200)] for s in SHAPES]
    n = 100_000
    for explain in (True, False):
        live: dict[int, str] = {}
        for rid in list(q.placed_ids()):
            if "@" in rid:
                q.release(rid)
        t0 = time.perf_counter()
        for sh, sl in ops[:n].tolist():
            if sh >= 0:
                if sl not in live and q.place(reqs[sh][sl], explain=explain).ok:
                    live[sl] = reqs[sh][sl].id
            elif sl in live:
                q.release(live.pop(sl))
        dt = time.perf_counter() - t0
        out[f"single_call_ops_per_s_explain_{explain}"] = round(n / dt)
    print(out)
    return out


def cmd_churn1m(args: argparse.Namespace) -> dict:
    inst = cluster(1024)
    p = OnlinePlacer(inst, args.policy)
    fill(p, 0.5)
    ops = _churn_ops(1_000_000, 2000, seed=3)
    t0 = time.perf_counter()
    res = p.churn(SHAPES, ops, num_slots=2000)
    dt = time.perf_counter() - t0
    # rebuild from scratch: every placed unit as running work on a fresh placer
    modes = p.gpu_modes()
    nodes = [n.model_copy(update={"gpu_modes": tuple(modes.get((n.id, g), n.gpu_mode(g)) for g in range(n.num_gpus))})
             for n in inst.nodes]
    reqs = [p._placed[rid].req.model_copy(update={"placement": p.units(rid)}) for rid in p.placed_ids()]
    inst2 = Instance.model_validate({**inst.model_dump(), "nodes": [n.model_dump() for n in nodes],
                                     "requests": [r.model_dump() for r in reqs]})
    q = OnlinePlacer(inst2, args.policy, target=p.target)
    from packer.online.state import G_BASE

    cols = [c for c in range(p.a.g32.shape[1]) if c != G_BASE]
    same = (np.array_equal(p.a.g32[:, cols], q.a.g32[:, cols]) and np.array_equal(p.a.gpc, q.a.gpc)
            and np.array_equal(p.a.n64, q.a.n64) and np.array_equal(p.a.nbest, q.a.nbest)
            and np.array_equal(p.a.ntag, q.a.ntag))
    from packer.check import check

    ok = check(p.snapshot_instance(), p.snapshot()).ok
    out = {"ops": len(ops), "seconds": round(dt, 3), "ops_per_s": round(len(ops) / dt),
           "placed_failed_released": [res.placed, res.failed, res.released], "equals_rebuild": bool(same),
           "snapshot_passes_check": ok, "live_requests": len(reqs)}
    print(out)
    return out


def cmd_memory(args: argparse.Namespace) -> dict:
    p = OnlinePlacer(cluster(131072), args.policy)
    fill(p, 0.8)
    out = {"gpus": 131072, "state_bytes": p.state_bytes(), "state_mib": round(p.state_bytes() / 2**20, 2)}
    print(out)
    return out


def _placed_eq(plan) -> float:  # type: ignore[no-untyped-def]
    return float(plan.metrics["allocated_gpu_equivalents"])


def cmd_quality(args: argparse.Namespace) -> dict:
    from packer.online.solver import solve

    policies = args.policies.split(",")
    out: dict = {}
    for demand in [float(d) for d in args.demands.split(",")]:
        rows: dict[str, list[float]] = {pol: [] for pol in policies}
        for seed in range(args.seed0, args.seed0 + args.seeds):
            inst = generate("haein", seed=seed, demand=demand)
            for pol in policies:
                if pol == "packer-noguard":
                    p = OnlinePlacer(inst, "packer", isolation_guard=None)
                    for r in requests_in_order(inst.requests, None, inst):
                        p.place(r)
                    rows[pol].append(sum(p._used.values()))
                else:
                    rows[pol].append(_placed_eq(solve(inst, policy=pol)))
        out[demand] = {pol: {"mean": round(float(np.mean(v)), 2), "std": round(float(np.std(v)), 2),
                             "min": round(float(np.min(v)), 1), "max": round(float(np.max(v)), 1),
                             "per_seed": [round(x, 1) for x in v]} for pol, v in rows.items()}
        wins = {pol: sum(1 for a, b in zip(rows["packer"], rows[pol]) if a > b) for pol in policies if pol != "packer"}
        out[demand]["packer_wins_per_seed"] = wins
        print(json.dumps({demand: out[demand]}, indent=1), flush=True)
    return out


def cmd_cli(args: argparse.Namespace) -> dict:
    from packer.formats import instance_to_dict

    inst = generate("xl", seed=0)
    with tempfile.TemporaryDirectory() as d:
        ip, pp = os.path.join(d, "xl.json"), os.path.join(d, "plan.json")
        with open(ip, "w") as f:
            json.dump(instance_to_dict(inst), f)
        cmd = ["packer", "solve", ip, "-o", pp, "--solver", "online"]
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        dt = time.perf_counter() - t0
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)  # less sensitive to the load than the wall
        t1 = time.perf_counter()
        rc = subprocess.run(["packer", "check", ip, pp], capture_output=True, text=True)
        out = {"nodes": len(inst.nodes), "requests": len(inst.requests), "solve_rc": r.returncode,
               "solve_wall_s_incl_startup": round(dt, 2),
               "solve_cpu_s": round(cpu, 2), "check_rc": rc.returncode,
               "check_wall_s": round(time.perf_counter() - t1, 2), "stderr": r.stderr[-300:]}
    print(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["latency", "churn", "churn1m", "memory", "quality", "cli"])
    ap.add_argument("--sizes", default="1024,16384,131072")
    ap.add_argument("--policy", default="packer")
    ap.add_argument("--policies", default="packer,packer-noguard,first-fit,best-fit,fgd")
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--seed0", type=int, default=0, help="quality: first seed (100 for the report seeds)")
    ap.add_argument("--demands", default="1.0,1.3")
    args = ap.parse_args()
    res = globals()[f"cmd_{args.what}"](args)
    json.dump(res, sys.stdout if False else open(f"/tmp/bench_online_{args.what}.json", "w"), indent=1)


if __name__ == "__main__":
    main()
