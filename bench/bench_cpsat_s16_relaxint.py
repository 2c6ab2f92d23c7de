"""Session 16 diagnosis: a merged relaxation's LP bound against CP-SAT on its integer model (2 workers).

Usage: python bench/bench_cpsat_s16_relaxint.py FAMILY SEED LEVEL SECONDS
"""

import sys
import time

from packer.cpsat import proof
from packer.cpsat.model import CpsatModel
from packer.cpsat.relax import merged_relaxation
from packer.generate import generate

fam, seed, level, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
inst = generate(fam, seed=seed, nodes=128)
t0 = time.perf_counter()
relax = merged_relaxation(inst, level)
model = CpsatModel(relax.instance, barred=relax.barred)
print('built', round(time.perf_counter()-t0,1), 'vars', len(model.model.proto.variables), flush=True)
t0 = time.perf_counter()
print('lp', proof.lp_bound(model, 60), round(time.perf_counter()-t0,1), flush=True)
t0 = time.perf_counter()
model.solve(time_limit=secs, seed=0, workers=2)
s = model.solver
print('cpsat', s.response_proto.status, 'obj', s.objective_value / model.data.scale + model.constant,
      'bound', s.best_objective_bound / model.data.scale + model.constant, round(time.perf_counter()-t0,1), flush=True)
