"""Compiles every kernel a placer may call, once per machine.

Numba compiles a kernel on its first call and keeps it on disk (``cache=True``); a placer calls only the
kernels its requests need (a whole-GPU gang with required node locality is the one caller of
``pick_node``, a single unit of ``place_one``). So a first online solve of a training instance left
``place_one`` cold, and one of a haein instance ``pick_node``: :func:`packer.online.kernels.warm` stayed
False and every later timed CP-SAT solve left the online placers out of its hint
(:func:`packer.cpsat.hints.online_ready`). :func:`compile_kernels` places a small built-in instance that
calls all of them, so that the first online (or greedy) solve on a machine leaves them all warm.
"""

from __future__ import annotations

from packer.formats import instance_from_dict
from packer.model import INSTANCE_FORMAT

_DONE = False

_TINY = {
    "format": INSTANCE_FORMAT,
    "name": "kernel-warm-up",
    "topology": {"levels": ["node", "rack"]},
    "nodes": [
        {"id": "a", "gpu_model": "H100-80GB", "num_gpus": 8, "mode": "full",
         "cpu_milli": 64000, "memory_mib": 262144, "domains": {"rack": "r0"}},
        {"id": "b", "gpu_model": "H100-80GB", "num_gpus": 8, "mode": "any",
         "cpu_milli": 64000, "memory_mib": 262144, "domains": {"rack": "r0"}},
    ],
    "tenants": [{"id": "t"}],
    "requests": [
        {"id": "one", "tenant": "t", "kind": "gpu", "count": 1},
        {"id": "gang", "tenant": "t", "kind": "gpu", "count": 2, "locality": {"level": "node", "required": True}},
        {"id": "rack", "tenant": "t", "kind": "gpu", "count": 4, "locality": {"level": "rack", "required": True}},
        {"id": "mig", "tenant": "t", "kind": "mig", "profile": "1g.10gb", "count": 2},
        {"id": "share", "tenant": "t", "kind": "share", "gpu_milli": 300, "count": 1},
    ],
}


def compile_kernels() -> bool:
    """Compiles the placer's kernels if any is not compiled on disk yet (once a process; about 50 s of
    CPU on a 2-core machine the first time, nothing after). True when it placed the warm-up instance."""
    global _DONE
    if _DONE:
        return False
    _DONE = True
    from packer.online.kernels import warm

    if warm():
        return False
    place_warm_up()
    return True


def place_warm_up() -> None:
    """Places the built-in warm-up instance with the ``packer`` and first-fit policies (every kernel of
    :data:`packer.online.kernels.WARM_KERNELS` is called; a test holds it to that)."""
    from packer.online.placer import OnlinePlacer

    inst = instance_from_dict(_TINY, file="<kernel warm-up>")
    for policy in ("packer", "first-fit"):
        placer = OnlinePlacer(inst, policy)
        for req in inst.requests:
            placer.place(req, explain=False)
