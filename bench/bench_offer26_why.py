"""Session 26 (offer26): why waiting requests cannot fit an aimed region, on the haein issue state 0.

The no-move start (10 s, one worker; no stays LP, so regions are aimed by room alone), then 30 aims drawn
as the move steps draw them (reopt._aim), each given an aimed region of reopt.REGION_NODES closed to
REGION_MAX_NODES (wide aims too: in a run they get a wide region instead); per region, the reason
(reopt_offer.why) the aim, and every waiting request, cannot fit. Prints the unfit aims and two counters.

    python bench/bench_offer26_why.py
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_reopt import state

    from packer.cpsat import reopt, reopt_offer

    inst = state("issue", 0, None)
    start = reopt.no_move_plan(inst, time_limit=10, seed=0, workers=1)
    placed = {a.request: list(a.units) for a in start.assignments}
    view = reopt._View(inst, placed)
    racks = reopt._domains(inst, reopt._level(inst))
    waiting = [r for r in inst.requests
               if r.id not in placed and view.quota_left(r) >= reopt._least_size(inst, r) - 1e-9]
    rng = random.Random(0)
    aims: Counter[str] = Counter()
    every: Counter[str] = Counter()
    for _ in range(30):
        aim = reopt._aim(rng, waiting, None)
        nodes = view.close(view.aimed_region(aim, rng, racks, None), reopt.REGION_MAX_NODES, rng)
        sub, _hint, _unc = reopt._sub_instance(inst, placed, nodes, None, waiting, aim, rng)
        reg = reopt_offer.Region.of(sub, {n.id for n in sub.nodes}, {}, sub.requests)
        w = reopt_offer.why(sub, reg, sub.request(aim.id))
        aims[w] += 1
        if w:
            print(aim.kind, aim.profile, aim.slices, aim.count, aim.tenant, aim.locality, aim.spread, len(nodes), w,
                  round(reg.room, 2))
        for r in waiting:
            every[reopt_offer.why(sub, reg, r)] += 1
    print("aims:", dict(aims))
    print("every waiting request:", dict(every))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
