"""The border of a region: placed work split into the units inside a node set and those outside.

Both neighbourhood searches on sub-instances (:mod:`packer.cpsat.decompose` by domain,
:mod:`packer.cpsat.reopt`'s move steps) build a sub-instance from the requests a plan places in a set
of nodes; the work outside shrinks the tenants' quotas there. This is that one split.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping, Sequence

from packer.model import Instance, Request, Unit


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
