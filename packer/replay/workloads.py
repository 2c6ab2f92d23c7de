"""Derived openb workloads for robustness checks, built from the default pod list.

alibaba/clusterdata publishes 23 resampled variants of the default list (``cpu*``, ``gpushare*``,
``gpuspec*``, ``multigpu*``) that are not in our shared folder; FGD's published results cover 16 of
them. These functions rebuild workloads *in the same spirit* (our own construction, not theirs): the
same number of pods, resampled with replacement from the default list's pods of each kind, with one
kind's share changed. Results on them compare packer with our FGD on identical pod lists; the
published numbers for the same names are only indicative.

- ``cpuXXX``: CPU-only pods are XXX/10 % of all pods (default list: 13.3%).
- ``gpushareXX``: sharing pods are XX% of the GPU pods (default: 43.6%).
- ``gpuspecXX``: XX% of the GPU pods may run only on one GPU model (or two, half of the time), drawn
  by GPU capacity; the rest as in the default list.
- ``multigpuXX``: multi-GPU pods are XX% of the whole-GPU pods (default: 1.9%).
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
    n = len(pods)
    counts = {key: len(v) for key, v in k.items()}
    if kind == "cpu":
        counts["cpu"] = round(frac * n)
        rest = n - counts["cpu"]
        gpu_total = len(k["share"]) + len(k["whole1"]) + len(k["multi"])
        for key in ("share", "whole1"):
            counts[key] = round(rest * len(k[key]) / gpu_total)
        counts["multi"] = rest - counts["share"] - counts["whole1"]
    elif kind == "gpushare":
        gpu = n - counts["cpu"]
        counts["share"] = round(frac * gpu)
        other = gpu - counts["share"]
        counts["whole1"] = round(other * len(k["whole1"]) / (len(k["whole1"]) + len(k["multi"])))
        counts["multi"] = other - counts["whole1"]
    elif kind == "multigpu":
        whole = counts["whole1"] + counts["multi"]
        counts["multi"] = round(frac * whole)
        counts["whole1"] = whole - counts["multi"]
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
