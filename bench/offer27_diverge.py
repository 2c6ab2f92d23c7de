"""Session 27 (offer27): where two arms of the deterministic offer A/B part, step by step.

Per state, on one shared start (``bench_reopt.det_start``), runs 20 CP-SAT move steps at det 1.0 in two arms
(``--arms``, as in ``bench_reopt_gang.py``: each the '+'-joined ``MODULE.NAME`` flags it turns on, every other
flag named in any arm off; gang steps on) and records, for every CP-SAT move step (the steps an offer
feeds), its kind, its region's nodes, its aim, the waiting requests it was offered and what it gained.
Prints, step by step, whether the two arms' regions and offers were the same, the offered requests only
one arm had, and the gains; then where the arms' plans first differ.

    python bench/offer27_diverge.py fragmented --nodes 128 --seeds 102 \\
        --arms "none|reopt_offer.OFFER_FIT" --json bench/offer27_diverge_fragmented_102.json
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> int:
    from bench_reopt import det_parser, det_start, state
    from bench_reopt_gang import _set_arm

    ap = det_parser(__doc__)
    ap.add_argument("--arms", default="none|reopt_offer.OFFER_FIT")
    args = ap.parse_args()

    import packer.cpsat.reopt as reopt
    from packer.cpsat import reopt_gang, reopt_offer
    from packer.plans import objective_value

    plain_sub = reopt._sub_instance
    plain_note = reopt_offer.note
    log: list[dict] = []

    def sub_instance(inst, cur, nodes, cap, waiting, aim, rng, **kw):  # type: ignore[no-untyped-def]
        sub, hint, unc = plain_sub(inst, cur, nodes, cap, waiting, aim, rng, **kw)
        if sys._getframe(1).f_code.co_name == "move_steps":  # the CP-SAT move steps, not pack fills
            offered = [r.id for r in sub.requests if r.placement is None and r.id not in cur]
            log.append({"nodes": sorted(nodes), "aim": None if aim is None else aim.id, "offered": offered,
                        "gain": 0.0})
        return sub, hint, unc

    def note(stats, kind, gain):  # type: ignore[no-untyped-def]
        if log:
            log[-1]["kind"], log[-1]["gain"] = kind, round(gain, 4)
        plain_note(stats, kind, gain)

    reopt._sub_instance = sub_instance
    reopt_offer.note = note
    out = {}
    arms = args.arms.split("|")
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes)
        placed, bb, guide = det_start(inst, args.start_s)
        runs = {}
        for arm in arms:
            reopt_gang.GANG = True
            _set_arm(args.arms, arm)
            log.clear()
            traj: list[float] = []
            got, _stats = reopt.move_steps(inst, placed, cap=None, deadline=time.perf_counter() + 3600, seed=0,
                                           workers=1, guide=guide, max_steps=args.steps, det=args.det,
                                           on_step=lambda _k, best, _g, traj=traj: traj.append(best))
            runs[arm] = {"objective": objective_value(inst, got), "steps": list(log), "trajectory": traj}
        a, c = runs[arms[0]], runs[arms[1]]
        print(f"{inst.name}: {arms[0]} {a['objective']:.2f}, {arms[1]} {c['objective']:.2f}, "
              f"{arms[1]} − {arms[0]} {c['objective'] - a['objective']:+.2f}")
        print("| step | kind A / C | same region | same aim | offered A / C | only in A's offer | only in C's offer "
              "| gain A / C |")
        print("|---:|---|---|---|---|---|---|---|")
        for i, (sa, sc) in enumerate(zip(a["steps"], c["steps"], strict=False)):
            oa, oc = set(sa["offered"]), set(sc["offered"])
            print(f"| {i} | {sa.get('kind')} / {sc.get('kind')} | {sa['nodes'] == sc['nodes']} | "
                  f"{sa['aim'] == sc['aim']} | {len(oa)} / {len(oc)} | {len(oa - oc)} | {len(oc - oa)} | "
                  f"{sa['gain']:.2f} / {sc['gain']:.2f} |")
        first = next((i for i, (x, y) in enumerate(zip(a["trajectory"], c["trajectory"], strict=False))
                      if abs(x - y) > 1e-9), None)
        print(f"  objectives before each step (all kinds) first differ before step {first} of "
              f"{min(len(a['trajectory']), len(c['trajectory']))}", flush=True)
        out[inst.name] = {"arms": arms, "runs": runs, "first_differ": first}
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    reopt._sub_instance = plain_sub
    reopt_offer.note = plain_note
    _set_arm(args.arms, "none")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
