"""The cluster's topology: gpu → node → the instance's levels (nvlink, rack, pod, …) → cluster.

:class:`ClusterTopology` is built once per instance (``Instance.cluster_topology``) and is where
domains, distances and neighbourhoods come from: the data model's :meth:`Instance.domain`, the
greedy's domain enumeration and spread, the CP-SAT neighbourhoods (``cpsat/lns.py``,
``cpsat/decompose.py``) and ``packer show``'s topology tree all read it. What solvers need is cheap
lookups, so it holds plain tuples and dicts: per level, the domain of every node (by node index) and
the nodes of every domain; each domain's parent one level up.

The networkx graph (:attr:`ClusterTopology.graph`) is a derived view for analysis: vertices are
``(level, id)`` pairs (``("gpu", "n0/3")``, ``("node", "n0")``, ``("rack", "r1")``,
``("cluster", "cluster")``); tree edges point from a domain to its parent with ``kind="contains"``;
the optional network links of ``topology.links`` are ``kind="link"`` edges with their bandwidth.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from packer.model import Instance, Node


def gpu_id(node: str, gpu: int) -> str:
    """The domain id (and graph id) of one GPU: ``node/gpu``."""
    return f"{node}/{gpu}"


class ClusterTopology:
    """Domains of an instance at every level, their nesting, distances and nearness.

    Levels run fine to coarse (``Topology.all_levels``: ``gpu``, ``node``, the listed ones,
    ``cluster``). A node's domain at a listed level is what its ``domains`` entry names, or the
    node's own id when it has none (it is then a domain of its own); at ``node`` it is the node id,
    at ``cluster`` always ``"cluster"``. Level ``gpu`` has one domain per GPU, which a node cannot
    name (see :meth:`Instance.unit_domain`).
    """

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        #: Every level, fine to coarse, ``gpu`` and ``cluster`` included.
        self.levels: tuple[str, ...] = inst.topology.all_levels
        nodes = inst.nodes
        of: dict[str, tuple[str, ...]] = {"node": tuple(n.id for n in nodes),
                                          "cluster": ("cluster",) * len(nodes)}
        for lv in self.levels[2:-1]:
            of[lv] = tuple(n.domains.get(lv, n.id) for n in nodes)
        self._of = of
        self._by_id = {lv: dict(zip(of["node"], doms, strict=True)) for lv, doms in of.items()}
        members: dict[str, dict[str, list[int]]] = {}
        for lv, doms in of.items():
            m: dict[str, list[int]] = {}
            for ni, d in enumerate(doms):
                m.setdefault(d, []).append(ni)
            members[lv] = m
        #: level → domain id → node indices in it (file order); domains in order of first appearance.
        self.members: dict[str, dict[str, tuple[int, ...]]] = {
            lv: {d: tuple(ns) for d, ns in m.items()} for lv, m in members.items()}

    # ---- domains

    def node_domains(self, level: str) -> tuple[str, ...]:
        """The domain id at ``level`` of every node, by node index."""
        if level == "gpu":
            raise ValueError("level 'gpu' needs a GPU, not a node: use Instance.unit_domain()")
        try:
            return self._of[level]
        except KeyError:
            raise ValueError(f"unknown level {level!r}; levels are {list(self.levels)}") from None

    def domain(self, node: Node | str | int, level: str) -> str:
        """The id of a node's domain at ``level`` (node given as a Node, an id or an index)."""
        if isinstance(node, int):
            return self.node_domains(level)[node]
        nid = node if isinstance(node, str) else node.id
        if level == "gpu":
            raise ValueError("level 'gpu' needs a GPU, not a node: use Instance.unit_domain()")
        table = self._by_id.get(level)
        if table is None:
            raise ValueError(f"unknown level {level!r}; levels are {list(self.levels)}")
        return table[nid]

    def domains(self, level: str) -> dict[str, list[str]]:
        """Domain id → node ids in it, for every domain of ``level``, in file order."""
        ids = self._of["node"]
        return {d: [ids[i] for i in ns] for d, ns in self._members_at(level).items()}

    def _members_at(self, level: str) -> dict[str, tuple[int, ...]]:
        self.node_domains(level)  # raises for gpu and unknown levels
        return self.members[level]

    def level_rank(self, level: str) -> int:
        """0 for gpu, 1 for node, … for coarser levels."""
        return self.levels.index(level)

    def parent(self, level: str, domain: str) -> str | None:
        """The domain one level up that holds ``domain`` (its first node's), or None at ``cluster``."""
        rank = self.level_rank(level)
        if rank + 1 >= len(self.levels):
            return None
        first = self._members_at(level)[domain][0]
        return self._of[self.levels[rank + 1]][first]

    def children(self, level: str, domain: str) -> list[str]:
        """The domains one level down inside ``domain`` (nodes' domains; node ids under a first level)."""
        rank = self.level_rank(level)
        if rank <= 1:
            return []
        below = self._of[self.levels[rank - 1]]
        out: dict[str, None] = {}
        for ni in self._members_at(level)[domain]:
            out.setdefault(below[ni], None)
        return list(out)

    def gpu_count(self, level: str) -> dict[str, int]:
        """Domain id → GPUs in it, for every domain of ``level``."""
        nodes = self.inst.nodes
        return {d: sum(nodes[i].num_gpus for i in ns) for d, ns in self._members_at(level).items()}

    # ---- distances and nearness

    def node_distance(self, a: Node | str | int, b: Node | str | int) -> int:
        """Rank of the finest level whose domain holds both nodes: 1 same node, 2 the next level, …"""
        for rank, level in enumerate(self.levels[1:], start=1):
            if self.domain(a, level) == self.domain(b, level):
                return rank
        return len(self.levels) - 1

    def distance(self, a: tuple[str, int], b: tuple[str, int]) -> int:
        """Levels to climb from GPU ``a`` to the smallest domain that also holds GPU ``b``.

        0 for the same GPU, 1 for two GPUs of one node, 2 for the next level, and so on.
        """
        if a == b:
            return 0
        return self.node_distance(a[0], b[0])

    def domain_distance(self, level: str, a: str, b: str) -> int:
        """Levels to climb from domain ``a`` of ``level`` to the smallest domain that also holds ``b``
        (0 for the same domain; 1 when they share their parent, …)."""
        if a == b:
            return 0
        ma, mb = self._members_at(level)[a][0], self._members_at(level)[b][0]
        rank = self.level_rank(level)
        for up, lv in enumerate(self.levels[rank + 1:], start=1):
            if self._of[lv][ma] == self._of[lv][mb]:
                return up
        return len(self.levels) - 1 - rank

    def near(self, level: str, domain: str) -> list[str]:
        """The other domains of ``level``, nearest first.

        Nearest by the topology first (sharing a parent before sharing only a grandparent: the racks
        of the same pod before other pods' racks); among equals, by the widest-path link bandwidth
        between them (``topology.links``; none counts as 0), then in order of first appearance.
        """
        links = bool(self.inst.topology.links)
        order = {d: i for i, d in enumerate(self._members_at(level))}

        def key(d: str) -> tuple[int, float, int]:
            gbps = (self.bottleneck_gbps(domain, d) or 0.0) if links else 0.0
            return (self.domain_distance(level, domain, d), -gbps, order[d])

        return sorted((d for d in order if d != domain), key=key)

    # ---- the graph view

    @cached_property
    def graph(self) -> Any:
        """The containment tree (GPU → … → cluster) plus network links, as a ``networkx.DiGraph``."""
        import networkx as nx

        g = nx.DiGraph()
        coarse = self.levels[1:]
        for ni, n in enumerate(self.inst.nodes):
            for i in range(n.num_gpus):
                g.add_node(("gpu", gpu_id(n.id, i)), level="gpu", node=n.id, gpu=i)
                g.add_edge(("gpu", gpu_id(n.id, i)), ("node", n.id), kind="contains")
            for child, parent in zip(coarse, coarse[1:]):
                c = (child, self._of[child][ni])
                p = (parent, self._of[parent][ni])
                g.add_node(c, level=child)
                g.add_node(p, level=parent)
                g.add_edge(c, p, kind="contains")
        for link in self.inst.topology.links or ():
            ea, eb = self._vertex(link.a), self._vertex(link.b)
            g.add_edge(ea, eb, kind="link", gbps=link.gbps)
            g.add_edge(eb, ea, kind="link", gbps=link.gbps)
        return g

    def _vertex(self, name: str) -> tuple[str, str]:
        if name in self._by_id["node"]:
            return ("node", name)
        for lv in self.levels[2:-1]:
            if name in self.members[lv]:
                return (lv, name)
        raise KeyError(name)

    @cached_property
    def _widest(self) -> Any:
        """A maximum spanning forest of the links: it holds a widest path between every pair."""
        import networkx as nx

        g = nx.Graph()
        for u, v, d in self.graph.edges(data=True):
            if d.get("kind") == "link":
                w = d["gbps"]
                if not g.has_edge(u, v) or g[u][v]["gbps"] < w:
                    g.add_edge(u, v, gbps=w)
        return nx.maximum_spanning_tree(g, weight="gbps")

    def bottleneck_gbps(self, a: str, b: str) -> float | None:
        """Widest-path bandwidth between two nodes or domains over the network links, or None."""
        import networkx as nx

        tree = self._widest
        va, vb = self._vertex(a), self._vertex(b)
        if va not in tree or vb not in tree or not nx.has_path(tree, va, vb):
            return None
        path = nx.shortest_path(tree, va, vb)
        return min(tree[u][v]["gbps"] for u, v in zip(path, path[1:]))

    def tree(self) -> Iterable[tuple[int, str, str, tuple[int, ...]]]:
        """The containment tree from ``cluster`` down to nodes, depth first in order of first
        appearance: (depth, level, domain id, node indices under it on this branch); depth 0 is the
        cluster. A domain id that appears under two parents (inconsistent ``domains``) is two branches."""
        coarse = list(reversed(self.levels[1:]))  # cluster, …, node

        def walk(depth: int, level: str, dom: str, nodes: list[int]) -> Iterable[tuple[int, str, str, tuple[int, ...]]]:
            yield depth, level, dom, tuple(nodes)
            if level == "node":
                return
            below = coarse[depth + 1]
            parts: dict[str, list[int]] = {}
            for ni in nodes:
                parts.setdefault(self._of[below][ni], []).append(ni)
            for child, sub in parts.items():
                yield from walk(depth + 1, below, child, sub)

        if self.inst.nodes:
            yield from walk(0, "cluster", "cluster", list(range(len(self.inst.nodes))))


#: The name this class had while it was only a graph (tests and users of the old name).
ClusterGraph = ClusterTopology

__all__ = ["ClusterGraph", "ClusterTopology", "gpu_id"]
