"""Tests of the topology graph."""

from __future__ import annotations

from packer.formats import instance_from_dict
from packer.generate import generate
from packer.topology import ClusterGraph


def _inst():
    return instance_from_dict({
        "format": "packer.instance/v1",
        "topology": {"levels": ["node", "rack", "pod"],
                     "links": [{"a": "r0", "b": "r1", "gbps": 400}, {"a": "r1", "b": "r2", "gbps": 100},
                               {"a": "r0", "b": "r2", "gbps": 50}]},
        "nodes": [
            {"id": f"n{i}", "gpu_model": "H100-80GB", "num_gpus": 2, "mode": "full",
             "domains": {"rack": f"r{i // 2}", "pod": f"p{i // 4}"}} for i in range(6)
        ],
    })


def test_domains_and_distance():
    """Tests domains at every level and GPU distances: same GPU 0, node 1, rack 2, pod 3, cluster 4."""
    t = ClusterGraph(_inst())
    assert t.domain("n3", "rack") == "r1" and t.domain("n3", "pod") == "p0"
    assert t.domains("rack") == {"r0": ["n0", "n1"], "r1": ["n2", "n3"], "r2": ["n4", "n5"]}
    assert t.distance(("n0", 0), ("n0", 0)) == 0
    assert t.distance(("n0", 0), ("n0", 1)) == 1
    assert t.distance(("n0", 0), ("n1", 0)) == 2
    assert t.distance(("n0", 0), ("n2", 0)) == 3
    assert t.distance(("n0", 0), ("n4", 0)) == 4


def test_graph_is_a_tree_plus_links():
    """Tests that containment edges form a tree rooted at the cluster, and links carry bandwidth."""
    import networkx as nx

    t = ClusterGraph(_inst())
    g = t.graph
    tree = nx.DiGraph([(u, v) for u, v, d in g.edges(data=True) if d["kind"] == "contains"])
    assert nx.is_arborescence(tree.reverse())
    assert sum(1 for v in g if v[0] == "gpu") == 12
    assert t.bottleneck_gbps("r0", "r2") == 100  # via r1 (min(400, 100)) beats the direct 50


def test_haein_graph_size():
    """Tests that the haein graph has its GPUs, nodes, racks, pods and one cluster."""
    t = ClusterGraph(generate("haein", 0))
    levels = {}
    for v in t.graph:
        levels[v[0]] = levels.get(v[0], 0) + 1
    assert levels == {"gpu": 1024, "node": 128, "nvlink": 128, "rack": 32, "pod": 4, "cluster": 1}


def test_instance_domains_come_from_the_topology_object():
    """Tests that Instance.domain reads the one topology object, node indices and ids alike."""
    inst = _inst()
    t = inst.cluster_topology
    assert t is inst.cluster_topology  # built once
    assert [inst.domain(n, "rack") for n in inst.nodes] == list(t.node_domains("rack")) == ["r0", "r0", "r1", "r1", "r2", "r2"]
    assert t.domain(3, "pod") == t.domain("n3", "pod") == "p0" and t.domain("n3", "cluster") == "cluster"
    assert t.members["pod"] == {"p0": (0, 1, 2, 3), "p1": (4, 5)}
    import pytest

    with pytest.raises(ValueError):
        t.domain("n0", "gpu")
    with pytest.raises(ValueError):
        t.node_domains("row")


def test_nesting_and_gpu_counts():
    """Tests parents, children and GPUs per domain."""
    t = ClusterGraph(_inst())
    assert t.parent("rack", "r1") == "p0" and t.parent("pod", "p1") == "cluster" and t.parent("cluster", "cluster") is None
    assert t.children("pod", "p0") == ["r0", "r1"] and t.children("rack", "r2") == ["n4", "n5"]
    assert t.gpu_count("rack") == {"r0": 4, "r1": 4, "r2": 4} and t.gpu_count("cluster") == {"cluster": 12}
    assert [row[:3] for row in t.tree()][:4] == [(0, "cluster", "cluster"), (1, "pod", "p0"), (2, "rack", "r0"), (3, "node", "n0")]
    assert [row[3] for row in t.tree()][:3] == [(0, 1, 2, 3, 4, 5), (0, 1, 2, 3), (0, 1)]
    assert sum(1 for _, lv, _, _ in t.tree() if lv == "node") == 6


