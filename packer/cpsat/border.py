"""The border of a region: placed work split into the units inside a node set and those outside.

Both neighbourhood searches on sub-instances (:mod:`packer.cpsat.decompose` by domain,
:mod:`packer.cpsat.reopt`'s move steps) build a sub-instance from the requests a plan places in a set
of nodes; the work outside shrinks the tenants' quotas there. This is that one split.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence

from packer.model import MODE_OF_KIND, Instance, Node, Request, Unit


def split_at_border(inst: Instance, requests: Iterable[Request], placed: Mapping[str, Sequence[Unit]],
                    nodes: set[str] | frozenset[str],
                    used_out: MutableMapping[str, float]) -> Iterator[tuple[Request, list[Unit], list[Unit]]]:
    """Yields ``(request, units inside nodes, units outside)`` for each of ``requests`` that ``placed``
    places, in order, and adds the size of its outside units to ``used_out[tenant]`` (GPU-equivalents)."""
    for r in requests:
        units = placed.get(r.id)
        if units is None:
            continue
        inside = [u for u in units if u.node in nodes]
        outside = [u for u in units if u.node not in nodes]
        for u in outside:
            used_out[r.tenant] += inst.unit_size(r, u)
        yield r, inside, outside


def fix_modes(inst: Instance, r: Request, units: Sequence[Unit], out: MutableMapping[tuple[str, int], str]) -> None:
    """Work pinned in a sub-instance on a GPU in mode 'any' fixes that GPU's mode there (to the mode
    its kind needs): no instance may hold running work on an 'any' GPU, and the sub-problem must not
    put work of another mode beside it."""
    for u in units:
        if u.gpu is not None and inst.node(u.node).gpu_mode(u.gpu) == "any":
            out[(u.node, u.gpu)] = MODE_OF_KIND[r.kind]


def nodes_with_modes(inst: Instance, nodes: set[str] | frozenset[str],
                     fixed: Mapping[tuple[str, int], str]) -> tuple[Node, ...]:
    """The nodes of ``inst`` in ``nodes`` (in the instance's order), with the GPU modes ``fixed`` sets."""
    by_node: dict[str, dict[int, str]] = {}
    for (nid, g), m in fixed.items():
        by_node.setdefault(nid, {})[g] = m
    out = []
    for n in inst.nodes:
        if n.id not in nodes:
            continue
        fix = by_node.get(n.id)
        if fix:
            n = n.model_copy(update={"gpu_modes": tuple(fix.get(g, n.gpu_mode(g)) for g in range(n.num_gpus))})
        out.append(n)
    return tuple(out)
