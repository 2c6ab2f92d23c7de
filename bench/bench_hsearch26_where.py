"""Session 26 (hsearch26): where the haein issue states' stalled plans leave value, by exact region solves.

Per state: the shared start of the deterministic A/Bs (``bench_reopt.det_start``), ``--steps`` CP-SAT move
steps of ``--det`` deterministic time (one worker, seed 0: the A arm of ``bench_reopt_gang.py``). From that
stalled plan CP-SAT solves single regions with everything else fixed (``bench_frag25_where.region_solve``:
``reopt._sub_instance``, HOME as in the steps) for ``--region-det`` deterministic time, one worker. Regions,
chosen by what the problem says:

- ``iso``: a node-isolated tenant's nodes in the plan plus the nodes its movable work could go to (nodes no
  other tenant's work holds, by free room), up to ``k``, closed over border-crossing work;
- ``lp``: the top ``k`` nodes by the difference between the stays LP's guide and the plan (frag25), closed;
- ``racks``: ``k`` nodes of whole racks at random, closed;
- ``lpracks``: the whole racks holding the top-weighted ``lp`` nodes, to ``k`` nodes, closed;

each with the steps' offer (``steps``) and with every waiting request that fits offered (``all``).

    python bench/bench_hsearch26_where.py issue --seeds 101 --steps 20 --det 1.0 --sizes 16 32 \
        --region-det 6 --json bench/hsearch26_where_101.json
"""

from __future__ import annotations

import json
import os
import pickle
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def iso_region(inst, cur, view, k):  # type: ignore[no-untyped-def]
    """Per node-isolated tenant: its nodes, then nodes no other tenant's work holds (by free room), up to k."""
    out = {}
    holders: dict[str, set[str]] = {}
    for rid, units in cur.items():
        r = inst.request(rid)
        for u in units:
            holders.setdefault(u.node, set()).add(r.tenant)
    for t, own in sorted(view.isolated_nodes.items()):
        nodes = set(sorted(own, key=lambda n: (-view.room(inst.node(n), None)[0], n))[:k])
        free = [n.id for n in inst.nodes if n.id not in nodes and holders.get(n.id, set()) <= {t}]
        free.sort(key=lambda n: (-view.room(inst.node(n), None)[0], n))
        for n in free:
            if len(nodes) >= k:
                break
            nodes.add(n)
        out[t] = (nodes, len(own), len(free))
    return out


def main() -> int:
    from bench_frag25_where import lp_weights, region_solve
    from bench_reopt import det_parser, det_start, state

    ap = det_parser(__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 32])
    ap.add_argument("--region-det", type=float, default=6.0)
    ap.add_argument("--offers", nargs="+", default=["steps", "all"])
    ap.add_argument("--regions", nargs="+", default=["iso", "lp", "lpracks", "racks"])
    ap.add_argument("--cache", default="/work/scratch26/hsearch26/cache")
    args = ap.parse_args()

    from packer.cpsat import reopt
    from packer.plans import objective_value

    out = {}
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes)
        cp = Path(args.cache) / f"{args.family}-{seed}-{args.steps}-{args.det}.pkl"
        if cp.exists():
            placed, bound, guide, cur, st = pickle.loads(cp.read_bytes())
        else:
            placed, bb, guide = det_start(inst, args.start_s)
            bound = bb.best(None)
            cur, st = reopt.move_steps(inst, placed, cap=None, deadline=time.perf_counter() + 3600, seed=0, workers=1,
                                       guide=guide, max_steps=args.steps, det=args.det)
            st = {"by_kind": st.get("by_kind"), "steps": st.get("steps")}
            cp.write_bytes(pickle.dumps((placed, bound, guide, cur, st)))
        obj = objective_value(inst, cur)
        print(f"{inst.name}: end of {args.steps} steps {obj:.2f}, bound {bound:.2f}, gap {100 * (bound - obj) / bound:.2f}%, "
              f"moves {reopt.moves(inst, cur)}, load {os.getloadavg()[0]:.1f}", flush=True)
        print("  by kind:", json.dumps({k: {x: v[x] for x in ("steps", "improved", "gain", "nodes") if x in v}
                                        for k, v in (st.get("by_kind") or {}).items()}), flush=True)
        w = lp_weights(inst, cur, guide)
        ranked = sorted(w, key=lambda n: (-w[n], n))
        view = reopt._View(inst, cur)
        racks = reopt._domains(inst, reopt._level(inst))
        rack_of = {n: d for d, ns in racks.items() for n in ns}
        rows = {"objective": obj, "bound": bound, "by_kind": st.get("by_kind"), "regions": []}
        rng = random.Random(seed)
        for k in args.sizes:
            regions = []
            for t, (nodes, n_own, n_free) in iso_region(inst, cur, view, k).items():
                print(f"  iso {t}: owns {n_own} nodes, {n_free} nodes hold no other tenant's work", flush=True)
                regions.append((f"iso:{t}", view.close(nodes, k + 4, random.Random(k))))
            regions.append(("lp", view.close(set(ranked[:k]), k + 4, random.Random(k))))
            rn: set[str] = set()
            for n in ranked:
                if len(rn) >= k:
                    break
                rn |= set(racks[rack_of[n]])
            regions.append(("lpracks", view.close(rn, k + 4, random.Random(k))))
            names = sorted(racks)
            rng.shuffle(names)
            nodes: set[str] = set()
            for d in names:
                if len(nodes) >= k:
                    break
                nodes |= set(racks[d])
            regions.append(("racks", view.close(nodes, k + 4, random.Random(k))))
            for name, nodes in regions:
                if name.split(":")[0] not in args.regions:
                    continue
                for offer in args.offers:
                    got = region_solve(inst, cur, nodes, args.region_det, offer, seed, guide)
                    got.update({"region": name, "k": k, "offer": offer,
                                "lp_weight": round(sum(w.get(n, 0.0) for n in nodes), 2)})
                    rows["regions"].append(got)
                    print(f"  k={k} {name} offer={offer}: nodes {got.get('nodes')} lpw {got['lp_weight']} "
                          f"gain {got['gain']} proved {got.get('proved')} offered {got.get('offered')} "
                          f"wall {got['wall']} new {got.get('new')} gone {got.get('gone')} load {os.getloadavg()[0]:.1f}",
                          flush=True)
                    out[inst.name] = rows
                    if args.json:
                        Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
        out[inst.name] = rows
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
