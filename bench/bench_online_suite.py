"""Objectives of the online policies and the greedy on the issue-16 suite (never run by the tests).

Every figure of "Online default policy and greedy against first-fit on every family" in
bench/RESULTS_online.md comes from this command (seeds 100-109 are the report seeds, 0-4 tuning):

    python bench/bench_online_suite.py --seeds 100-109 --nodes 8,128 [--families haein,training,...]
        [--policies packer,first-fit,best-fit,fgd] [--no-greedy] [--json OUT.json] [--md OUT.md]
    python bench/bench_online_suite.py --compare BEFORE.json AFTER.json   # packer before -> after

Each instance is ``packer generate FAMILY --seed N --nodes N``; every online policy places its new
requests in file order (``packer solve --solver online --policy P``), the greedy solves it
(``packer solve``), and every plan goes through ``packer check`` (an invalid plan is reported and
counts as objective 0). Deterministic: the figures do not depend on machine load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from packer.check import check
from packer.dispatch import solve
from packer.generate import SUITE, generate


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def run_one(family: str, seed: int, nodes: int, policies: list[str], greedy: bool = True) -> dict:
    """Objectives (and check verdicts) of every policy and the greedy on one instance."""
    inst = generate(family, seed, nodes=nodes)
    row: dict = {"family": family, "seed": seed, "nodes": nodes, "gpus": inst.num_gpus, "invalid": []}
    for name in [*policies, "greedy"] if greedy else policies:
        t0 = time.perf_counter()
        plan = solve(inst, "greedy") if name == "greedy" else solve(inst, "online", policy=name)
        row[f"{name}_s"] = round(time.perf_counter() - t0, 3)
        rep = check(inst, plan)
        if not rep.ok:
            row["invalid"].append(name)
        row[name] = round(rep.objective, 3) if rep.ok else 0.0
        ro = getattr(plan.solver, "rollout", None)
        if name == "packer" and ro:
            row["packer_rollout"] = {k: ro[k] for k in ("simulated", "steps", "improved", "start_base", "fallback")}
    return row


def summarize(rows: list[dict], policies: list[str]) -> list[dict]:
    """Per family and size: medians, the default policy against the best baseline, the worst seeds."""
    out = []
    keys = sorted({(r["family"], r["nodes"]) for r in rows}, key=lambda k: (SUITE.index(k[0]) if k[0] in SUITE else 99, k[1]))
    for fam, nodes in keys:
        rs = [r for r in rows if r["family"] == fam and r["nodes"] == nodes]
        cols = [*policies, "greedy"] if "greedy" in rs[0] else policies
        med = {p: statistics.median(r[p] for r in rs) for p in cols}
        base = [p for p in policies if p != "packer"]
        best = max(base, key=lambda p: med[p])
        vs_ff = [r["packer"] / r["first-fit"] - 1 for r in rs if r["first-fit"] > 0]
        g_ff = [r["greedy"] / r["first-fit"] - 1 for r in rs if r["first-fit"] > 0 and "greedy" in r] or [float("nan")]
        out.append({"family": fam, "nodes": nodes, "gpus": rs[0]["gpus"], "n": len(rs), "median": med,
                    "best_baseline": best, "packer_vs_best_pct": 100 * (med["packer"] / med[best] - 1),
                    "packer_worst_vs_ff_pct": 100 * min(vs_ff), "packer_below_ff_1pct": sum(v < -0.01 for v in vs_ff),
                    "greedy_worst_vs_ff_pct": 100 * min(g_ff), "greedy_below_ff": sum(v < 0 for v in g_ff),
                    "invalid": sorted({f"{r['seed']}:{p}" for r in rs for p in r["invalid"]})})
    return out


def markdown(summary: list[dict], policies: list[str]) -> str:
    """One table row per family and size."""
    cols = [*policies, "greedy"] if summary and "greedy" in summary[0]["median"] else policies
    head = ("| family | GPUs | seeds | " + " | ".join(f"{p} (median)" for p in cols)
            + " | packer vs best baseline | packer worst vs first-fit (seeds > 1% below) "
            + "| greedy worst vs first-fit | invalid plans |")
    lines = [head, "|" + " --- |" * (len(cols) + 7)]
    for s in summary:
        lines.append(f"| {s['family']} | {s['gpus']:,} | {s['n']} | "
                     + " | ".join(f"{s['median'][p]:.1f}" for p in cols)
                     + f" | {s['packer_vs_best_pct']:+.2f}% ({s['best_baseline']}) "
                     + f"| {s['packer_worst_vs_ff_pct']:+.2f}% ({s['packer_below_ff_1pct']}) "
                     + (f"| {s['greedy_worst_vs_ff_pct']:+.2f}% " if "greedy" in s["median"] else "| — ")
                     + f"| {len(s['invalid'])} |")
    return "\n".join(lines) + "\n"


def compare(before: list[dict], after: list[dict]) -> str:
    """packer's medians and instances > 1% below first-fit, ``before`` -> ``after`` (rows of two
    runs of this script on the same instances; baselines and greedy from ``after``)."""
    old = {(r["family"], r["nodes"], r["seed"]): r for r in before}
    new = {(r["family"], r["nodes"], r["seed"]): dict(r) for r in after}
    for k, r in new.items():  # a baseline the after-run did not rerun: the before-run's (deterministic)
        for p in ("first-fit", "best-fit", "fgd"):
            if p not in r and p in old.get(k, {}):
                r[p] = old[k][p]
    keys = sorted({(f, n) for f, n, _ in new}, key=lambda k: (k[1], SUITE.index(k[0]) if k[0] in SUITE else 99))
    lines = ["| family | GPUs | packer median before -> after | first-fit | best-fit | fgd | after vs best baseline "
             "| seeds > 1% below first-fit before -> after | worst vs first-fit after | greedy median "
             "| greedy worst vs first-fit |", "|" + " --- |" * 11]
    nb = na = 0
    for fam, nodes in keys:
        ks = [k for k in new if k[:2] == (fam, nodes) and k in old]

        def med(d: dict, p: str, ks: list = ks) -> float:
            return statistics.median(d[k][p] for k in ks)

        best = max(("first-fit", "best-fit", "fgd"), key=lambda p: med(new, p))
        b = sum(old[k]["packer"] < 0.99 * old[k]["first-fit"] for k in ks)
        a = sum(new[k]["packer"] < 0.99 * new[k]["first-fit"] for k in ks)
        nb, na = nb + b, na + a
        worst = min(100 * (new[k]["packer"] / new[k]["first-fit"] - 1) for k in ks if new[k]["first-fit"] > 0)
        has_g = all("greedy" in new[k] for k in ks)  # --no-greedy runs leave the greedy columns empty
        gw = min(100 * (new[k]["greedy"] / new[k]["first-fit"] - 1) for k in ks if new[k]["first-fit"] > 0) if has_g else None
        vs = 100 * (med(new, "packer") / med(new, best) - 1)
        lines.append(f"| {fam} | {new[ks[0]]['gpus']:,} | {med(old, 'packer'):.1f} -> **{med(new, 'packer'):.1f}** "
                     f"| {med(new, 'first-fit'):.1f} | {med(new, 'best-fit'):.1f} | {med(new, 'fgd'):.1f} "
                     f"| {vs:+.2f}% ({best}){' ✗' if vs < 0 else ''} | {b} -> {a} | {worst:+.2f}% "
                     + (f"| {med(new, 'greedy'):.1f} | {gw:+.2f}% |" if has_g else "| — | — |"))
    lines.append(f"\nInstances > 1% below first-fit: {nb} -> {na} of {sum(1 for k in new if k in old)}.")
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--compare":
        with open(sys.argv[2]) as f, open(sys.argv[3]) as g:
            print(compare(json.load(f)["rows"], json.load(g)["rows"]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", default=",".join(SUITE))
    ap.add_argument("--seeds", default="100-109")
    ap.add_argument("--nodes", default="8,128")
    ap.add_argument("--policies", default="packer,first-fit,best-fit,fgd")
    ap.add_argument("--json", default="/tmp/bench_online_suite.json")
    ap.add_argument("--md", default="/tmp/bench_online_suite.md")
    ap.add_argument("--no-greedy", action="store_true", help="online policies only")
    args = ap.parse_args()
    policies = args.policies.split(",")
    if policies[:2] != ["packer", "first-fit"]:
        raise SystemExit("--policies must start with packer,first-fit")
    rows = []
    for nodes in [int(x) for x in args.nodes.split(",")]:
        for fam in args.families.split(","):
            for seed in _seeds(args.seeds):
                row = run_one(fam, seed, nodes, policies, greedy=not args.no_greedy)
                rows.append(row)
                print(json.dumps(row), flush=True, file=sys.stderr)
    summary = summarize(rows, policies)
    with open(args.json, "w") as f:
        json.dump({"args": vars(args), "rows": rows, "summary": summary}, f, indent=1)
    md = markdown(summary, policies)
    with open(args.md, "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
