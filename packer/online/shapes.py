"""Requests as the kernels see them: a request *shape* (kind, profile choices, allowed models, host
needs, tenant) turned into kernel vectors once and cached, so placing many requests of one shape
costs one dictionary lookup each."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from packer.catalog import GpuModel
from packer.model import MILLI_PER_GPU, Instance, Request
from packer.online.state import (
    ISO_CODE,
    K_GPU,
    K_MIG,
    KIND_CODE,
    NRQ,
    R_COUNT,
    R_CPU,
    R_EQ,
    R_GPUMAX,
    R_KIND,
    R_MEM,
    R_MILLI,
    R_NEED,
    R_PODCPU,
    R_PODGPU,
    R_POLICY,
    R_TAG,
    R_TENANT,
    R_TISO,
    tag_of,
)

#: "No limit" for the per-GPU unit cap of MIG requests (R_GPUMAX).
UNLIMITED = 1 << 30


@dataclass
class Shape:
    """One request shape in kernel form.

    ``rq`` int64 [NRQ]: the request vector (columns ``R_*`` of :mod:`packer.online.state`);
    ``rprof`` int64 [M, C]: per GPU model, the MIG profiles that serve the request in order of
    preference (-1 padded); ``modelok`` uint8 [M]: models the request may use; ``unit_sizes``:
    the (smallest, largest) GPU-equivalents one unit can have.
    """

    rq: np.ndarray
    rprof: np.ndarray
    modelok: np.ndarray
    unit_sizes: tuple[float, float]


class Shapes:
    """The cache of :class:`Shape` for one placer (its instance, models, tenants and policy)."""

    def __init__(self, inst: Instance, models: list[GpuModel], num_profiles: int, policy_code: int) -> None:
        self.inst = inst
        self.models = models
        self.num_profiles = max(num_profiles, 1)
        self.policy_code = policy_code
        self.tenant_ix = {t: i for i, t in enumerate(inst.tenant_map)}
        self._cache: dict[tuple, Shape] = {}  # type: ignore[type-arg]

    def of(self, req: Request) -> Shape:
        """The shape of ``req`` (built on first use)."""
        key = (req.kind, req.profile, req.slices, req.min_memory_gib, req.gpu_models, req.gpu_milli,
               req.cpu_milli, req.memory_mib, req.tenant, req.count, req.need_count)
        sh = self._cache.get(key)
        if sh is None:
            sh = self._cache[key] = self._build(req)
        return sh

    def _build(self, req: Request) -> Shape:
        inst = self.inst
        nm = max(len(self.models), 1)
        rprof = np.full((nm, self.num_profiles), -1, dtype=np.int64)
        modelok = np.zeros(nm, dtype=np.uint8)
        allowed = inst.allowed_models(req)
        sizes: list[float] = []
        for mi, m in enumerate(self.models):
            if allowed is not None and m.name not in allowed:
                continue
            modelok[mi] = 1
            if req.kind == "mig":
                for k, p in enumerate(inst.profile_choices(req, m)):
                    rprof[mi, k] = p.index
                    sizes.append(inst.unit_size_on(req, m, p.name))
        kind = KIND_CODE[req.kind]
        milli = MILLI_PER_GPU if kind == K_GPU else (req.gpu_milli or 0)
        if kind != K_MIG:
            sizes.append(inst.unit_size_on(req, None))
        tenant = inst.tenant_map[req.tenant]
        rq = np.zeros(NRQ, dtype=np.int64)
        rq[R_KIND] = kind
        rq[R_MILLI] = milli
        rq[R_CPU] = req.cpu_milli
        rq[R_MEM] = req.memory_mib
        rq[R_TENANT] = self.tenant_ix[req.tenant]
        rq[R_TISO] = ISO_CODE[tenant.isolation]
        rq[R_GPUMAX] = 1 if kind != K_MIG else UNLIMITED
        rq[R_POLICY] = self.policy_code
        eq = int(round(MILLI_PER_GPU * (min(sizes) if sizes else 0)))
        rq[R_EQ] = eq
        rq[R_PODGPU] = eq * req.count
        rq[R_PODCPU] = req.cpu_milli * req.count
        rq[R_TAG] = tag_of(kind, milli, req.count)
        rq[R_COUNT] = req.count
        rq[R_NEED] = req.need_count
        return Shape(rq, rprof, modelok, (min(sizes) if sizes else 0.0, max(sizes) if sizes else 0.0))


__all__ = ["UNLIMITED", "Shape", "Shapes"]
