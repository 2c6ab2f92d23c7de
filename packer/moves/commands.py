"""CLI subcommands for running clusters: ``packer freeze`` (a plan's state → a re-optimization instance)
and ``packer moves`` (the executable move sequence from a running state to a plan).

:func:`register` adds them to the main parser's subparsers; each handler returns an exit code and
raises :class:`~packer.errors.InputError` for bad input (the CLI exits 2, nothing written).
"""

from __future__ import annotations

import argparse
from typing import Any

from packer.errors import InputError


def parse_max_migrations(text: str | None) -> int | None | str:
    """``--max-migrations``: a count, ``none`` (no cap), or absent (keep the instance's)."""
    from packer.freeze import KEEP

    if text is None:
        return KEEP
    if text.lower() in ("none", "null"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"cannot read {text!r}; give a count or 'none'", field="--max-migrations") from None
    if value < 0:
        raise InputError("a migration cap is at least 0", field="--max-migrations")
    return value


def rule_options(args: argparse.Namespace, default: str) -> dict[str, Any]:
    """``movable``, ``migration_cost`` and ``max_migrations`` from the shared options."""
    from packer.freeze import parse_cost, parse_movable

    return {
        "movable": parse_movable(args.movable or [default]),
        "migration_cost": parse_cost(args.migration_cost),
        "max_migrations": parse_max_migrations(args.max_migrations),
    }


def _cli_field(e: InputError, file: str | None) -> InputError:
    field = e.field
    if field is not None and field.startswith("movable"):
        field = "--movable"
    return InputError(e.message, file=file if e.file is None else e.file, field=field)


def _cmd_freeze(args: argparse.Namespace) -> int:
    from packer.formats import load_instance, load_plan, save_instance
    from packer.freeze import freeze, summary


    inst = load_instance(args.instance, args.catalog or ())
    plan = load_plan(args.plan)
    opts = rule_options(args, "all")
    try:
        state = freeze(inst, plan, name=args.name, **opts)
    except InputError as e:
        file = None if (e.field or "").startswith(("movable", "--")) else args.plan
        raise _cli_field(e, file) from None
    save_instance(state, args.output)
    s = summary(state)
    print(f"{state.name}: {s['running']} running ({s['movable']} movable), {s['waiting']} waiting, "
          f"{s['any_gpus']} GPUs still in mode any -> {args.output}")
    return 0


def _cmd_moves(args: argparse.Namespace) -> int:
    from packer.formats import load_instance, load_plan
    from packer.moves.format import save_moves
    from packer.moves.planner import plan_moves


    inst = load_instance(args.instance, args.catalog or ())
    plan = load_plan(args.plan)
    try:
        moves = plan_moves(inst, plan)
    except InputError as e:
        raise InputError(e.message, file=args.plan, field=e.field) from None
    save_moves(moves, args.output)
    s = moves.stats
    print(f"{s['steps']} steps in {s['waves']} waves: {s['moved_requests']} moved ({s['make_before_break']} "
          f"make-before-break, {s['temporary_stops']} temporary stops), {s['new_requests']} started, "
          f"{s['creates']} MIG instances created, {s['destroys']} destroyed, {s['mode_changes']} mode changes "
          f"-> {args.output}")
    if args.export:
        from packer.moves.export import write_wave_exports

        paths = write_wave_exports(inst, moves, args.export)
        print(f"{len(paths)} files (per wave: mig-parted config, shell script) -> {args.export}")
    return 0


def add_rule_args(p: argparse.ArgumentParser, *, default: str) -> None:
    """The options that say which running work may move, and at what cost."""
    p.add_argument("--movable", action="append", nargs="?", const="all", metavar="RULE",
                   help=f"which running requests may move: all, none, tenant:A,B, kind:mig,full,share,host, "
                        f"request:ID,ID (repeat: all must match; --movable alone: all; default {default})")
    p.add_argument("--migration-cost", metavar="X",
                   help="cost of moving each movable request (default: its own, else migration_weight × size)")
    p.add_argument("--max-migrations", metavar="N",
                   help="cap on moved running requests: a count or 'none' (default: keep the instance's)")


def register(subparsers: Any) -> None:
    """Adds ``freeze`` and ``moves`` to the ``packer`` command."""
    p = subparsers.add_parser(
        "freeze", help="a plan's cluster state as a re-optimization instance (placed work running)",
        description="Every request the plan places becomes a running request where the plan put it; the "
        "requests it leaves out keep waiting; 'any' GPUs that hold work get the mode of their work.")
    p.add_argument("plan", help="plan file (its placed work becomes running work)")
    p.add_argument("--instance", required=True, help="instance file the plan is for")
    p.add_argument("-o", "--output", required=True, help="instance JSON to write")
    add_rule_args(p, default="all")
    p.add_argument("--name", help="name of the new instance (default: the instance's)")
    p.add_argument("--catalog", action="append", help="extra GPU catalog JSON (repeatable)")
    p.set_defaults(func=_cmd_freeze)

    p = subparsers.add_parser(
        "moves", help="the executable move sequence (packer.moves/v1) from a running cluster to a plan",
        description="Ordered waves of steps (set_mode, create, destroy, start, stop) whose steps may run in "
        "parallel; every state on the way is valid. Moves are make-before-break where room allows; a "
        "temporary stop says so. Check it with: packer check INSTANCE PLAN --moves MOVES.json")
    p.add_argument("instance", help="instance with running placements (the cluster now, e.g. from packer freeze)")
    p.add_argument("plan", help="the target plan for that instance")
    p.add_argument("-o", "--output", required=True, help="move sequence JSON to write")
    p.add_argument("--export", metavar="DIR", help="also write per-wave mig-parted configs and shell scripts")
    p.add_argument("--catalog", action="append", help="extra GPU catalog JSON (repeatable)")
    p.set_defaults(func=_cmd_moves)


__all__ = ["add_rule_args", "parse_max_migrations", "register", "rule_options"]
