"""Reach steps: free the few nodes a waiting request may use, and the nodes where the work in its way may go.

A request that may use only a few nodes (pinned to a GPU model, a MIG profile only some nodes offer, a
spread one replica a node over most of them) is placed only if the work on those nodes leaves them. That
work is often restricted too, to a set of nodes of its own (a rack gang pinned to the same models, MIG
replicas of one model), and can leave only to those; so the step must hold the anchor's nodes *and* the
nodes the work in its way may use, or the displaced work has nowhere to go but out of the plan. A random
step of two racks holds neither set whole; a value step frees where one request of the anchor fits, not
every node of a spread; an ownership-exchange step needs node isolation in the way and adds only the
owner's other nodes.

A reach step is anchored on a waiting request group whose placement variables lie on at most the index's
``max_nodes`` nodes (drawn with weight priority x count, as ownership-exchange anchors). It frees the
anchor's nodes, then, for the groups that hold units there in the incumbent, smallest first, every node
such a group may use while the step stays within ``most`` nodes (work that may use more than that, e.g.
any GPU of the cluster, can still be dropped or moved within the step). Everything on the freed nodes is
free; the anchor and the waiting groups restricted to few nodes that can use them may grow. Where no
group is restricted to few nodes there is no anchor and the step is never drawn.

hetero-108 (1,024 GPUs, session 25): two waiting spread requests of 8 x 7g.80gb one a node, pinned to the
H100's 9 MIG-capable nodes, need 8 of them; one is an 'any' node held by a node-isolated tenant's rack gang
that may use H100 / H200 / B200 whole-GPU nodes, another by small whole-GPU gangs. A step over the 16 H100
nodes places both (+6.69, proven in 0.6 deterministic units): the rack gang moves to another H100 rack, the
gang there (H100 only) to the freed one.
"""

from __future__ import annotations

import random

import numpy as np

from packer.cpsat.lns_owner import OwnerIndex, draw_step


def candidates(ix: OwnerIndex, vals: np.ndarray, per_node: dict[int, list[int]], most: int) -> list[int]:
    """Positions in ``ix.anchors`` of the groups that can still grow in ``vals``, less those whose last step
    saw what a step on them would see now (it would not be retried)."""
    out = [k for k, (_, a, top, _, _, _) in enumerate(ix.anchors) if vals[a] < top]
    if not ix.seen:
        return out
    return [k for k in out if ix.anchors[k][0] not in ix.seen
            or ix.seen[ix.anchors[k][0]] != view(ix, vals, k, per_node, most)[2]]


def reach_nodes(ix: OwnerIndex, vals: np.ndarray, k: int, most: int) -> set[int]:
    """The nodes a step anchored on ``ix.anchors[k]`` frees: the anchor's, then every node of each group
    with units on them (the groups that may use the fewest nodes first; ties by group), while at most
    ``most`` nodes in all."""
    nodes = ix.anchors[k][4]
    out = set(nodes.tolist())
    held: set[int] = set()
    for ni in nodes.tolist():
        xs = ix.node_x.get(ni)
        if xs is not None:
            held.update(ix.node_group[ni][vals[xs] > 0].tolist())
    held.discard(ix.anchors[k][0])
    reach = sorted((len(ix.nodes_of[g]), g) for g in held if len(ix.nodes_of[g]) <= most)
    for _, g in reach:
        extra = set(ix.nodes_of[g].tolist()) - out
        if len(out) + len(extra) <= most:
            out |= extra
    return out


def view(ix: OwnerIndex, vals: np.ndarray, k: int, per_node: dict[int, list[int]],
         most: int) -> tuple[list[int], list[int], tuple]:  # type: ignore[type-arg]
    """What a step anchored on ``ix.anchors[k]`` holds in ``vals``: its nodes (sorted), the "placed"
    variables it may grow (the anchor's first), and what it sees (the key of ``ix.seen``)."""
    gi, a = ix.anchors[k][0], ix.anchors[k][1]
    nodes = sorted(reach_nodes(ix, vals, k, most))
    grow = [a] + sorted({ix.act[g] for ni in nodes for g in ix.restricted_on.get(ni, ())
                         if g != gi and vals[ix.act[g]] < ix.top[g]})
    seen = (tuple(nodes), tuple(vals[[i for ni in nodes for i in per_node.get(ni, ())]].tolist()),
            tuple(vals[grow].tolist()))
    return nodes, grow, seen


def pick_reach(ix: OwnerIndex, rng: random.Random, base: list[int], pool: set[str], node_domain: dict[int, str],
               per_node: dict[int, list[int]], most: int,
               found: list[int] | None = None) -> tuple[set[str], set[int], list[int]] | None:
    """A reach step in ``base``: (its domains, the nodes it frees, the "placed" variables it may grow, the
    anchor's first), or None when no candidate is left whose nodes all lie in ``pool``'s domains.
    ``found``: the candidates' positions, when the caller has them."""
    vals = np.asarray(base, dtype=np.int64)
    cands = list(candidates(ix, vals, per_node, most) if found is None else found)
    return draw_step(ix, rng, cands, pool, node_domain, lambda k: view(ix, vals, k, per_node, most))
