"""CLI subcommand ``packer reoptimize``: the value-versus-migrations curve of a running cluster.

``packer reoptimize STATE.json --budgets 0,8,32,128,all -o DIR [--time-limit S] [--workers N]``
solves each migration budget (:func:`packer.cpsat.reopt.curve`), writes one plan per budget into DIR
(``plan-<budget>.json``) and the table as ``curve.json``, and prints the table: budget, objective,
bound, gap, migrations, utilization. Every plan is checked (:mod:`packer.check`) before it is written.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from packer.errors import InputError


def register(subparsers: Any) -> None:
    """Adds ``reoptimize`` to an argparse subparsers object (``func`` returns the exit code)."""
    p = subparsers.add_parser(
        "reoptimize", help="re-optimize a running cluster under migration budgets (value vs migrations)",
        description="Solves STATE (an instance with running work, movable where allowed) once per migration "
                    "budget, each budget starting from the plan of the one before, and prints objective, "
                    "proven bound, gap, migrations and utilization per budget.",
    )
    p.add_argument("instance", metavar="STATE", help="instance file with running placements")
    p.add_argument("--budgets", default="0,8,32,128,all",
                   help="comma list of migration budgets; 'all' for no limit (default 0,8,32,128,all)")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="folder for plan-<budget>.json and curve.json")
    p.add_argument("--time-limit", type=float, default=60.0, help="seconds per budget (default 60)")
    p.add_argument("--workers", type=int, default=None, help="CP-SAT workers (default: all cores)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--catalog", action="append", default=[], help="extra catalog file(s)")
    p.add_argument("--json", action="store_true", help="print the table as JSON instead of text")
    p.set_defaults(func=run)


def parse_budgets(text: str) -> list[int | None]:
    """``"0,8,all"`` → ``[0, 8, None]``; raises InputError naming ``--budgets`` on anything else."""
    out: list[int | None] = []
    for part in (x.strip() for x in text.split(",")):
        if not part:
            continue
        if part.lower() in ("all", "none", "inf"):
            out.append(None)
            continue
        try:
            b = int(part)
        except ValueError:
            raise InputError(f"{part!r} is not a number of migrations or 'all'", field="--budgets") from None
        if b < 0:
            raise InputError(f"{b} is negative", field="--budgets")
        out.append(b)
    if not out:
        raise InputError("no budget given", field="--budgets")
    return list(dict.fromkeys(out))


def run(args: argparse.Namespace) -> int:
    from packer.check import check
    from packer.cli import _load_instance
    from packer.cpsat.reopt import curve
    from packer.formats import save_plan, write_text_atomic

    budgets = parse_budgets(args.budgets)
    if args.time_limit is not None and args.time_limit <= 0:
        raise InputError("must be positive", field="--time-limit")
    inst = _load_instance(args.instance, args.catalog)
    points = curve(inst, budgets, time_limit=args.time_limit, seed=args.seed, workers=args.workers)
    bad = []
    for pt in points:
        rep = check(inst, pt.plan)
        if not rep.ok:  # never expected: every plan is built to pass; refuse to write one that does not
            bad.append(("all" if pt.budget is None else pt.budget, [v.kind for v in rep.violations][:5]))
    if bad:
        raise RuntimeError(f"reoptimize produced invalid plans (a bug): {bad}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for pt in points:
        name = f"plan-{'all' if pt.budget is None else pt.budget}.json"
        save_plan(pt.plan, out / name)
        rows.append({**pt.row(), "plan": name})
    doc = {"format": "packer.curve/v1", "instance": inst.name, "time_limit_s": args.time_limit, "rows": rows}
    write_text_atomic(out / "curve.json", json.dumps(doc, indent=2) + "\n")
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(format_table(rows))
    return 0


def format_table(rows: list[dict[str, Any]]) -> str:
    """The curve as an aligned text table."""
    head = ["budget", "objective", "bound", "gap", "migrations", "utilization", "wall_s"]
    lines = [head]
    for r in rows:
        gap = "-" if r["gap"] is None else f"{100 * r['gap']:.2f}%"
        bound = "-" if r["bound"] is None else f"{r['bound']:.2f}"
        lines.append([str(r["budget"]), f"{r['objective']:.2f}", bound, gap, str(r["migrations"]),
                      f"{100 * r['utilization']:.2f}%", f"{r['wall_s']:.1f}"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)) for line in lines)
