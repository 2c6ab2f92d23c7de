"""The SPEC §4 objective in integer form: (value placed − migrations − soft-locality penalty) × scale.

Terms are added only when their weight is non-zero. What no decision can change (running work that
cannot move) is kept apart as a float constant and added back when the bound is reported.

Units of ``host`` requests are worth 0 GPU-equivalents; each placed one earns the smallest integer
step (1 / scale) instead, so that host work is placed wherever it costs the GPU work nothing. The
scale leaves room for that tie-break below the GPU objective's smallest step (see ``build_data``),
and it only adds, so CP-SAT's bound stays an upper bound of the SPEC objective.
"""

from __future__ import annotations

from ortools.sat.python import cp_model

from packer.cpsat import variables as _variables
from packer.cpsat.data import Data, scaled, unit_value
from packer.cpsat.variables import Variables
from packer.plans import extra_domains, migration_cost

#: Scaled value of one placed host unit (the tie-break above).
HOST_TIE_BREAK = 1


def set_objective(data: Data, m: cp_model.CpModel, v: Variables) -> float:
    """Sets the maximization objective; returns the constant part (in objective units, unscaled)."""
    inst = data.inst
    s = data.scale
    lw = inst.objective.locality_weight
    terms: list[object] = []
    const = 0.0
    memo: dict[tuple[int, int, object], int] | None = {} if _variables.MEMO else None
    for (gi, ci, o), var in v.x.items():
        r = data.groups[gi].req
        gm = data.classes[ci].model
        key = (gi, id(gm), o)  # the class's model object: the same one for every class of that model
        got = None if memo is None else memo.get(key)
        if got is None:
            got = scaled(r.priority * unit_value(inst, r, gm, o), s)
            if memo is not None:
                memo[key] = got
        coef = got
        if r.kind == "host":
            coef = HOST_TIE_BREAK
        if coef:
            terms.append(coef * var)
    for gr in data.groups:
        r = gr.req
        if r.placement is None:
            continue
        value = r.priority * sum(inst.unit_size(r, u) for u in r.placement)
        penalty = lw * extra_domains(inst, r, r.placement)
        if gr.index in v.stay:
            # Staying earns the running value; moving costs the migration (counted as a constant).
            cost = migration_cost(inst, r)
            const -= cost
            coef = scaled(value - penalty + cost, s)
            if coef:
                terms.append(coef * v.stay[gr.index])
        else:
            const += value - penalty
    if lw > 0:
        wl = scaled(lw, s)
        for u in v.uses.values():
            terms.append(-wl * u)
        for gi, act in v.active.items():
            r = data.groups[gi].req
            if r.locality is not None and not r.locality.required:
                terms.append(wl * act)
    m.maximize(sum(terms))  # type: ignore[arg-type]
    return const
