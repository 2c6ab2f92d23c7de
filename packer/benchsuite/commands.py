"""The ``packer bench`` subcommand: solvers over the benchmark suite, every plan checked.

Exit codes: 0 every run gave a plan that passed the checker, 1 some run failed (listed), 2 malformed
input (nothing run, nothing written).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from packer.errors import InputError
from packer.parallel import add_arguments as add_ray_arguments
from packer.parallel import address_of

DEFAULT_SOLVERS = "greedy,online,first-fit"


def register(subparsers: Any) -> None:
    """Adds ``bench`` to an argparse subparsers object (``func`` returns the exit code)."""
    p = subparsers.add_parser(
        "bench", help="run solvers over the benchmark suite and tabulate objective, bound, gap and time",
        description="Generates suite instances (families x sizes x seeds), runs each solver on each, checks "
                    "every plan with the independent checker, keeps the results in a JSON file (runs already "
                    "there are skipped, so a long run resumes) and writes markdown tables per family and size.",
    )
    p.add_argument("--families", default="all",
                   help="comma list of families, or 'all' (the suite: haein, training, inference, sharing, "
                        "hetero, tenants, fragmented, adversarial, quota, isolated)")
    p.add_argument("--nodes", default="8", help="comma list of sizes in 8-GPU nodes (8, 128, 2048 give 64, "
                                               "1,024, 16,384 GPUs); default 8")
    p.add_argument("--seeds", default="100-109", help="e.g. 100-109 (the report seeds, default) or 0-4,7")
    p.add_argument("--solvers", default=DEFAULT_SOLVERS,
                   help="comma list of greedy, online (default policy), first-fit, best-fit, fgd (online "
                        f"policies in file order), cpsat, lp (LP bound only); default {DEFAULT_SOLVERS}")
    p.add_argument("--time-limit", type=float, default=None, help="seconds per cpsat (and lp) run")
    p.add_argument("--workers", type=int, default=None, help="CP-SAT workers")
    p.add_argument("--json", dest="json_out", help="results file, read first to skip runs already there")
    p.add_argument("--md", dest="md_out", help="markdown tables to write (all results of the JSON file)")
    p.add_argument("--force", action="store_true", help="rerun runs already in the JSON file")
    p.add_argument("--quiet", action="store_true", help="no progress lines, no summary")
    add_ray_arguments(p)
    p.set_defaults(func=run)


def _list(text: str, field: str) -> list[str]:
    out = [x.strip() for x in text.split(",") if x.strip()]
    if not out:
        raise InputError("empty list", field=field)
    return list(dict.fromkeys(out))


def _ints(text: str, field: str) -> list[int]:
    try:
        return [int(x) for x in _list(text, field)]
    except ValueError:
        raise InputError(f"expected whole numbers, got {text!r}", field=field) from None


def _command(args: argparse.Namespace, families: list[str], nodes: list[int], entries: list[str]) -> str:
    """The `packer bench` command line that makes these results (for the markdown's header)."""
    parts = ["packer", "bench", "--families", "all" if args.families == "all" else ",".join(families),
             "--nodes", ",".join(map(str, nodes)), "--seeds", args.seeds, "--solvers", ",".join(entries)]
    if args.time_limit is not None:
        parts += ["--time-limit", f"{args.time_limit:g}"]
    if args.workers is not None:
        parts += ["--workers", str(args.workers)]
    for flag, value in (("--json", args.json_out), ("--md", args.md_out)):
        if value:
            parts += [flag, value]
    return " ".join(shlex.quote(p) for p in parts)


def run(args: argparse.Namespace) -> int:
    """Validates every argument, then runs the suite (see the module docstring for exit codes)."""
    from packer.benchsuite import ENTRIES, load_results, run_suite
    from packer.benchsuite.runner import is_failure
    from packer.benchsuite.tables import markdown, summary_table
    from packer.formats import write_text_atomic
    from packer.generate import SUITE, generate
    from packer.progress import Progress
    from packer.replay.protocol import parse_seeds

    families = list(SUITE) if args.families == "all" else _list(args.families, "--families")
    for f in families:
        if f not in SUITE:
            raise InputError(f"unknown suite family {f!r}; choose from {', '.join(SUITE)}", field="--families")
    nodes = _ints(args.nodes, "--nodes")
    if any(n < 1 for n in nodes):
        raise InputError("sizes must be at least 1 node", field="--nodes")
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as e:
        raise InputError(str(e), field="--seeds") from None
    entries = _list(args.solvers, "--solvers")
    for e in entries:
        if e not in ENTRIES:
            raise InputError(f"unknown solver {e!r}; choose from {', '.join(ENTRIES)}", field="--solvers")
    if args.time_limit is not None and not args.time_limit > 0:
        raise InputError("must be above 0", field="--time-limit")
    if args.workers is not None and args.workers < 1:
        raise InputError("must be at least 1", field="--workers")
    if args.json_out:
        load_results(args.json_out)  # a malformed results file stops us before anything runs
    generate(families[0], seeds[0], nodes=1)  # a broken install fails here, not after an hour
    options: dict[str, object] = {"time_limit": args.time_limit, "workers": args.workers}
    progress = Progress("bench", enabled=False if args.quiet else None)
    results = run_suite(families, nodes, seeds, entries, options, json_path=args.json_out, force=args.force,
                        progress=progress, ray_address=address_of(args))
    command = _command(args, families, nodes, entries)
    if args.md_out:
        write_text_atomic(args.md_out, markdown(results, command=command))
    if not args.quiet:
        print(summary_table(results))
    failed = [r for r in results if is_failure(r)]
    for r in failed:
        print(f"FAILED {r['key']}: {r.get('error')}", file=sys.stderr)
    return 1 if failed else 0


__all__ = ["register", "run"]
