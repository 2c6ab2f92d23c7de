"""Session 25 (branch hetero25): deterministic A/B of LNS flags, as bench_hetero24_owner_det.py.

For every family and seed at 1,024 GPUs: the greedy hint and the model (``bench_cpsat_region_det.start``),
then PREFIX sequential LNS steps with ``lns.OWNER_EXCHANGE`` off and every arm flag at its shipped value (the
shared prefix of session 24's A/B: its starts are the same), then each arm runs exactly STEPS sequential
steps of DET_STEP deterministic time from that incumbent (one worker, seeded): the objective does not
depend on the machine's load. Arm order turns with the instance. One JSON line an arm: its objective,
the step kinds' outcomes and the counters named below.

An arm is NAME=MODULE.FLAG:VALUE[+MODULE.FLAG:VALUE...] (MODULE under packer.cpsat; VALUE a Python
literal); flags an arm does not name keep their shipped values.

    python bench/bench_hetero25_det.py FAMILY[,...] SEED[,...] STEPS DET_STEP ARM [ARM ...] [--prefix P] [--out FILE]

e.g. ``... hetero 108 60 0.8 off=lns.OWNER_EXCHANGE:False on=lns.OWNER_EXCHANGE:True
--prefix 40`` (session 25's ``fresh`` arm, lns.OWNER_FRESH, ran at git tag flags-s26).
"""

from __future__ import annotations

import ast
import importlib
import sys
import time

from bench_cpsat_portfolio_det import lns_arm
from bench_cpsat_region_det import start
from benchargs import emit, pop_option

from packer.cpsat import lns as lns_mod

COUNTS = ("owner_steps", "owner_none", "value_none", "whole_none", "tenant_steps", "whole_steps",
          "reach_steps", "reach_none")


def parse_arm(text: str) -> tuple[str, list[tuple[object, str, object]]]:
    name, _, spec = text.partition("=")
    sets = []
    for part in spec.split("+") if spec else []:
        target, _, value = part.partition(":")
        mod_name, _, flag = target.rpartition(".")
        mod = importlib.import_module(f"packer.cpsat.{mod_name}")
        assert hasattr(mod, flag), target
        sets.append((mod, flag, ast.literal_eval(value)))
    return name, sets


def main(families: list[str], seeds: list[int], steps: int, det_step: float, arms: list[str], prefix: int,
         out: str | None) -> None:
    parsed = [parse_arm(a) for a in arms]
    flags = {(mod, flag) for _, sets in parsed for mod, flag, _ in sets} | {(lns_mod, "OWNER_EXCHANGE")}
    shipped = {key: getattr(*key) for key in flags}
    k = 0
    for seed in seeds:
        for fam in families:
            t0 = time.perf_counter()
            model, plan, _ = start(fam, seed, {})
            lns_mod.OWNER_EXCHANGE = False
            if prefix:
                lns_mod.lns(model, level=plan[0], domains_per_step=plan[1], step_s=3600.0,
                            deadline=time.perf_counter() + 3600.0, seed=seed + 500, workers=1, steps=prefix,
                            det_step=det_step)
                if model.values is not None:  # the arms start from it: a complete hint better than the run
                    proto = model.model.proto
                    proto.clear_solution_hint()
                    proto.solution_hint.vars.extend(range(len(model.values)))
                    proto.solution_hint.values.extend(model.values)
            space = lns_mod._space(model, plan[0])
            assert space is not None
            start_obj = space.best_obj / model.data.scale + model.constant
            head = {"family": fam, "seed": seed, "prefix": prefix, "start": round(start_obj, 3),
                    "start_s": round(time.perf_counter() - t0, 1)}
            order = parsed[k % len(parsed):] + parsed[:k % len(parsed)]
            k += 1
            for name, sets in order:
                for (mod, flag), value in shipped.items():
                    setattr(mod, flag, value)
                for mod, flag, value in sets:
                    setattr(mod, flag, value)
                row = lns_arm(model, plan, name, seed, steps, det_step, start_obj, counts=COUNTS)
                row.pop("trace", None)
                row["values_hash"] = hash(tuple(model.values)) if model.values is not None else None
                emit({**head, **row}, out)
            for (mod, flag), value in shipped.items():
                setattr(mod, flag, value)


if __name__ == "__main__":
    argv = sys.argv[1:]
    out_path = pop_option(argv, "--out")
    pre = pop_option(argv, "--prefix")
    main(argv[0].split(","), [int(s) for s in argv[1].split(",")], int(argv[2]), float(argv[3]), argv[4:],
         int(pre) if pre else 0, out_path)
