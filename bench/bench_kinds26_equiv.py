"""Session 26: with lns.KIND_STREAMS off, this tree must draw exactly as main did (the choose_kind refactor).

20 reproducible steps (det 0.1, seed 3) on 16-node tenants / hetero / haein seed 1, with no kind flag, TIE_STEPS and
REACH_STEPS: prints each run's per-kind outcomes and a digest of its plan. Run it under two trees and compare:

    PYTHONPATH=TREE python bench/bench_kinds26_equiv.py > out.txt
"""

from __future__ import annotations

import hashlib
import json
import time

from packer.cpsat import lns as lns_mod
from packer.cpsat.hints import hint_plan
from packer.cpsat.model import CpsatModel
from packer.cpsat.search import lns_plan
from packer.generate import generate


def main() -> None:
    out = []
    for fam in ("tenants", "hetero", "haein"):
        inst = generate(fam, seed=1, nodes=16)
        for flags in ({}, {"TIE_STEPS": True}, {"REACH_STEPS": True}):
            for name, value in flags.items():
                setattr(lns_mod, name, value)
            model = CpsatModel(inst)
            model.hint(hint_plan(inst, 1, None, online=False))
            model.solve(time_limit=None, seed=1, workers=1, params={"max_deterministic_time": 0.001})
            plan = lns_plan(inst, 60.0, None)
            assert plan is not None
            lns_mod.lns(model, level=plan[0], domains_per_step=plan[1], step_s=3600, deadline=time.perf_counter() + 3600,
                        seed=3, workers=1, steps=20, det_step=0.1)
            values = model.values
            digest = hashlib.sha1(json.dumps(values).encode()).hexdigest()[:10] if values else None
            out.append((fam, sorted(flags), model.lns_stats.get("kinds"), digest))
            for name in flags:
                setattr(lns_mod, name, False)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
