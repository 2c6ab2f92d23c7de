"""Session 27 (xstall27): do exchange-rack steps (reopt_xrack) still gain once the other step kinds stall?

Per state: the shared start of the deterministic A/Bs (``bench_reopt.det_start``), ``--steps`` CP-SAT move
steps of ``--det`` deterministic time with the default kinds (one worker, seed 0: the A arm of
``bench_reopt_gang.py``): the plateau plan P. From P, with one worker and the same det per step:

- ``a10``: ``--more`` more CP-SAT steps of the default kinds (seed 1);
- ``a20``: ``--more`` more again from ``a10``'s plan (seed 2): the default kinds given about the deterministic
  time of ``b10`` (an exchange step of 24-28 nodes gets 2x det);
- ``b10``: ``--more`` CP-SAT steps that are all exchange steps (reopt_xrack.XRACK, SHARE = 1.0; the placer
  steps -- pack, spread, gang -- drawn as in ``a10``), seed 1.

Prints per state the gain of each over P and the exchange steps' own steps / improved / gain.

    python bench/bench_xstall27_plateau.py fragmented --nodes 128 --seeds 0 1 2 3 4 --steps 20 --more 10 \
        --json bench/xstall27_plateau_fragmented_0_4.json
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _last_gain(traj: list[float]) -> int:
    """Index (iteration, every kind) of the last rise in ``traj`` (0: none)."""
    last = 0
    for i in range(1, len(traj)):
        if traj[i] > traj[i - 1] + 1e-9:
            last = i
    return last


def main() -> int:
    from bench_reopt import det_parser, det_start, state

    ap = det_parser(__doc__)
    ap.add_argument("--more", type=int, default=10)
    ap.add_argument("--cache", default="/work/scratch27/xstall27/cache")
    args = ap.parse_args()

    from packer.cpsat import reopt, reopt_xrack
    from packer.plans import objective_value

    def run(inst, placed, guide, seed, steps):  # type: ignore[no-untyped-def]
        traj: list[float] = []
        t0 = time.perf_counter()
        got, st = reopt.move_steps(inst, placed, cap=None, deadline=time.perf_counter() + 3600, seed=seed, workers=1,
                                   guide=guide, max_steps=steps, det=args.det,
                                   on_step=lambda _k, best, _g: traj.append(best))
        assert reopt._valid(inst, got)
        return got, {"objective": objective_value(inst, got), "by_kind": st.get("by_kind"), "steps": st.get("steps"),
                     "last_gain_iter": _last_gain(traj), "iters": len(traj), "wall_s": round(time.perf_counter() - t0, 1),
                     "load": round(os.getloadavg()[0], 2)}

    out = {}
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes)
        Path(args.cache).mkdir(parents=True, exist_ok=True)
        cp = Path(args.cache) / f"{args.family}-{args.nodes}-{seed}-{args.steps}-{args.det}.pkl"
        if cp.exists():
            placed, bound, guide, cur, p = pickle.loads(cp.read_bytes())
        else:
            placed, bb, guide = det_start(inst, args.start_s)
            bound = bb.best(None)
            cur, p = run(inst, placed, guide, 0, args.steps)
            cp.write_bytes(pickle.dumps((placed, bound, guide, cur, p)))
        rows = {"start": objective_value(inst, placed), "bound": bound, "P": p}
        print(f"{inst.name} start {rows['start']:.2f} P {p['objective']:.2f} (last gain at iteration "
              f"{p['last_gain_iter']} of {p['iters']}) bound {bound}", flush=True)
        a10, ra10 = run(inst, cur, guide, 1, args.more)
        rows["a10"] = ra10
        _, ra20 = run(inst, a10, guide, 2, args.more)
        rows["a20"] = ra20
        share = reopt_xrack.SHARE
        reopt_xrack.XRACK, reopt_xrack.SHARE = True, 1.0
        try:
            _, rb10 = run(inst, cur, guide, 1, args.more)
        finally:
            reopt_xrack.XRACK, reopt_xrack.SHARE = False, share
        rows["b10"] = rb10
        x = (rb10["by_kind"] or {}).get("xrack", {})
        p0 = p["objective"]
        print(f"{inst.name} a10 {ra10['objective'] - p0:+.2f} a20 {ra20['objective'] - p0:+.2f} "
              f"b10 {rb10['objective'] - p0:+.2f} xrack {x.get('steps', 0)}/{x.get('improved', 0)}/"
              f"{x.get('gain', 0.0):.2f} walls {ra10['wall_s']}/{ra20['wall_s']}/{rb10['wall_s']} load {rb10['load']}",
              flush=True)
        out[inst.name] = rows
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
