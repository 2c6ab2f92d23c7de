"""cProfile of the online placer over one instance, with the time per 2,000 requests (issue 20's hint).

``python bench/profile_online_hint.py INSTANCE.json SECONDS``: places the new requests in file order
until SECONDS have passed, printing the wall time per 2,000 requests, then the 20 functions with
the most own time. Profiled times are inflated by the profiler; compare runs of this script only.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import time


def main() -> int:
    from packer.formats import load_instance
    from packer.online.placer import OnlinePlacer, requests_in_order

    t = time.perf_counter()
    inst = load_instance(sys.argv[1])
    print("load", round(time.perf_counter() - t, 2), len(inst.requests), len(inst.nodes), flush=True)
    limit = float(sys.argv[2])
    prof = cProfile.Profile()
    prof.enable()
    t0 = time.perf_counter()
    placer = OnlinePlacer(inst, None, seed=0)
    print("init", round(time.perf_counter() - t0, 2), flush=True)
    reqs = requests_in_order(inst.requests, "file", inst)
    t1 = last = now = time.perf_counter()
    for i, req in enumerate(reqs):
        if i % 2000 == 0:
            now = time.perf_counter()
            print(i, round(now - t1, 1), round((now - last) / 2000 * 1e3, 2), "ms/req", flush=True)
            last = now
        if now - t1 > limit:
            break
        placer.place(req)
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
