"""The bound a CP-SAT solve reports: the model's LP, the capacity LP, or a merged relaxation's LP.

A relaxation's model is built under a deadline (:mod:`packer.cpsat.deadline`): a build that runs
past its share is abandoned and the caller reports the capacity bound instead.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from packer.cpsat.bound import capacity_bound, lp_value
from packer.cpsat.data import Data
from packer.cpsat.deadline import BuildAbandoned, Deadline
from packer.cpsat.lpchild import lp_value_in_child
from packer.cpsat.model import CpsatModel
from packer.cpsat.relax import Relaxation, merged_relaxation, typed_relaxation
from packer.model import Instance


def relaxed_bound(inst: Instance, level: str, *, time_limit: float | None = None, typed: bool = False,
                  prepared: tuple[Relaxation, Data] | None = None,
                  clock: Callable[[], float] = time.perf_counter, info: dict[str, object] | None = None,
                  ) -> float | None:
    """The LP bound of ``inst``'s merged-node relaxation at ``level`` (see :mod:`packer.cpsat.relax`).

    ``typed``: the typed relaxation (domains of one make-up merged, with the room rule) instead.
    A proven upper bound on ``inst``'s optimum, or None when the model is not built or the LP does not
    finish in ``time_limit`` (which counts the model's building too: the build checks a deadline
    between its steps and is abandoned once past it). ``prepared``: the relaxation and its data,
    already built (by :func:`relaxation_choice`); ``clock``: the clock of that deadline (tests);
    ``info``: receives ``abandoned`` (the build step where it stopped) when the build is given up.
    """
    deadline = Deadline.after(time_limit, clock)
    if prepared is None:
        relax = typed_relaxation(inst, level) if typed else merged_relaxation(inst, level)
        data = None
    else:
        relax, data = prepared
    try:
        deadline.check("relaxation")
        model = CpsatModel(relax.instance, barred=relax.barred, data=data, deadline=deadline)
    except BuildAbandoned as e:
        if info is not None:
            info["abandoned"] = e.step
        return None
    rem = deadline.left()
    if rem is not None and rem <= 0:
        return None
    return lp_bound(model, rem)


def smaller(a: float | None, b: float | None) -> float | None:
    """The tighter of two upper bounds, either of which may be missing. (An LP stopped at its time limit
    still gives a bound from its duals, possibly looser than the capacity LP's.)"""
    return b if a is None else a if b is None else min(a, b)


def capacity_or_none(inst: Instance, enabled: bool) -> float | None:
    """The capacity LP bound of ``inst`` when ``enabled`` (sub-problems of a decomposition skip it), else None."""
    return capacity_bound(inst) if enabled else None


def lp_bound(model: CpsatModel, time_limit: float | None, form=None) -> float | None:  # type: ignore[no-untyped-def]
    """The HiGHS LP bound of ``model`` in objective units, padded for HiGHS's tolerances.

    From HiGHS's duals (:func:`packer.cpsat.bound.lp_value`: a bound whatever HiGHS's status, and it
    does not wait for the cleanup that badly scaled models never finish). ``form``: the linear form to
    solve (default the model's with its LP-only cuts, :attr:`CpsatModel.bound_form`).
    """
    value = lp_value(model.bound_form if form is None else form, time_limit=time_limit)
    return None if value is None else padded_bound(model, value)


def lp_bound_stoppable(model: CpsatModel, time_limit: float | None, form=None) -> float | None:  # type: ignore[no-untyped-def]
    """:func:`lp_bound`, solved in a child process ended at ``time_limit`` (HiGHS's own limit does not
    stop its cleanup on badly scaled models, see :mod:`packer.cpsat.lpchild`)."""
    value = lp_value_in_child(model.bound_form if form is None else form, time_limit)
    return None if value is None else padded_bound(model, value)


def padded_bound(model: CpsatModel, value: float) -> float:
    """The LP optimum ``value`` (model units) as a bound in objective units, padded for HiGHS's tolerances."""
    # The integer optimum (in scaled integers) is at most the LP optimum.
    safe = math.floor(value + 1e-6 * abs(value) + 1.0)
    return safe / model.data.scale + model.constant


__all__ = ["capacity_or_none", "lp_bound", "lp_bound_stoppable", "padded_bound", "relaxed_bound", "smaller"]
