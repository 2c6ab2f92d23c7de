"""The topology rules the online placer's GPU path and host path share: domains of each level, a
request's capacity per domain, the order domains are tried in, the spread limit while units are
placed one by one, the isolation guard, and ``packer``'s rack/pod tie-break key (``N_DOMKEY``).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from packer.model import Instance, Request, Spread
from packer.online.policies import FIRST_FIT, PACKER, RANDOM
from packer.online.state import (
    ANY,
    FULL,
    G_BASE,
    G_NODE,
    N_DOMKEY,
    N_FREEFULL,
    N_NGPU,
    PP_DOMNORM,
    KernelState,
)

_EMPTY = np.zeros(0, dtype=np.int64)
#: :meth:`SpreadLimit.kernel_args` of no limit (never written: no domain to count in)
_NO_SPREAD = (_EMPTY, 0, _EMPTY, _EMPTY, _EMPTY)

#: How many domains a gang with a required locality tries, in the policy's order, before it gives up.
DOMAIN_TRIES = 8


class Domains:
    """Per topology level (``node`` and up, not ``gpu``): each node's domain index (``dom[level]``),
    each domain's nodes (``nodes[level][d]``, int64) and names (``names[level]``)."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        topo = inst.cluster_topology  # the one topology object (packer.topology.ClusterTopology)
        self.dom: dict[str, np.ndarray] = {}
        self.nodes: dict[str, list[np.ndarray]] = {}
        self.names: dict[str, list[str]] = {}
        for level in topo.levels:
            if level == "gpu":
                continue
            members = topo.members[level]  # domains in order of first appearance, nodes in file order
            arr = np.zeros(len(inst.nodes), dtype=np.int64)
            for d, ns in enumerate(members.values()):
                arr[list(ns)] = d
            self.dom[level] = arr
            self.nodes[level] = [np.array(ns, dtype=np.int64) for ns in members.values()]
            self.names[level] = list(members)
        self._csr: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def csr(self, level: str) -> tuple[np.ndarray, np.ndarray]:
        """The nodes of every domain of ``level`` in one array: domain d's are ``flat[ptr[d]:ptr[d + 1]]``
        (``nodes[level][d]``, in order), for the kernels."""
        got = self._csr.get(level)
        if got is None:
            parts = self.nodes[level]
            ptr = np.zeros(len(parts) + 1, dtype=np.int64)
            ptr[1:] = np.cumsum([len(x) for x in parts])
            flat = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)
            got = self._csr[level] = (ptr, np.ascontiguousarray(flat))
        return got

    def caps_by_domain(self, req: Request, caps: np.ndarray, level: str) -> np.ndarray:
        """Units of ``req`` each domain of ``level`` could take, from per-node ``caps`` and the spread."""
        dom = self.dom[level]
        nd = len(self.nodes[level])
        sp = req.spread
        if sp is not None and sp.level not in ("gpu", "cluster") and sp.level != level:
            sdom = self.dom[sp.level]
            levels = self.inst.topology.all_levels
            if levels.index(sp.level) < levels.index(level):
                pair = dom * (int(sdom.max()) + 1) + sdom
                uniq, inv = np.unique(pair, return_inverse=True)
                per = np.minimum(np.bincount(inv, weights=caps, minlength=len(uniq)), sp.max_per_domain)
                dcap = np.bincount(uniq // (int(sdom.max()) + 1), weights=per, minlength=nd)
            else:
                dcap = np.minimum(np.bincount(dom, weights=caps, minlength=nd), sp.max_per_domain)
        else:
            dcap = np.bincount(dom, weights=caps, minlength=nd)
            if sp is not None and sp.level in (level, "cluster"):
                dcap = np.minimum(dcap, sp.max_per_domain)
        return dcap


def domain_order(dcap: np.ndarray, need: int, policy_code: int, rng: np.random.Generator,
                 no_any: np.ndarray | None = None, want: int | None = None) -> np.ndarray:
    """The domains that can take ``need`` units (``dcap``: units per domain) in the order the policy
    tries them: first-fit by index, random shuffled, every other policy the tightest first (least
    spare capacity); ``packer`` with ``no_any`` (units per domain without converting 'any' GPUs)
    first the domains that fit without converting. ``packer`` with ``want`` (an elastic request's
    count, more than ``need``) first ranks the domains by how many of the ``want`` units they take,
    most first: the tightest domain that fits ``need`` would stop the request at its ``min_count``
    while another domain takes every unit."""
    feas = np.nonzero(dcap >= need)[0]
    if len(feas) == 0 or policy_code == FIRST_FIT:
        return feas
    if policy_code == RANDOM:
        return feas[rng.permutation(len(feas))]
    if policy_code == PACKER:
        keys = [feas, dcap[feas]]
        if no_any is not None:
            keys.append(no_any[feas] < need)
        if want is not None and want > need:
            keys.append(-np.minimum(dcap[feas], want))
        return feas[np.lexsort(tuple(keys))]
    return feas[np.lexsort((feas, dcap[feas]))]


class SpreadLimit:
    """A request's spread while its units are placed one by one: closes a domain (``nallow`` 0) when
    it holds ``max_per_domain`` of them; :meth:`reopen` undoes every close."""

    def __init__(self, domains: Domains, spread: Spread | None, nallow: np.ndarray, skip: tuple[str, ...]) -> None:
        self.spread = spread
        self.nallow = nallow
        self.count: dict[int, int] = {}
        self.closed: list[np.ndarray] = []
        self.domains = domains
        self.dom = domains.dom[spread.level] if spread is not None and spread.level not in skip else None

    def kernel_args(self) -> tuple[np.ndarray, int, np.ndarray, np.ndarray, np.ndarray]:
        """The limit as :func:`packer.online.kernels.place_units` takes it (sdom, smax, sptr, sflat,
        scount); an empty ``sdom`` when no domain of a level is limited."""
        if self.dom is None:
            return _NO_SPREAD
        assert self.spread is not None
        ptr, flat = self.domains.csr(self.spread.level)
        return self.dom, int(self.spread.max_per_domain), ptr, flat, np.zeros(len(ptr) - 1, dtype=np.int64)

    def limit(self, count: int) -> int:
        """``count`` capped by a cluster-wide spread."""
        sp = self.spread
        return min(count, sp.max_per_domain) if sp is not None and sp.level == "cluster" else count

    def add(self, node: int) -> None:
        """One more unit on ``node``: closes its domain when full."""
        if self.dom is None:
            return
        assert self.spread is not None
        d = int(self.dom[node])
        self.count[d] = self.count.get(d, 0) + 1
        if self.count[d] >= self.spread.max_per_domain:
            dn = self.domains.nodes[self.spread.level][d]
            self.nallow[dn] = 0
            self.closed.append(dn)

    def reopen(self) -> None:
        """Opens every domain this limit closed."""
        for dn in self.closed:
            self.nallow[dn] = 1


def guard_declines(guard: float | None, opened: int, locked: int, size: float) -> bool:
    """The isolation guard: a node-isolated tenant's units that open more than one empty node and
    leave more than ``guard`` × max(size, 1) of the ``locked`` GPUs idle are declined (host units
    have size 0: more than ``guard`` GPUs locked for no GPU work)."""
    return guard is not None and opened > 1 and locked - size > guard * max(size, 1.0)


class DomainKey:
    """``packer``'s tie-break between nodes of equal key, kept in ``N_DOMKEY``: the free whole GPUs in
    the node's domains, finest level first (rack before pod), so that of two otherwise equal nodes
    the one in the fuller rack (then pod) takes a whole-GPU unit or node gang and empty racks and pods
    stay empty for the gangs that need a whole domain. Kept from the GPU rows alone by :meth:`sync`
    after each place and release. All zero unless ``on``."""

    def __init__(self, inst: Instance, domains: Domains, a: KernelState, on: bool) -> None:
        levels = [lv for lv in inst.topology.all_levels if lv not in ("gpu", "node", "cluster")]
        levels = [lv for lv in levels if len(domains.nodes[lv]) > 1 and on]
        self.domains = domains
        self.a = a
        n64 = a.n64
        gpus = n64[:, N_NGPU]
        caps = [int(np.bincount(domains.dom[lv], weights=gpus).max()) for lv in levels]
        mult, m = [], 1
        for c in reversed(caps):  # coarsest level least significant
            mult.append(m)
            m *= c + 1
        self.levels = list(zip(levels, reversed(mult), strict=True))
        a.pp[PP_DOMNORM] = float(m)
        nn = n64.shape[0]
        self.ffree = n64[:, N_FREEFULL].astype(np.int64)
        base = a.g32[:, G_BASE]
        whole = np.bincount(a.g32[:, G_NODE], weights=(base == FULL) | (base == ANY), minlength=nn)
        self.whole_ok = whole > 0
        self.dfree = {lv: np.bincount(domains.dom[lv], weights=self.ffree,
                                      minlength=len(domains.nodes[lv])).astype(np.int64) for lv, _ in self.levels}
        key = np.zeros(nn, dtype=np.int64)
        for lv, mu in self.levels:
            key += self.dfree[lv][domains.dom[lv]] * mu
        n64[:, N_DOMKEY] = key

    def copy_for(self, a: KernelState) -> DomainKey:
        """The same key kept on ``a`` (a copy of this key's state arrays, as :meth:`OnlinePlacer.fork` makes)."""
        new = DomainKey.__new__(DomainKey)
        new.domains, new.a, new.levels, new.whole_ok = self.domains, a, self.levels, self.whole_ok
        new.ffree = self.ffree.copy()
        new.dfree = {lv: v.copy() for lv, v in self.dfree.items()}
        return new

    def sync(self, nodes: Iterable[int]) -> None:
        """Brings N_DOMKEY up to date after the whole-GPU room of ``nodes`` may have changed."""
        if not self.levels:
            return
        n64 = self.a.n64
        for n in nodes:
            if not self.whole_ok[n]:  # no full or 'any' GPU: never room for a whole GPU
                continue
            d = int(n64[n, N_FREEFULL]) - int(self.ffree[n])
            if d == 0:
                continue
            self.ffree[n] += d
            for lv, mu in self.levels:
                dom = int(self.domains.dom[lv][n])
                self.dfree[lv][dom] += d
                n64[self.domains.nodes[lv][dom], N_DOMKEY] += d * mu


__all__ = ["DOMAIN_TRIES", "DomainKey", "Domains", "SpreadLimit", "domain_order", "guard_declines"]
