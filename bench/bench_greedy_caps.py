"""Greedy with and without node caps for node-isolated tenants (session 15), same process, same instances.

A node a node-isolated tenant holds is closed to every other tenant, so idle room left there is lost
to them. The greedy now tries the same construction with such a tenant held to fewer nodes when its
idle room adds up to whole nodes while others wait (``greedy.CAP_ROUNDS`` rounds, replayed up to
where the cap bites; kept only when better). This prints each instance's greedy objective with
``CAP_ROUNDS = 0`` and with the default, the construction kept, the time of each, and totals::

    python bench/bench_greedy_caps.py --families all --nodes 128 --seeds 0-4,100-104
    python bench/bench_greedy_caps.py --families haein,inference --nodes 2048 --seeds 100

Objectives are deterministic; times move with the machine's load. With ``--cpsat S`` each instance is
solved instead by ``packer.solve(..., solver="cpsat", time_limit=S, workers=W)``, whose hint runs
the greedy, once with caps off and once on (interleaved, same process), printing objective, bound
and gap::

    python bench/bench_greedy_caps.py --families inference,tenants --nodes 128 --seeds 100,101 --cpsat 60 --workers 2

The loop is bench_greedy_ab.py's (arm A: ``CAP_ROUNDS = 0``; arm B: the default).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_greedy_ab import run  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(run("CAP_ROUNDS", 0, sys.argv[1:]))
