"""Deterministic A/B of LNS steps chosen by value (issue 16 part 3, session 5): the same steps, load-free.

Wall-clock A/Bs at 60 s on the shared 2-core machine swing by 10-25 objective units between two runs
of the same code (how long the LP beside the search holds a core decides how many steps run). This
harness takes the wall clock out: per instance (1,024 GPUs by default) it builds the model once,
hints it with the greedy plan, runs one whole-model CP-SAT solve of ``--first-det`` deterministic
units with one worker (the same start for every arm), then for each arm runs ``--steps`` sequential
LNS steps of ``--det-step`` deterministic units each (``lns._sequential``, the reproducible path of
``--workers 1``) from that start, at the level and size ``timeplan.lns_plan`` picks. Arms:

- ``value``: value and exchange steps, adaptive shares (as shipped);
- ``fixed``: value and exchange steps at their base shares;
- ``off``: neither, no adaptation (the step mix before this session).

Prints one JSON line per arm: objective after the steps, gain over the start, the per-kind
statistics [steps, improved, gain, deterministic seconds], wall seconds and the 1-min load.

    python bench/bench_cpsat_value_det.py --families adversarial,haein --seeds 0 1 --steps 40
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="adversarial,inference,hetero,haein,training")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--det-step", type=float, default=1.0)
    ap.add_argument("--first-det", type=float, default=2.0)
    ap.add_argument("--arms", default="value,off")
    ap.add_argument("--solver-seed", type=int, default=0)
    args = ap.parse_args()
    from packer.cpsat import lns
    from packer.cpsat.model import CpsatModel
    from packer.cpsat.timeplan import lns_plan
    from packer.generate import generate
    from packer.greedy.solver import solve as greedy_solve
    from packer.progress import SILENT

    shipped = (lns.VALUE_SHARE, lns.EXCHANGE_SHARE, lns.ADAPT_KINDS)
    settings = {"value": shipped, "fixed": (shipped[0], shipped[1], False), "off": (0.0, 0.0, False)}
    for fam in args.families.split(","):
        for seed in args.seeds:
            inst = generate(fam, seed=seed, nodes=args.nodes)
            plan = lns_plan(inst, 60.0, None)
            assert plan is not None
            level, per_step = plan[0], plan[1]
            model = CpsatModel(inst)
            model.hint(greedy_solve(inst))
            model.solve(time_limit=120, seed=args.solver_seed, workers=1,
                        params={"max_deterministic_time": args.first_det})
            for arm in args.arms.split(","):
                lns.VALUE_SHARE, lns.EXCHANGE_SHARE, lns.ADAPT_KINDS = settings[arm]
                space = lns._space(model, level)
                assert space is not None
                start = space.best_obj
                load = os.getloadavg()[0]
                t0 = time.time()
                lns._sequential(space, domains_per_step=per_step, step_s=args.det_step, deadline=time.perf_counter() + 3600,
                                seed=args.solver_seed, workers=1, steps=args.steps, det_step=args.det_step,
                                progress=SILENT)
                scale = model.data.scale
                print(json.dumps({"family": fam, "seed": seed, "arm": arm, "level": level, "per_step": per_step,
                                  "start": round(start / scale + model.constant, 3),
                                  "objective": round(space.best_obj / scale + model.constant, 3),
                                  "gain": round((space.best_obj - start) / scale, 3),
                                  "steps": space.stats["steps"], "improved": space.stats["improved"],
                                  "value_none": space.stats.get("value_none", 0),
                                  "kinds": space.portfolio.summary(), "wall_s": round(time.time() - t0, 1),
                                  "load": round(load, 2), "utc": time.strftime("%H:%M", time.gmtime(t0))}),
                      flush=True)
    lns.VALUE_SHARE, lns.EXCHANGE_SHARE, lns.ADAPT_KINDS = shipped


if __name__ == "__main__":
    main()
