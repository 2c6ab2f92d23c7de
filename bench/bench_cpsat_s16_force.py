"""Session 16 diagnosis: can a waiting request be placed at all? A step over DOMAINS random domains of a
saved plan with the request's placed count forced to 1 (clone model, one worker).

Usage: python bench/bench_cpsat_s16_force.py FAMILY SEED PLAN.json DOMAINS SECONDS TRIALS REQUEST_ID
"""

import random
import sys
import time

from lns_from_plan import plan_space
from ortools.sat.python import cp_model

from packer.cpsat import lns as L

fam, seed, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
k, secs, trials, rid = int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
inst, model, space = plan_space(fam, seed, path)
d, v = model.data, model.vars
gis = [gi for gi in v.active if d.groups[gi].req.id == rid]
act = v.active[gis[0]].index
print('start', space.best_obj / model.data.scale + model.constant, 'group', gis, flush=True)
L.REGION_STEPS = False
rng = random.Random(2)
for t in range(trials):
    free = set(rng.sample(space.names, k))
    sub = space.sub_model(space.best, free, [], None)
    dom = sub.proto.variables[act].domain
    dom[0] = 1
    solver = cp_model.CpSolver()
    p = solver.parameters
    p.max_time_in_seconds = secs
    p.num_workers = 1
    p.linearization_level = 2
    t0 = time.perf_counter()
    code = solver.solve(sub)
    obj = solver.objective_value / model.data.scale + model.constant if code in (cp_model.OPTIMAL, cp_model.FEASIBLE) else None
    print(t, sorted(free), solver.status_name(code), 'obj', obj, 'bound', solver.best_objective_bound / model.data.scale + model.constant, round(time.perf_counter()-t0,1), flush=True)
