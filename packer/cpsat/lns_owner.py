"""Ownership-exchange LNS steps: hand nodes between a node-isolated tenant and the others.

A node-isolated tenant owns every node that holds one of its units: no other tenant may use it. Where
work is pinned to a GPU model with few nodes (a spread request one replica a node over 8 of the 10
nodes of that model), the owner's replicas and the other tenants' replicas compete for whole nodes,
and the better plan may give the owner's work up on several nodes at once so that several requests
of other tenants fit there (or the other way round). No step of a few random domains frees all of
those nodes together, and a tenant step frees the owner's nodes but not the ones the others need
beside them (session 23, hetero-102: an exact solve of its A100 nodes drops two of the owner's
spread requests and places five of other tenants', +2.97, where no step of a 600 s run ever had).

An ownership-exchange step is anchored on a waiting request group that may use only a few nodes
(at most ``max_nodes``) where a node-isolated tenant is in the way: another tenant owns one of those
nodes, or the group's own tenant is node-isolated and others' units sit on a node it does not own.
It frees every node the group may use (so a spread finds all the nodes it needs), plus the other
nodes of the node-isolated tenants' work placed there (so such a request can be given up whole), and
lets the anchor and every waiting group restricted to few nodes that can use the freed nodes grow.
Without node isolation there is no anchor and the step is never drawn.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from ortools.sat.python import cp_model

if TYPE_CHECKING:
    from collections.abc import Callable

    from packer.cpsat.model import CpsatModel


@dataclass
class OwnerIndex:
    """What ownership-exchange steps read, built once a solve."""

    #: Candidate anchors: (group, its "placed" variable, that variable's largest value, tenant id,
    #: the nodes it may use, its weight: priority x count), for groups that may use few nodes.
    anchors: list[tuple[int, int, int, int, np.ndarray, float]]
    #: (node, tenant id) -> the tenant's "owns" variable, for node-isolated tenants.
    owns: dict[tuple[int, int], int]
    #: Node-isolated tenant ids.
    isolated: frozenset[int]
    #: Per node: its placement variables and each one's group and tenant id.
    node_x: dict[int, np.ndarray]
    node_group: dict[int, np.ndarray]
    node_tenant: dict[int, np.ndarray]
    #: Per group: its placement variables and each one's node.
    group_x: dict[int, np.ndarray]
    group_node: dict[int, np.ndarray]
    #: Per group: its "placed" variable (groups that can grow only) and tenant id.
    act: dict[int, int]
    tenant: dict[int, int]
    #: Groups restricted to few nodes (the anchors' candidates, waiting or not), by node.
    restricted_on: dict[int, list[int]]
    #: Per anchor group: its "placed" variable's largest value.
    top: dict[int, int]
    max_nodes: int
    #: Anchor group -> what its last step saw (the same again is not retried).
    seen: dict[int, tuple] = field(default_factory=dict)  # type: ignore[type-arg]
    #: Per group: the nodes it may use (each once; reach steps, :mod:`packer.cpsat.lns_reach`).
    nodes_of: dict[int, np.ndarray] = field(default_factory=dict)


def owner_index(model: CpsatModel, max_nodes: int, isolated_only: bool = True,
                by_value: bool = False) -> OwnerIndex | None:
    """The index of ``model``'s ownership-exchange anchors, or None when no tenant is node-isolated
    (unless ``isolated_only`` is False: the reach steps' index, :mod:`packer.cpsat.lns_reach`) or no
    waiting work is restricted to at most ``max_nodes`` nodes. Anchors weigh priority x count, or with
    ``by_value`` the objective's value of one placed request (count x its units' best objective term)."""
    v, d = model.vars, model.data
    if not v.owns and isolated_only:
        return None
    proto = model.model.proto
    tenants: dict[str, int] = {}

    def tid(name: str) -> int:
        return tenants.setdefault(name, len(tenants))

    owns = {(ni, tid(t)): var.index for (ni, t), var in sorted(v.owns.items())}
    isolated = frozenset(t for _, t in owns)
    gx: dict[int, list[int]] = defaultdict(list)
    gn: dict[int, list[int]] = defaultdict(list)
    nx: dict[int, list[int]] = defaultdict(list)
    ng: dict[int, list[int]] = defaultdict(list)
    for (gi, ci, _), var in v.x.items():
        ni = d.classes[ci].node
        gx[gi].append(var.index)
        gn[gi].append(ni)
        nx[ni].append(var.index)
        ng[ni].append(gi)
    tenant = {gi: tid(d.groups[gi].req.tenant) for gi in gx}
    coef: dict[int, int] = {}
    if by_value:
        obj = proto.objective
        coef = dict(zip(obj.vars, obj.coeffs, strict=True))
    act = {gi: a.index for gi, a in v.active.items() if isinstance(a, cp_model.IntVar)}
    anchors = []
    restricted_on: dict[int, list[int]] = defaultdict(list)
    for gi in sorted(gx):
        nodes = np.unique(np.asarray(gn[gi], dtype=np.int64))
        if gi not in act or len(nodes) > max_nodes:
            continue
        dom = proto.variables[act[gi]].domain
        r = d.groups[gi].req
        weight = float(r.priority) * r.count
        if by_value:  # what placing one request gains: its units at their best objective term
            weight = r.count * max((abs(coef.get(i, 0)) for i in gx[gi]), default=0) / d.scale
        anchors.append((gi, act[gi], int(dom[len(dom) - 1]), tenant[gi], nodes, weight))
        for ni in nodes.tolist():
            restricted_on[ni].append(gi)
    if not anchors:
        return None
    return OwnerIndex(anchors=anchors, owns=owns, isolated=isolated,
                      node_x={ni: np.asarray(xs, dtype=np.int64) for ni, xs in nx.items()},
                      node_group={ni: np.asarray(gs, dtype=np.int64) for ni, gs in ng.items()},
                      node_tenant={ni: np.asarray([tenant[g] for g in gs], dtype=np.int64) for ni, gs in ng.items()},
                      group_x={gi: np.asarray(xs, dtype=np.int64) for gi, xs in gx.items()},
                      group_node={gi: np.asarray(ns, dtype=np.int64) for gi, ns in gn.items()},
                      act=act, tenant=tenant, restricted_on=dict(restricted_on),
                      top={a[0]: a[2] for a in anchors}, max_nodes=max_nodes,
                      nodes_of={gi: np.unique(np.asarray(ns, dtype=np.int64)) for gi, ns in gn.items()})


def in_the_way(ix: OwnerIndex, vals: np.ndarray, tenant: int, nodes: np.ndarray) -> bool:
    """Whether node isolation stands between a group of ``tenant`` and ``nodes`` in ``vals``: another,
    node-isolated tenant owns one of them, or ``tenant`` is node-isolated and another tenant's units
    sit on one it does not own."""
    for ni in nodes.tolist():
        for t in ix.isolated:
            o = ix.owns.get((ni, t))
            if o is None or not vals[o]:
                continue
            if t != tenant:
                return True
        if tenant in ix.isolated:
            o = ix.owns.get((ni, tenant))
            if o is not None and not vals[o]:
                xs = ix.node_x.get(ni)
                if xs is not None and (vals[xs][ix.node_tenant[ni] != tenant] > 0).any():
                    return True
    return False


def candidates(ix: OwnerIndex, vals: np.ndarray) -> list[int]:
    """Positions in ``ix.anchors`` of the groups that wait in ``vals`` with node isolation in their way."""
    return [k for k, (_, a, top, t, nodes, _) in enumerate(ix.anchors)
            if vals[a] < top and in_the_way(ix, vals, t, nodes)]


def _view(ix: OwnerIndex, vals: np.ndarray, k: int,
          per_node: dict[int, list[int]]) -> tuple[list[int], list[int], tuple]:  # type: ignore[type-arg]
    """What a step anchored on ``ix.anchors[k]`` would hold in ``vals``: its nodes (sorted), the "placed"
    variables it may grow (the anchor's first), and what it sees (the key of ``ix.seen``)."""
    gi, a = ix.anchors[k][0], ix.anchors[k][1]
    nodes = sorted(_step_nodes(ix, vals, k))
    grow = [a] + sorted({ix.act[g] for ni in nodes for g in ix.restricted_on.get(ni, ())
                         if g != gi and vals[ix.act[g]] < ix.top[g]})
    seen = (tuple(nodes), tuple(vals[[i for ni in nodes for i in per_node.get(ni, ())]].tolist()),
            tuple(vals[grow].tolist()))
    return nodes, grow, seen


def pick_owner(ix: OwnerIndex, rng: random.Random, base: list[int], pool: set[str],
               node_domain: dict[int, str], per_node: dict[int, list[int]],
               found: list[int] | None = None) -> tuple[set[str], set[int], list[int]] | None:
    """An ownership-exchange step in ``base``: (its domains, the nodes it frees, the "placed" variables
    it may grow, the anchor's first), or None when no anchor waits with node isolation in its way (or
    every one's last step saw the same, or its nodes are not all in ``pool``'s domains). ``found``: the
    anchors' positions, when the caller has them."""
    vals = np.asarray(base, dtype=np.int64)
    cands = candidates(ix, vals) if found is None else found
    return draw_step(ix, rng, cands, pool, node_domain, lambda k: _view(ix, vals, k, per_node))


def draw_step(ix: OwnerIndex, rng: random.Random, cands: list[int], pool: set[str],
              node_domain: dict[int, str],
              view: Callable[[int], tuple[list[int], list[int], tuple]]) -> tuple[set[str], set[int], list[int]] | None:
    """Draws anchors from ``cands`` (positions in ``ix.anchors``, consumed) by their weights until one's
    step (``view(k)``: the nodes it frees, the variables it may grow, what it sees) lies in ``pool``'s
    domains and sees something other than that anchor's last step did; that step, or None. Owner and
    reach steps (:mod:`packer.cpsat.lns_reach`) draw alike."""
    while cands:
        weights = [ix.anchors[k][5] for k in cands]
        u = rng.random() * sum(weights)
        pos = len(cands) - 1
        for j, w in enumerate(weights):
            u -= w
            if u < 0:
                pos = j
                break
        k = cands.pop(pos)
        nodes, grow, seen = view(k)
        if not {node_domain[ni] for ni in nodes} <= pool:
            continue
        gi = ix.anchors[k][0]
        if ix.seen.get(gi) == seen:
            continue
        ix.seen[gi] = seen
        return {node_domain[ni] for ni in nodes}, set(nodes), grow
    return None


def _step_nodes(ix: OwnerIndex, vals: np.ndarray, k: int) -> set[int]:
    """The nodes a step anchored on ``ix.anchors[k]`` frees: every node the group may use, then the other
    nodes of the node-isolated tenants' requests placed there (so that one can be given up whole), while
    at most max_nodes. Other work placed there may move within the step's nodes (a rival's units that sit
    elsewhere too stay placed)."""
    _, _, _, _, nodes, _ = ix.anchors[k]
    out = set(nodes.tolist())
    owners: set[int] = set()
    for ni in nodes.tolist():
        xs = ix.node_x.get(ni)
        if xs is None:
            continue
        on = vals[xs] > 0
        owners.update(g for g, t in zip(ix.node_group[ni][on].tolist(), ix.node_tenant[ni][on].tolist(), strict=True)
                      if t in ix.isolated)
    for g in sorted(owners):
        xs = ix.group_x[g]
        extra = set(ix.group_node[g][vals[xs] > 0].tolist()) - out
        if extra and len(out) + len(extra) <= ix.max_nodes:
            out |= extra
    return out
