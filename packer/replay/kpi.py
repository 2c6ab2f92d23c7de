"""KPIs and binning of the replay log exactly as FGD's analysis does (traces README §5.5-5.7).

Each logged line (one per arrived pod) falls in bin b = round(100 A / C) (half to even), 0..130.
Allocation column k = round(mean over the bin of round(100 U / C, 2), 2); frag amount column
k = round(100 mean(F) / 1000 / num_gpus, 2); frag rate column k = mean of 100 F / I. An empty bin
takes the mean over bins k-1..k+1, and stays empty (None) if those are empty too.
"""

from __future__ import annotations

import numpy as np

NUM_BINS = 131


def _bin_means(bins: np.ndarray, values: list[float], num_bins: int) -> list[float | None]:
    sums = np.zeros(num_bins)
    counts = np.zeros(num_bins, dtype=np.int64)
    for b, v in zip(bins.tolist(), values, strict=True):
        if 0 <= b < num_bins:
            sums[b] += v
            counts[b] += 1
    out: list[float | None] = []
    for k in range(num_bins):
        if counts[k]:
            out.append(float(sums[k] / counts[k]))
            continue
        lo, hi = max(k - 1, 0), min(k + 1, num_bins - 1)
        c = int(counts[lo:hi + 1].sum())
        out.append(float(sums[lo:hi + 1].sum() / c) if c else None)
    return out


def curves(arrived: np.ndarray, used: np.ndarray, frag: np.ndarray, idle: np.ndarray, capacity_milli: int,
           num_bins: int = NUM_BINS) -> dict[str, list[float | None]]:
    """The three binned curves of one run: allocation %, frag amount % of GPUs, frag rate %."""
    bins = np.array([round(a * 100 / capacity_milli) for a in arrived.tolist()], dtype=np.int64)
    alloc_line = [round(100 * u / capacity_milli, 2) for u in used.tolist()]
    frag_line = frag.tolist()
    rate_line = [100.0 * f / i if i > 0 else 0.0 for f, i in zip(frag.tolist(), idle.tolist(), strict=True)]
    num_gpus = capacity_milli / 1000
    alloc = [None if v is None else round(v, 2) for v in _bin_means(bins, alloc_line, num_bins)]
    amount = [None if v is None else round(100 * v / 1000 / num_gpus, 2)
              for v in _bin_means(bins, frag_line, num_bins)]
    rate = _bin_means(bins, rate_line, num_bins)
    return {"allocation_pct": alloc, "frag_amount_pct": amount, "frag_rate_pct": rate}


def unallocated_gpus(alloc_pct: float, num_gpus: int) -> float:
    """GPUs left unallocated at an allocation ratio: num_gpus × (100 − ratio) / 100."""
    return num_gpus * (100.0 - alloc_pct) / 100.0


__all__ = ["NUM_BINS", "curves", "unallocated_gpus"]