def test_near_goes_by_topology_then_bandwidth():
    """Tests that the racks of the same pod come first, then other pods' racks by link bandwidth."""
    t = ClusterGraph(_inst())
    assert t.domain_distance("rack", "r0", "r1") == 1 and t.domain_distance("rack", "r0", "r2") == 2
    assert t.near("rack", "r0") == ["r1", "r2"]
    assert t.near("rack", "r2") == ["r0", "r1"]  # both 100 Gbps wide (r0 via r1): first appearance
    assert t.near("node", "n0") == ["n1", "n2", "n3", "n4", "n5"]
    assert t.node_distance("n0", "n5") == 4


def test_near_breaks_ties_by_link_bandwidth():
    """Tests that among racks of one pod the widest link comes first, racks without links last."""
    inst = instance_from_dict({
        "format": "packer.instance/v1",
        "topology": {"levels": ["rack"], "links": [{"a": "r0", "b": "r2", "gbps": 400}, {"a": "r0", "b": "r1", "gbps": 100}]},
        "nodes": [{"id": f"n{i}", "gpu_model": "H100-80GB", "num_gpus": 1, "domains": {"rack": f"r{i}"}} for i in range(4)],
    })
    assert inst.cluster_topology.near("rack", "r0") == ["r2", "r1", "r3"]


def _random_cluster(data):  # type: ignore[no-untyped-def]
    from hypothesis import strategies as st

    n = data.draw(st.integers(1, 12))
    racks = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    pods = {r: data.draw(st.integers(0, 1)) for r in set(racks)}  # a rack lies in one pod
    gpus = data.draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    nodes = []
    for i in range(n):
        dom = {"pod": f"p{pods[racks[i]]}"}
        if data.draw(st.booleans()):
            dom["rack"] = f"r{racks[i]}"  # a node without a rack entry is a rack of its own
        nodes.append({"id": f"n{i}", "num_gpus": gpus[i], **({"gpu_model": "H100-80GB"} if gpus[i] else {}),
                      "domains": dom})
    return instance_from_dict({"format": "packer.instance/v1", "topology": {"levels": ["node", "rack", "pod"]},
                               "nodes": nodes})


def test_topology_properties():
    """Tests on random clusters: domains partition the nodes at every level, the tree's leaves are the nodes and
    its GPU counts add up, near() is every other domain once, nearer by distance never comes later."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=60, deadline=None)
    @given(st.data())
    def check(data):  # type: ignore[no-untyped-def]
        inst = _random_cluster(data)
        t = inst.cluster_topology
        for level in t.levels[1:]:
            members = t.members[level]
            assert sorted(i for ns in members.values() for i in ns) == list(range(len(inst.nodes)))
            assert all(t.domain(i, level) == d for d, ns in members.items() for i in ns)
            assert sum(t.gpu_count(level).values()) == inst.num_gpus
        rows = list(t.tree())
        assert sorted(r[2] for r in rows if r[1] == "node") == sorted(n.id for n in inst.nodes)
        for depth, level, _dom, nodes in rows:
            below = [r for r in rows if r[0] == depth + 1 and set(r[3]) <= set(nodes)]
            if level != "node":
                assert sorted(i for r in below for i in r[3]) == sorted(nodes)
        for level in ("rack", "pod"):
            for d in t.members[level]:
                near = t.near(level, d)
                assert sorted(near) == sorted(x for x in t.members[level] if x != d)
                dist = [t.domain_distance(level, d, x) for x in near]
                assert dist == sorted(dist)

    check()
