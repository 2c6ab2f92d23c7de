"""The ``packer`` command line (SPEC §5).

Exit codes: 0 success (``solve``: a plan was written, even with unplaced requests; ``check``: the
plan is valid), 1 ``check`` found violations, 2 malformed input anywhere (a message naming the file
and the field, no traceback, nothing written).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from packer import __version__
from packer.errors import InputError
from packer.parallel import add_arguments as add_ray_arguments
from packer.parallel import address_of

#: Modules that add their own subcommands through ``register(subparsers)``.
PLUGINS = (
    "packer.export.commands",
    "packer.replay.commands",
    "packer.benchsuite.commands",
    "packer.moves.commands",
    "packer.reopt_commands",
)


def _load_instance(path: str, catalogs: Sequence[str] | None = ()):  # type: ignore[no-untyped-def]
    """The instance at ``path`` with the ``--catalog`` files' entries (shared by every subcommand)."""
    from packer.formats import load_instance

    return load_instance(path, catalogs or ())


def _cmd_solve(args: argparse.Namespace) -> int:
    """``packer solve``: builds the options from the flags and hands them to :mod:`packer.dispatch`."""
    from packer.dispatch import accepted_options, get_solver
    from packer.formats import save_plan
    from packer.options import check_options
    from packer.progress import Progress

    # Every flag goes in as given (None when not given); dispatch rejects one the back end does not take,
    # checked here before the instance is read.
    options: dict[str, object] = {"time_limit": args.time_limit, "seed": args.seed, "workers": args.workers,
                                  "policy": args.policy, "order": args.order, "ray_address": address_of(args),
                                  "forecast": False if args.no_forecast else None,
                                  "rollout": False if args.no_rollout else args.rollout}
    if options["ray_address"] is not None and args.solver != "cpsat":
        raise InputError("Ray runs the sub-problems of a decomposed cpsat solve: use --solver cpsat",
                         field="--ray-address" if args.ray_address else "--ray")
    accepts = accepted_options(args.solver)
    check_options(args.solver, accepts, options)
    if "progress" in accepts:
        options["progress"] = Progress(args.solver, enabled=False if args.quiet else None)
    inst = _load_instance(args.instance, args.catalog)
    plan = get_solver(args.solver)(inst, **options)
    save_plan(plan, args.output)
    if not args.quiet:
        m = plan.metrics
        print(
            f"{plan.status}: objective {plan.objective:.6g}"
            + (f" (bound {plan.bound:.6g})" if plan.bound is not None else "")
            + f", utilization {100 * float(m.get('utilization', 0) or 0):.2f}%"
            + f", placed {m.get('placed_requests')}, unplaced {m.get('unplaced_requests')}"
            + f", {plan.solver.wall_s}s -> {args.output}"
        )
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from packer.check import check
    from packer.formats import load_plan

    inst = _load_instance(args.instance, args.catalog)
    plan = load_plan(args.plan)
    moves = None
    if args.moves:
        from packer.moves.format import load_moves

        moves = load_moves(args.moves)
    report = check(inst, plan)
    ok = report.ok
    out: dict[str, object] = {
        "ok": report.ok,
        "objective": report.objective,
        "utilization": report.utilization,
        "violations": [{"kind": v.kind, "message": v.message} for v in report.violations],
    }
    text = report.format()
    if moves is not None:
        from packer.check_moves import check_moves

        mrep = check_moves(inst, plan, moves)
        ok = ok and mrep.ok
        out["moves"] = {"ok": mrep.ok, "stats": mrep.stats,
                        "violations": [{"kind": v.kind, "message": v.message} for v in mrep.violations]}
        out["ok"] = ok
        text += "\n" + mrep.format()
    print(json.dumps(out, indent=1) if args.json else text)
    return 0 if ok else 1


def _cmd_schema(args: argparse.Namespace) -> int:
    from packer.model import Instance, Plan
    from packer.moves.format import Moves

    model = {"instance": Instance, "plan": Plan, "moves": Moves}[args.what]
    print(json.dumps(model.model_json_schema(by_alias=True), indent=1))
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from packer.formats import save_instance
    from packer.generate import FAMILIES, SCALABLE, generate

    if args.family not in FAMILIES:
        raise InputError(f"unknown family {args.family!r}; choose one of {list(FAMILIES)}", field="FAMILY")
    if args.nodes is not None and (args.family not in SCALABLE or args.nodes < 1):
        raise InputError(f"--nodes is for the families {', '.join(SCALABLE)} and must be at least 1", field="--nodes")
    if args.demand is not None and not args.demand > 0:
        raise InputError("--demand must be above 0", field="--demand")
    inst = generate(args.family, args.seed, demand=args.demand, nodes=args.nodes)
    save_instance(inst, args.output)
    print(f"{inst.name}: {len(inst.nodes)} nodes, {inst.num_gpus} GPUs, {len(inst.requests)} requests -> {args.output}")
    return 0


