"""Session 11: a shadow first-fit beside the ``packer`` policy request by request (no forecast), the
rules tried, against first-fit in the same arrival order (never run by the tests; none is the default).

    python bench/bench_online_shadow.py --seeds 0-4 --nodes 8,128 --variants behind,phi,shadow-nodes,decide [--json OUT]

Beside the placer (``packer``, no forecast) run two first-fit placers of the same instance: the
*shadow* places every arrival on its own state (first-fit's own run so far) and the *mirror* follows
the placer's decisions (:meth:`OnlinePlacer.commit`), so it says what first-fit would do on the
placer's real state. The *regret* is the shadow's value placed (SPEC §4: priority × size less the
soft locality penalty) less the placer's, on the arrivals before this one. Variants, while the
regret is positive ("behind"):

- ``behind``: the arrival takes first-fit's placement on the real state (the mirror's), else packer's;
- ``phi``: the same, with both values net of their used GPU-equivalents priced at the size-weighted
  mean priority of the arrivals so far (capacity left counted at what arrivals have been worth);
- ``shadow-nodes``: the shadow's placement where it is still feasible (the mirror's first-fit restricted
  to the nodes the shadow used), else packer's;
- ``decide``: an arrival the shadow declined is declined (packer's own choice otherwise).

Per variant: instances more than 1% below first-fit, and per family and size the median of the
variant / first-fit − 1 against packer's own. Every plan goes through ``packer check``. Deterministic.
"""

from __future__ import annotations

import argparse
import json
import statistics

import numpy as np

from packer.check import check
from packer.generate import SUITE, generate
from packer.model import Instance, Request
from packer.online import OnlinePlacer
from packer.online.placer import requests_in_order
from packer.online.rollout import value_of

VARIANTS = ("behind", "phi", "shadow-nodes", "decide")
_EPS = 1e-9


def _ints(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def _value(p: OnlinePlacer, req: Request) -> float:
    rec = p._placed[req.id]
    return value_of(p, req, rec.rows, rec.size)


def shadowed(inst: Instance, variant: str) -> tuple[OnlinePlacer, int]:
    """The ``packer`` placer after the stream under ``variant``, and how many arrivals the rule changed."""
    own = OnlinePlacer(inst, "packer")
    mirror = OnlinePlacer(inst, "first-fit", target=own.target)
    ff = OnlinePlacer(inst, "first-fit", target=own.target)
    v_own = v_ff = s_own = s_ff = arr_v = arr_s = 0.0
    changed = 0
    for req in requests_in_order(inst.requests, "file", inst):
        lam = arr_v / arr_s if arr_s > 0 else 0.0
        if variant == "phi":
            behind = v_ff - lam * s_ff > v_own - lam * s_own + _EPS
        else:
            behind = v_ff > v_own + _EPS
        sz = inst.request_size(req)
        arr_v += req.priority * sz
        arr_s += sz
        ff_ok = ff.place(req, explain=False).ok
        if ff_ok:
            v_ff += _value(ff, req)
            s_ff += ff._placed[req.id].size
        rows: np.ndarray | None = None
        if behind and variant in ("behind", "phi", "shadow-nodes"):
            if variant == "shadow-nodes":
                if ff_ok:
                    na = mirror._nallow
                    keep = na.copy()
                    na[:] = 0
                    used = ff._placed[req.id].nodes
                    na[used] = keep[used]
                    try:
                        if mirror.place(req, explain=False).ok:
                            rows = mirror._placed[req.id].rows
                    finally:
                        na[:] = keep
            elif mirror.place(req, explain=False).ok:
                rows = mirror._placed[req.id].rows
        if rows is not None:
            own.commit(req, rows)
            changed += 1
        elif behind and variant == "decide" and not ff_ok:
            own.commit(req, None, "declined: behind first-fit, which declined it")
            mirror.commit(req, None)
            changed += 1
            continue
        else:
            res = own.place(req, explain=False)
            placed = own._placed[req.id].rows if res.ok else None
            if req.id in mirror._placed:
                mirror.release(req.id)
            mirror.commit(req, placed)
        if req.id in own._placed:
            v_own += _value(own, req)
            s_own += own._placed[req.id].size
    return own, changed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0-4")
    p.add_argument("--nodes", default="8,128")
    p.add_argument("--families", default=",".join(SUITE))
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--json", default="/tmp/bench_online_shadow.json")
    a = p.parse_args()
    variants = a.variants.split(",")
    rows = []
    for nodes in _ints(a.nodes):
        for fam in a.families.split(","):
            for seed in _ints(a.seeds):
                inst = generate(fam, seed, nodes=nodes)
                obj: dict[str, float] = {}
                for pol in ("first-fit", "packer"):
                    pl = OnlinePlacer(inst, pol)
                    for r in requests_in_order(inst.requests, "file", inst):
                        pl.place(r, explain=False)
                    rep = check(inst, pl.snapshot(instance=inst))
                    assert rep.ok, (fam, seed, nodes, pol)
                    obj[pol] = rep.objective
                row: dict[str, object] = {"family": fam, "seed": seed, "nodes": nodes, **obj}
                for v in variants:
                    pl, changed = shadowed(inst, v)
                    rep = check(inst, pl.snapshot(instance=inst))
                    assert rep.ok, (fam, seed, nodes, v)
                    row[v] = rep.objective
                    row[f"{v}_changed"] = changed
                rows.append(row)
                ff = obj["first-fit"]
                print(f"{fam} {nodes * 8} {seed}: " + ", ".join(
                    f"{k} {100 * (float(row[k]) / ff - 1):+.2f}%" for k in ("packer", *variants)), flush=True)
    json.dump({"args": vars(a), "rows": rows}, open(a.json, "w"), indent=1)
    print("\n| family | GPUs | " + " | ".join(("packer", *variants)) + " |")
    print("|---|---:|" + "---:|" * (1 + len(variants)))
    for nodes in _ints(a.nodes):
        for fam in a.families.split(","):
            rs = [r for r in rows if r["family"] == fam and r["nodes"] == nodes]
            cells = []
            for k in ("packer", *variants):
                vs = [float(r[k]) / float(r["first-fit"]) - 1 for r in rs if float(r["first-fit"]) > 0]
                bad = sum(1 for x in vs if x < -0.01)
                cells.append(f"{100 * statistics.median(vs):+.2f}% ({bad})")
            print(f"| {fam} | {nodes * 8:,} | " + " | ".join(cells) + " |")
    for k in ("packer", *variants):
        bad = [f"{r['family']}-{int(r['nodes']) * 8}-{r['seed']}" for r in rows
               if float(r[k]) < float(r["first-fit"]) * 0.99]
        print(f"{k}: {len(bad)} of {len(rows)} > 1% below first-fit: {', '.join(bad)}")


if __name__ == "__main__":
    main()
