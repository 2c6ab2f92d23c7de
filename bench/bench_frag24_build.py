"""The CP-SAT move steps' model build, per part, and variables.MEMO on/off (session 24, branch frag24).

Runs ``move_steps`` from a state's deterministic start (``bench_reopt.det_start``'s no-move plan and guide,
cached under ``--cache`` as ``bench_fragstep23_profile.py`` caches it) for ``--steps`` CP-SAT steps of
``--det`` deterministic time, one worker, keeping every CP-SAT step's sub-instance, hint and uncounted set.
Then, on those sub-instances:

- ``--parts``: CPU milliseconds a step of each part of the build (data, usable classes, variables, each
  rule, objective, hint), the least of three passes;
- the model built with MEMO on and off, interleaved ``--repeats`` times (order turning): CPU ms a step
  (least, median), and whether the two protos (hint included) are the same bytes on every step.

    python bench/bench_frag24_build.py fragmented 104 --steps 10 --det 0.2 --parts
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _subs(args):  # type: ignore[no-untyped-def]
    from bench_reopt import det_start, state

    import packer.cpsat.search as search
    from packer.cpsat import reopt

    inst = state(args.family, args.seed, 128 if args.family == "fragmented" else None)
    cache = Path(args.cache) / f"{args.family}-{args.seed}.pkl"
    if cache.exists():
        placed, guide = pickle.loads(cache.read_bytes())
    else:
        placed, _bb, guide = det_start(inst, 10.0)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps((placed, guide)))
    got = []
    real = search.solve_monolithic

    def keep(sub, hint, **kw):  # type: ignore[no-untyped-def]
        got.append((sub, hint, kw.get("uncounted") or frozenset()))
        return real(sub, hint, **kw)

    search.solve_monolithic = keep
    try:
        reopt.move_steps(inst, placed, cap=None, deadline=time.perf_counter() + 3600, seed=0, workers=1, guide=guide,
                         max_steps=args.steps, det=args.det)
    finally:
        search.solve_monolithic = real
    return got


def _build(sub, hint, unc):  # type: ignore[no-untyped-def]
    from packer.cpsat.model import CpsatModel

    m = CpsatModel(sub, uncounted=unc)
    if hint is not None:
        m.hint(hint)
    return m


def _parts(subs) -> None:  # type: ignore[no-untyped-def]
    from ortools.sat.python import cp_model

    from packer.cpsat.constraints import Constraints
    from packer.cpsat.data import build_data
    from packer.cpsat.model import CpsatModel
    from packer.cpsat.objective import set_objective
    from packer.cpsat.variables import _usable_classes, create_variables

    best: dict[str, float] = {}
    for _ in range(3):
        acc: dict[str, float] = {}

        def add(k: str, dt: float, acc: dict[str, float] = acc) -> None:
            acc[k] = acc.get(k, 0.0) + dt

        for sub, hint, unc in subs:
            t = time.process_time()
            d = build_data(sub, uncounted=unc)
            add("data", time.process_time() - t)
            t = time.process_time()
            _usable_classes(d)
            add("usable classes (inside variables)", time.process_time() - t)
            m = cp_model.CpModel()
            t = time.process_time()
            v = create_variables(d, m)
            add("variables", time.process_time() - t)
            rules = Constraints(d, m, v)
            for f in (rules.one_mode_per_gpu, rules.mig_layout_per_gpu, rules.mig_capacity, rules.mig_running_slots,
                      rules.whole_gpu_capacity, rules.share_capacity, rules.host_resources, rules.units_per_request,
                      rules.required_locality, rules.soft_locality, rules.spread, rules.quota, rules.node_isolation,
                      rules.max_migrations):
                t = time.process_time()
                f()
                add(f"rule {f.__name__}", time.process_time() - t)
            t = time.process_time()
            set_objective(d, m, v)
            add("objective", time.process_time() - t)
            t = time.process_time()
            cm = CpsatModel(sub, uncounted=unc, data=d)
            add("whole model from data", time.process_time() - t)
            t = time.process_time()
            cm.hint(hint)
            add("hint", time.process_time() - t)
        for k, val in acc.items():
            best[k] = min(best.get(k, 1e9), val)
    for k, val in sorted(best.items(), key=lambda kv: -kv[1]):
        print(f"  {k:36s} {1000 * val / len(subs):7.1f} ms a step")


def main() -> int:
    from packer.cpsat import variables
    from packer.cpsat.bound import proto_copy

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("family", choices=("issue", "fragmented"))
    ap.add_argument("seed", type=int)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--det", type=float, default=0.2)
    ap.add_argument("--cache", default="/tmp/fs24")
    ap.add_argument("--repeats", type=int, default=6)
    ap.add_argument("--parts", action="store_true")
    args = ap.parse_args()
    subs = _subs(args)
    print(f"{args.family}-{args.seed}: {len(subs)} CP-SAT steps, sub-instances of "
          f"{min(s.num_gpus for s, _h, _u in subs)}-{max(s.num_gpus for s, _h, _u in subs)} GPUs, "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    was = variables.MEMO
    if args.parts:
        _parts(subs)
    same = True
    for sub, hint, unc in subs:
        protos = []
        for memo in (False, True):
            variables.MEMO = memo
            p = proto_copy(_build(sub, hint, unc).model)
            protos.append(hashlib.sha1(p.SerializeToString(deterministic=True)).hexdigest())
        same = same and protos[0] == protos[1]
    res: dict[str, list[float]] = {"off": [], "on": []}
    for rep in range(args.repeats):
        for arm in ("off", "on") if rep % 2 == 0 else ("on", "off"):
            variables.MEMO = arm == "on"
            t = time.process_time()
            for sub, hint, unc in subs:
                _build(sub, hint, unc)
            res[arm].append(1000 * (time.process_time() - t) / len(subs))
    variables.MEMO = was
    print(f"  same proto with MEMO on and off on every step: {same}")
    for arm, vals in res.items():
        vals.sort()
        print(f"  MEMO {arm}: {vals[0]:.1f} ms a step least, {vals[len(vals) // 2]:.1f} median ({args.repeats} passes)")
    print(f"  load {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
