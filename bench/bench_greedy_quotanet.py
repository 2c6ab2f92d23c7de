"""A/B of the greedy's construction by net value for quota-bound tenants (greedy.QUOTA_NET): per family and
seed, the objective, CPU seconds and construction kept with it off and on; every plan checked.

Usage: python bench/bench_greedy_quotanet.py FAMILIES SEEDS NODES  (e.g. quota,training 0,1,100 128);
one JSON row per line: [family, seed, off objective, off CPU s, off construction, on ...].
"""

import json
import sys
import time

from packer.check import check
from packer.generate import generate
from packer.greedy import solver as g


def main() -> None:
    fams = sys.argv[1].split(",")
    seeds = [int(s) for s in sys.argv[2].split(",")]
    nodes = int(sys.argv[3])
    for f in fams:
        for s in seeds:
            inst = generate(f, s, nodes=nodes)
            row: list[object] = [f, s]
            for on in (False, True):
                g.QUOTA_NET = on
                t = time.process_time()
                p = g.solve(inst)
                dt = time.process_time() - t
                assert check(inst, p).ok
                row += [round(p.objective, 2), round(dt, 2), p.solver.model_dump().get("construction")]
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
