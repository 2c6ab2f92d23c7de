"""From cluster state to a re-optimization instance: placed work becomes running work.

:func:`freeze` takes an instance and a plan for it and returns the instance of the cluster *after*
the plan: every placed request is running where the plan put it (SPEC §3 ``placement``), movable by
a rule the user gives, with the migration costs the user gives; the requests the plan left out wait
as before; an ``any`` GPU that holds work gets the mode its work needs (SPEC forbids running work
on ``any``); tenants, quotas, topology and objective weights stay as they were. The result is
validated like any instance file, and the plan of "keep everything where it is"
(:func:`running_plan`) passes :func:`packer.check.check` against it.

The same normal form ends the import commands (``packer import nvidia-smi|k8s``):
:func:`mark_running` applies the movable rule and migration costs to an instance's running work,
and :func:`fix_modes` gives every ``any`` GPU that holds running work its mode.

Movable rules (``movable=``):

- ``"all"`` (default) or ``"none"``;
- a mapping with any of ``"tenants"``, ``"kinds"``, ``"requests"`` (lists of ids / kinds): a
  running request is movable when it matches **every** key given (``{"tenants": ["a"], "kinds":
  ["mig"]}``: tenant a's MIG work). Kinds are ``mig``, ``full`` (whole GPUs; ``gpu`` is the same),
  ``share`` (``shared`` is the same) and ``host``;
- any callable ``Request -> bool``.

Migration costs (``migration_cost=``): ``None`` keeps a request's own ``migration_cost`` and
otherwise leaves SPEC's default (``migration_weight`` × its running size); a number gives every
movable running request that cost; a mapping gives costs by request id (others as for ``None``);
a callable ``Request -> float | None`` decides per request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from packer.errors import InputError
from packer.formats import instance_from_dict, instance_to_dict
from packer.model import MODE_OF_KIND, Instance, Plan, Request

MovableRule = str | Mapping[str, Sequence[str]] | Callable[[Request], bool]
CostRule = float | int | Mapping[str, float] | Callable[[Request], float | None] | None

#: Names a movable rule may use for request kinds, and the SPEC kind each stands for.
KIND_NAMES: dict[str, str] = {"mig": "mig", "full": "gpu", "gpu": "gpu", "share": "share", "shared": "share",
                              "host": "host"}
_RULE_KEYS = ("tenants", "kinds", "requests")
#: Checker verdicts that say nothing about where work sits (a plan with them still describes a state).
_NOT_ABOUT_STATE = frozenset({"objective", "bound", "status", "instance_name"})
#: Sentinel: leave ``objective.max_migrations`` as it is.
KEEP = "keep"


def movable_predicate(rule: MovableRule, inst: Instance | None = None) -> Callable[[Request], bool]:
    """The test a running request must pass to be movable under ``rule`` (see the module docstring).

    With ``inst``, tenants and requests the rule names must exist in it (a typo is an error, not
    an empty rule).
    """
    if callable(rule):
        return rule  # type: ignore[return-value]
    if isinstance(rule, str):
        if rule == "all":
            return lambda r: True
        if rule == "none":
            return lambda r: False
        raise InputError(f"unknown movable rule {rule!r}; use all, none, or tenants/kinds/requests",
                         field="movable")
    if not isinstance(rule, Mapping):
        raise InputError(f"a movable rule is 'all', 'none', a mapping or a function, not {type(rule).__name__}",
                         field="movable")
    for key in rule:
        if key not in _RULE_KEYS:
            raise InputError(f"unknown key {key!r}; a movable rule has {list(_RULE_KEYS)}", field=f"movable.{key}")
    tenants = _names(rule, "tenants")
    requests = _names(rule, "requests")
    kinds = None
    if "kinds" in rule:
        kinds = set()
        for k in _names(rule, "kinds") or ():
            if k not in KIND_NAMES:
                raise InputError(f"unknown kind {k!r}; kinds are {sorted(KIND_NAMES)}", field="movable.kinds")
            kinds.add(KIND_NAMES[k])
    if inst is not None:
        for t in tenants or ():
            if t not in inst.tenant_map:
                raise InputError(f"unknown tenant {t!r}", field="movable.tenants")
        for rid in requests or ():
            if rid not in inst.request_index:
                raise InputError(f"unknown request {rid!r}", field="movable.requests")

    def test(r: Request) -> bool:
        return ((tenants is None or r.tenant in tenants) and (kinds is None or r.kind in kinds)
                and (requests is None or r.id in requests))

    return test


def _names(rule: Mapping[str, Sequence[str]], key: str) -> set[str] | None:
    if key not in rule:
        return None
    value = rule[key]
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InputError(f"{key} must be a list of names", field=f"movable.{key}")
    return {str(v) for v in value}


def parse_movable(texts: Sequence[str] | str | None) -> MovableRule:
    """A movable rule from command-line words: ``all``, ``none``, ``tenant:A,B``, ``kind:mig,full``,
    ``request:ID,ID``; several words must all match."""
    if texts is None:
        return "all"
    if isinstance(texts, str):
        texts = [texts]
    if len(texts) == 1 and texts[0] in ("all", "none"):
        return texts[0]
    rule: dict[str, list[str]] = {}
    for text in texts:
        key, sep, rest = text.partition(":")
        plural = {"tenant": "tenants", "kind": "kinds", "request": "requests"}.get(key.strip())
        if not sep or plural is None or not rest.strip():
            raise InputError(f"cannot read {text!r}; use all, none, tenant:A,B, kind:mig,full or request:ID,ID",
                             field="--movable")
        if plural in rule:
            raise InputError(f"{key} given twice", field="--movable")
        rule[plural] = [x.strip() for x in rest.split(",") if x.strip()]
    return rule


def parse_cost(text: str | None) -> float | None:
    """A migration cost from the command line: ``default`` (SPEC's) or a number ≥ 0."""
    if text is None or text == "default":
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"cannot read {text!r}; give a number or 'default'", field="--migration-cost") from None
    if not value >= 0:
        raise InputError("a migration cost is at least 0", field="--migration-cost")
    return value


