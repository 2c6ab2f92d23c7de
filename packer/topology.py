"""The cluster as a topology graph: gpu → node → the instance's levels → cluster.

Graph vertices are ``(level, id)`` pairs (``("gpu", "n0/3")``, ``("node", "n0")``,
``("rack", "r1")``, ``("cluster", "cluster")``); tree edges point from a domain to its parent and
carry ``kind="contains"``. Optional network links from ``topology.links`` are added as
``kind="link"`` edges with their bandwidth.
"""

from __future__ import annotations

from functools import cached_property

import networkx as nx

from packer.model import Instance, Node


def gpu_id(node: str, gpu: int) -> str:
    """The graph id of one GPU."""
    return f"{node}/{gpu}"


class ClusterGraph:
    """Domains of an instance at every level, and distances between GPUs."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.levels: tuple[str, ...] = inst.topology.all_levels

    def domain(self, node: Node | str, level: str) -> str:
        """The id of a node's domain at ``level``."""
        n = self.inst.node(node) if isinstance(node, str) else node
        return self.inst.domain(n, level)

    def domains(self, level: str) -> dict[str, list[str]]:
        """Domain id → node ids in it, for every domain of ``level``, in file order."""
        out: dict[str, list[str]] = {}
        for n in self.inst.nodes:
            out.setdefault(self.inst.domain(n, level), []).append(n.id)
        return out

    def level_rank(self, level: str) -> int:
        """0 for gpu, 1 for node, … for coarser levels."""
        return self.levels.index(level)

    def distance(self, a: tuple[str, int], b: tuple[str, int]) -> int:
        """Levels to climb from GPU ``a`` to the smallest domain that also holds GPU ``b``.

        0 for the same GPU, 1 for two GPUs of one node, 2 for the next level, and so on.
        """
        if a == b:
            return 0
        na, nb = self.inst.node(a[0]), self.inst.node(b[0])
        for rank, level in enumerate(self.levels[1:], start=1):
            if self.inst.domain(na, level) == self.inst.domain(nb, level):
                return rank
        return len(self.levels) - 1

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The containment tree (GPU → … → cluster) plus network links."""
        g = nx.DiGraph()
        coarse = self.levels[1:]
        for n in self.inst.nodes:
            for i in range(n.num_gpus):
                g.add_node(("gpu", gpu_id(n.id, i)), level="gpu", node=n.id, gpu=i)
                g.add_edge(("gpu", gpu_id(n.id, i)), ("node", n.id), kind="contains")
            for child, parent in zip(coarse, coarse[1:]):
                c = ("node", n.id) if child == "node" else (child, self.inst.domain(n, child))
                p = (parent, self.inst.domain(n, parent))
                g.add_node(c, level=child)
                g.add_node(p, level=parent)
                g.add_edge(c, p, kind="contains")
        for link in self.inst.topology.links or ():
            ea, eb = self._vertex(link.a), self._vertex(link.b)
            g.add_edge(ea, eb, kind="link", gbps=link.gbps)
            g.add_edge(eb, ea, kind="link", gbps=link.gbps)
        return g

    def _vertex(self, name: str) -> tuple[str, str]:
        if name in self.inst.node_index:
            return ("node", name)
        for lv in self.levels[2:-1]:
            if any(self.inst.domain(n, lv) == name for n in self.inst.nodes):
                return (lv, name)
        raise KeyError(name)

    def bottleneck_gbps(self, a: str, b: str) -> float | None:
        """Widest-path bandwidth between two nodes or domains over the network links, or None."""
        g = nx.Graph()
        for u, v, d in self.graph.edges(data=True):
            if d.get("kind") == "link":
                w = d["gbps"]
                if not g.has_edge(u, v) or g[u][v]["gbps"] < w:
                    g.add_edge(u, v, gbps=w)
        va, vb = self._vertex(a), self._vertex(b)
        if va not in g or vb not in g or not nx.has_path(g, va, vb):
            return None
        # A maximum spanning tree holds a widest path between every pair of vertices.
        tree = nx.maximum_spanning_tree(g, weight="gbps")
        path = nx.shortest_path(tree, va, vb)
        return min(tree[u][v]["gbps"] for u, v in zip(path, path[1:]))


__all__ = ["ClusterGraph", "gpu_id"]
