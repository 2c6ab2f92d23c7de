"""The FGD evaluation protocol (traces README §5): typical pods, seeded shuffle and tuning, tie order.

One seed fixes everything random about a run, drawn from one ``numpy.random.Generator`` in FGD's
order (§5.2): the pod shuffle, the tuning draws, the node permutation that breaks score ties, and the
uniform numbers the Random policy uses (two per pod: node pick, device pick). Go's ``math/rand``
stream cannot be reproduced, so per-seed results differ from FGD's; seed-averaged results compare.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from packer.replay.openb import Cluster, Pods

#: FGD's typical-pod settings: podPopularityThreshold = 95, podIncreaseStep = 1, CPU pods included.
POPULARITY_PCT = 95


@dataclass(frozen=True)
class TypicalPods:
    """The typical-pod workload M of §5.7: shapes and their probabilities."""

    cpu: np.ndarray
    gpu_milli: np.ndarray
    num_gpu: np.ndarray
    spec: np.ndarray
    prob: np.ndarray  # float64, sums to 1

    def __len__(self) -> int:
        return len(self.prob)


def typical_pods(pods: Pods, popularity_pct: float = POPULARITY_PCT) -> TypicalPods:
    """Shapes (cpu, per-GPU milli, num_gpu, spec) by count, highest first, until ≥ pct of pods.

    Shapes with equal counts keep the order in which they first appear in ``pods``.
    """
    keys = list(zip(pods.cpu.tolist(), pods.gpu_milli.tolist(), pods.num_gpu.tolist(), pods.spec.tolist(), strict=True))
    counts = Counter(keys)
    first = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    ranked = sorted(counts, key=lambda k: (-counts[k], first[k]))
    kept, covered, total = [], 0, len(keys)
    for k in ranked:
        kept.append(k)
        covered += counts[k]
        if 100 * covered >= popularity_pct * total:
            break
    denom = sum(counts[k] for k in kept)
    arr = np.array(kept, dtype=np.int64).reshape(-1, 4)
    return TypicalPods(
        cpu=arr[:, 0].copy(), gpu_milli=arr[:, 1].copy(), num_gpu=arr[:, 2].copy(), spec=arr[:, 3].copy(),
        prob=np.array([counts[k] / denom for k in kept], dtype=np.float64),
    )


@dataclass(frozen=True)
class Stream:
    """Everything one seeded run needs besides the cluster: the pod sequence and the random numbers."""

    seed: int
    pods: Pods  # arrival order, tuned copies at the end
    node_rank: np.ndarray  # tie-break rank of each node (lower wins)
    rand: np.ndarray  # float64 [num_pods, 2] uniforms in [0, 1) for the Random policy
    num_original: int
    target_milli: int


def make_stream(pods: Pods, cluster: Cluster, seed: int, inflation: float = 1.3) -> Stream:
    """Shuffles ``pods`` with ``seed`` and tunes the list to ``inflation`` × GPU capacity (§5.2-5.3)."""
    rng = np.random.default_rng(seed)
    by_name = np.argsort(np.array(pods.names), kind="stable")
    base = pods.take(by_name)
    order = rng.permutation(len(base))
    idx = [int(i) for i in order]
    names = [base.names[i] for i in idx]
    demand = base.gpu_demand
    total = int(demand.sum())
    target = int(round(inflation * cluster.capacity_milli))
    if total < target:
        k = 0
        while True:
            j = int(rng.integers(len(base)))
            if total + int(base.gpu_milli[j]) > target:
                break
            idx.append(j)
            names.append(f"{base.names[j]}-tuned-{k}")
            k += 1
            total += int(demand[j])
    else:
        while total > target:
            r = int(rng.integers(len(idx)))
            total -= int(demand[idx[r]])
            del idx[r]
            del names[r]
    node_rank = np.empty(cluster.num_nodes, dtype=np.int64)
    node_rank[rng.permutation(cluster.num_nodes)] = np.arange(cluster.num_nodes)
    rand = rng.random((len(idx), 2))
    return Stream(seed=seed, pods=base.take(np.array(idx, np.int64), tuple(names)), node_rank=node_rank,
                  rand=rand, num_original=len(base), target_milli=target)


def parse_seeds(text: str) -> list[int]:
    """``42-51`` or ``42,43,50`` (or a mix) as a sorted list of distinct seeds."""
    out: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part[1:]:
            a, b = part.split("-", 1) if not part.startswith("-") else (part, "")
            lo, hi = int(a), int(b)
            if hi < lo:
                raise ValueError(f"empty seed range {part!r}")
            out.update(range(lo, hi + 1))
        else:
            out.add(int(part))
    if not out:
        raise ValueError("no seeds")
    return sorted(out)


__all__ = ["POPULARITY_PCT", "Stream", "TypicalPods", "make_stream", "parse_seeds", "typical_pods"]
