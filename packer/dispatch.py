"""Solver dispatch: ``solve(instance, solver=NAME, ...)`` → :class:`~packer.model.Plan`.

Each back end lives in its own module and is imported only when asked for, so the greedy placer
needs no ortools (it also tries the online placer's file-order plans, which need numba, and does
without them where numba is missing). Every back end takes ``time_limit`` (seconds, or None) and
``seed``, ignores options it does not know only when they are None, and returns a Plan whose
``solver`` block names it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from packer.errors import InputError
from packer.model import Instance, Plan

#: name → "module:function" of each back end.
SOLVERS: dict[str, str] = {
    "greedy": "packer.greedy:solve",
    "online": "packer.online.solver:solve",
    "cpsat": "packer.cpsat:solve",
}


def get_solver(name: str) -> Callable[..., Plan]:
    """The solve function of back end ``name``."""
    target = SOLVERS.get(name)
    if target is None:
        raise InputError(f"unknown solver {name!r}; choose one of {sorted(SOLVERS)}", field="--solver")
    module, func = target.split(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("packer"):
            raise InputError(f"solver {name!r} is not available in this build", field="--solver") from None
        raise
    return getattr(mod, func)  # type: ignore[no-any-return]


def solve(instance: Instance, solver: str = "greedy", **options: object) -> Plan:
    """Places ``instance``'s requests with back end ``solver``."""
    return get_solver(solver)(instance, **options)


__all__ = ["SOLVERS", "get_solver", "solve"]
