"""The benchmark suite's measurement protocol (issue 16): which `packer bench` runs make the figures of
bench/RESULTS_suite.md.

    python bench/bench_suite.py 1024      # report seeds 100-109, 1,024 GPUs: greedy, online, first-fit,
                                          # best-fit, fgd, and the LP bound (deterministic objectives)
    python bench/bench_suite.py 64        # report seeds 100-109, 64 GPUs: the same and cpsat 10 s, 2 workers
    python bench/bench_suite.py 16384     # seed 100, 16,384 GPUs: greedy and the online policies
    python bench/bench_suite.py cpsat1024 # seeds 100-101, 1,024 GPUs: cpsat 60 s, 2 workers (wall-time bound)
    python bench/bench_suite.py tune      # tuning seeds 0-4 at 1,024 GPUs (never reported)

Each run keeps its results in bench/suite_NAME.json (rerunning skips what is there) and writes
bench/suite_NAME.md. Figures that depend on wall time (cpsat at a time limit) depend on the machine's
load, which every result records.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from packer.cli import main

HEURISTICS = "greedy,online,first-fit,best-fit,fgd"
RUNS: dict[str, list[str]] = {
    "1024": ["--nodes", "128", "--seeds", "100-109", "--solvers", HEURISTICS + ",lp", "--time-limit", "120"],
    "64": ["--nodes", "8", "--seeds", "100-109", "--solvers", HEURISTICS + ",lp,cpsat", "--time-limit", "10",
           "--workers", "2"],
    "16384": ["--nodes", "2048", "--seeds", "100", "--solvers", HEURISTICS],
    "cpsat1024": ["--nodes", "128", "--seeds", "100-101", "--solvers", "cpsat", "--time-limit", "60",
                  "--workers", "2"],
    "tune": ["--nodes", "128", "--seeds", "0-4", "--solvers", HEURISTICS + ",lp", "--time-limit", "120"],
}


def run(name: str, extra: list[str]) -> int:
    """Runs the protocol ``name`` (a key of RUNS), with extra `packer bench` arguments appended."""
    out = Path(os.path.relpath(Path(__file__).resolve().parent))
    args = ["bench", *RUNS[name], "--json", str(out / f"suite_{name}.json"), "--md", str(out / f"suite_{name}.md"),
            *extra]
    print("packer " + " ".join(args), flush=True)
    return main(args)


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in RUNS:
        print(__doc__)
        sys.exit(2)
    sys.exit(run(sys.argv[1], sys.argv[2:]))