def _cmd_catalog(args: argparse.Namespace) -> int:
    from packer.catalog import Catalog, load_catalog_file
    from packer.formats import dumps, write_text_atomic
    from packer.geometry import base_profile_names, geometry

    if args.action == "from-nvidia-smi":
        from packer.nvsmi import catalog_entry

        if not (args.lgip and args.lgipp and args.name):
            raise InputError("from-nvidia-smi needs --lgip FILE --lgipp FILE --name MODEL")
        texts = []
        for f in (args.lgip, args.lgipp):
            try:
                texts.append(Path(f).read_text(encoding="utf-8"))
            except OSError as e:
                raise InputError(f"cannot read: {e.strerror}", file=f) from None
        try:
            entry = catalog_entry(texts[0], texts[1], name=args.name, gpu=args.gpu)
        except InputError as e:
            raise e.with_file(f"{args.lgip} + {args.lgipp}") from None
        text = dumps([entry])
        if args.output:
            write_text_atomic(args.output, text)
        else:
            sys.stdout.write(text)
        return 0
    cat = Catalog.builtin()
    for f in args.catalog or ():
        cat = load_catalog_file(f, cat)
    if args.action == "list":
        for m in cat:
            flag = "inferred" if m.inferred else "confirmed"
            profiles = ", ".join(p.name for p in m.profiles) or "(no MIG)"
            print(f"{m.name:20} {flag:9} {profiles}")
        return 0
    # show MODEL
    if not args.name:
        raise InputError("show needs --name MODEL")
    m = cat.get(args.name)
    if m is None:
        raise InputError(f"unknown GPU model {args.name!r}", field="--name")
    print(f"{m.name}: {m.compute_slices} compute slices, {m.memory_positions} memory positions, "
          f"{'inferred' if m.inferred else 'confirmed'} placements")
    for p in m.profiles:
        print(f"  {p.name:16} compute {p.compute}  size {p.size}  starts {list(p.starts)}  max {p.max_count}"
              + ("  (inferred)" if p.spec.inferred else ""))
    if m.has_mig:
        geo = geometry(m)
        base = base_profile_names(m)
        print(f"  base profiles {base}: {len(geo.geometries(base))} geometries, "
              f"{len(geo.geometries(base, maximal=True))} maximal")
        for g in geo.geometries(base, maximal=True):
            print("    " + " + ".join(f"{c}×{n}" for n, c in g))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``packer`` argument parser: the built-in subcommands, then each of :data:`PLUGINS`' own."""
    parser = argparse.ArgumentParser(prog="packer", description="Places GPU work in multi-tenant GPU clusters.")
    parser.add_argument("--version", action="version", version=f"packer {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("solve", help="place an instance's requests and write a plan")
    p.add_argument("instance")
    p.add_argument("-o", "--output", required=True, help="plan file to write")
    p.add_argument("--solver", default="greedy", help="greedy (default), online or cpsat")
    p.add_argument("--time-limit", type=float, default=None, help="seconds, model building included")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=None, help="CP-SAT search workers")
    p.add_argument("--policy", default=None, help="online placer policy")
    p.add_argument("--order", default=None, help="online placer request order")
    p.add_argument("--no-forecast", action="store_true",
                   help="online: place request by request without knowing the later ones (no bid prices)")
    p.add_argument("--rollout", type=int, default=None, metavar="BUDGET",
                   help="online packer: node-placements (simulated placements x nodes) the rollout over the "
                        "known stream may spend (default 1000000)")
    p.add_argument("--no-rollout", action="store_true",
                   help="online packer: no rollout (the policy alone, with its bid prices)")
    p.add_argument("--catalog", action="append", help="extra GPU catalog JSON (repeatable)")
    p.add_argument("-q", "--quiet", action="store_true")
    add_ray_arguments(p)
    p.set_defaults(func=_cmd_solve)

    p = sub.add_parser("check", help="check a plan against an instance")
    p.add_argument("instance")
    p.add_argument("plan")
    p.add_argument("--catalog", action="append", help="extra GPU catalog JSON (repeatable)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--moves", metavar="MOVES", help="also replay this move sequence (packer.moves/v1) from the "
                   "instance's running state to the plan, checking every step")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("schema", help="print the JSON Schema of instance, plan or move-sequence files")
    p.add_argument("what", choices=["instance", "plan", "moves"])
    p.set_defaults(func=_cmd_schema)

    p = sub.add_parser("generate", help="write a synthetic instance")
    p.add_argument("family", help="tiny, small, xl, or a suite family: haein, training, inference, sharing, "
                   "hetero, tenants, fragmented, adversarial, quota, isolated")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--demand", type=float, default=None, help="GPU-equivalents asked / GPUs")
    p.add_argument("--nodes", type=int, default=None, help="8-GPU nodes (not tiny/small): 8, 128, 2048 give 64, 1,024, 16,384 GPUs")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("catalog", help="list, show or import GPU models and MIG profiles")
    p.add_argument("action", choices=["list", "show", "from-nvidia-smi"])
    p.add_argument("--name", help="model name (show, from-nvidia-smi)")
    p.add_argument("--catalog", action="append", help="extra GPU catalog JSON (repeatable)")
    p.add_argument("--lgip", help="file with `nvidia-smi mig -lgip` output")
    p.add_argument("--lgipp", help="file with `nvidia-smi mig -lgipp` output")
    p.add_argument("--gpu", type=int, default=0, help="GPU index to read from the nvidia-smi output")
    p.add_argument("-o", "--output", help="catalog JSON to write (default: stdout)")
    p.set_defaults(func=_cmd_catalog)

    for name in PLUGINS:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            # A plugin that is not part of this build is skipped; a broken one is not.
            if e.name and name.startswith(e.name):
                continue
            raise
        mod.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``packer`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except InputError as e:
        print(f"packer: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("packer: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
