"""The stays LP with and without its ownership links (packer.cpsat.reopt_stays.OWN_LINKS), issue 17
part 2, session 11: the bound of no limit on each running state, the moves its solution makes
(Σ 1 − stay) and the LP's wall seconds, both arms on the same repack model.

    python bench/bench_reopt_ownlinks.py issue --seeds 0 1 2 3 4 5 100 101
    python bench/bench_reopt_ownlinks.py fragmented --seeds 0 1 2 3 4 100 101 102 103 104
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    from bench_reopt import state, state_parser

    ap = state_parser(__doc__)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from packer.cpsat import reopt, reopt_stays

    keep = reopt_stays.OWN_LINKS
    rows = []
    print("| state | bound, links off | links on | difference | LP moves off / on | LP s off / on | load |")
    print("|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes)
        model = reopt.repack_model(inst)
        if model is None:
            continue
        row: dict[str, object] = {"state": inst.name, "seed": seed}
        for flag in (False, True):
            reopt_stays.OWN_LINKS = flag
            t0 = time.perf_counter()
            got = reopt_stays.stays_lp(inst, model)
            secs = time.perf_counter() - t0
            row["on" if flag else "off"] = None if got is None else {
                "bound": got.bound, "moves": sum(1 - v for v in got.stays.values()), "s": round(secs, 1)}
        reopt_stays.OWN_LINKS = keep
        row["load"] = round(os.getloadavg()[0], 2)
        rows.append(row)
        off, on = row["off"], row["on"]
        if off is None or on is None:
            print(f"| {inst.name} | {off} | {on} | - | - | - | {row['load']} |", flush=True)
            continue
        assert on["bound"] <= off["bound"] + 1e-6, "the links loosened the bound"  # type: ignore[index]
        print(f"| {inst.name} | {off['bound']:.2f} | {on['bound']:.2f} | {on['bound'] - off['bound']:+.2f} "  # type: ignore[index]
              f"| {off['moves']:.1f} / {on['moves']:.1f} | {off['s']} / {on['s']} | {row['load']} |", flush=True)  # type: ignore[index]
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