def _cost_of(rule: CostRule, r: Request) -> float | None:
    if rule is None:
        return r.migration_cost
    if callable(rule):
        got = rule(r)
    elif isinstance(rule, Mapping):
        got = rule.get(r.id, r.migration_cost)
    else:
        got = float(rule)
    if got is not None and not got >= 0:
        raise InputError(f"migration cost {got} of {r.id!r} is negative", field="migration_cost")
    return None if got is None else float(got)


def _mark(data: dict[str, Any], inst: Instance, movable: MovableRule, migration_cost: CostRule,
          max_migrations: int | None | str) -> None:
    """Sets ``movable`` and ``migration_cost`` of the running requests in ``data`` (an instance dict)."""
    test = movable_predicate(movable, inst)
    for rd in data["requests"]:
        if rd.get("placement") is None:
            rd["movable"] = False
            rd["migration_cost"] = None
            continue
        req = Request.model_validate({**rd, "movable": False, "migration_cost": None})
        rd["movable"] = bool(test(req))
        rd["migration_cost"] = _cost_of(migration_cost, Request.model_validate(rd)) if rd["movable"] else None
    if max_migrations != KEEP:
        if max_migrations is not None and (not isinstance(max_migrations, int) or max_migrations < 0):
            raise InputError(f"max_migrations must be a count ≥ 0 or None, not {max_migrations!r}",
                             field="max_migrations")
        data["objective"]["max_migrations"] = max_migrations


def _fix(data: dict[str, Any], inst: Instance, chosen: Mapping[tuple[str, int], str]) -> int:
    """Gives each ``any`` GPU holding running work in ``data`` a mode; returns how many changed."""
    need: dict[tuple[str, int], str] = {}
    for rd in data["requests"]:
        kind = rd["kind"]
        if kind == "host":
            continue
        for u in rd.get("placement") or ():
            if u.get("gpu") is not None:
                need[(u["node"], u["gpu"])] = chosen.get((u["node"], u["gpu"]), MODE_OF_KIND[kind])
    changed = 0
    for nd, node in zip(data["nodes"], inst.nodes):
        modes = [node.gpu_mode(g) for g in range(node.num_gpus)]
        fixed = [need.get((node.id, g), "any") if m == "any" else m for g, m in enumerate(modes)]
        if fixed == modes:
            continue
        changed += sum(1 for a, b in zip(modes, fixed) if a != b)
        if len(set(fixed)) == 1:
            nd["mode"], nd["gpu_modes"] = fixed[0], None
        else:
            nd["gpu_modes"] = fixed
    return changed


def mark_running(inst: Instance, *, movable: MovableRule = "all", migration_cost: CostRule = None,
                 max_migrations: int | None | str = KEEP) -> Instance:
    """``inst`` with its running requests marked movable by ``movable`` and costed by ``migration_cost``.

    Waiting requests are untouched; ``max_migrations`` (unless :data:`KEEP`) replaces the cap.
    """
    data = instance_to_dict(inst)
    _mark(data, inst, movable, migration_cost, max_migrations)
    return instance_from_dict(data, file="<mark_running>")


