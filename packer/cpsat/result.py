"""Turning a CP-SAT search's outcome into a SPEC plan: the GPU modes, the hint re-issued, the fallback."""

from __future__ import annotations

import time
from collections.abc import Mapping

from packer.cpsat.reasons import unplaced_reasons
from packer.model import MODE_OF_KIND, Instance, Plan, Unit
from packer.plans import build_plan, objective_value

NAME = "cpsat"


def modes_of(inst: Instance, placed: Mapping[str, list[Unit]]) -> dict[tuple[str, int], str]:
    """The mode each used ``any`` GPU takes: the mode of the kind of its units."""
    out: dict[tuple[str, int], str] = {}
    for rid, units in placed.items():
        kind = inst.request(rid).kind
        if kind == "host":
            continue
        for u in units:
            out[(u.node, u.gpu)] = MODE_OF_KIND[kind]
    return out


def restamp(inst: Instance, plan: Plan, seed: int, start: float, info: dict[str, object],
             bound: float | None, status: str | None = None) -> Plan:
    """``plan`` (from a fast placer) re-issued under this solver's name, with this solver's bound."""
    placed: dict[str, list[Unit]] = {a.request: list(a.units) for a in plan.assignments}
    modes = {(m.node, m.gpu): m.mode for m in plan.gpu_modes}
    reasons = {u.request: u.reason for u in plan.unplaced}
    if any(r.id not in placed and r.id not in reasons for r in inst.requests):
        reasons = {**unplaced_reasons(inst, placed, modes), **reasons}
    info = {**info, "from_hint": True}
    obj = objective_value(inst, placed)
    if status is None:
        status = "optimal" if bound is not None and obj >= bound - 1e-6 else "feasible"
    return build_plan(inst, solver=NAME, placed=placed, unplaced=reasons, gpu_modes=modes, seed=seed,
                      wall_s=time.perf_counter() - start, bound=bound, status=status, solver_info=info)


def fallback(inst: Instance, hint_plan: Plan | None, seed: int, start: float, info: dict[str, object],
              status: str | None = None, bound: float | None = None) -> Plan:
    """The hint when CP-SAT found nothing in time; else the plan that keeps only running work."""
    if hint_plan is not None and status != "infeasible":
        return restamp(inst, hint_plan, seed, start, info, bound)
    placed = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    reasons = unplaced_reasons(inst, placed, {})
    return build_plan(inst, solver=NAME, placed=placed, unplaced=reasons, seed=seed, bound=bound,
                      wall_s=time.perf_counter() - start, status=status or ("feasible" if placed else "unknown"),
                      solver_info=info)


__all__ = ["NAME", "fallback", "modes_of", "restamp"]
