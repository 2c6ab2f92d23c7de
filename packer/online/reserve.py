"""``packer``'s bid prices: a request is not given whole GPUs, nor its tenant's quota, that the
requests still to come, worth more per GPU-equivalent, are expected to need.

The objective is Σ priority × GPU-equivalents, so a GPU-equivalent is worth the priority of the
request that holds it. Two resources are spent first come, first served although later requests may
be worth more: the cluster's whole GPUs (every whole-GPU request draws on them) and each tenant's
quota (``max_gpus``, drawn on by every request of the tenant). An online policy does not see the
future, but a batch run over an instance knows the requests that will arrive (``packer solve
--solver online``: the arrival order stays the file order; only the placement decision uses the
forecast). Like a bid price in revenue management, a request of priority p may take only what the
requests still to arrive with a priority above p leave:

- **quota**: ``quota left − Σ GPU-equivalents of the tenant's later requests above p`` (with the
  forecast's net values, :data:`NET_QUOTA`, "above" compares net values: a tenant whose quota binds
  keeps its quota for the later work worth most net of what its kind of capacity is worth to others);
- **whole GPUs** (kind ``gpu``): ``free whole GPUs of the models it may use −
  Σ_tenants min(quota left, whole GPUs of its later requests above p that must use those models)``
  (a tenant's quota caps what its later requests can take, so demand above it claims nothing; a
  later request that may also use other models is not counted against a restricted one).

Each claim is discounted by its lumpiness (:func:`_kept`): a later request is placed whole or not
at all, so a claim made of one big gang is no forecast, while one made of many small requests is.

An elastic request takes at most what is spare (at least its ``min_count``); one that cannot get its
``min_count`` is left unplaced with reason ``objective``. Without a forecast (the placer used online,
request by request) nothing is reserved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from packer import reasons
from packer.model import Request
from packer.online.state import N_FREEFULL, N_MODEL

_Key = tuple[float, frozenset[str] | None]

#: Rank the quota claims of a tenant whose quota binds by net value (priority less the capacity LP's
#: price of a GPU-equivalent of the request's kind, :func:`packer.capacity.quota_net`) rather than by
#: priority: such a tenant places one request only by leaving another of its own out, and a GPU of
#: contested capacity it takes is one another tenant's waiting work would have paid for. The greedy
#: orders by the same values (``greedy.QUOTA_NET``).
NET_QUOTA = True


class Reserve:
    """What the requests still to arrive ask for, by tenant and priority."""

    def __init__(self, requests: Iterable[Request], unit_size: Callable[[Request], float],
                 value: Mapping[str, float] | None = None) -> None:
        # whole GPUs: tenant -> (priority, allowed models or None for every model) -> units
        self.whole: dict[str, dict[_Key, int]] = defaultdict(lambda: defaultdict(int))
        # quota: tenant -> priority -> GPU-equivalents (count × the smallest unit size)
        self.quota: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
        # the same sums of squares: how lumpy each claim is
        self.whole2: dict[str, dict[_Key, float]] = defaultdict(lambda: defaultdict(float))
        self.quota2: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
        self.size: dict[str, float] = {}
        # what a request's claim on its tenant's quota is ranked by: its priority, or its net value
        # where given (:data:`NET_QUOTA`)
        self.value: dict[str, float] = dict(value or {})
        for r in requests:
            if r.placement is not None or r.id in self.size:
                continue
            self.size[r.id] = r.count * unit_size(r)
            self.quota[r.tenant][self.rank(r)] += self.size[r.id]
            self.quota2[r.tenant][self.rank(r)] += self.size[r.id] ** 2
            if r.kind == "gpu":
                self.whole[r.tenant][self._key(r)] += r.count
                self.whole2[r.tenant][self._key(r)] += r.count ** 2

    def copy(self) -> Reserve:
        """An independent copy (a rollout simulates the rest of the stream on a copy of the placer)."""
        new = Reserve.__new__(Reserve)
        new.whole = _copy2(self.whole, int)
        new.quota = _copy2(self.quota, float)
        new.whole2 = _copy2(self.whole2, float)
        new.quota2 = _copy2(self.quota2, float)
        new.size = dict(self.size)
        new.value = self.value  # never changes
        return new

    def rank(self, r: Request) -> float:
        """What ``r``'s claim on its tenant's quota is ranked by (:meth:`quota_above`)."""
        return self.value.get(r.id, r.priority)

    @staticmethod
    def _key(r: Request) -> _Key:
        return r.priority, frozenset(r.gpu_models) if r.gpu_models else None

    def arrived(self, req: Request) -> None:
        """``req`` is being placed now: it no longer counts as expected."""
        size = self.size.pop(req.id, None)
        if size is None:
            return
        self.quota[req.tenant][self.rank(req)] -= size
        self.quota2[req.tenant][self.rank(req)] -= size ** 2
        if req.kind == "gpu":
            self.whole[req.tenant][self._key(req)] -= req.count
            self.whole2[req.tenant][self._key(req)] -= req.count ** 2

    def quota_above(self, tenant: str, priority: float) -> float:
        """GPU-equivalents of ``tenant``'s quota kept for its later requests ranked above ``priority``
        (their sum, less its lumpiness; ``priority`` is the arriving request's :meth:`rank`)."""
        d = sum(v for p, v in self.quota[tenant].items() if p > priority)
        v = sum(v for p, v in self.quota2[tenant].items() if p > priority)
        return _kept(d, v)

    def whole_above(self, priority: float, quota_left: dict[str, float], models: frozenset[str] | None) -> float:
        """Whole GPUs the later requests above ``priority`` can take (each tenant at most its quota
        left) that must come from ``models`` (None: every model)."""
        tot = var = 0.0
        for tenant, by_key in self.whole.items():
            keys = [k for k in by_key if k[0] > priority and (models is None or (k[1] is not None and k[1] <= models))]
            d = sum(by_key[k] for k in keys)
            if d > 0:
                cap = min(float(d), quota_left.get(tenant, float("inf")))
                tot += cap
                var += sum(self.whole2[tenant][k] for k in keys) * (cap / d) ** 2
        return _kept(tot, var)

    def spare_whole(self, n64: np.ndarray, modelok: np.ndarray, model_names: list[str], req: Request,
                    quota_left: dict[str, float]) -> int:
        """Whole GPUs ``req`` may take now: free whole GPUs of the models it may use, less what later
        requests of higher priority claim there."""
        ok = modelok[n64[:, N_MODEL]] != 0
        free = int(n64[ok, N_FREEFULL].sum())
        models = None if bool(modelok.all()) else frozenset(m for m, k in zip(model_names, modelok, strict=True) if k)
        return int(free - self.whole_above(req.priority, quota_left, models))


def _copy2(d: dict, leaf: type) -> defaultdict:  # type: ignore[type-arg]
    out: defaultdict = defaultdict(lambda: defaultdict(leaf))  # type: ignore[type-arg]
    for k, v in d.items():
        out[k] = defaultdict(leaf, v)
    return out


def _kept(total: float, squares: float) -> float:
    """What a claim of ``total`` made of requests whose sizes squared sum to ``squares`` keeps: the
    total less √squares. Each later request is placed whole or not at all, and one that fails frees
    its whole share, so a claim of one large request keeps nothing and a claim of many small ones
    keeps nearly all of it."""
    return max(0.0, total - max(squares, 0.0) ** 0.5)


def kept_whole(req: Request, spare: int) -> str:
    """The reason a whole-GPU request was left to later, more valuable ones."""
    return reasons.reason(reasons.OBJECTIVE,
                          f"the free whole GPUs are kept for later requests of higher priority "
                          f"({max(spare, 0)} to spare, {req.need_count} needed at priority {req.priority:g})")


def kept_quota(req: Request, spare: float) -> str:
    """The reason a request was left so that its tenant's quota serves later, more valuable ones."""
    return reasons.reason(reasons.OBJECTIVE,
                          f"tenant {req.tenant}'s quota left is kept for its later requests of higher priority "
                          f"({max(spare, 0.0):.3g} GPU-equivalents to spare at priority {req.priority:g})")


__all__ = ["NET_QUOTA", "Reserve", "kept_quota", "kept_whole"]