def fix_modes(inst: Instance) -> Instance:
    """``inst`` with every ``any`` GPU that holds running work put in the mode its work needs.

    ``inst`` may come from :meth:`Instance.model_validate` without the cross-reference checks (which
    reject running work on ``any``); the result passes them.
    """
    data = instance_to_dict(inst)
    _fix(data, inst, {})
    return instance_from_dict(data, file="<fix_modes>")


def freeze(
    instance: Instance,
    plan: Plan,
    *,
    movable: MovableRule = "all",
    migration_cost: CostRule = None,
    max_migrations: int | None | str = KEEP,
    name: str | None = None,
    check: bool = True,
) -> Instance:
    """The instance of the cluster after ``plan``: its placed work running, the rest waiting.

    Every request the plan places becomes a running request at the plan's units (a running request
    the plan moves runs at its destination); requests the plan leaves unplaced keep waiting, with no
    placement. Running requests are movable by ``movable`` and cost ``migration_cost`` to move (module
    docstring). ``any`` GPUs that hold work take the plan's chosen mode. Everything else (tenants,
    quotas, topology, objective weights, request order, the name unless ``name`` is given) is kept;
    ``max_migrations`` replaces the cap unless :data:`KEEP`.

    With ``check`` (default) the plan must pass :func:`packer.check.check` for ``instance`` except
    for its objective, bound and status, which do not change the state. Raises
    :class:`~packer.errors.InputError` for a plan that does not fit.
    """
    if plan.instance != instance.name:
        raise InputError(f"the plan is for instance {plan.instance!r}, not {instance.name!r}", field="instance")
    placed: dict[str, list[dict[str, Any]]] = {}
    for i, a in enumerate(plan.assignments):
        if a.request not in instance.request_index:
            raise InputError(f"unknown request {a.request!r}", field=f"assignments[{i}].request")
        if a.request in placed:
            raise InputError(f"request {a.request!r} is assigned twice", field=f"assignments[{i}].request")
        placed[a.request] = [u.model_dump(mode="json") for u in a.units]
    for r in instance.requests:
        if r.running and r.id not in placed:
            raise InputError(f"running request {r.id!r} is not in the plan's assignments", field="assignments")
    if check:
        from packer.check import check as check_plan

        report = check_plan(instance, plan)
        bad = [v for v in report.violations if v.kind not in _NOT_ABOUT_STATE]
        if bad:
            more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
            raise InputError(f"the plan is not valid for the instance: {bad[0]}{more}", field=bad[0].kind)

    data = instance_to_dict(instance)
    if name is not None:
        data["name"] = name
    for rd in data["requests"]:
        units = placed.get(rd["id"])
        rd["placement"] = units
    chosen = {(m.node, m.gpu): m.mode for m in plan.gpu_modes}
    _fix(data, instance, chosen)
    _mark(data, instance, movable, migration_cost, max_migrations)
    return instance_from_dict(data, file="<freeze>")


def running_plan(inst: Instance, *, reason: str = "waiting (not placed in this state)") -> Plan:
    """The plan that keeps every running request where it runs and places nothing new.

    It moves nothing, so it is valid for every instance whose running work fits together (which
    validation ensures): the zero-migration, zero-new-work baseline of a re-optimization.
    """
    from packer.plans import build_plan

    placed = {r.id: r.placement for r in inst.requests if r.placement is not None}
    unplaced = {r.id: reason for r in inst.requests if r.placement is None}
    return build_plan(inst, solver="running", placed=placed, unplaced=unplaced)  # type: ignore[arg-type]


def summary(inst: Instance) -> dict[str, int]:
    """Counts a person wants after a freeze: running, movable, waiting requests and GPUs in mode any."""
    running = [r for r in inst.requests if r.running]
    return {
        "running": len(running),
        "movable": sum(1 for r in running if r.movable),
        "waiting": len(inst.requests) - len(running),
        "any_gpus": sum(1 for n, g in inst.gpus() if n.gpu_mode(g) == "any"),
    }


__all__ = [
    "KEEP",
    "KIND_NAMES",
    "CostRule",
    "MovableRule",
    "fix_modes",
    "freeze",
    "mark_running",
    "movable_predicate",
    "parse_cost",
    "parse_movable",
    "running_plan",
    "summary",
]
