"""The command line the clean-up identity checks share (bench_cleanup26_identity.py, bench_clean27_identity.py).

A check is a set of named parts, each a function returning {key: result}; ``--out FILE --parts A,B`` runs the
named parts and writes every result under ``part/key`` (the file is rewritten after each part, so a long run
leaves what it has); ``--compare A B`` reads two such files and exits 1 when any key differs or is missing
on one side."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


def run(parts: Mapping[str, Callable[[], Mapping[str, Any]]], default: str) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--parts", default=default)
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"))
    a = ap.parse_args()
    if a.compare:
        x, y = (json.loads(Path(p).read_text()) for p in a.compare)
        diff = sorted(k for k in set(x) | set(y) if x.get(k) != y.get(k))
        print(f"{len(set(x) & set(y))} keys compared, {len(diff)} differ: {diff}")
        sys.exit(1 if diff or set(x) != set(y) else 0)
    res: dict[str, Any] = {}
    for p in a.parts.split(","):
        t0 = time.perf_counter()
        for k, v in parts[p]().items():
            res[f"{p}/{k}"] = v
        print(f"{p}: {time.perf_counter() - t0:.1f} s", flush=True)
        Path(a.out).write_text(json.dumps(res, indent=1, sort_keys=True, default=repr))
