"""Helpers that other re-optimizer tests import (test_reopt_s23.py, test_reopt_base_s22.py). Session 19's clear
step tests (packer.cpsat.reopt_clear) that lived here were removed with the module in session 27 (clear steps,
reopt_clear.CLEAR, measured and left off; they run at git tag flags-s26)."""

from __future__ import annotations

from packer.check import check
from packer.cpsat.result import modes_of
from packer.model import Instance, Unit
from packer.plans import build_plan


def _placed(inst: Instance) -> dict[str, list[Unit]]:
    return {r.id: list(r.placement) for r in inst.requests if r.placement is not None}


def _ok(inst: Instance, placed) -> bool:  # type: ignore[no-untyped-def]
    plan = build_plan(inst, solver="t", placed=placed, gpu_modes=modes_of(inst, placed),
                      unplaced={r.id: "waiting" for r in inst.requests if r.id not in placed})
    return bool(check(inst, plan).ok)
