"""Thin public front of the replay kernels: validates, converts to arrays, names the policies."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from packer.online.policies import REPLAY, resolve
from packer.replay.engine import kernels as _k

#: The replay's policy names -> kernel code (:func:`packer.online.policies.resolve` on the replay
#: engine: ``packer`` is ``packer-openb``, packer's own replay policy, see packer.replay.policy;
#: ``bestfit``/``firstfit`` are ``best-fit``/``first-fit``).
POLICIES: dict[str, int] = {
    name: resolve(name, REPLAY).code
    for name in ("random", "dotproduct", "gpuclustering", "gpupacking", "bestfit", "fgd", "packer", "firstfit")
}


def policy_code(name: str) -> int:
    """The kernel code of replay policy ``name``: one of :data:`POLICIES` or a registry name the replay
    runs (``packer-openb``, ``best-fit``, ...); ValueError names the choices."""
    return resolve(name, REPLAY).code


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
           pk_weights=None, rho: float = 0.0) -> ReplayRun:
    """Replays pods one at a time on the nodes under ``policy`` (see :func:`policy_code`). ``pk_weights`` and
    ``rho`` are the packer policy's typical-pod weights and CPU-balance weight (packer.replay.policy); the other
    policies ignore them."""
    code = policy_code(policy)
    gpus = _i64(node_gpus)
    if gpus.size and (gpus.min() < 0 or gpus.max() > 8):
        raise ValueError("the engine supports 0..8 GPUs per node")
    num = _i64(pod_num)
    milli = _i64(pod_milli)
    if np.any((num > 1) & (milli < 1000)):
        raise ValueError("multi-GPU pods must ask for whole GPUs")
    pk_w = _f64(tp_prob if pk_weights is None else pk_weights)
    out = _k.replay(
        code, _i64(node_cpu), _i64(node_mem), gpus, _i64(node_model), _i64(node_rank),
        _i64(pod_cpu), _i64(pod_mem), num, milli, _i64(pod_spec), _f64(rand).reshape(-1, 2),
        _i64(tp_cpu), _i64(tp_milli), _i64(tp_num), _i64(tp_spec), _f64(tp_prob), pk_w, float(rho),
    )
    return ReplayRun(*out)


class LiveCluster:
    """The replay engine's cluster state with arrivals *and* departures, one pod at a time.

    The same filter, scores and device choice as :func:`replay` (its kernels), but the caller drives
    the events: :meth:`place` books a pod on the node ``policy`` picks (or on one given node),
    :meth:`release` frees a running pod. The arrays ``cpu``, ``mem`` (free per node) and ``idle``
    (idle milli per node and device) are the live state; treat them as read-only.
    """

    def __init__(self, policy: str, *, node_cpu, node_mem, node_gpus, node_model, node_rank, tp_cpu, tp_milli,
                 tp_num, tp_spec, tp_prob, pk_weights=None, rho: float = 0.0) -> None:
        self._code = policy_code(policy)
        self.policy = policy
        self.gpus = _i64(node_gpus)
        if self.gpus.size and (self.gpus.min() < 0 or self.gpus.max() > 8):
            raise ValueError("the engine supports 0..8 GPUs per node")
        self.model = _i64(node_model)
        self.rank = _i64(node_rank)
        self._tp = (_i64(tp_cpu), _i64(tp_milli), _i64(tp_num), _i64(tp_spec), _f64(tp_prob))
        self._pk_w = _f64(tp_prob if pk_weights is None else pk_weights)
        self._rho = float(rho)
        (self.cpu, self.mem, self.idle, self._tags, self._tagcnt, self.frag,
         self._pkfrag) = _k.init_state(self._code, _i64(node_cpu), _i64(node_mem), self.gpus, self.model,
                                       *self._tp, self._pk_w)
        self.used_milli = 0

    @property
    def capacity_milli(self) -> int:
        """1000 × the number of GPUs."""
        return 1000 * int(self.gpus.sum())

    def place(self, cpu: int, mem: int, num: int, milli: int, spec: int, *, rand: tuple[float, float] = (0.0, 0.0),
              only: int = -1) -> tuple[int, int]:
        """Places one pod (on node ``only`` if >= 0); returns (node, device mask), node -1 if none fits."""
        if num > 1 and milli < 1000:
            raise ValueError("multi-GPU pods must ask for whole GPUs")
        n, mask = _k.place_pod(self._code, cpu, mem, num, milli, spec, float(rand[0]), float(rand[1]), self.gpus,
                               self.model, self.rank, self.cpu, self.mem, self.idle, self._tags, self._tagcnt,
                               self.frag, self._pkfrag, *self._tp, self._pk_w, self._rho, only)
        if n >= 0:
            self.used_milli += num * milli
        return int(n), int(mask)

    def release(self, node: int, mask: int, cpu: int, mem: int, num: int, milli: int) -> None:
        """Frees a pod placed by :meth:`place` on ``node`` with device ``mask``."""
        _k.release_pod(self._code, node, mask, cpu, mem, num, milli, self.gpus, self.model, self.cpu, self.mem,
                       self.idle, self._tags, self._tagcnt, self.frag, self._pkfrag, *self._tp, self._pk_w)
        self.used_milli -= num * milli

    def fits_on(self, node: int, cpu: np.ndarray, mem: np.ndarray, num: np.ndarray, milli: np.ndarray,
                spec: np.ndarray) -> np.ndarray:
        """Which of the given pods (arrays) pass the filter of ``node`` now (vectorised)."""
        ok = (cpu <= self.cpu[node]) & (mem <= self.mem[node])
        g = int(self.gpus[node])
        row = self.idle[node, :g]
        dev = (row[None, :] >= milli[:, None]).sum(axis=1) >= num if g else np.zeros(len(cpu), bool)
        model_ok = (spec == 0) | ((spec >> max(int(self.model[node]), 0)) & 1).astype(bool)
        gpu_ok = (milli == 0) | ((g > 0) & dev & model_ok)
        return ok & gpu_ok
