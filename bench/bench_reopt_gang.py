"""Deterministic A/B of the gang step (packer.cpsat.reopt_gang) on running clusters.

Per state, one no-move plan and one stays LP (its guide and bound) are shared by both arms; then
``move_steps`` runs twice from that start with one worker, a fixed number of steps and a fixed
CP-SAT deterministic time per step: arm A without gang steps (reopt_gang.GANG = False), arm B with
them. The steps that are not gang steps draw from the same random stream in both arms, so the
arms differ only by what the gang steps change. Prints objective after N steps per arm, the bound,
the gap and the wall seconds (load beside).

    python bench/bench_reopt_gang.py issue --seeds 0 1 2 3 4 5 --steps 20 --det 1.0
    python bench/bench_reopt_gang.py fragmented --seeds 0 1 2 3 4 --steps 20 --det 1.0
    python bench/bench_reopt_gang.py issue --seeds 0 1 2 --steps 15 --det 1.0 --victims-ab  # A: all victims, B: tiers
    python bench/bench_reopt_gang.py issue --seeds 0 1 2 --steps 15 --det 1.0 --ab reopt.TENANT_FILL  # A off, B on
    python bench/bench_reopt_gang.py issue --seeds 0 1 2 3 4 --steps 20 --det 1.0 --ab lpguide.WAITING_SHARE
    python bench/bench_reopt_gang.py issue --seeds 0 1 2 3 4 --steps 20 --det 1.0 --ab reopt_pack.PACK  # session 17
    (with reopt_pack.FILL on, packfill17: the pack fills column is the CP-SAT fill after each pack step)
    python bench/bench_reopt_gang.py issue --seeds 0 1 2 3 4 --steps 20 --det 1.0 \
        --arms "none|reopt_offer.OFFER_FIT|reopt_xrack.XRACK"   # three arms on one shared start
    (session 18's arms reopt_fill.WIDE / OPEN_ROOM run at git tag flags-s26)
    python bench/bench_reopt_gang.py fragmented --nodes 128 --seeds 0 1 2 3 4 --steps 30 --det 1.0 \
        --arms "none|reopt_xrack.XRACK+reopt_xrack.AFTER_STALL"   # session 27: exchange steps once the others stall

With ``--ab lpguide.NAME`` the guide is built again per arm from the same stays LP (the flag changes
the guide, not the LP); with ``--ab reopt_stays.NAME`` the stays LP is solved again per arm (its bound
and guide are the arm's; session 23: ``--ab reopt_stays.ROOM_CUTS``). Each arm's row also counts the gang steps kept from a cheaper victim tier
(``tier wins``: reopt_gang.VICTIM_TIERS, and by how much they beat the all-victims tries).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_reopt import det_parser, det_start, state

    ap = det_parser(__doc__)
    ap.add_argument("--victims-ab", action="store_true",
                    help="both arms with gang steps: A all placed waiting work may be pushed out "
                         "(reopt_gang.VICTIM_TIERS = 0), B cheaper tiers first (the default)")
    ap.add_argument("--ab", default=None, metavar="MODULE.NAME",
                    help="both arms with gang steps: A with packer.cpsat.MODULE.NAME off (False/0), B as it is, "
                         "or on where it is off by default (e.g. reopt.TENANT_FILL, reopt_pack.PACK)")
    ap.add_argument("--arms", default=None, metavar="ARM|ARM|...",
                    help="several arms, each the '+'-joined MODULE.NAME flags it turns on (every other flag named in "
                         "any arm off; 'none': all off), gang steps on in all; e.g. "
                         "'none|reopt_offer.OFFER_FIT|reopt_xrack.XRACK'; '!MODULE.NAME' names a flag off in "
                         "that arm, e.g. 'none|reopt_offer.OFFER_FIT+!reopt_offer.OFFER_BUDGET' (session 27)")
    ap.add_argument("--measure-offer", action="store_true",
                    help="session 26: count per CP-SAT step how many offered (and waiting) requests can fit its "
                         "region (reopt_offer.MEASURE; changes no draw)")
    args = ap.parse_args()


    import packer.cpsat.reopt as reopt
    from packer.cpsat import reopt_gang
    from packer.plans import objective_value

    tiers = reopt_gang.VICTIM_TIERS
    if args.ab:
        import importlib

        mod_name, ab_name = args.ab.rsplit(".", 1)
        ab_mod = importlib.import_module(f"packer.cpsat.{mod_name}")
        ab_default = getattr(ab_mod, ab_name)
        ab_on = True if ab_default is False else ab_default  # a flag off by default (reopt_pack.PACK): B turns it on
    out = {}
    print("| state | arm | objective after N steps | bound | gap | migrations | gang steps (improved) | tier wins (gain) "
          "| wall s | load | pack steps (improved, gain) | pack fills (improved, gain) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes)
        placed, bb, guide = det_start(inst, args.start_s)
        bound = bb.best(None)
        rows = {"start": objective_value(inst, placed), "bound": bound}
        arms = (("A", False), ("B", True)) if not args.arms else [(a, a) for a in args.arms.split("|")]
        for arm, on in arms:
            if args.arms:
                reopt_gang.GANG = True
                _set_arm(args.arms, on)
            elif args.ab:
                reopt_gang.GANG = True
                setattr(ab_mod, ab_name, ab_on if on else type(ab_on)(0))
                if mod_name in ("lpguide", "reopt_stays"):  # reopt_stays (session 23): the LP itself changes
                    guide = _guide_again(bb, inst)
                    bound = bb.best(None)
            elif args.victims_ab:
                reopt_gang.GANG, reopt_gang.VICTIM_TIERS = True, (tiers if on else 0)
            else:
                reopt_gang.GANG = on
            if args.measure_offer:
                from packer.cpsat import reopt_offer

                reopt_offer.MEASURE = {}
            t0 = time.perf_counter()
            traj: list[float] = []  # session 23: the objective before every step (of every kind), for "step for step"
            got, stats = reopt.move_steps(inst, placed, cap=None, deadline=time.perf_counter() + 3600, seed=0,
                                          workers=1, guide=guide, max_steps=args.steps, det=args.det,
                                          on_step=lambda _k, best, _g, traj=traj: traj.append(best))
            wall = time.perf_counter() - t0
            obj = objective_value(inst, got)
            assert reopt._valid(inst, got)
            gap = None if bound is None else (bound - obj) / bound
            load = os.getloadavg()[0]
            g = stats.get("by_kind", {}).get("gang", {})
            pk = stats.get("by_kind", {}).get("pack", {})
            pf = stats.get("by_kind", {}).get("pack_fill", {})
            rows[arm] = {"objective": obj, "bound": bound, "gap": gap, "moves": reopt.moves(inst, got), "wall_s": round(wall, 1),
                         "load": round(load, 2), "gang_steps": g.get("steps", 0), "gang_improved": g.get("improved", 0),
                         "gang_fail": stats.get("gang_fail"), "by_kind": stats.get("by_kind"),
                         "tier_wins": stats.get("tier_wins", 0), "tier_gain": stats.get("tier_gain", 0.0),
                         "trajectory": traj, "valid": stats.get("valid"), "steps": stats.get("steps"),
                         "offer": stats.get("offer"),  # session 26: offers and what their steps gained
                         "xstall_fired": stats.get("xstall_fired"),  # session 27: reopt_xrack.AFTER_STALL's stalls
                         "measure_offer": None if not args.measure_offer else dict(reopt_offer.MEASURE or {})}
            gs = "-" if gap is None else f"{100 * gap:.2f}%"
            bs = "-" if bound is None else f"{bound:.2f}"  # session 22: the stays LP may not finish at load 10
            print(f"| {inst.name} | {arm} | {obj:.2f} | {bs} | {gs} | {rows[arm]['moves']} | "
                  f"{g.get('steps', 0)} ({g.get('improved', 0)}) | {rows[arm]['tier_wins']} ({rows[arm]['tier_gain']:.2f}) "
                  f"| {wall:.1f} | {load:.2f} | {pk.get('steps', 0)} ({pk.get('improved', 0)}, {pk.get('gain', 0.0):.2f}) | "
                  f"{pf.get('steps', 0)} ({pf.get('improved', 0)}, {pf.get('gain', 0.0):.2f}) |"
                  + ("" if not args.arms else " " + " ".join(
                      f"{k}:{v.get('steps', 0)}/{v.get('improved', 0)}/{v.get('gain', 0.0):.1f}"
                      for k, v in sorted(stats.get("by_kind", {}).items())) + " |"),
                  flush=True)
            if stats.get("xstall_fired") is not None:
                print(f"  {inst.name} {arm}: stalled at steps {stats['xstall_fired']}", flush=True)
            if stats.get("offer") or args.measure_offer:
                print(f"  {inst.name} {arm}: offer {stats.get('offer')} measure {rows[arm]['measure_offer']}", flush=True)
            if args.arms and arm != arms[0][0]:  # session 23: the objective before each step, against the first arm's
                first = rows[arms[0][0]]["trajectory"]
                print(f"  {inst.name} {arm}: {len(traj)} steps, trajectory "
                      + ("identical to" if traj == first else "DIFFERS from") + f" {arms[0][0]}'s", flush=True)
        out[f"{inst.name}/{inst.num_gpus}"] = rows
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2, default=str) + "\n")
    reopt_gang.GANG, reopt_gang.VICTIM_TIERS = True, tiers
    if args.arms:
        _set_arm(args.arms, "none")
    if args.ab:
        setattr(ab_mod, ab_name, ab_default)
    return 0


def _set_arm(arms: str, arm: str) -> None:
    """Turns on the flags of ``arm`` (``--arms``) and off every other flag that any arm names."""
    import importlib

    names = {f.lstrip("!") for a in arms.split("|") for f in a.split("+") if f != "none"}
    on = {f for f in arm.split("+") if f != "none" and not f.startswith("!")}  # '!X': X named, off (session 27)
    for f in sorted(names):
        mod_name, flag = f.rsplit(".", 1)
        setattr(importlib.import_module(f"packer.cpsat.{mod_name}"), flag, f in on)


def _guide_again(bb, inst):  # type: ignore[no-untyped-def]
    """The no-limit guide rebuilt from ``bb``'s cached stays LP solution (after a flag of lpguide changed)."""
    import packer.cpsat.reopt as reopt

    bb.stays.pop(None, None)
    bb.stays_moves.pop(None, None)
    bb.guides.pop(None, None)
    bb.stays_lp(None, 60.0)
    return reopt._guide_of(bb, inst, None)


if __name__ == "__main__":
    raise SystemExit(main())
