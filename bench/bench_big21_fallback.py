"""The bound by blocks under a tight time limit, with and without DUAL_FALLBACK (session 21; not a unit test).

    nice -n 5 python bench/bench_big21_fallback.py fragmented 0 45 60

For each time limit, runs :func:`packer.cpsat.block_bound.block_bound` on the 2,048-node instance (merged
block LPs, as the re-optimizer's child) with DUAL_FALLBACK off and on (arms interleaved), and prints each
round's bound, the best, the blocks that fell back, the seconds and the 1-minute load. Timing decides
which blocks fall back, so the two arms can differ in that too: compare the fallbacks beside the values.
"""

from __future__ import annotations

import json
import os
import sys
import time

from packer.cpsat import block_bound as bbm
from packer.generate import generate


def main() -> int:
    family, seed = sys.argv[1], int(sys.argv[2])
    inst = generate(family, seed=seed, nodes=2048)
    for limit in (float(x) for x in sys.argv[3:]):
        for arm in (False, True):
            bbm.DUAL_FALLBACK = arm
            t = time.perf_counter()
            got = bbm.block_bound(inst, iterations=5, time_limit=limit)
            print(json.dumps({"family": family, "seed": seed, "limit": limit, "dual_fallback": arm,
                              "value": round(got.value, 2), "values": [round(v, 2) for v in got.values],
                              "fallbacks": got.fallbacks, "first_s": round(got.first_s, 1),
                              "s": round(time.perf_counter() - t, 1), "load": round(os.getloadavg()[0], 2)}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
