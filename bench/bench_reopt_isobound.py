"""Where the stays LP's node isolation is loose (issue 17 part 2, session 13): deterministic LP figures
on each running state.

(Session 13's ``rows`` mode, the stays LP without and with ``reopt_stays.OTHER_ROWS``, was removed with the
flag in session 27; it runs at git tag flags-s26.)

``dive``: how much the integrality of node ownership is worth. Starting from the stays LP, repeatedly
take the fractional ``owns`` column nearest 0.5, solve the LP with it fixed at 0 and at 1 and keep the
better (strong branching on one side, no backtracking), until no ``owns`` column is fractional. The end
value is the LP optimum over one integral ownership: a relaxed value, NOT a bound; the LP minus it is
an upper estimate of what any ownership-integral bound could remove (the best integral ownership is
worth at least the dive's). ``--counts`` goes on with the groups' placed counts (gangs placed whole or
not), one at a time the same way (down or up, the better kept): again a relaxed value, and LP minus it
an upper estimate of what ownership and count integrality together could remove.

    python bench/bench_reopt_isobound.py dive issue --seeds 5 [--counts]
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _dive(inst, model, max_fix: int, counts: bool = False) -> dict:  # type: ignore[no-untyped-def]
    from packer.cpsat import reopt_stays
    from packer.cpsat.bound import lp_solve
    from packer.cpsat.proof import padded_bound

    got = reopt_stays.stays_form(inst, model)
    if got is None:
        return {}
    (c, a, bl, bh, lo, hi, obj), _col, const = got
    lo, hi = lo.copy(), hi.copy()
    owns = {f"{model.data.inst.nodes[ni].id}/{t}": var.index for (ni, t), var in model.vars.owns.items()}

    def solve():  # type: ignore[no-untyped-def]
        res = lp_solve(model.model, form=(c, a, bl, bh, lo, hi, obj))
        return (None, None) if res is None else (padded_bound(model, res[0] + const), res[1])

    def frac(x) -> list[tuple[float, str, int]]:  # type: ignore[no-untyped-def]
        return sorted((abs(x[i] - 0.5), k, i) for k, i in owns.items() if 1e-6 < x[i] < 1 - 1e-6)

    t0 = time.perf_counter()
    lp, x = solve()
    if lp is None:
        return {}
    steps = []
    first = len(frac(x))
    value = lp
    for _ in range(max_fix):
        fr = frac(x)
        if not fr:
            break
        _d, key, i = fr[0]
        share = float(x[i])
        tries = {}
        for v in (0.0, 1.0):
            lo[i] = hi[i] = v
            tries[v] = solve()
        ok = [v for v in tries if tries[v][0] is not None]
        if not ok:
            return {"lp": lp, "fractional": first, "steps": steps, "end": None}
        best = max(ok, key=lambda v: tries[v][0])
        lo[i] = hi[i] = best
        value, x = tries[best]
        steps.append({"own": key, "x": round(share, 3), "at0": tries[0.0][0], "at1": tries[1.0][0], "kept": best})
        print(f"  fix {key} (LP {share:.3f}): own 0 → {tries[0.0][0]}, own 1 → {tries[1.0][0]}; kept {best:.0f}",
              flush=True)
    left = len(frac(x))
    out = {"lp": round(lp, 4), "fractional": first, "steps": steps, "end": round(value, 4), "left": left,
           "s": round(time.perf_counter() - t0, 1)}
    if counts:
        # Then the groups' placed counts, the same way: the fractional count nearest x.5 (largest group
        # first on ties) solved rounded down and rounded up, the better kept, until none is fractional
        # or ``max_fix`` counts are fixed.
        act = sorted({e.index for e in model.vars.active.values()
                      if isinstance(getattr(e, "index", None), int) and e.index >= 0})
        fixes = []
        for _ in range(max_fix):
            fr = sorted((abs(x[i] - int(x[i] + 1e-9) - 0.5), -hi[i], i) for i in act
                        if abs(x[i] - round(x[i])) > 1e-6)
            if not fr:
                break
            i = fr[0][2]
            share = float(x[i])
            down, up = float(int(share + 1e-9)), float(int(share + 1e-9) + 1)
            keep_lo, keep_hi = lo[i], hi[i]
            tries = {}
            lo[i], hi[i] = keep_lo, down
            tries["down"] = solve()
            lo[i], hi[i] = up, keep_hi
            tries["up"] = solve() if up <= keep_hi else (None, None)
            ok = [k for k in tries if tries[k][0] is not None]
            if not ok:
                value = None
                break
            best = max(ok, key=lambda k: tries[k][0])
            lo[i], hi[i] = (keep_lo, down) if best == "down" else (up, keep_hi)
            value, x = tries[best]
            fixes.append({"x": round(share, 3), "down": tries["down"][0], "up": tries["up"][0], "kept": best})
            print(f"  count {share:.3f}: down → {tries['down'][0]}, up → {tries['up'][0]}; kept {best}", flush=True)
        out["counts"] = fixes
        out["counts_end"] = None if value is None else round(value, 4)
        out["counts_left"] = None if x is None else sum(1 for i in act if abs(x[i] - round(x[i])) > 1e-6)
        out["s"] = round(time.perf_counter() - t0, 1)
    return out


def main() -> int:
    from bench_reopt import state, state_parser

    ap = state_parser(__doc__)
    ap.add_argument("what", choices=("dive",))
    ap.add_argument("--max-fix", type=int, default=40)
    ap.add_argument("--counts", action="store_true",
                    help="dive: after ownership, the groups' fractional placed counts the same way")
    ap.add_argument("--json", default=None)
    # the family is positional in state_parser; put "what" first on the command line
    argv = sys.argv[1:]
    if argv and argv[0] == "dive":
        argv = argv[1:] + [argv[0]]
    args = ap.parse_args(argv)

    from packer.cpsat import reopt

    rows = []
    for seed in args.seeds:
        inst = state(args.family, seed, args.nodes)
        model = reopt.repack_model(inst)
        if model is None:
            continue
        row: dict[str, object] = {"state": inst.name, "seed": seed, "what": args.what}
        row.update(_dive(inst, model, args.max_fix, args.counts))
        print(f"| {inst.name} | {row.get('lp')} | {row.get('fractional')} | {row.get('end')} | "
              f"{len(row.get('steps', []))} fixed, {row.get('left')} left | counts: {row.get('counts_end')}, "
              f"{len(row.get('counts', []))} fixed, {row.get('counts_left')} left | {row.get('s')} s | "  # type: ignore[arg-type]
              f"{os.getloadavg()[0]:.2f} |", flush=True)
        row["load"] = round(os.getloadavg()[0], 2)
        rows.append(row)
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
