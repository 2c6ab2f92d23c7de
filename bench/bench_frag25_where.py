"""Session 25 (frag25): where a stalled fragmented plan's missing value lies, by exact region solves.

Per state: the shared start of the deterministic A/Bs (``bench_reopt.det_start``: the no-move plan, the
stays LP, its guide), then ``--steps`` CP-SAT move steps of ``--det`` deterministic time (one worker,
seed 0: what ``bench_reopt_gang.py`` runs). From that end plan, CP-SAT solves single regions with
everything else fixed (``reopt._sub_instance``, HOME as in the steps) for ``--region-det``
deterministic time, one worker, and records what each gains:

- ``lp``: the nodes where the stays LP's guide places waiting work the plan leaves out, plus the nodes
  of placed waiting work the LP leaves out (weighted by units), top ``k`` of them, closed over
  border-crossing work;
- ``mig``: the nodes (home and now) of running work the plan moved and the LP keeps home, by migration
  cost, top ``k``, closed;
- ``rand``: ``k`` nodes of whole racks drawn at random (what a random step takes, bigger), closed;

each with the steps' offer (``steps``: ``reopt.OFFER`` waiting requests, a random slice by priority), with
the LP's offer first (``lp``: ``reopt.OFFER_LP``) and with every waiting request offered (``all``). The region sizes ``--sizes``.

    python bench/bench_frag25_where.py fragmented --seeds 0 1 --steps 20 --det 1.0 --sizes 8 16 24 \
        --region-det 8 --json bench/frag25_where_tune.json
"""

from __future__ import annotations

import json
import os
import pickle
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def lp_weights(inst, cur, guide):  # type: ignore[no-untyped-def]
    """Node → units of difference between the LP's waiting placements and the plan's."""
    w: dict[str, float] = defaultdict(float)
    for r in inst.requests:
        if r.placement is not None:
            continue
        sh = guide.share.get(r.id, 0.0)
        if r.id not in cur and sh > 0.25:
            for nid, u in guide.where(r.id).items():
                w[nid] += u * r.priority
        elif r.id in cur and sh < 0.25:
            for u in cur[r.id]:
                w[u.node] += r.priority * (1.0 - sh)
    return w


def mig_weights(inst, cur, guide):  # type: ignore[no-untyped-def]
    """Node → migration cost of the running work the plan moved and the LP keeps home (home and now)."""
    from packer.cpsat import reopt
    from packer.plans import migration_cost

    w: dict[str, float] = defaultdict(float)
    for r in inst.requests:
        if r.placement is None or r.id not in cur or not reopt.moves(inst, {r.id: cur[r.id]}):
            continue
        c = migration_cost(inst, r) * (1.0 - guide.moved.get(r.id, 0.0))
        for nid in {u.node for u in r.placement} | {u.node for u in cur[r.id]}:
            w[nid] += c
    return w


def region_solve(inst, cur, nodes, det, offer, seed, guide):  # type: ignore[no-untyped-def]
    from packer.cpsat import reopt
    from packer.cpsat.search import solve_monolithic
    from packer.plans import objective_value

    view = reopt._View(inst, cur)
    waiting = [r for r in inst.requests if r.id not in cur and view.quota_left(r) >= reopt._least_size(inst, r) - 1e-9]
    old = reopt.OFFER, reopt.OFFER_LP
    reopt.OFFER_LP = offer == "lp"
    if offer == "all":
        reopt.OFFER = 100000
    try:
        sub, hint, unc = reopt._sub_instance(inst, cur, set(nodes), None, waiting, None, random.Random(seed),
                                             guide=guide)
    finally:
        reopt.OFFER, reopt.OFFER_LP = old
    info: dict[str, object] = {}
    t1 = time.perf_counter()
    plan = solve_monolithic(sub, hint, seed=seed, workers=1, start=t1, left=lambda: 3600.0, info=info, lp=False,
                            uncounted=unc, det=det)
    trial = reopt._merge(cur, sub, plan)
    wall = time.perf_counter() - t1
    if trial is None or not reopt._valid(inst, trial):
        return {"gain": None, "wall": round(wall, 1)}
    gain = objective_value(inst, trial) - objective_value(inst, cur)
    placed_new = sorted(r for r in trial if r not in cur)
    gone = sorted(r for r in cur if r not in trial)
    return {"gain": round(gain, 3), "proved": info.get("cpsat_status") == "OPTIMAL", "wall": round(wall, 1),
            "requests": len(sub.requests), "offered": sum(1 for r in sub.requests if r.id not in cur),
            "new": placed_new, "gone": gone, "nodes": len(nodes)}


