"""The rollout's start at any size (session 6): the default policy with the forecast against the
policy alone and the baselines, with in-solver times (never run by the tests).

    python bench/bench_online_start.py --seeds 100 --nodes 2048 [--families ...]
        [--baselines bench/online_suite_report_16384.json] [--json OUT.json]
    python bench/bench_online_start.py --summarize OUT.json    # per-family medians of a saved run

For each instance: ``packer solve --solver online`` (default: the rollout, whose start now always
runs) and ``--no-rollout`` (the policy alone), back to back, both checked by ``packer check``; the
rollout's start base and each base's own value (its file-order run over the new requests). With
``--baselines``, first-fit / best-fit / FGD objectives come from that bench_online_suite JSON (same
generator, same seeds; deterministic); else from the start's own run of that base plus the running
work's value (equal to the JSON's on seed 100 at 16,384 GPUs, all 8 families); else it is run
(``--policy NAME``, checked; its seconds in the JSON). Objectives are
deterministic; the seconds are wall-clock on whatever load the machine has (printed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

from packer.check import check
from packer.dispatch import solve
from packer.generate import SUITE, generate


def _seeds(text: str) -> list[int]:
    a, _, b = text.partition("-")
    return list(range(int(a), int(b or a) + 1))


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--summarize":  # re-print the summary of a saved run
        with open(sys.argv[2]) as f:
            print(summarize(json.load(f)["rows"]))
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="100")
    p.add_argument("--nodes", type=int, default=2048)
    p.add_argument("--families", default=",".join(SUITE))
    p.add_argument("--baselines", default="")
    p.add_argument("--json", default="/tmp/bench_online_start.json")
    a = p.parse_args()
    base: dict[tuple[str, int], dict] = {}
    if a.baselines:
        d = json.load(open(a.baselines))
        for r in d["rows"] if isinstance(d, dict) else d:
            if r["nodes"] == a.nodes:
                base[(r["family"], r["seed"])] = r
    solve(generate("haein", 1, nodes=8), "online")  # compile outside the figures
    rows = []
    print("| family | seed | GPUs | packer (rollout) | policy alone | first-fit | best-fit | fgd | vs first-fit | vs best baseline "
          "| start base | in-solver s rollout / alone | load |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for fam in a.families.split(","):
        for seed in _seeds(a.seeds):
            inst = generate(fam, seed, nodes=a.nodes)
            out: dict = {"family": fam, "seed": seed, "nodes": a.nodes, "gpus": inst.num_gpus}
            for arm, opts in (("rollout", {}), ("alone", {"rollout": False})):
                t0 = time.perf_counter()
                plan = solve(inst, "online", **opts)
                out[f"{arm}_s"] = round(time.perf_counter() - t0, 2)
                rep = check(inst, plan)
                assert rep.ok, (fam, seed, arm, rep)
                out[arm] = round(rep.objective, 3)
                if arm == "rollout":
                    ro = plan.solver.rollout
                    out["start_base"], out["base_values"] = ro["start_base"], ro["base_values"]
                    out["fallback"] = ro["fallback"]
            out["load"] = round(os.getloadavg()[0], 1)
            b = base.get((fam, seed)) or {}
            # without --baselines: a base the rollout's start ran over the stream (the same kernels
            # and order as --policy NAME) gives its value of the new requests, plus the running
            # work's value (the policy-alone plan's objective less its base value); else it is run
            off = out["alone"] - out["base_values"]["packer"]
            for k in ("first-fit", "best-fit", "fgd"):
                if k in b:
                    out[k], src = b[k], "json"
                elif k in out["base_values"]:
                    out[k], src = round(out["base_values"][k] + off, 3), "start"
                else:
                    t0 = time.perf_counter()
                    rep = check(inst, solve(inst, "online", policy=k))
                    assert rep.ok, (fam, seed, k)
                    out[k], src = round(rep.objective, 3), "run"
                    out[f"{k}_s"] = round(time.perf_counter() - t0, 2)
                out[f"{k}_from"] = src
            ff = out["first-fit"]
            bb = max((out[k] for k in ("first-fit", "best-fit", "fgd") if out[k] is not None), default=None)
            got = out["rollout"]

            def vs(x: float | None, got: float = got) -> str:
                return f"{100 * (got / x - 1):+.2f}%" if x else "—"

            print(f"| {fam} | {seed} | {out['gpus']:,} | {out['rollout']:.1f} | {out['alone']:.1f} | {ff or '—'} | "
                  f"{out['best-fit'] or '—'} | {out['fgd'] or '—'} | {vs(ff)} | {vs(bb)} | {out['start_base']} | "
                  f"{out['rollout_s']} / {out['alone_s']} | {out['load']} |", flush=True)
            rows.append(out)
    json.dump({"rows": rows}, open(a.json, "w"), indent=1)
    print(summarize(rows))


def summarize(rows: list[dict]) -> str:
    """Per family: medians over the seeds of the rollout, the policy alone and each baseline; the
    rollout's median against the best baseline's; its worst seed against first-fit."""
    out = ["| family | GPUs | seeds | packer (rollout) median | policy alone | first-fit | best-fit | fgd "
           "| median vs best baseline | worst seed vs first-fit | in-solver s rollout / alone, median |",
           "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for fam in dict.fromkeys(r["family"] for r in rows):
        rs = [r for r in rows if r["family"] == fam]
        med = {k: statistics.median(r[k] for r in rs) for k in ("rollout", "alone", "first-fit", "best-fit", "fgd",
                                                                 "rollout_s", "alone_s")}
        best = max(("first-fit", "best-fit", "fgd"), key=lambda k: med[k])
        worst = min(100 * (r["rollout"] / r["first-fit"] - 1) for r in rs)
        out.append(f"| {fam} | {rs[0]['gpus']:,} | {','.join(str(r['seed']) for r in rs)} | {med['rollout']:.1f} "
                   f"| {med['alone']:.1f} | {med['first-fit']:.1f} | {med['best-fit']:.1f} | {med['fgd']:.1f} "
                   f"| {100 * (med['rollout'] / med[best] - 1):+.2f}% ({best}) | {worst:+.2f}% "
                   f"| {med['rollout_s']:.1f} / {med['alone_s']:.1f} |")
    return "\n".join(out)


if __name__ == "__main__":
    main()
