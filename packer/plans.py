"""What every solver back end needs to turn its answer into a SPEC plan.

Solvers share this module; the checker (:mod:`packer.check`) deliberately does not, so a mistake
here shows up as a checker violation instead of being repeated in both places.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from packer.model import (
    Assignment,
    GpuModeChoice,
    Instance,
    Migration,
    Plan,
    Request,
    SolverInfo,
    Unit,
    Unplaced,
)


def units_equal(a: Sequence[Unit], b: Sequence[Unit]) -> bool:
    """True when two unit lists hold the same units, in any order."""
    return Counter(u.key() for u in a) == Counter(u.key() for u in b)


def request_size(inst: Instance, req: Request, units: Sequence[Unit]) -> float:
    """GPU-equivalents of ``units`` of ``req``."""
    return sum(inst.unit_size(req, u) for u in units)


def migration_cost(inst: Instance, req: Request) -> float:
    """Cost of moving running request ``req``: its own, else migration_weight × its running size."""
    if req.migration_cost is not None:
        return req.migration_cost
    return inst.objective.migration_weight * request_size(inst, req, req.placement or ())


def extra_domains(inst: Instance, req: Request, units: Sequence[Unit]) -> int:
    """For a soft locality: domains used at its level, minus one (0 when none or required)."""
    if req.locality is None or req.locality.required or not units:
        return 0
    level = req.locality.level
    return len({inst.unit_domain(u, level) for u in units}) - 1


def request_value(inst: Instance, req: Request, units: Sequence[Unit]) -> float:
    """One placed request's part of the SPEC §4 objective: its value, less its migration and its
    soft-locality penalty."""
    total = req.priority * request_size(inst, req, units)
    if req.placement is not None and not units_equal(req.placement, units):
        total -= migration_cost(inst, req)
    return total - inst.objective.locality_weight * extra_domains(inst, req, units)


def objective_value(inst: Instance, placed: Mapping[str, Sequence[Unit]]) -> float:
    """SPEC §4 objective of a placement: value placed − migrations − soft-locality penalty."""
    total = 0.0
    for rid, units in placed.items():
        total += request_value(inst, inst.request(rid), units)
    return total


def build_plan(
    inst: Instance,
    *,
    solver: str,
    placed: Mapping[str, Sequence[Unit]],
    unplaced: Mapping[str, str],
    gpu_modes: Mapping[tuple[str, int], str] | None = None,
    seed: int | None = None,
    wall_s: float | None = None,
    bound: float | None = None,
    status: str | None = None,
    solver_info: Mapping[str, object] | None = None,
    metrics: Mapping[str, object] | None = None,
) -> Plan:
    """Assembles a Plan: assignments and unplaced in request order, migrations, modes, metrics.

    ``placed`` maps request id → final units (running requests included); ``unplaced`` maps request
    id → reason. ``gpu_modes`` holds the chosen mode of ``any`` GPUs; only the ones the plan uses
    are written. Without ``status``, a plan is ``optimal`` when its objective meets ``bound``.
    """
    assignments, unplaced_out, migrations = [], [], []
    for req in inst.requests:
        if req.id in placed:
            units = tuple(placed[req.id])
            assignments.append(Assignment(request=req.id, units=units))
            if req.placement is not None and not units_equal(req.placement, units):
                migrations.append(Migration.model_validate({"request": req.id, "from": req.placement, "to": units}))
        elif req.id in unplaced:
            unplaced_out.append(Unplaced(request=req.id, reason=unplaced[req.id]))
        else:
            raise ValueError(f"solver {solver} said nothing about request {req.id}")
    used = {(u.node, u.gpu) for units in placed.values() for u in units}
    modes = []
    for (node, gpu), mode in sorted((gpu_modes or {}).items(), key=lambda kv: (inst.node_index[kv[0][0]], kv[0][1])):
        if (node, gpu) in used and inst.node(node).gpu_mode(gpu) == "any":
            modes.append(GpuModeChoice(node=node, gpu=gpu, mode=mode))  # type: ignore[arg-type]
    objective = objective_value(inst, placed)
    if status is None:
        status = "optimal" if bound is not None and objective >= bound - 1e-6 else "feasible"
    alloc = sum(request_size(inst, inst.request(rid), units) for rid, units in placed.items())
    n = inst.num_gpus
    all_metrics: dict[str, object] = {
        "utilization": round(alloc / n, 6) if n else 0.0,
        "allocated_gpu_equivalents": round(alloc, 6),
        "num_gpus": n,
        "placed_requests": len(assignments),
        "unplaced_requests": len(unplaced_out),
        "migrations": len(migrations),
    }
    if bound is not None:
        all_metrics["gap"] = round(relative_gap(objective, bound), 6)
    all_metrics.update(metrics or {})
    info = {"name": solver, "seed": seed, "wall_s": None if wall_s is None else round(wall_s, 4)}
    info.update(solver_info or {})
    return Plan(
        instance=inst.name,
        status=status,  # type: ignore[arg-type]
        objective=round(objective, 9),
        bound=None if bound is None else round(bound, 9),
        solver=SolverInfo.model_validate(info),
        assignments=tuple(assignments),
        unplaced=tuple(unplaced_out),
        migrations=tuple(migrations),
        gpu_modes=tuple(modes),
        metrics=all_metrics,  # type: ignore[arg-type]
    )


def relative_gap(objective: float, bound: float) -> float:
    """(bound − objective) / max(|bound|, 1e-9), never negative."""
    return max(0.0, bound - objective) / max(abs(bound), 1e-9)


__all__ = [
    "build_plan",
    "extra_domains",
    "migration_cost",
    "objective_value",
    "relative_gap",
    "request_size",
    "request_value",
    "units_equal",
]
