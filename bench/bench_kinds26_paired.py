"""Session 26 (branch kinds26): paired deterministic A/Bs of LNS flags over many instances.

For every instance FAMILY:SEED at 1,024 GPUs (``--nodes``): the greedy hint and the model
(``bench_cpsat_region_det.start``), then PREFIX sequential steps with every flag at its shipped value
(shared by all arms: they start from an incumbent nearer to where a 60 s run spends its time), then each
arm runs exactly STEPS sequential steps of DET_STEP deterministic time from it (one worker, seeded): the
objective does not depend on the machine's load. Arm order turns with the instance. Every arm's plan is
checked with ``packer check``. One JSON line an arm: objective, the step kinds' outcomes ([steps,
improved, gain, cost] per kind: what each kind's own steps found), a digest of the plan's values (arms
whose mechanism never applies must give the same digest) and the counters below.

An arm is NAME=MODULE.FLAG:VALUE[+MODULE.FLAG:VALUE...] as in bench_hetero25_det.py.

    python bench/bench_kinds26_paired.py FAM:SEED[,FAM:SEED...] STEPS DET_STEP ARM [ARM ...]
        [--prefix P] [--out FILE]
    python bench/bench_kinds26_paired.py --summary FILE[,FILE...] ON OFF [ON OFF ...]

``--summary`` reads the JSON lines and prints, for each pair of arms, per instance ON - OFF and then the
mean, the median and wins / losses / ties (|diff| <= 1e-6 is a tie, and so is the same plan digest) over
all instances and per family, plus the ON arm's overlay kinds' own gains.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import sys
import time
from collections import defaultdict

from bench_cpsat_portfolio_det import lns_arm
from bench_cpsat_region_det import start
from bench_hetero25_det import parse_arm
from benchargs import emit, pop_option

from packer.check import check
from packer.cpsat import lns as lns_mod
from packer.cpsat.reasons import unplaced_reasons
from packer.plans import build_plan

COUNTS = ("reach_steps", "reach_none", "tie_steps", "tie_none", "owner_steps", "value_none", "whole_steps",
          "tenant_steps")


def checked(model) -> bool:  # type: ignore[no-untyped-def]
    """Whether the model's current values give a plan that passes the checker."""
    placed, modes, _ = model.placement()
    plan = build_plan(model.inst, solver="bench", placed=placed, unplaced=unplaced_reasons(model.inst, placed, modes),
                      gpu_modes=modes, seed=0, wall_s=0.0, bound=None, status="feasible", solver_info={})
    return bool(check(model.inst, plan).ok)


def main(instances: list[tuple[str, int]], steps: int, det_step: float, arms: list[str], prefix: int,
         out: str | None) -> None:
    parsed = [parse_arm(a) for a in arms]
    flags = {(mod, flag) for _, sets in parsed for mod, flag, _ in sets}
    shipped = {key: getattr(*key) for key in flags}
    for k, (fam, seed) in enumerate(instances):
        t0 = time.perf_counter()
        model, plan, _ = start(fam, seed, {})
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
        head = {"family": fam, "seed": seed, "prefix": prefix, "steps_asked": steps, "det_step": det_step,
                "start": round(start_obj, 3), "start_s": round(time.perf_counter() - t0, 1)}
        order = parsed[k % len(parsed):] + parsed[:k % len(parsed)]
        for name, sets in order:
            for (mod, flag), value in shipped.items():
                setattr(mod, flag, value)
            for mod, flag, value in sets:
                setattr(mod, flag, value)
            row = lns_arm(model, plan, name, seed, steps, det_step, start_obj, counts=COUNTS)
            row.pop("trace", None)
            values = model.values if model.values is not None else space.best
            row["values_sha"] = hashlib.sha1(json.dumps(list(values)).encode()).hexdigest()[:12]
            row["check_ok"] = checked(model) if model.values is not None else True
            assert row["check_ok"], (fam, seed, name)
            emit({**head, **row}, out)
        for (mod, flag), value in shipped.items():
            setattr(mod, flag, value)


def summary(paths: list[str], pairs: list[tuple[str, str]]) -> None:
    rows: dict[tuple[str, int], dict[str, dict]] = defaultdict(dict)  # type: ignore[type-arg]
    for path in paths:
        with open(path) as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    rows[(r["family"], r["seed"])][r["arm"]] = r
    for on, off in pairs:
        diffs: list[tuple[str, int, float, bool, str]] = []
        for (fam, seed), arms in sorted(rows.items()):
            if on in arms and off in arms:
                a, b = arms[on], arms[off]
                same = a["values_sha"] == b["values_sha"]
                over = {kind: v for kind, v in (a.get("kinds") or {}).items() if kind in lns_mod.OVERLAY_KINDS}
                own = " ".join(f"{kind} {v[0]}/{v[1]}/{v[2]:+.2f}" for kind, v in sorted(over.items()))
                diffs.append((fam, seed, round(a["objective"] - b["objective"], 3), same, own))
        print(f"\n## {on} - {off}: {len(diffs)} instances")
        for fam, seed, d, same, own in diffs:
            print(f"  {fam}-{seed}: {d:+.3f}{'  (same plan)' if same else ''}  {own}")
        groups: dict[str, list[float]] = defaultdict(list)
        for fam, _, d, _, _ in diffs:
            groups[fam].append(d)
            groups["ALL"].append(d)
        for fam in sorted(groups, key=lambda g: (g == "ALL", g)):
            ds = groups[fam]
            wins = sum(d > 1e-6 for d in ds)
            losses = sum(d < -1e-6 for d in ds)
            print(f"  {fam:12s} n={len(ds):2d} sum {sum(ds):+8.3f} mean {statistics.mean(ds):+7.3f} "
                  f"median {statistics.median(ds):+7.3f} W/L/T {wins}/{losses}/{len(ds) - wins - losses}")


if __name__ == "__main__":
    argv = sys.argv[1:]
    summ = pop_option(argv, "--summary")
    if summ is not None:
        summary(summ.split(","), list(zip(argv[0::2], argv[1::2], strict=True)))
        sys.exit(0)
    out_path = pop_option(argv, "--out")
    pre = pop_option(argv, "--prefix")
    insts = [(spec.split(":")[0], int(spec.split(":")[1])) for spec in argv[0].split(",")]
    main(insts, int(argv[1]), float(argv[2]), argv[3:], int(pre) if pre else 0, out_path)
