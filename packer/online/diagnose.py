"""Why the online placer could not place a request, worded by :mod:`packer.reasons` (one wording for
every solver). The placer decides which rule binds from its own state; these functions measure how
much is missing (a second scan of the cluster, tens of microseconds) and word it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from packer import reasons
from packer.model import Request
from packer.online.state import K_MIG, N_ISOT, NO_TENANT, R_CPU, R_GPUMAX, R_KIND, R_MEM

if TYPE_CHECKING:
    from packer.online.placer import OnlinePlacer
    from packer.online.shapes import Shape

#: "No limit" for the per-GPU unit cap of MIG requests.
UNLIMITED = 1 << 30


def no_model(placer: OnlinePlacer, req: Request) -> str:
    """No GPU model in the cluster that the request allows can serve it."""
    return reasons.no_model(req, placer.model_names())


def _required_level(req: Request, skip: tuple[str, ...]) -> str:
    loc = req.locality
    return loc.level if loc is not None and loc.required and loc.level not in skip else "cluster"


def _isolation_note(placer: OnlinePlacer, req: Request) -> str:
    iso = placer.tenant_isolation(req.tenant)
    if iso != "none":
        return f"; tenant {req.tenant} has {iso} isolation"
    if bool((placer.a.n64[:, N_ISOT] != NO_TENANT).any()):
        return "; nodes of node-isolated tenants are closed to it"
    return ""


def units(placer: OnlinePlacer, req: Request, sh: Shape, count: int | None = None) -> str:
    """Why the GPU units of ``req`` (``count`` tried, default all) do not fit now: the required
    locality, the nodes' CPU and memory, or the free capacity (with the tenant's isolation named)."""
    need = req.need_count
    gpu_max = 1 if int(sh.rq[R_KIND]) != K_MIG else UNLIMITED
    limit = count or req.count
    level = _required_level(req, ("gpu", "cluster"))
    dcap = placer.domain_caps(req, sh, limit, level, gpu_max)
    best = int(dcap.max()) if len(dcap) else 0
    if level != "cluster":
        return reasons.locality(req, level, best, need, cluster=int(dcap.sum())) + _isolation_note(placer, req)
    rq = sh.rq.copy()
    rq[R_CPU] = 0
    rq[R_MEM] = 0
    rq[R_GPUMAX] = gpu_max
    caps = np.zeros(len(placer.node_ids), dtype=np.int64)
    placer.kernels.node_caps(placer.kernel_state, rq, sh.rprof, sh.modelok, placer.all_nodes, limit, caps)
    gpu_only = int(caps.sum())
    if gpu_only >= need and best < need and (req.cpu_milli or req.memory_mib):
        return reasons.host_resources(req, best, need, without=gpu_only) + _isolation_note(placer, req)
    return reasons.capacity(req, best, need) + _isolation_note(placer, req)


def host(placer: OnlinePlacer, req: Request) -> str:
    """Why the host units of ``req`` do not fit now (locality or capacity, the isolation named)."""
    need = req.need_count
    level = _required_level(req, ("cluster",))
    dcap = placer.caps_by_domain(req, placer.host_caps(req, req.count), level)
    best = int(dcap.max()) if len(dcap) else 0
    if level != "cluster":
        return reasons.locality(req, level, best, need, cluster=int(dcap.sum())) + _isolation_note(placer, req)
    return reasons.capacity(req, best, need) + _isolation_note(placer, req)


def not_diagnosed(req: Request) -> str:
    """The short reason of ``place(req, explain=False)``: no room, not measured."""
    return reasons.reason(reasons.CAPACITY, f"no room for the {reasons.what(req)} now (not diagnosed)")


def quota(tenant: str, used: float, limit: float, needs: float) -> str:
    """The tenant's ``max_gpus`` leaves too little."""
    return reasons.quota(tenant, used, limit, needs)


def guard(placer: OnlinePlacer, req: Request, opened: int, locked: int, size: float) -> str:
    """The isolation guard declined: the units would open ``opened`` empty nodes (``locked`` GPUs) of a
    node-isolated tenant for ``size`` GPU-equivalents."""
    what = "GPU-equivalents" if size > 0 else "GPU-equivalents (no GPU work)"
    return reasons.reason(reasons.ISOLATION,
                          f"tenant {req.tenant} has node isolation: these units would take {opened} empty nodes "
                          f"({locked} GPUs) for {size:.2f} {what}; the {placer.policy} policy declines "
                          f"(isolation_guard={placer.isolation_guard:g}); relax the spread or use isolation 'gpu'")


__all__ = ["UNLIMITED", "guard", "host", "no_model", "not_diagnosed", "quota", "units"]
