"""Where issue 16's batch-optimizer targets stand: the latest CP-SAT run of every suite instance.

Reads every `packer.bench/v1` JSON under bench/ (the files `packer bench --json` wrote, committed with
the rows of bench/RESULTS.md), keeps the CP-SAT runs at the issue's settings (1,024 GPUs at 60 s, 16,384
GPUs at 300 s, `--workers 2`, checked plans only), and for each (family, size, seed) takes the run from
the file committed last (git's commit time; a file not yet committed counts as newest). Bounds
tightened from session to session, so an older run's gap is against an older bound: the table says which
file each figure comes from, and how many runs of that instance there are in all.

    python bench/standing.py                 # markdown to stdout
    python bench/standing.py --seeds 100-109 --md bench/standing.md
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: (GPUs, time limit in s, gap target in %) the issue names for each size.
SETTINGS = {1024: (60.0, 1.0), 16384: (300.0, 2.0)}


def _commit_times(paths: list[Path]) -> dict[Path, float]:
    """Each file's last commit time (seconds since the epoch); uncommitted files count as newest."""
    out: dict[Path, float] = {}
    for p in paths:
        res = subprocess.run(
            ["git", "log", "-1", "--format=%ct", "--", p.name],
            cwd=p.parent, capture_output=True, text=True, check=False,
        )
        text = res.stdout.strip()
        out[p] = float(text) if text else float("inf")
    return out


def _seeds(text: str) -> set[int]:
    out: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def collect(folder: Path, seeds: set[int]) -> dict[tuple[str, int, int], list[tuple[float, str, dict]]]:
    """Every checked CP-SAT run at the issue's settings, by (family, GPUs, seed), oldest first."""
    files = sorted(folder.glob("*.json"))
    runs: dict[tuple[str, int, int], list[tuple[float, str, dict]]] = {}
    found: list[tuple[Path, dict]] = []
    for f in files:
        try:
            data = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or data.get("format") != "packer.bench/v1":
            continue
        for r in data.get("results", []):
            if r.get("entry") != "cpsat" or r.get("seed") not in seeds or not r.get("ok"):
                continue
            want = SETTINGS.get(r.get("gpus"))
            opts = r.get("options") or {}
            if want is None or opts.get("time_limit") != want[0] or opts.get("workers") != 2:
                continue
            if r.get("bound") is None or r.get("objective") is None:
                continue
            found.append((f, r))
    times = _commit_times(sorted({f for f, _ in found}))
    for f, r in found:
        key = (r["family"], r["gpus"], r["seed"])
        runs.setdefault(key, []).append((times[f], f.name, r))
    for v in runs.values():
        v.sort(key=lambda t: (t[0], t[1]))
    return runs


def gap(r: dict) -> float:
    """The gap to the run's own bound, in % of the bound (as `packer bench` reports it)."""
    b = float(r["bound"])
    return 100.0 * (b - float(r["objective"])) / b if b > 0 else 0.0


def render(runs: dict[tuple[str, int, int], list[tuple[float, str, dict]]]) -> str:
    lines = ["# Where the batch optimizer's targets stand (issue 16)", ""]
    lines.append("Latest checked CP-SAT run of each report instance, `--workers 2`; gap to that run's bound.")
    lines.append("Built by `python bench/standing.py` from the JSON files under bench/.")
    for gpus, (limit, target) in SETTINGS.items():
        keys = sorted(k for k in runs if k[1] == gpus)
        if not keys:
            continue
        lines += ["", f"## {gpus:,} GPUs, {limit:.0f} s (target: every instance <= {target:g} %"
                  + (", median <= 0.5 %)" if gpus == 1024 else ")"), ""]
        lines.append("| family | seeds measured | median gap % | worst gap % (seed) | over target | latest files |")
        lines.append("|---|---|---:|---:|---|---|")
        families = sorted({k[0] for k in keys})
        all_gaps: list[float] = []
        for fam in families:
            fk = [k for k in keys if k[0] == fam]
            latest = {k[2]: runs[k][-1] for k in fk}
            gaps = {s: gap(r) for s, (_, _, r) in latest.items()}
            all_gaps += gaps.values()
            worst = max(gaps, key=gaps.get)
            over = [f"{s} ({g:.2f})" for s, g in sorted(gaps.items()) if g > target + 1e-9]
            names = sorted({name for _, name, _ in latest.values()})
            lines.append(
                f"| {fam} | {_ranges(sorted(gaps))} | {statistics.median(gaps.values()):.2f} | "
                f"{gaps[worst]:.2f} ({worst}) | {', '.join(over) or 'none'} | {len(names)} file(s) |"
            )
        if all_gaps:
            n_over = sum(g > target + 1e-9 for g in all_gaps)
            lines += ["", f"{len(all_gaps)} instances measured; {n_over} over {target:g} %; "
                      f"median {statistics.median(all_gaps):.2f} %."]
    lines += ["", "## Files each instance's latest run comes from", ""]
    for key in sorted(runs):
        t, name, r = runs[key][-1]
        lines.append(f"- {key[0]} {key[1]:,} GPUs seed {key[2]}: {gap(r):.2f} % "
                     f"({r['objective']:.2f} / {r['bound']:.2f}, load {r.get('load')}) from `{name}`"
                     f"; {len(runs[key])} run(s) in all")
    return "\n".join(lines) + "\n"


def _ranges(seeds: list[int]) -> str:
    parts: list[str] = []
    start = prev = None
    for s in seeds:
        if start is None:
            start = prev = s
        elif s == prev + 1:
            prev = s
        else:
            parts.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = s
    if start is not None:
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="100-109", help="report seeds (default 100-109)")
    ap.add_argument("--dir", default=str(HERE), help="folder of packer.bench/v1 JSON files")
    ap.add_argument("--md", help="write the markdown here as well")
    args = ap.parse_args(argv)
    text = render(collect(Path(args.dir), _seeds(args.seeds)))
    sys.stdout.write(text)
    if args.md:
        Path(args.md).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
