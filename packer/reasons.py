"""Why a request is unplaced: one code per binding rule and one wording, shared by every solver.

SPEC's ``unplaced[].reason`` is free text. Here it is always ``"<code>: <detail>"``: the code says
which rule binds (:data:`CODES`, in the order solvers test them), the detail names what is missing,
how much, and where the best place was, so a person can act on it. Solvers decide *which* rule binds
(each from its own state); this module only words it, so the same situation reads the same whether
the greedy, the online placer or CP-SAT left the request out.
"""

from __future__ import annotations

from collections.abc import Iterable

from packer.model import MODE_OF_KIND, Request

#: No GPU of a model the request allows (in a mode that can hold it, with a profile that serves it).
MODEL = "model"
#: The tenant's quota (``max_gpus``) has too little left.
QUOTA = "quota"
#: Tenant isolation (gpu or node) closes the GPUs or nodes that have room.
ISOLATION = "isolation"
#: GPUs have room but their nodes lack CPU or memory.
HOST = "host resources"
#: Too little free capacity of the request's kind on the allowed models.
CAPACITY = "capacity"
#: A required locality: no single domain of the level has room for the whole request.
LOCALITY = "locality"
#: The spread limit per domain leaves too few places.
SPREAD = "spread"
#: Everything would fit, but an optimizer gave the room to requests worth more.
OBJECTIVE = "objective"
#: The solver ran out of time before it tried the request.
TIME_LIMIT = "time limit"
#: The request was never given to the solver (an online placer's snapshot).
NOT_SUBMITTED = "not submitted"

#: Every code, in the order the solvers test the rules.
CODES = (MODEL, QUOTA, ISOLATION, HOST, CAPACITY, LOCALITY, SPREAD, OBJECTIVE, TIME_LIMIT, NOT_SUBMITTED)


def reason(code: str, detail: str) -> str:
    """``"code: detail"``; raises ValueError for a code not in :data:`CODES`."""
    if code not in CODES:
        raise ValueError(f"unknown unplaced-reason code {code!r}; codes are {CODES}")
    return f"{code}: {detail}"


def code_of(text: str) -> str | None:
    """The code a reason starts with, or None for text that is not worded by this module."""
    head = text.split(":", 1)[0]
    return head if head in CODES else None


def what(req: Request) -> str:
    """The request's units in words, plural: ``MIG 3g.40gb instances``, ``250-milli shares``, …"""
    if req.kind == "host":
        return f"host units ({req.cpu_milli} milli-CPU, {req.memory_mib} MiB each)"
    if req.kind == "mig":
        return f"MIG {req.profile or f'{req.slices}-slice'} instances"
    if req.kind == "gpu":
        return "whole GPUs"
    return f"{req.gpu_milli}-milli shares"


def no_nodes() -> str:
    """The cluster has no node at all."""
    return reason(CAPACITY, "the cluster has no nodes")


def no_model(req: Request, present: Iterable[str] = (), *, why: str = "absent") -> str:
    """No GPU can hold the request. ``why``: ``absent`` (no node has a model the request allows),
    ``profile`` (the allowed models present have no profile that serves it) or ``mode`` (no GPU of
    an allowed model is in, or can be turned to, the mode its kind needs). ``present``: the models of
    the cluster, named in the detail."""
    have = sorted(set(present))
    there = f" (the cluster has {', '.join(have) or 'no GPUs'})"
    if why == "mode":
        return reason(MODEL, f"no GPU of an allowed model can be in {MODE_OF_KIND[req.kind]} mode for "
                             f"{what(req)}{there}")
    if why == "profile":
        return reason(MODEL, f"no GPU model this request allows has a profile for its {what(req)}{there}")
    if why != "absent":
        raise ValueError(f"unknown why {why!r}: absent, profile or mode")
    allows = f"allows only {', '.join(req.gpu_models)}" if req.gpu_models else "allows any model"
    return reason(MODEL, f"no node has a GPU model this request allows (it {allows}){there}")


def quota(tenant: str, used: float, limit: float, needs: float) -> str:
    """The tenant has used ``used`` of ``limit`` GPU-equivalents; the request needs ``needs`` more."""
    left = max(0.0, limit - used)
    return reason(QUOTA, f"tenant {tenant} uses {used:.3g} of its {limit:g} GPU-equivalents ({left:.3g} left); "
                         f"this request needs {needs:.3g} more")


