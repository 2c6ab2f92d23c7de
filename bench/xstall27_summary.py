"""Session 27 (xstall27): paired tables of the plateau bench and of the AFTER_STALL A/B.

    python bench/xstall27_summary.py plateau bench/xstall27_plateau_fragmented_0_4.json
    python bench/xstall27_summary.py ab bench/xstall27_det_fragmented_0_4.json [more JSON ...]
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

ON = "reopt_xrack.XRACK+reopt_xrack.AFTER_STALL"
PLACER = ("gang", "spread", "pack", "pack_fill")


def cpsat_kinds(by_kind: dict | None, only: str | None = None) -> tuple[int, int, float]:
    """(steps, improved, gain) of the CP-SAT step kinds in a run's ``by_kind`` (``only``: that kind alone)."""
    out = [0, 0, 0.0]
    for k, v in (by_kind or {}).items():
        if k in PLACER or (only is not None and k != only):
            continue
        out[0] += v.get("steps", 0)
        out[1] += v.get("improved", 0)
        out[2] += v.get("gain", 0.0)
    return out[0], out[1], out[2]


def paired(diffs: list[float]) -> str:
    if not diffs:
        return "no states"
    w = sum(d > 1e-6 for d in diffs)
    losses = sum(d < -1e-6 for d in diffs)
    return (f"{len(diffs)} states: sum {sum(diffs):+.2f}, mean {statistics.mean(diffs):+.2f}, median "
            f"{statistics.median(diffs):+.2f}, wins / losses / ties {w} / {losses} / {len(diffs) - w - losses}")


def plateau(files: list[str]) -> None:
    print("| state | P (20 steps) | bound | last rise (iteration of) | a10 | a20 | b10 | b10 − a10 | b10 − a20 "
          "| exchange steps: steps / improved / own gain | default CP-SAT steps a10 + a20: steps / improved / gain |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---|---|")
    cs = [0, 0, 0.0]
    d10, d20, xs, xi, xg = [], [], 0, 0, 0.0
    for f in files:
        for name, r in json.loads(Path(f).read_text()).items():
            p = r["P"]["objective"]
            a10, a20, b10 = (r[k]["objective"] - p for k in ("a10", "a20", "b10"))
            x = (r["b10"]["by_kind"] or {}).get("xrack", {})
            xs, xi, xg = xs + x.get("steps", 0), xi + x.get("improved", 0), xg + x.get("gain", 0.0)
            c = [sum(t) for t in zip(cpsat_kinds(r["a10"]["by_kind"]), cpsat_kinds(r["a20"]["by_kind"]))]
            cs = [cs[0] + c[0], cs[1] + c[1], cs[2] + c[2]]
            d10.append(b10 - a10)
            d20.append(b10 - a20)
            print(f"| {name} | {p:.2f} | {r['bound']:.2f} | {r['P']['last_gain_iter']} of {r['P']['iters']} | {a10:+.2f} "
                  f"| {a20:+.2f} | {b10:+.2f} | {b10 - a10:+.2f} | {b10 - a20:+.2f} | {x.get('steps', 0)} / "
                  f"{x.get('improved', 0)} / {x.get('gain', 0.0):.2f} | {c[0]} / {c[1]} / {c[2]:.2f} |")
    print(f"\nb10 − a10: {paired(d10)}\n\nb10 − a20: {paired(d20)}\n\nexchange steps on the plateau: {xs} steps, "
          f"{xi} improved, own gain {xg:.2f}; the default CP-SAT steps of a10 + a20: {cs[0]} steps, {cs[1]} improved, "
          f"gain {cs[2]:.2f}")


def ab(files: list[str]) -> None:
    print("| state | off | on | on − off | fired at (steps) | exchange steps: steps / improved / own gain "
          "| off: last rise (iteration of) | trajectory |")
    print("|---|---:|---:|---:|---|---|---|---|")
    diffs, xs, xi, xg = [], 0, 0, 0.0
    for f in files:
        for name, r in json.loads(Path(f).read_text()).items():
            if "none" not in r or ON not in r:
                continue
            off, on = r["none"], r[ON]
            t = off["trajectory"]
            last = max([i for i in range(1, len(t)) if t[i] > t[i - 1] + 1e-9], default=0)
            x = (on.get("by_kind") or {}).get("xrack", {})
            xs, xi, xg = xs + x.get("steps", 0), xi + x.get("improved", 0), xg + x.get("gain", 0.0)
            d = on["objective"] - off["objective"]
            diffs.append(d)
            same = "identical" if on["trajectory"] == t else "differs"
            print(f"| {name.split('/')[0]} | {off['objective']:.2f} | {on['objective']:.2f} | {d:+.2f} | "
                  f"{on.get('xstall_fired')} | {x.get('steps', 0)} / {x.get('improved', 0)} / {x.get('gain', 0.0):.2f} "
                  f"| {last} of {len(t)} | {same} |")
    print(f"\non − off: {paired(diffs)}\n\nexchange steps: {xs} steps, {xi} improved, own gain {xg:.2f}")


if __name__ == "__main__":
    {"plateau": plateau, "ab": ab}[sys.argv[1]](sys.argv[2:])