def main() -> int:
    from bench_reopt import det_parser, det_start, state

    ap = det_parser(__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 24])
    ap.add_argument("--region-det", type=float, default=8.0)
    ap.add_argument("--offers", nargs="+", default=["steps", "lp", "all"])
    ap.add_argument("--regions", nargs="+", default=["lp", "mig", "rand"])
    ap.add_argument("--rand", type=int, default=2, help="random regions per size")
    ap.add_argument("--cache", default="/work/scratch25/frag25/cache")
    args = ap.parse_args()

    from packer.cpsat import reopt
    from packer.plans import objective_value

    out = {}
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes)
        cp = Path(args.cache) / f"{args.family}-{seed}-{args.steps}-{args.det}.pkl"
        if cp.exists():
            placed, bound, guide, cur = pickle.loads(cp.read_bytes())
        else:
            placed, bb, guide = det_start(inst, args.start_s)
            bound = bb.best(None)
            cur, _st = reopt.move_steps(inst, placed, cap=None, deadline=time.perf_counter() + 3600, seed=0, workers=1,
                                        guide=guide, max_steps=args.steps, det=args.det)
            cp.parent.mkdir(parents=True, exist_ok=True)
            cp.write_bytes(pickle.dumps((placed, bound, guide, cur)))
        obj = objective_value(inst, cur)
        print(f"{inst.name}: end of {args.steps} steps {obj:.2f}, bound {bound:.2f}, gap {100 * (bound - obj) / bound:.2f}%, "
              f"moves {reopt.moves(inst, cur)}, load {os.getloadavg()[0]:.1f}", flush=True)
        from bench_reopt_missed import decompose

        dec = decompose(inst, guide, None, cur)
        print("  decompose:", json.dumps(dec), flush=True)
        w = lp_weights(inst, cur, guide)
        ranked = sorted(w, key=lambda n: (-w[n], n))
        mw = mig_weights(inst, cur, guide)
        mranked = sorted(mw, key=lambda n: (-mw[n], n))
        view = reopt._View(inst, cur)
        racks = reopt._domains(inst, reopt._level(inst))
        rows = {"objective": obj, "bound": bound, "decompose": dec, "regions": []}
        rng = random.Random(seed)
        for k in args.sizes:
            regions = [("lp", view.close(set(ranked[:k]), k + 4, random.Random(k)))]
            if mranked:
                regions.append(("mig", view.close(set(mranked[:k]), k + 4, random.Random(k))))
            for i in range(args.rand):
                names = sorted(racks)
                rng.shuffle(names)
                nodes: set[str] = set()
                for d in names:
                    if len(nodes) >= k:
                        break
                    nodes |= set(racks[d])
                regions.append((f"rand{i}", view.close(nodes, k + 4, random.Random(k))))
            for name, nodes in regions:
                if name.rstrip("0123456789") not in args.regions:
                    continue
                for offer in args.offers:
                    got = region_solve(inst, cur, nodes, args.region_det, offer, seed, guide)
                    got.update({"region": name, "k": k, "offer": offer,
                                "lp_weight": round(sum(w.get(n, 0.0) for n in nodes), 2)})
                    rows["regions"].append(got)
                    print(f"  k={k} {name} offer={got['offer']}: nodes {got.get('nodes')} lpw {got['lp_weight']} "
                          f"gain {got['gain']} proved {got.get('proved')} offered {got.get('offered')} "
                          f"wall {got['wall']} new {got.get('new')} gone {got.get('gone')} load {os.getloadavg()[0]:.1f}",
                          flush=True)
        out[inst.name] = rows
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
