"""The one option protocol of the back ends: every option a solve may take, named once.

Every back end's ``solve(instance, **options)`` takes keyword-only options from :data:`OPTIONS` and
declares which in its module's ``OPTIONS`` frozenset. :func:`check_options` is the one place that
validates them, for the CLI and for library callers alike (through :mod:`packer.dispatch`): an
unknown name is an :class:`~packer.errors.InputError`, and so is an option the back end does not
take when it is given (not None); options left at None that the back end does not take are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet

from packer.errors import InputError

#: Every option name → what it means (the back ends that take it in brackets).
OPTIONS: dict[str, str] = {
    "time_limit": "seconds for the whole solve, model building included; None: no limit [all]",
    "seed": "random seed; the same seed gives the same plan where the back end is reproducible [all]",
    "progress": "a packer.progress.Progress that prints progress lines [all]",
    "workers": "CP-SAT search workers (cores); 1 makes a run reproducible [cpsat]",
    "hint": "warm-start from the greedy and online placers' plans (default on) [cpsat]",
    "aggregate": "group interchangeable GPUs into classes (default on) [cpsat]",
    "params": "CP-SAT parameters, name → value, passed straight through [cpsat]",
    "ray_address": "'local' or a Ray cluster's address: a decomposed solve's sub-problems as Ray tasks [cpsat]",
    "policy": "placement policy of packer.online.POLICIES [online]",
    "order": "request order: file, size-desc or priority [online]",
    "forecast": "the policy knows which requests are still to come (default on in a batch run; off: request "
                "by request, as a scheduler calling the library places them) [online]",
    "rollout": "the packer policy with the forecast simulates the rest of the stream from each candidate "
               "placement and takes the best (default on); an int is its budget in node-placements, "
               "False or 0 turns it off [online]",
}


def flag(name: str) -> str:
    """The command-line flag of option ``name`` (``time_limit`` → ``--time-limit``)."""
    return "--" + name.replace("_", "-")


def check_options(backend: str, accepts: AbstractSet[str], options: Mapping[str, object]) -> dict[str, object]:
    """The options to pass to back end ``backend``, which takes ``accepts``; raises InputError otherwise.

    An unknown name is an error whatever its value; a known option the back end does not take is an
    error when it is not None, and is dropped when it is None.
    """
    out: dict[str, object] = {}
    for name, value in options.items():
        if name not in OPTIONS:
            raise InputError(f"unknown option {name!r}; the options are {sorted(OPTIONS)}", field=flag(name))
        if name in accepts:
            out[name] = value
        elif value is not None:
            takes = ", ".join(sorted(accepts)) or "no options"
            raise InputError(f"the {backend} solver does not take option {name!r} (it takes {takes})",
                             field=flag(name))
    return out


__all__ = ["OPTIONS", "check_options", "flag"]
