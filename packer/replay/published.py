"""FGD's published results (``fgd-expected-results/analysis_*_discrete.csv``), averaged over seeds."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from packer.errors import InputError


def read_published(path: str | Path) -> dict[tuple[str, str], dict[str, object]]:
    """{(workload, sc_policy): {"seeds": [...], "mean": [col 0..130 means], "rows": [[...], ...]}}.

    ``workload`` drops the ``openb_pod_list_`` prefix (``default``, ``cpu050``, ...).
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        raise InputError("file not found", file=str(path)) from None
    if not rows or "sc_policy" not in rows[0] or "130" not in rows[0]:
        raise InputError("not an FGD analysis_*_discrete.csv (needs sc_policy and columns 0..130)", file=str(path))
    groups: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for r in rows:
        groups[(r["workload"].removeprefix("openb_pod_list_"), r["sc_policy"])].append(r)
    out: dict[tuple[str, str], dict[str, object]] = {}
    for key, rs in groups.items():
        cols = [[float(r[str(k)]) for r in rs] for k in range(131)]
        out[key] = {"seeds": [int(r["seed"]) for r in rs], "mean": [sum(c) / len(c) for c in cols],
                    "rows": [[float(r[str(k)]) for k in range(131)] for r in rs]}
    return out


__all__ = ["read_published"]
