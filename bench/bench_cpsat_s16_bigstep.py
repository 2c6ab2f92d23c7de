"""Session 16 diagnosis: big LNS steps from a saved plan (are the plans locally optimal?).

Usage: python bench/bench_cpsat_s16_bigstep.py FAMILY SEED PLAN.json DOMAINS SECONDS TRIALS
Frees DOMAINS random domains of the LNS level (one worker, SECONDS each) from the plan
prints gain and
whether CP-SAT proved the step optimal.
"""

import random
import sys
import time

from lns_from_plan import plan_space

from packer.cpsat import lns as L

fam, seed, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
k, secs, trials = int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
inst, model, space = plan_space(fam, seed, path)
print('domains', len(space.names), 'start', space.best_obj / model.data.scale + model.constant, flush=True)
rng = random.Random(1)
for t in range(trials):
    free = set(rng.sample(space.names, k))
    t0 = time.perf_counter()
    c0 = time.process_time()
    sub = space.sub_model(space.best, free, [], None)
    got = {}
    found = L._step(sub, space.best_obj, seconds=secs, det=None, seed=t, workers=1, gap=space.gap, info=got)
    gain = 0 if found is None else (found[1]-space.best_obj)/model.data.scale
    print(t, sorted(free), 'gain', round(gain,3), 'proven', got.get('proven'), 'wall', round(time.perf_counter()-t0,1), 'cpu', round(time.process_time()-c0,1), flush=True)
