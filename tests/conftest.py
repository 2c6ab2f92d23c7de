"""Shared test set-up: where ../shared lives, and hypothesis profiles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PACKER_SHARED", ROOT.parent / "shared"))
INSTANCES = ROOT / "instances"

settings.register_profile(
    "default", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", deadline=None, max_examples=1000, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared/ folder beside the checkout (SPEC, MIG facts, fixtures, traces)."""
    if not (SHARED / "SPEC.md").exists():
        pytest.fail(f"shared/ not found at {SHARED}; set PACKER_SHARED")
    return SHARED
