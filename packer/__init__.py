"""packer: decides where GPU work runs in a multi-tenant GPU cluster.

The library in five names: :func:`load_instance` reads an instance file, :func:`solve` places its
requests with a named solver, :func:`check` judges any plan against the instance, and
:func:`save_plan` writes the result; :func:`freeze` turns a plan's state into the instance of a running
cluster, to re-optimize.
"""

from packer.errors import InputError, PackerError
from packer.formats import load_instance, load_plan, save_instance, save_plan

# Imported here, not lazily: importing the module packer.freeze later would otherwise replace the
# function packer.freeze with the module of the same name.
from packer.freeze import freeze
from packer.model import Instance, Plan, Request

__version__ = "0.1.0"


def solve(instance: Instance, solver: str = "greedy", **options: object) -> Plan:
    """Places ``instance``'s requests with the named solver (see :mod:`packer.dispatch`)."""
    from packer.dispatch import solve as _solve

    return _solve(instance, solver=solver, **options)


def check(instance: Instance, plan: Plan):  # type: ignore[no-untyped-def]
    """Judges ``plan`` against ``instance``; returns a :class:`packer.check.Report`."""
    from packer.check import check as _check

    return _check(instance, plan)


__all__ = [
    "Instance",
    "InputError",
    "PackerError",
    "Plan",
    "Request",
    "__version__",
    "check",
    "freeze",
    "load_instance",
    "load_plan",
    "save_instance",
    "save_plan",
    "solve",
]
