"""packer: decides where GPU work runs in a multi-tenant GPU cluster.

The library in five names: :func:`load_instance` reads an instance file, :func:`solve` places its
requests with a named solver, :func:`check` judges any plan against the instance, and
:func:`save_plan` writes the result; :func:`freeze` turns a plan's state into the instance of a running
cluster, to re-optimize.
"""

# Imported here, not lazily: importing the module packer.freeze (packer.check) later would otherwise
# replace the function packer.freeze (packer.check) with the module of the same name. (Until session 25
# check was a wrapper that imported packer.check on its first call, so a second packer.check(...) call
# found the module and failed.)
from packer.check import check
from packer.errors import InputError, PackerError
from packer.formats import load_instance, load_plan, save_instance, save_plan
from packer.freeze import freeze
from packer.model import Instance, Plan, Request

__version__ = "0.1.0"


def solve(instance: Instance, solver: str = "greedy", **options: object) -> Plan:
    """Places ``instance``'s requests with the named solver (see :mod:`packer.dispatch`).

    The instance is checked first as :func:`load_instance` checks a file (an instance built in code
    may hold what no file could: running work on overlapping MIG slots, an unknown profile): an
    :class:`InputError` naming the field, never a plan built on it."""
    from packer.dispatch import solve as _solve
    from packer.model import validate_instance

    validate_instance(instance)
    return _solve(instance, solver=solver, **options)


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
