"""CLI subcommands: ``packer export migparted|k8s-labels``, ``packer import nvidia-smi|k8s``, ``packer show``.

:func:`register` adds them to the main parser's subparsers; each sets ``func`` to a handler that
returns an exit code. Bad input raises :class:`~packer.errors.InputError` (the CLI exits 2). Export
checks the plan first (``packer.check``) and refuses an invalid one (exit 1) unless ``--no-check``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from packer.errors import InputError

#: Violations that make a plan's GPU layout impossible to apply; others (objective, quota, ...) only warn.
_BLOCKING = frozenset({
    "unknown_request", "duplicate_request", "unknown_gpu", "unit_shape", "mode", "gpu_modes", "profile",
    "mig_start", "mig_overlap", "mig_max_count", "gpu_exclusive", "share_capacity",
})




def _catalog(catalogs: list[str] | None):  # type: ignore[no-untyped-def]
    from packer.catalog import Catalog, load_catalog_file

    cat = Catalog.builtin()
    for f in catalogs or ():
        cat = load_catalog_file(f, cat)
    return cat


def _load(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """(instance, plan or None, layout); checks the plan unless --no-check."""
    from packer.export.layout import cluster_layout
    from packer.formats import load_instance, load_plan


    inst = load_instance(args.instance, args.catalog or ())
    plan = load_plan(args.plan) if args.plan else None
    if plan is not None and plan.instance != inst.name:
        print(f"packer: warning: plan is for instance {plan.instance!r}, not {inst.name!r}", file=sys.stderr)
    if plan is not None and not getattr(args, "no_check", True):
        from packer.check import check

        report = check(inst, plan)
        if not report.ok:
            print(report.format(), file=sys.stderr)
            if report.kinds() & _BLOCKING:
                print("packer: the plan cannot be laid out on the GPUs; nothing written (--no-check exports "
                      "anyway)", file=sys.stderr)
                return inst, plan, None
            print("packer: warning: exporting a plan with the violations above (its GPU layout is sound)",
                  file=sys.stderr)
    try:
        layout = cluster_layout(inst, plan)
    except InputError as e:
        raise e.with_file(args.plan or args.instance) from None
    return inst, plan, layout


def _write(path: str | None, text: str) -> None:
    from packer.formats import write_text_atomic

    if path is None or path == "-":
        sys.stdout.write(text)
    else:
        write_text_atomic(path, text)


def _cmd_export_migparted(args: argparse.Namespace) -> int:
    from packer.export.migparted import export_migparted

    inst, plan, layout = _load(args)
    if layout is None:
        return 1
    ex = export_migparted(inst, layout, per=args.per, plan=plan)
    _write(args.output, ex.to_yaml())
    if args.orders:
        _write(args.orders, json.dumps(ex.orders_json(), indent=1) + "\n")
    if args.output not in (None, "-"):
        exact = sum(1 for o in ex.orders if o.migparted_matches)
        by_order = sum(1 for o in ex.orders if o.order is not None and not o.migparted_matches)
        none = sum(1 for o in ex.orders if o.order is None)
        print(
            f"{len(ex.configs)} configs for {len(ex.node_config)} nodes -> {args.output}; MIG GPUs: {exact} "
            f"as planned by mig-parted, {by_order} need a creation order, {none} need explicit placement "
            "(inferred driver rule; see the comments)"
        )
    return 0


def _cmd_export_k8s(args: argparse.Namespace) -> int:
    from packer.export.k8s import export_k8s_labels, kubectl_script
    from packer.export.migparted import export_migparted

    inst, plan, layout = _load(args)
    if layout is None:
        return 1
    ex = export_migparted(inst, layout, per=args.per, plan=plan)
    labels = export_k8s_labels(inst, layout, ex)
    out = args.output
    if out is not None and Path(out).suffix == ".sh":
        _write(out, kubectl_script(labels))
    else:
        _write(out, json.dumps(labels, indent=1) + "\n")
    if args.migparted:
        _write(args.migparted, ex.to_yaml())
    return 0


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", file=path) from None


def _per(values: list[Any] | None, n: int, what: str) -> list[Any]:
    if not values:
        return [None] * n
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise InputError(f"give {what} once or once per --lgi file ({n})", field=what)
    return values


def _running_form(inst: Any, args: argparse.Namespace) -> Any:
    """The imported state in the form ``packer freeze`` writes: modes fixed, movable and costs by rule."""
    from packer.freeze import fix_modes, mark_running
    from packer.moves.commands import rule_options

    return mark_running(fix_modes(inst), **rule_options(args, "none"))


def _cmd_import_smi(args: argparse.Namespace) -> int:
    from packer.export.smi import SmiNode, instance_from_nvidia_smi
    from packer.formats import dumps, instance_to_dict
    from packer.model import validate_instance

    files = args.lgi
    n = len(files)
    node_ids = args.node or ([f"n{i}" for i in range(n)] if n > 1 else ["n0"])
    if len(node_ids) != n:
        raise InputError(f"give --node once per --lgi file ({n})", field="--node")
    models = _per(args.model, n, "--model")
    lists = _per(args.list, n, "--list")
    nums = _per(args.num_gpus, n, "--num-gpus")
    nodes = [
        SmiNode(id=node_ids[i], lgi_text=_read_text(files[i]), model=models[i],
                list_text=_read_text(lists[i]) if lists[i] else None, num_gpus=nums[i], file=files[i])
        for i in range(n)
    ]
    inst = instance_from_nvidia_smi(nodes, name=args.name, catalog=_catalog(args.catalog), group=args.group)
    validate_instance(inst, file=files[0])
    _write(args.output, dumps(instance_to_dict(_running_form(inst, args))))
    return 0


def _cmd_import_k8s(args: argparse.Namespace) -> int:
    from packer.export.k8s import instance_from_k8s
    from packer.formats import dumps, instance_to_dict, read_json
    from packer.model import validate_instance

    data = read_json(args.nodes)
    configs = None
    if args.migparted:
        from packer.export.migparted import load_migparted_text

        configs = load_migparted_text(_read_text(args.migparted), file=args.migparted)
    inst = instance_from_k8s(data, file=args.nodes, name=args.name, catalog=_catalog(args.catalog),
                             model=args.model, group=args.group, configs=configs)
    validate_instance(inst, file=args.nodes)
    _write(args.output, dumps(instance_to_dict(_running_form(inst, args))))
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from packer.show import render_html, render_png, render_svg, summary_table

    inst, plan, layout = _load(args)
    assert layout is not None
    if args.output:
        suffix = Path(args.output).suffix.lower()
        if suffix == ".svg":
            _write(args.output, render_svg(layout, plan))
        elif suffix in (".html", ".htm"):
            _write(args.output, render_html(layout, plan))
        elif suffix == ".png":
            render_png(layout, args.output, plan)
        else:
            raise InputError("output must end in .svg, .html or .png", file=args.output)
    if args.tree:
        from packer.show import topology_tree

        sys.stdout.write(topology_tree(layout))
    if args.table or not (args.output or args.tree):
        sys.stdout.write(summary_table(layout, plan))
    return 0


def _plan_args(p: argparse.ArgumentParser, *, check: bool = True) -> None:
    p.add_argument("plan", nargs="?", help="plan file (without it: the instance's running placements)")
    p.add_argument("--instance", required=True, help="instance file the plan is for")
    p.add_argument("--catalog", action="append", help="extra GPU catalog JSON (repeatable)")
    if check:
        p.add_argument("--no-check", action="store_true", help="export even if packer check finds violations")


def _import_args(p: argparse.ArgumentParser, name: str) -> None:
    """The options both import commands share."""
    p.add_argument("--group", action="store_true", help="one request per (node, profile), not per instance")
    from packer.moves.commands import add_rule_args

    add_rule_args(p, default="none")
    p.add_argument("--name", default=name, help="instance name")
    p.add_argument("--catalog", action="append", help="extra GPU catalog JSON (repeatable)")
    p.add_argument("-o", "--output", help="instance JSON to write (default: stdout)")


def register(subparsers: Any) -> None:
    """Adds ``export``, ``import`` and ``show`` to the ``packer`` command."""
    exp = subparsers.add_parser("export", help="write mig-parted configs or Kubernetes labels for a plan")
    esub = exp.add_subparsers(dest="export_command", required=True)

    p = esub.add_parser("migparted", help="mig-parted config (YAML) with per-GPU creation-order notes")
    _plan_args(p)
    p.add_argument("-o", "--output", help="YAML file to write (default: stdout)")
    p.add_argument("--per", choices=["node", "layout"], default="node",
                   help="one config per node (default) or per distinct node layout")
    p.add_argument("--orders", help="also write the per-GPU creation orders as JSON")
    p.set_defaults(func=_cmd_export_migparted)

    p = esub.add_parser("k8s-labels", help="GPU Operator node labels (JSON, or a kubectl script for .sh)")
    _plan_args(p)
    p.add_argument("-o", "--output", help="labels JSON, or a .sh kubectl script (default: JSON on stdout)")
    p.add_argument("--per", choices=["node", "layout"], default="node",
                   help="config naming, as for export migparted")
    p.add_argument("--migparted", help="also write the mig-parted config the labels refer to")
    p.set_defaults(func=_cmd_export_k8s)

    imp = subparsers.add_parser(
        "import", help="read cluster state (nvidia-smi, Kubernetes) into an instance",
        description="Running MIG instances become running requests (with placement) of tenant 'default': "
        "neither nvidia-smi nor node labels know tenants. Node labels carry counts, not starts; starts are "
        "what mig-parted is predicted to create (an inferred driver rule), or come from --migparted.")
    isub = imp.add_subparsers(dest="import_command", required=True)

    p = isub.add_parser("nvidia-smi", help="instance from `nvidia-smi mig -lgi` output, one file per node")
    p.add_argument("--lgi", action="append", required=True, help="`nvidia-smi mig -lgi` output (repeat per node)")
    p.add_argument("--node", action="append", help="node id for each --lgi (default n0, n1, ...)")
    p.add_argument("--model", action="append", help="GPU model (once, or once per --lgi)")
    p.add_argument("--list", action="append", help="`nvidia-smi -L` output (GPU count and model)")
    p.add_argument("--num-gpus", action="append", type=int, help="GPUs per node (once, or once per --lgi)")
    _import_args(p, "nvidia-smi")
    p.set_defaults(func=_cmd_import_smi)

    p = isub.add_parser("k8s", help="instance from `kubectl get nodes -o json` (or a node's labels)")
    p.add_argument("nodes", help="JSON file")
    p.add_argument("--model", help="GPU model for every node (when gpu.product is not in the catalog)")
    p.add_argument("--migparted", help="mig-parted config the nodes' nvidia.com/mig.config names (per-GPU layout)")
    _import_args(p, "k8s")
    p.set_defaults(func=_cmd_import_k8s)

    p = subparsers.add_parser("show", help="draw a plan (SVG, HTML, PNG) or print a summary table")
    _plan_args(p, check=False)
    p.add_argument("-o", "--output", help="picture to write: .svg, .html or .png (PNG needs matplotlib)")
    p.add_argument("--table", action="store_true", help="print the summary table (default when no -o)")
    p.add_argument("--tree", action="store_true",
                   help="print the topology tree (cluster → … → node) with GPUs and utilization per domain")
    p.set_defaults(func=_cmd_show)


__all__ = ["register"]
