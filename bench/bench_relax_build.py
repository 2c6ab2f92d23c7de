"""What building a merged relaxation's model costs, and what it grows with (issue 20's time-limit fix).

For haein at a few sizes and every merge level (merged and typed), times the relaxation itself and
the CpsatModel of it (no LP), and prints the structure the estimate in
:mod:`packer.cpsat.timeplan` is fitted on: requests, super nodes, GPUs, the model's GPU classes and
request groups, its placement variables. Deterministic counts, wall times under the machine's load::

    python bench/bench_relax_build.py --nodes 64 128 256 512 --json bench/relax_build.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from packer.cpsat.data import build_data
from packer.cpsat.model import CpsatModel
from packer.cpsat.relax import merge_levels, merged_relaxation, typed_relaxation
from packer.generate import generate


def main(argv: list[str] | None = None) -> int:
    """Measures the builds and prints one line per (size, level, typed)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="haein")
    ap.add_argument("--nodes", type=int, nargs="+", default=[64, 128, 256, 512])
    ap.add_argument("--levels", nargs="*", default=None, help="merge levels (default: all)")
    ap.add_argument("--max-model-s", type=float, default=120.0,
                    help="skip a (level, typed) at the next size once its build took this long")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    rows: list[dict[str, object]] = []
    slow: set[tuple[str, bool]] = set()
    for nodes in args.nodes:
        inst = generate(args.family, 0, nodes=nodes)
        for level in args.levels or merge_levels(inst):
            for typed in (False, True):
                if (level, typed) in slow:
                    continue
                t0 = time.perf_counter()
                relax = typed_relaxation(inst, level) if typed else merged_relaxation(inst, level)
                t1 = time.perf_counter()
                data = build_data(relax.instance, barred=relax.barred)
                options = sum(len(o) for o in data.options.values())
                t1b = time.perf_counter()
                model = CpsatModel(relax.instance, barred=relax.barred)
                t2 = time.perf_counter()
                ri = relax.instance
                row = {"nodes": nodes, "gpus": inst.num_gpus, "requests": len(inst.requests), "level": level,
                       "typed": typed, "super_nodes": len(ri.nodes), "relax_requests": len(ri.requests),
                       "classes": len(model.data.classes), "groups": len(model.data.groups),
                       "x_vars": len(model.vars.x), "variables": len(model.model.proto.variables),
                       "constraints": len(model.model.proto.constraints),
                       "options": options, "max_gpus_per_super_node": max(n.num_gpus for n in ri.nodes),
                       "relax_s": round(t1 - t0, 3), "data_s": round(t1b - t1, 3), "model_s": round(t2 - t1b, 3),
                       "load": round(os.getloadavg()[0], 1)}
                rows.append(row)
                print(json.dumps(row), flush=True)
                if t2 - t1b > args.max_model_s:
                    slow.add((level, typed))
                del model, relax, data
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
