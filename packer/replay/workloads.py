"""Derived openb workloads for robustness checks, built from the default pod list.

alibaba/clusterdata publishes 23 resampled variants of the default list (``cpu*``, ``gpushare*``,
``gpuspec*``, ``multigpu*``); FGD's published results cover 16 of them and eight of those are in our
shared folder. These functions *rebuild* the other eight (our own construction, not theirs; the
cpu and multigpu constructions follow what the real cpu050/cpu100 and multigpu20/30 lists show).
Benchmarks use a real list wherever one exists and label rebuilt ones. Results on them compare packer with our FGD on identical pod lists; the
published numbers for the same names are only indicative.

- ``cpuXXX``: every GPU pod of the default list, and CPU-only pods (a subset of the default's, or all
  of them plus resampled ones) making XXX/10 % of all pods (default list: 13.3%), as in the real
  cpu050/cpu100 lists (checked: same GPU pods as the default, a subset of its CPU-only pods).
- ``gpushareXX``: sharing pods are XX% of the GPU pods (default: 43.6%).
- ``gpuspecXX``: XX% of the GPU pods may run only on one GPU model (or two, half of the time), drawn
  by GPU capacity; the rest as in the default list.
- ``multigpuXX``: the default list plus resampled multi-GPU pods until multi-GPU pods carry XX% of the
  GPU demand (default: 7.3%), as in the real multigpu20/30 lists (the default list plus extra 2-, 4-
  and 8-GPU pods carrying 20.4% / 30.2%).
"""

from __future__ import annotations

import re

import numpy as np

from packer.replay.openb import Cluster, Pods

NAMES = ("cpu050", "cpu100", "cpu200", "cpu250", "gpushare40", "gpushare60", "gpushare80", "gpushare100",
         "gpuspec10", "gpuspec20", "gpuspec25", "gpuspec33", "multigpu20", "multigpu30", "multigpu40", "multigpu50")


def _kinds(p: Pods) -> dict[str, np.ndarray]:
    cpu_only = p.gpu_milli == 0
    share = (p.num_gpu == 1) & (p.gpu_milli > 0) & (p.gpu_milli < 1000)
    multi = p.num_gpu >= 2
    whole1 = (p.num_gpu == 1) & (p.gpu_milli >= 1000)
    return {k: np.flatnonzero(v) for k, v in
            {"cpu": cpu_only, "share": share, "whole1": whole1, "multi": multi}.items()}


def derived_workload(pods: Pods, cluster: Cluster, name: str, seed: int = 0) -> Pods:
    """The derived workload ``name`` (see the module docstring) from the default list ``pods``."""
    m = re.fullmatch(r"(cpu|gpushare|gpuspec|multigpu)(\d+)", name)
    if not m:
        raise ValueError(f"unknown derived workload {name!r}; known: {', '.join(NAMES)}")
    kind, pct = m.group(1), int(m.group(2))
    frac = pct / 1000 if kind == "cpu" else pct / 100
    rng = np.random.default_rng(seed)
    k = _kinds(pods)
    if kind == "cpu":
        # as the published cpu050/cpu100: every GPU pod of the default list, CPU-only pods added or removed
        gpu = np.concatenate([k["share"], k["whole1"], k["multi"]])
        want = round(frac * len(gpu) / (1 - frac))
        have = k["cpu"]
        cpu = (rng.choice(have, size=want, replace=False) if want <= len(have)
               else np.concatenate([have, rng.choice(have, size=want - len(have))]))
        idx = np.sort(np.concatenate([gpu, cpu]))
        return pods.take(idx, tuple(f"{name}-pod-{i:05d}" for i in range(len(idx))))
    if kind == "multigpu":
        # as the published multigpu20/30: the default list plus multi-GPU pods until they carry pct% of
        # the GPU demand (drawn from the default list's multi-GPU pods)
        demand = pods.gpu_demand
        total, multi = int(demand.sum()), int(demand[k["multi"]].sum())
        extra = []
        while multi < frac * total:
            j = int(rng.choice(k["multi"]))
            extra.append(j)
            multi += int(demand[j])
            total += int(demand[j])
        idx = np.concatenate([np.arange(len(pods)), np.array(extra, np.int64)])
        return pods.take(idx, tuple(f"{name}-pod-{i:05d}" for i in range(len(idx))))
    n = len(pods)
    counts = {key: len(v) for key, v in k.items()}
    if kind == "gpushare":
        gpu = n - counts["cpu"]
        counts["share"] = round(frac * gpu)
        other = gpu - counts["share"]
        counts["whole1"] = round(other * len(k["whole1"]) / (len(k["whole1"]) + len(k["multi"])))
        counts["multi"] = other - counts["whole1"]
    idx = np.concatenate([
        k[key] if (kind == "gpuspec" or counts[key] == len(k[key])) else rng.choice(k[key], size=counts[key])
        for key in ("cpu", "share", "whole1", "multi") if counts[key] > 0
    ])
    out = pods.take(idx, tuple(f"{name}-pod-{i:05d}" for i in range(len(idx))))
    if kind == "gpuspec":
        spec = out.spec.copy()
        gpu_models = np.bincount(cluster.model[cluster.gpus > 0], weights=cluster.gpus[cluster.gpus > 0],
                                 minlength=len(cluster.models))
        prob = gpu_models / gpu_models.sum()
        texts = list(out.spec_text) if out.spec_text else [""] * len(out)
        for i in np.flatnonzero(out.gpu_milli > 0):
            if rng.random() < frac:
                chosen = rng.choice(len(prob), size=1 + int(rng.random() < 0.5), replace=False, p=prob)
                spec[i] = int(sum(1 << int(c) for c in set(chosen.tolist())))
                texts[i] = "|".join(cluster.models[int(c)] for c in sorted(set(chosen.tolist())))
        out = Pods(names=out.names, cpu=out.cpu, mem=out.mem, num_gpu=out.num_gpu, gpu_milli=out.gpu_milli,
                   spec=spec, spec_text=tuple(texts), created=out.created, deleted=out.deleted)
    return out


__all__ = ["NAMES", "derived_workload"]
