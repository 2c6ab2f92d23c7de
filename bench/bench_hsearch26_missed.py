"""Session 26 (hsearch26): what the stays LP places that a cached stalled plan of ``bench_hsearch26_where.py``
misses, by (kind, tenant, count, priority, spread level, locality level): LP share × priority × GPU-equivalents of the
waiting requests the LP places at a share above 0.25 and the plan leaves out; where the LP difference
weight lies (top nodes, top racks, on the node-isolated tenant's nodes).

    python bench/bench_hsearch26_missed.py --seeds 101 5
"""

from __future__ import annotations

import argparse
import pickle
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_frag25_where import lp_weights
    from bench_reopt import state

    from packer.cpsat import reopt

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[101, 5])
    ap.add_argument("--cache", default="/work/scratch26/hsearch26/cache")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--det", type=float, default=1.0)
    args = ap.parse_args()
    for seed in args.seeds:
        inst = state("issue", seed, None)
        cp = Path(args.cache) / f"issue-{seed}-{args.steps}-{args.det}.pkl"
        _placed, _bound, guide, cur, _st = pickle.loads(cp.read_bytes())
        w = lp_weights(inst, cur, guide)
        ranked = sorted(w.values(), reverse=True)
        print(f"{inst.name}: LP weight {sum(w.values()):.1f} on {len(w)} nodes; top 16 {sum(ranked[:16]):.1f}, "
              f"top 32 {sum(ranked[:32]):.1f}")
        racks = reopt._domains(inst, reopt._level(inst))
        rw = sorted(((sum(w.get(n, 0.0) for n in ns), d) for d, ns in racks.items()), reverse=True)
        print("  top racks:", [(round(a, 1), d) for a, d in rw[:8]])
        view = reopt._View(inst, cur)
        iso = {n for ns in view.isolated_nodes.values() for n in ns}
        print(f"  weight on the node-isolated tenants' nodes: {sum(w.get(n, 0.0) for n in iso):.1f}")
        miss: dict[tuple, float] = defaultdict(float)
        for r in inst.requests:
            if r.placement is not None or r.id in cur:
                continue
            sh = guide.share.get(r.id, 0.0)
            if sh > 0.25:
                key = (r.kind, r.tenant, r.count, r.priority, r.spread.level if r.spread else None,
                       r.locality.level if r.locality else None)
                miss[key] += sh * r.priority * r.count * inst.request_unit_size(r)
        print("  missed:", sorted(((round(v, 1), k) for k, v in miss.items()), reverse=True)[:12])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
