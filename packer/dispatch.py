"""Solver dispatch: ``solve(instance, solver=NAME, **options)`` → :class:`~packer.model.Plan`.

Each back end (:mod:`packer.greedy`, :mod:`packer.online`, :mod:`packer.cpsat`) has a ``solver``
module with ``solve(instance, **options)`` and ``OPTIONS``, the names of :data:`packer.options.OPTIONS`
it takes. Back ends are imported only when asked for, so the greedy placer needs no ortools (it also
tries the online placer's file-order plans, which need numba, and does without them where numba is
missing). :func:`get_solver` returns the back end's solve behind the one option check
(:func:`packer.options.check_options`), so the CLI, the benchmark suite and library callers get the
same errors; every plan's ``solver`` block names its back end.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType

from packer.errors import InputError
from packer.model import Instance, Plan
from packer.options import check_options

#: name → module of each back end (with ``solve`` and ``OPTIONS``).
SOLVERS: dict[str, str] = {
    "greedy": "packer.greedy.solver",
    "online": "packer.online.solver",
    "cpsat": "packer.cpsat.solver",
}


def _module(name: str) -> ModuleType:
    target = SOLVERS.get(name)
    if target is None:
        raise InputError(f"unknown solver {name!r}; choose one of {sorted(SOLVERS)}", field="--solver")
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("packer"):
            raise InputError(f"solver {name!r} is not available in this build", field="--solver") from None
        raise


def accepted_options(name: str) -> frozenset[str]:
    """The options back end ``name`` takes (its module's ``OPTIONS``)."""
    return frozenset(_module(name).OPTIONS)


def get_solver(name: str) -> Callable[..., Plan]:
    """The solve function of back end ``name``, behind the option check of :mod:`packer.options`."""
    mod = _module(name)
    accepts = frozenset(mod.OPTIONS)
    solve_fn = mod.solve

    def solve_checked(instance: Instance, **options: object) -> Plan:
        return solve_fn(instance, **check_options(name, accepts, options))  # type: ignore[no-any-return]

    solve_checked.__doc__ = solve_fn.__doc__
    solve_checked.__name__ = f"{name}_solve"
    return solve_checked


def solve(instance: Instance, solver: str = "greedy", **options: object) -> Plan:
    """Places ``instance``'s requests with back end ``solver``; ``options`` as in :mod:`packer.options`."""
    return get_solver(solver)(instance, **options)


__all__ = ["SOLVERS", "accepted_options", "get_solver", "solve"]
