"""``packer solve --solver online``: the online placer run over a whole instance, one request at a time."""

from __future__ import annotations

import time

from packer import reasons
from packer.errors import InputError
from packer.model import Instance, Plan
from packer.online.placer import OnlinePlacer, requests_in_order
from packer.online.policies import POLICIES
from packer.online.rollout import DEFAULT_BUDGET, Rollout
from packer.online.warmup import compile_kernels

#: Request orders: file (as listed), size-desc (largest GPU-equivalents first), priority (highest first).
ORDERS = ("file", "size-desc", "priority")

#: The order each policy uses when the caller does not give one.
DEFAULT_ORDER = "file"


#: The options :func:`solve` takes (see :mod:`packer.options`).
OPTIONS = frozenset({"time_limit", "seed", "progress", "policy", "order", "forecast", "rollout"})


def solve(inst: Instance, *, time_limit: float | None = None, seed: int | None = 0, policy: str | None = None,
          order: str | None = None, progress: object = None, forecast: bool | None = None,
          rollout: bool | int | None = None) -> Plan:
    """Places the instance's running requests where they run, then every new request in ``order``.

    ``policy`` names a placement policy of :data:`packer.online.POLICIES` (default ``packer``);
    ``order`` is ``file`` (default), ``size-desc`` or ``priority``. ``time_limit`` is honoured
    between requests: requests not reached in time are unplaced with that reason. ``forecast``
    (default on): the placer is told which requests will arrive (:meth:`OnlinePlacer.expect`, bid
    prices of the ``packer`` policy); off, it places each request knowing only what came before, as a
    scheduler calling :class:`OnlinePlacer` does (the plan's ``solver.forecast`` says which).
    ``rollout`` (the ``packer`` policy with the forecast only; default on): each arrival takes the
    action whose simulated completion of the known rest of the stream is worth most
    (:mod:`packer.online.rollout`); an int is the budget in node-placements (simulated placements × nodes; default
    :data:`~packer.online.rollout.DEFAULT_BUDGET`), False or 0 turns it off. The plan's
    ``solver.rollout`` says what ran.
    """
    if policy is not None and policy not in POLICIES:
        raise InputError(f"unknown policy {policy!r}; choose one of {sorted(POLICIES)}", field="--policy")
    order = order or DEFAULT_ORDER
    if order not in ORDERS:
        raise InputError(f"unknown order {order!r}; choose one of {list(ORDERS)}", field="--order")
    if time_limit is None:  # an untimed solve can afford to compile every kernel once (a timed one compiles what it uses)
        compile_kernels()
    t0 = time.perf_counter()
    reqs = requests_in_order(inst.requests, order, inst)
    budget = _budget(rollout)
    if budget and forecast is not False and (policy or "packer") == "packer":
        ro = Rollout(inst, reqs, seed=seed or 0, budget=budget)
        deadline = None if time_limit is None else t0 + time_limit
        placer = ro.run(deadline=deadline, time_limit=time_limit)
        return placer.snapshot(instance=inst, seed=seed, wall_s=time.perf_counter() - t0,
                               extra_info={"order": order, "forecast": True, "rollout": ro.info.as_dict()})
    placer = OnlinePlacer(inst, policy, seed=seed or 0)
    if forecast is not False:
        placer.expect(reqs)  # the batch knows what will arrive; the order stays the caller's
    update = getattr(progress, "update", None)
    for i, req in enumerate(reqs):
        if update is not None and i % 256 == 0:
            update(done=i, total=len(reqs), note=f"online {placer.policy}")
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            placer.decline(req.id, reasons.time_limit("online placer", time_limit))
            continue
        placer.place(req)
    return placer.snapshot(instance=inst, seed=seed, wall_s=time.perf_counter() - t0,
                           extra_info={"order": order, "forecast": forecast is not False})


def _budget(rollout: bool | int | None) -> int:
    """Simulated placements the rollout may spend (0: no rollout)."""
    if rollout is None or rollout is True:
        return DEFAULT_BUDGET
    if rollout is False:
        return 0
    if int(rollout) < 0:
        raise InputError(f"the rollout budget must be >= 0, not {rollout}", field="--rollout")
    return int(rollout)


__all__ = ["DEFAULT_ORDER", "OPTIONS", "ORDERS", "solve"]
