"""Thin public front of the replay kernels: validates, converts to arrays, names the policies."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from packer.online.tracesim import kernels as _k

#: Policy name -> kernel code. ``packer`` is packer's own policy (see packer.replay.policy).
POLICIES: dict[str, int] = {
    "random": _k.RANDOM,
    "dotproduct": _k.DOTPROD,
    "gpuclustering": _k.GPUCLUSTERING,
    "gpupacking": _k.GPUPACKING,
    "bestfit": _k.BESTFIT,
    "fgd": _k.FGD,
    "packer": _k.PACKER,
    "firstfit": _k.FIRSTFIT,
}


@dataclass(frozen=True)
class ReplayRun:
    """One replay: per pod the node (-1: failed) and device mask, and the per-pod log of §5.5."""

    node: np.ndarray
    devmask: np.ndarray
    arrived: np.ndarray  # arrived GPU milli A after each pod
    used: np.ndarray  # used GPU milli U after each pod
    frag: np.ndarray  # fragmentation amount F (milli) after each pod
    idle: np.ndarray  # idle GPU milli I after each pod


def _i64(a: object) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype=np.int64))


def _f64(a: object) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(a, dtype=np.float64))


def replay(policy: str, *, node_cpu, node_mem, node_gpus, node_model, node_rank, pod_cpu, pod_mem,
           pod_num, pod_milli, pod_spec, rand, tp_cpu, tp_milli, tp_num, tp_spec, tp_prob,
           pk_weights=None, params=(0.0, 0.0)) -> ReplayRun:
    """Replays pods one at a time on the nodes under ``policy`` (a name in :data:`POLICIES`)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; known: {sorted(POLICIES)}")
    gpus = _i64(node_gpus)
    if gpus.size and (gpus.min() < 0 or gpus.max() > 8):
        raise ValueError("the engine supports 0..8 GPUs per node")
    num = _i64(pod_num)
    milli = _i64(pod_milli)
    if np.any((num > 1) & (milli < 1000)):
        raise ValueError("multi-GPU pods must ask for whole GPUs")
    pk_w = _f64(tp_prob if pk_weights is None else pk_weights)
    par = _f64(list(params) + [0.0] * (8 - len(params)))
    out = _k.replay(
        POLICIES[policy], _i64(node_cpu), _i64(node_mem), gpus, _i64(node_model), _i64(node_rank),
        _i64(pod_cpu), _i64(pod_mem), num, milli, _i64(pod_spec), _f64(rand).reshape(-1, 2),
        _i64(tp_cpu), _i64(tp_milli), _i64(tp_num), _i64(tp_spec), _f64(tp_prob), pk_w, par,
    )
    return ReplayRun(*out)
