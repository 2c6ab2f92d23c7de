"""The H200's MIG placements in the catalog are inferred (no nvidia-smi output was seen when it was
written); these tests hold them against real ``nvidia-smi mig -lgip``/``-lgipp`` output captured,
read-only, on an H200 (driver 580.159.04, MIG mode off) on 2026-12-04, kept verbatim in
tests/fixtures/nvidia-smi/."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from packer.nvsmi import catalog_entry, parse_lgip, parse_lgipp

HERE = Path(__file__).parent / "fixtures" / "nvidia-smi"
LGIP = (HERE / "h200_lgip_driver-580.159.04.txt").read_text()
LGIPP = (HERE / "h200_lgipp_driver-580.159.04.txt").read_text()


def test_capture_parses_to_seven_profiles():
    rows = parse_lgip(LGIP)
    assert [r.name for r in rows] == ["1g.18gb", "1g.18gb+me", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb"]
    assert [r.profile_id for r in parse_lgipp(LGIPP)] == [19, 20, 15, 14, 9, 5, 0]


def test_inferred_catalog_placements_match_the_real_h200():
    real = {p["name"]: p for p in catalog_entry(LGIP, LGIPP, name="H200-141GB")["profiles"]}
    data = json.loads(resources.files("packer").joinpath("data/mig_catalog.json").read_text(encoding="utf-8"))
    (ours,) = [m for m in data["models"] if m["name"] == "H200-141GB"]
    assert ours["placements_confirmed"] is False  # what this test stands in for
    assert set(real) == {p["name"] for p in ours["profiles"]}
    for p in ours["profiles"]:
        r = real[p["name"]]
        for field in ("id", "compute", "memory_positions_used", "starts", "max_count", "media_extensions", "sm"):
            assert p[field] == r[field], (p["name"], field)
        # Memory differs by driver: the catalog's figures (from an older driver's listing) are at most
        # a quarter GiB below what driver 580 reports (16.00 / 32.50 / 69.75 / 140.00 GiB).
        assert 0 <= r["memory_gib"] - p["memory_gib"] <= 0.25, p["name"]
