"""Runs one policy over seeds under the FGD protocol and summarises the KPIs as a JSON object."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from statistics import mean, pstdev
from typing import Any

import numpy as np

from packer.online.policies import ONLINE, REPLAY, resolve
from packer.progress import SILENT, Progress
from packer.replay.kpi import curves, unallocated_gpus
from packer.replay.openb import Cluster, Pods
from packer.replay.protocol import Stream, TypicalPods, make_stream, typical_pods

#: Policies of the replay: FGD's five baselines, FGD, packer's own, and first-fit.
POLICY_NAMES = ("random", "dotproduct", "gpuclustering", "gpupacking", "bestfit", "fgd", "packer", "firstfit")
#: ``kernels``: the trace-exact numba engine (packer.replay.engine); ``placer``: packer.online.OnlinePlacer.
ENGINES = ("kernels", "placer")
#: FGD's names in the published results file.
PUBLISHED_NAMES = {"random": "01-Random", "dotproduct": "02-DotProd", "gpuclustering": "03-GpuClustering",
                   "gpupacking": "04-GpuPacking", "bestfit": "05-BestFit", "fgd": "06-FGD"}


def run_stream(cluster: Cluster, stream: Stream, tp: TypicalPods, policy: str):  # type: ignore[no-untyped-def]
    """One replay of ``stream`` (see :func:`packer.replay.engine.replay`)."""
    from packer.replay.engine import replay
    from packer.replay.policy import packer_settings

    pk_w, rho = packer_settings(tp)
    p = stream.pods
    return replay(
        policy, node_cpu=cluster.cpu, node_mem=cluster.mem, node_gpus=cluster.gpus, node_model=cluster.model,
        node_rank=stream.node_rank, pod_cpu=p.cpu, pod_mem=p.mem, pod_num=p.num_gpu, pod_milli=p.gpu_milli,
        pod_spec=p.spec, rand=stream.rand, tp_cpu=tp.cpu, tp_milli=tp.gpu_milli, tp_num=tp.num_gpu,
        tp_spec=tp.spec, tp_prob=tp.prob, pk_weights=pk_w, rho=rho,
    )


def run_seed(cluster: Cluster, pods: Pods, policy: str, seed: int, inflation: float = 1.3,
             tp: TypicalPods | None = None) -> dict[str, Any]:
    """One seed: the stream, the replay and its binned curves."""
    tp = tp if tp is not None else typical_pods(pods)
    t0 = time.perf_counter()
    stream = make_stream(pods, cluster, seed, inflation)
    run = run_stream(cluster, stream, tp, policy)
    c = curves(run.arrived, run.used, run.frag, run.idle, cluster.capacity_milli)
    placed = run.node >= 0
    gpu_pod = stream.pods.gpu_milli > 0
    return {
        "seed": seed,
        "num_pods": len(stream.pods),
        "num_tuned": len(stream.pods) - stream.num_original,
        "failed_pods": int((~placed).sum()),
        "failed_gpu_pods": int((~placed & gpu_pod).sum()),
        "arrived_milli": int(run.arrived[-1]),
        "used_milli": int(run.used[-1]),
        "final_allocation_pct": 100.0 * int(run.used[-1]) / cluster.capacity_milli,
        "wall_s": time.perf_counter() - t0,
        **c,
    }


def run_policy(cluster: Cluster, pods: Pods, policy: str, seeds: list[int], *, inflation: float = 1.3,
               workers: int = 2, progress: Progress = SILENT, engine: str = "kernels",
               ray_address: str | None = None) -> dict[str, Any]:
    """Every seed of one policy (in threads: the kernels release the GIL) and the seed means.

    ``engine="placer"`` replays through :class:`packer.online.OnlinePlacer` instead
    (:mod:`packer.replay.via_placer`), one seed after the other. ``ray_address`` (``"local"`` or a
    cluster's, see :mod:`packer.parallel`): the seeds run as Ray tasks instead, either engine.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    resolve(policy, REPLAY if engine == "kernels" else ONLINE)  # ValueError naming the choices
    tp = typical_pods(pods)
    t0 = time.perf_counter()
    if ray_address is not None:
        from functools import partial

        from packer.parallel import map_tasks

        if engine == "placer":
            from packer.replay.via_placer import run_seed_placer as one_seed
        else:
            one_seed = run_seed
        per_seed = map_tasks(partial(_seed_task, one_seed, cluster, pods, policy, inflation, tp), seeds,
                             ray_address=ray_address)
        progress.update(done=len(per_seed), total=len(seeds), note=f"{policy} on Ray")
        return {**summarise(policy, per_seed, cluster, inflation, time.perf_counter() - t0, len(tp)), "engine": engine}
    if engine == "placer":
        from packer.replay.via_placer import run_seed_placer

        per_seed = []
        for s in seeds:
            per_seed.append(run_seed_placer(cluster, pods, policy, s, inflation, tp=tp))
            progress.update(done=len(per_seed), total=len(seeds),
                            best=mean(r["allocation_pct"][130] or 0.0 for r in per_seed), note=f"{policy} seed {s}")
        out = summarise(policy, per_seed, cluster, inflation, time.perf_counter() - t0, len(tp))
        return {**out, "engine": engine}
    # compile (or load the cached kernels) once before the threads start
    head = make_stream(pods.take(np.arange(min(len(pods), 20))), cluster, seeds[0], 0.0)
    run_stream(cluster, head, tp, policy)
    per_seed: list[dict[str, Any]] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as ex:
        futs = [ex.submit(run_seed, cluster, pods, policy, s, inflation, tp) for s in seeds]
        for f in futs:
            per_seed.append(f.result())
            progress.update(done=len(per_seed), total=len(seeds),
                            best=mean(r["allocation_pct"][130] or 0.0 for r in per_seed),
                            note=f"{policy} seed {per_seed[-1]['seed']}")
    return {**summarise(policy, per_seed, cluster, inflation, time.perf_counter() - t0, len(tp)), "engine": engine}


def _seed_task(one_seed, cluster: Cluster, pods: Pods, policy: str, inflation: float,  # type: ignore[no-untyped-def]
               tp: TypicalPods, seed: int) -> dict[str, Any]:
    """One seed as a Ray task (``one_seed``: :func:`run_seed` or the placer engine's)."""
    return one_seed(cluster, pods, policy, seed, inflation, tp=tp)


def _col_mean(per_seed: list[dict[str, Any]], key: str, k: int) -> float | None:
    vals = [r[key][k] for r in per_seed if r[key][k] is not None]
    return mean(vals) if vals else None


def summarise(policy: str, per_seed: list[dict[str, Any]], cluster: Cluster, inflation: float, wall_s: float,
              num_typical: int) -> dict[str, Any]:
    """The JSON object of ``packer replay``: seed means of the curves and headline KPIs."""
    n_bins = len(per_seed[0]["allocation_pct"])
    alloc = [_col_mean(per_seed, "allocation_pct", k) for k in range(n_bins)]
    amount = [_col_mean(per_seed, "frag_amount_pct", k) for k in range(n_bins)]
    rate = [_col_mean(per_seed, "frag_rate_pct", k) for k in range(n_bins)]
    heads = [k for k in (100, 130) if k < n_bins]
    a130 = [r["allocation_pct"][130] for r in per_seed if 130 < n_bins and r["allocation_pct"][130] is not None]
    return {
        "format": "packer.replay/v1",
        "policy": policy,
        "seeds": [r["seed"] for r in per_seed],
        "inflation": inflation,
        "num_gpus": cluster.num_gpus,
        "num_nodes": cluster.num_nodes,
        "num_typical_pods": num_typical,
        "allocation_pct": {str(k): alloc[k] for k in heads},
        "allocation_pct_std": {"130": pstdev(a130) if len(a130) > 1 else 0.0},
        "unallocated_gpus": {str(k): unallocated_gpus(alloc[k], cluster.num_gpus) for k in heads
                             if alloc[k] is not None},
        "frag_amount_pct": {str(k): amount[k] for k in (50, 80, 90, 100, 130) if k < n_bins},
        "frag_rate_pct": {str(k): rate[k] for k in (50, 80, 90, 100) if k < n_bins},
        "curves": {"allocation_pct": alloc, "frag_amount_pct": amount, "frag_rate_pct": rate},
        "wall_s": wall_s,
        "per_seed": per_seed,
    }


__all__ = ["POLICY_NAMES", "PUBLISHED_NAMES", "run_policy", "run_seed", "run_stream", "summarise"]
