"""Synthetic instances, reproducible from (family, seed, demand, nodes).

The first families (figures in bench/ depend on them staying exactly as they are):

- ``tiny``: at most 8 GPUs and a handful of requests; small enough for exhaustive enumeration.
- ``small``: 8 nodes × 8 H100-80GB in 2 racks, about 50 requests.
- ``haein``: 128 nodes × 8 B200-180GB, NVLink domain = node, racks of 4 nodes, pods of 32 nodes;
  training gangs of whole GPUs with node/rack/pod locality, MIG inference replicas with spread,
  small experiment slices, several tenants with quotas and isolation, demand above capacity, and
  some running work (part of it movable).
- ``xl``: the haein mix on 2,048 nodes (16,384 GPUs).

The benchmark suite (:data:`SUITE`, issue 16): ten families that differ in structure, each on
``nodes`` nodes of 8 GPUs (default 128; 8 / 128 / 2,048 give 64 / 1,024 / 16,384 GPUs), one module
each: ``haein`` (above), ``training``, ``inference``, ``sharing``, ``hetero``, ``tenants``,
``fragmented``, ``adversarial``, ``quota`` and ``isolated`` (see each module's docstring; ``quota`` was
added in session 21 for a structure training-102 showed, ``isolated`` in session 22 for hetero-102's). Seeds 0-4 are for tuning, 100-109
for reporting.

``demand`` scales the total GPU-equivalents asked for, relative to the number of GPUs (each family
has its own default). The same arguments always give the same instance (``sharing`` reads openb pod
shapes from ``shared/`` when it is there and uses a bundled table otherwise).
"""

from __future__ import annotations

from collections.abc import Callable

from packer.generate.adversarial import adversarial
from packer.generate.classic import haein, small, tiny
from packer.generate.fragmented import fragmented
from packer.generate.hetero import hetero
from packer.generate.inference import inference
from packer.generate.isolated import isolated
from packer.generate.quota import quota
from packer.generate.sharing import sharing
from packer.generate.tenants import tenants
from packer.generate.training import training
from packer.model import Instance

#: The families of the benchmark suite (issue 16), in report order.
SUITE = ("haein", "training", "inference", "sharing", "hetero", "tenants", "fragmented", "adversarial", "quota",
         "isolated")
FAMILIES = ("tiny", "small", "haein", "xl") + SUITE[1:]
#: Families that take ``nodes`` (8 GPUs a node).
SCALABLE = ("haein", "xl") + SUITE[1:]
#: Report seeds (bench/RESULTS.md reports only these) and tuning seeds.
REPORT_SEEDS = tuple(range(100, 110))
TUNING_SEEDS = tuple(range(5))

_NEW: dict[str, Callable[..., Instance]] = {
    "training": training, "inference": inference, "sharing": sharing, "hetero": hetero,
    "tenants": tenants, "fragmented": fragmented, "adversarial": adversarial, "quota": quota,
    "isolated": isolated,
}


def generate(family: str, seed: int = 0, *, demand: float | None = None, nodes: int | None = None) -> Instance:
    """A synthetic instance of ``family`` (see the module docstring).

    ``nodes`` (every family but tiny and small): that many 8-GPU nodes instead of the default (128;
    2,048 for xl). The instance is named ``FAMILY-SEED`` at the default size and
    ``FAMILYNODES-SEED`` otherwise (``haein16-1``).
    """
    if nodes is not None and (family not in SCALABLE or nodes < 1):
        raise ValueError(f"nodes is for the families {list(SCALABLE)}, at least 1")
    if family == "tiny":
        return tiny(seed)
    if family == "small":
        return small(seed, demand if demand is not None else 1.6)
    if family == "haein":
        return haein(seed, nodes or 128, demand if demand is not None else 1.3,
                     name="haein" if nodes is None else f"haein{nodes}")
    if family == "xl":
        return haein(seed, nodes or 2048, demand if demand is not None else 1.3, name="xl")
    make = _NEW.get(family)
    if make is None:
        raise ValueError(f"unknown family {family!r}; choose one of {FAMILIES}")
    kwargs: dict[str, object] = {"name": family if nodes is None else f"{family}{nodes}"}
    if demand is not None:
        kwargs["demand"] = demand
    return make(seed, nodes or 128, **kwargs)


__all__ = ["FAMILIES", "REPORT_SEEDS", "SCALABLE", "SUITE", "TUNING_SEEDS", "generate"]
