"""Markdown tables of benchmark results: one per family and size, and a summary across them.

The bound of an instance is the smallest proven bound any of its runs gave (CP-SAT's, the LP's);
each entry's gap is (bound - objective) / bound. Failed runs show as FAIL with their reason.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from packer.benchsuite.runner import ENTRIES


def best_bounds(results: Iterable[dict[str, Any]]) -> dict[tuple[str, int, int], float]:
    """Per (family, nodes, seed), the smallest proven bound of a successful run."""
    out: dict[tuple[str, int, int], float] = {}
    for r in results:
        if r.get("ok") and r.get("bound") is not None:
            k = (r["family"], r["nodes"], r["seed"])
            out[k] = min(out.get(k, float("inf")), float(r["bound"]))
    return out


def gap(objective: float | None, bound: float | None) -> float | None:
    """Relative gap (bound - objective) / |bound|, or None without both."""
    if objective is None or bound is None or bound == 0:
        return None
    return (bound - objective) / abs(bound)


def _labels_in(results: Sequence[dict[str, Any]]) -> list[str]:
    """The columns (entry labels, without bound-only entries) in ENTRIES order, then by label."""
    order = list(ENTRIES)
    seen = {(order.index(r["entry"]), r["label"]) for r in results if r["entry"] != "lp"}
    return [label for _, label in sorted(seen)]


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.2f}%"


def _fmt_s(s: float | None) -> str:
    return "" if s is None else f"{s:.1f} s" if s >= 0.95 else f"{s:.2f} s"


def family_table(results: Sequence[dict[str, Any]], family: str, nodes: int) -> str:
    """Per seed: the bound, and for every entry its objective, gap and wall time; then medians."""
    rows = [r for r in results if r["family"] == family and r["nodes"] == nodes]
    if not rows:
        return ""
    bounds = best_bounds(rows)
    entries = _labels_in(rows)
    gpus = rows[0]["gpus"]
    by = {(r["seed"], r["label"]): r for r in rows}
    seeds = sorted({r["seed"] for r in rows})
    head = ["seed", "bound"] + [f"{e}: objective (gap, time)" for e in entries]
    lines = [f"### {family}, {gpus:,} GPUs ({nodes} nodes)", "", "| " + " | ".join(head) + " |",
             "|" + "---|" * len(head)]
    gaps: dict[str, list[float]] = defaultdict(list)
    objs: dict[str, list[float]] = defaultdict(list)
    times: dict[str, list[float]] = defaultdict(list)
    for s in seeds:
        b = bounds.get((family, nodes, s))
        cells = [str(s), "" if b is None else f"{b:.2f}"]
        for e in entries:
            r = by.get((s, e))
            if r is None:
                cells.append("")
            elif not r["ok"]:
                cells.append(f"FAIL ({r.get('error')})")
            else:
                g = gap(r["objective"], b)
                objs[e].append(r["objective"])
                times[e].append(r["wall_s"])
                if g is not None:
                    gaps[e].append(g)
                cells.append(f"{r['objective']:.2f} ({_pct(g) or 'no bound'}, {_fmt_s(r['wall_s'])})")
        lines.append("| " + " | ".join(cells) + " |")
    med = ["median", ""]
    for e in entries:
        if objs[e]:
            g = statistics.median(gaps[e]) if gaps[e] else None
            med.append(f"{statistics.median(objs[e]):.2f} ({_pct(g) or 'no bound'}, {_fmt_s(statistics.median(times[e]))})")
        else:
            med.append("")
    lines.append("| " + " | ".join(med) + " |")
    worst = ["worst gap", ""] + [_pct(max(gaps[e])) if gaps[e] else "" for e in entries]
    lines.append("| " + " | ".join(worst) + " |")
    return "\n".join(lines) + "\n"


def summary_table(results: Sequence[dict[str, Any]]) -> str:
    """Per family and size: each entry's median objective and median gap, and the default online
    policy's and the greedy's worst ratio to first-fit on the same instance."""
    fams = list(dict.fromkeys((r["family"], r["nodes"]) for r in results))
    entries = _labels_in(results)
    bounds = best_bounds(results)
    by = {(r["family"], r["nodes"], r["seed"], r["label"]): r for r in results if r["ok"]}
    vs_ff = [e for e in ("online", "greedy") if e in entries and "first-fit" in entries]
    head = ["family", "GPUs", "seeds"] + [f"{e} median (gap)" for e in entries] + [f"{e} vs first-fit, worst" for e in vs_ff]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for fam, nodes in fams:
        seeds = sorted({r["seed"] for r in results if r["family"] == fam and r["nodes"] == nodes})
        gpus = next(r["gpus"] for r in results if r["family"] == fam and r["nodes"] == nodes)
        cells = [fam, f"{gpus:,}", f"{seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])]
        for e in entries:
            objs = [by[(fam, nodes, s, e)]["objective"] for s in seeds if (fam, nodes, s, e) in by]
            gaps = [g for s in seeds if (fam, nodes, s, e) in by
                    for g in [gap(by[(fam, nodes, s, e)]["objective"], bounds.get((fam, nodes, s)))] if g is not None]
            fails = sum(1 for r in results if r["family"] == fam and r["nodes"] == nodes and r["label"] == e and not r["ok"])
            cell = f"{statistics.median(objs):.2f}" if objs else ""
            if gaps:
                cell += f" ({_pct(statistics.median(gaps))})"
            if fails:
                cell += f" {fails} FAIL"
            cells.append(cell)
        for e in vs_ff:
            ratios = [by[(fam, nodes, s, e)]["objective"] / by[(fam, nodes, s, "first-fit")]["objective"] - 1
                      for s in seeds if (fam, nodes, s, e) in by and (fam, nodes, s, "first-fit") in by
                      and by[(fam, nodes, s, "first-fit")]["objective"] > 0]
            if ratios:
                below = sum(1 for x in ratios if x < -0.01)
                cells.append(f"{100 * min(ratios):+.2f}%" + (f" ({below} below -1%)" if below else ""))
            else:
                cells.append("")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def markdown(results: Sequence[dict[str, Any]], *, command: str | None = None) -> str:
    """The whole report: the command, the summary, then one table per family and size."""
    parts = ["# packer bench", ""]
    if command:
        parts += [f"Command: `{command}`", ""]
    loads = [r["load"] for r in results if r.get("load") is not None]
    if loads:
        parts += [f"Load average (1 min) during the runs: {min(loads):.2f}-{max(loads):.2f} on "
                  f"{results[0].get('cpus')} CPUs. Gap: to the smallest proven bound of the instance "
                  "(CP-SAT's or the LP's); none without one.", ""]
    failed = [r for r in results if not r["ok"]]
    if failed:
        parts += [f"**{len(failed)} failed run(s)**: " + "; ".join(f"{r['key']}: {r.get('error')}" for r in failed[:20]), ""]
    parts += ["## Summary", "", summary_table(results), "## Per family and size", ""]
    for fam, nodes in dict.fromkeys((r["family"], r["nodes"]) for r in results):
        parts.append(family_table(results, fam, nodes))
    return "\n".join(parts)


__all__ = ["best_bounds", "family_table", "gap", "markdown", "summary_table"]
