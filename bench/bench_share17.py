"""`packer` with greedy module flags set first (session 17, issue 16: sharing's exchanges).

Runs the ``packer`` command line in this process after setting ``packer.greedy.solver.NAME = VALUE``
for each ``--set NAME=VALUE``, so a ``packer bench`` of main's behaviour and of the branch's run
from the same checkout (CP-SAT's hint calls the greedy in this process)::

    python bench/bench_share17.py --set EXCHANGE=False -- bench --families sharing --nodes 2048 \
        --seeds 100 --solvers cpsat,greedy --time-limit 300 --workers 2 --json OUT.json --md OUT.md --quiet
"""

from __future__ import annotations

import argparse
import ast
import sys

from packer.cli import main as packer_main
from packer.greedy import solver as greedy


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", action="append", default=[], help="NAME=VALUE (a Python literal), repeatable")
    ap.add_argument("rest", nargs=argparse.REMAINDER, help="-- then the packer command line")
    args = ap.parse_args()
    for item in args.set:
        name, _, text = item.partition("=")
        if not hasattr(greedy, name):
            raise SystemExit(f"packer.greedy.solver has no parameter {name!r}")
        setattr(greedy, name, ast.literal_eval(text))
        print(f"greedy.{name} = {getattr(greedy, name)!r}", flush=True)
    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
    return packer_main(rest)


if __name__ == "__main__":
    sys.exit(main())