def isolation(req: Request, fit: int, need: int, *, without: int | None = None) -> str:
    """Only ``fit`` of ``need`` units fit where tenant isolation lets the tenant go (``without``
    isolation: how many would fit, when the solver knows)."""
    more = f" ({without} would fit without isolation)" if without is not None else ""
    return reason(ISOLATION, f"only {fit} of {need} {what(req)} fit on the GPUs and nodes that tenant isolation "
                             f"leaves open to tenant {req.tenant}{more}")


def host_resources(req: Request, fit: int, need: int, *, without: int | None = None) -> str:
    """Only ``fit`` of ``need`` units fit with the CPU and memory left on their nodes."""
    more = f"; {without} would fit on GPUs alone" if without is not None else ""
    return reason(HOST, f"only {fit} of {need} {what(req)} fit with the CPU and memory left "
                        f"({req.cpu_milli} milli-CPU and {req.memory_mib} MiB each){more}")


def capacity(req: Request, fit: int, need: int) -> str:
    """Only ``fit`` of ``need`` units fit in the free capacity of the allowed models (within the
    request's spread limit, which the detail names)."""
    extra = ""
    if req.spread is not None:
        extra = f" with at most {req.spread.max_per_domain} per {req.spread.level}"
    where = "on the nodes" if req.kind == "host" else "in the free capacity of the allowed models"
    return reason(CAPACITY, f"only {fit} of {need} {what(req)} fit {where}{extra}")


def locality(req: Request, level: str, best: int, need: int, *, cluster: int | None = None) -> str:
    """A required locality at ``level``: the best domain holds ``best`` of the ``need`` units
    (``cluster``: how many fit in the whole cluster, when the solver knows)."""
    more = f"; {cluster} fit in the whole cluster" if cluster is not None else ""
    return reason(LOCALITY, f"no {level} has room for {need} {what(req)} (the best {level} holds {best}{more})")


def spread(req: Request) -> str:
    """The spread limit leaves too few places (everything else would fit)."""
    assert req.spread is not None
    return reason(SPREAD, f"at most {req.spread.max_per_domain} per {req.spread.level} leaves too few places "
                          f"for {req.need_count} {what(req)}")


def objective(req: Request) -> str:
    """Everything fits on its own, but the optimizer used the room for requests worth more."""
    room = "CPU and memory" if req.kind == "host" else "capacity"
    return reason(OBJECTIVE, f"the remaining {room} is worth more to other requests")


def time_limit(solver: str, seconds: float) -> str:
    """The solver stopped at its time limit before it tried this request."""
    return reason(TIME_LIMIT, f"the {solver} stopped after {seconds:g} s, before trying this request")


def unexplained(solver: str, seconds: float) -> str:
    """The solver left this request unplaced, and its time limit ended before it found which rule binds."""
    return reason(TIME_LIMIT, f"left unplaced by the {solver}, whose {seconds:g} s ended before the binding rule was found")


def claim(tenant: str, nodes: int, room: float, fill: float) -> str:
    """A node-isolated tenant was kept off ``nodes`` more nodes whose idle ``room`` (GPU-equivalents)
    its own remaining requests fill only ``fill`` of while other tenants want it."""
    return reason(ISOLATION, f"tenant {tenant} would take {nodes} more node(s), leaving {room:.2f} GPUs of room "
                             f"that its remaining requests fill only {fill:.2f} of and others want")


def node_budget(tenant: str, nodes: int) -> str:
    """A node-isolated tenant was held to the ``nodes`` nodes planned for it, and the request did
    not fit on the ones it holds (the room more nodes would leave idle is others')."""
    return reason(ISOLATION, f"tenant {tenant} is node-isolated and held to {nodes} node(s) so that other "
                             f"tenants get the rest; the request does not fit on the nodes it holds")


def not_submitted(solver: str) -> str:
    """The request was never given to the (online) solver."""
    return reason(NOT_SUBMITTED, f"never submitted to the {solver} placer")


__all__ = [
    "CAPACITY", "CODES", "HOST", "ISOLATION", "LOCALITY", "MODEL", "NOT_SUBMITTED", "OBJECTIVE", "QUOTA",
    "SPREAD", "TIME_LIMIT", "capacity", "claim", "code_of", "host_resources", "isolation", "locality",
    "no_model", "no_nodes", "node_budget", "not_submitted", "objective", "quota", "reason", "spread", "time_limit", "unexplained",
    "what",
]
