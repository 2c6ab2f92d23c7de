"""Tests for packer.show: SVG, HTML and PNG pictures of a plan, and the terminal summary."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from packer.cli import main
from packer.errors import InputError
from packer.export.layout import cluster_layout
from packer.formats import save_instance, save_plan
from packer.model import Assignment, Instance, Node, Plan, Request, SolverInfo, Tenant, Topology, Unit
from packer.show import Colors, gpu_bar, render_html, render_png, render_svg, summary_table, utilization

SVG = "{http://www.w3.org/2000/svg}"


def sample() -> tuple[Instance, Plan]:
    """Two racks: MIG and full GPUs in r0, shared and an unused 'any' GPU in r1."""
    u = Unit
    inst = Instance(
        name="pic",
        topology=Topology(levels=("node", "rack")),
        tenants=(Tenant(id="acme"), Tenant(id="bank")),
        nodes=(
            Node(id="n0", gpu_model="H100-80GB", num_gpus=2, gpu_modes=("mig", "full"), domains={"rack": "r0"}),
            Node(id="n1", gpu_model="H100-80GB", num_gpus=2, gpu_modes=("shared", "any"), domains={"rack": "r1"}),
        ),
        requests=(
            Request(id="inf", tenant="acme", kind="mig", profile="3g.40gb", count=1),
            Request(id="small", tenant="bank", kind="mig", profile="1g.10gb", count=2),
            Request(id="train", tenant="bank", kind="gpu", count=1),
            Request(id="nb", tenant="acme", kind="share", gpu_milli=250, count=2),
            Request(id="late", tenant="acme", kind="gpu", count=4),
        ),
    )
    plan = Plan(
        instance="pic", status="feasible", objective=0.0, solver=SolverInfo(name="hand"),
        assignments=(
            Assignment(request="inf", units=(u(node="n0", gpu=0, profile="3g.40gb", start=4),)),
            Assignment(request="small", units=(u(node="n0", gpu=0, profile="1g.10gb", start=0),
                                               u(node="n0", gpu=0, profile="1g.10gb", start=1))),
            Assignment(request="train", units=(u(node="n0", gpu=1),)),
            Assignment(request="nb", units=(u(node="n1", gpu=0, gpu_milli=250), u(node="n1", gpu=0, gpu_milli=250))),
        ),
        unplaced=(),
    )
    return inst, plan


def test_svg_draws_every_piece_in_tenant_colours() -> None:
    """Tests that the SVG parses, has one titled rectangle per unit, coloured by its request's shade."""
    inst, plan = sample()
    layout = cluster_layout(inst, plan)
    root = ET.fromstring(render_svg(layout, plan))
    assert root.tag == f"{SVG}svg"
    rects = [(r.find(f"{SVG}title").text, r.get("fill")) for r in root.iter(f"{SVG}rect")
             if r.find(f"{SVG}title") is not None]
    titled = dict(rects)
    colors = Colors(inst)
    pieces = [t for t, _ in rects if t.startswith(("inf ", "small ", "train ", "nb "))]
    assert len(pieces) == 1 + 2 + 1 + 2
    assert titled["inf (acme): 3g.40gb @ 4 on n0/0"] == colors.request_color["inf"]
    assert colors.request_color["inf"] == colors.tenant_color["acme"]  # a tenant's first request: its own hue
    assert colors.request_color["small"] != colors.request_color["train"]  # same tenant, other shade
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "rack r0" in texts and "rack r1" in texts and "any" in texts
    assert "Utilization by tenant" in texts


def test_mig_widths_are_to_scale() -> None:
    """Tests that a 3g.40gb instance is drawn over half the GPU (4 of 8 memory positions)."""
    inst, plan = sample()
    root = ET.fromstring(render_svg(cluster_layout(inst, plan), plan))
    by_title = {r.find(f"{SVG}title").text: r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None}
    gpu = by_title["n0/0 H100-80GB mode mig"]
    inf = by_title["inf (acme): 3g.40gb @ 4 on n0/0"]
    assert abs(float(inf.get("width")) + 1 - float(gpu.get("width")) / 2) < 0.2
    assert abs(float(inf.get("x")) - 0.5 - (float(gpu.get("x")) + float(gpu.get("width")) / 2)) < 0.2


def test_html_groups_by_rack() -> None:
    """Tests that the HTML page has one collapsible section per rack, each with its own SVG."""
    inst, plan = sample()
    page = render_html(cluster_layout(inst, plan), plan)
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<details") == 2 and "rack r0" in page and "rack r1" in page
    assert page.count("<svg") == 3


def test_summary_table_and_bars() -> None:
    """Tests the terminal view: a character per memory slice, and utilization by tenant, mode and rack."""
    inst, plan = sample()
    layout = cluster_layout(inst, plan)
    colors = Colors(inst)
    assert gpu_bar(layout.gpu("n0", 0), colors) == "BB..AAAA"
    assert gpu_bar(layout.gpu("n0", 1), colors) == "BBBBBBBB"
    assert gpu_bar(layout.gpu("n1", 0), colors) == "aaaa...."
    assert gpu_bar(layout.gpu("n1", 1), colors) == "~~~~~~~~"
    text = summary_table(layout, plan)
    assert "[BB..AAAA] [BBBBBBBB]" in text and "A=acme" in text
    util = utilization(layout)
    assert util["tenant"]["bank"] == pytest.approx((1 + 2 / 7, 4.0))
    assert util["mode"]["full"] == (1.0, 1.0)
    assert util["rack"]["r1"] == pytest.approx((0.5, 2.0))
    assert sum(v for v, _ in util["tenant"].values()) == pytest.approx(layout.used())


def test_png_needs_matplotlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that PNG without matplotlib is a clear InputError (CLI exit 2), and nothing is written."""
    inst, plan = sample()
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(InputError, match="matplotlib"):
        render_png(cluster_layout(inst, plan), tmp_path / "x.png", plan)
    save_instance(inst, tmp_path / "i.json")
    save_plan(plan, tmp_path / "p.json")
    assert main(["show", str(tmp_path / "p.json"), "--instance", str(tmp_path / "i.json"),
                 "-o", str(tmp_path / "x.png")]) == 2
    assert not (tmp_path / "x.png").exists()


def test_png_with_matplotlib(tmp_path: Path) -> None:
    """Tests that PNG output is a PNG file when matplotlib (the optional 'plot' extra) is installed."""
    pytest.importorskip("matplotlib")
    inst, plan = sample()
    render_png(cluster_layout(inst, plan), tmp_path / "x.png", plan)
    assert (tmp_path / "x.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Tests ``packer show``: table by default, SVG/HTML files, the running state without a plan, bad suffix."""
    inst, plan = sample()
    save_instance(inst, tmp_path / "i.json")
    save_plan(plan, tmp_path / "p.json")
    args = ["show", str(tmp_path / "p.json"), "--instance", str(tmp_path / "i.json")]
    assert main(args) == 0
    assert "[BB..AAAA]" in capsys.readouterr().out
    assert main(args + ["-o", str(tmp_path / "x.svg"), "--table"]) == 0
    assert "[BB..AAAA]" in capsys.readouterr().out
    ET.fromstring((tmp_path / "x.svg").read_text())
    assert main(args + ["-o", str(tmp_path / "x.html")]) == 0
    assert main(["show", "--instance", str(tmp_path / "i.json")]) == 0
    assert "0.00 used" in capsys.readouterr().out
    assert main(args + ["-o", str(tmp_path / "x.gif")]) == 2


def test_generated_cluster_renders() -> None:
    """Tests that a generated cluster with a greedy plan renders to SVG and HTML and summarises."""
    from packer import solve
    from packer.generate import generate

    inst = generate("small", 3)
    plan = solve(inst, "greedy")
    layout = cluster_layout(inst, plan)
    ET.fromstring(render_svg(layout, plan))
    assert "<details" in render_html(layout, plan)
    assert f"{len(layout.gpus)} GPUs" in summary_table(layout, plan)


def test_host_units_listed_by_node_not_drawn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Tests ``packer show`` on a plan with host requests: listed by node in the table, no GPU piece, no crash."""
    from tests.conftest import INSTANCES

    inst_path = INSTANCES / "features" / "host.json"
    assert main(["solve", str(inst_path), "-o", str(tmp_path / "p.json")]) == 0
    capsys.readouterr()
    args = ["show", str(tmp_path / "p.json"), "--instance", str(inst_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "host units on node" in out and "audit" in out and "cpu1" in out
    assert main(args + ["-o", str(tmp_path / "x.svg")]) == 0
    svg = (tmp_path / "x.svg").read_text()
    ET.fromstring(svg)
    assert "etl" not in svg  # host units hold no GPU: nothing to draw
    assert main(args + ["-o", str(tmp_path / "x.html")]) == 0
    assert main(["show", "--instance", str(inst_path)]) == 0
    assert "old-prep" in capsys.readouterr().out
    from packer.formats import load_instance, load_plan

    layout = cluster_layout(load_instance(inst_path), load_plan(tmp_path / "p.json"))
    assert {h.request for h in layout.host} == {"old-prep", "prep", "etl", "audit", "sidecar"}
    assert all(not p.request.startswith(("prep", "etl", "audit")) for g in layout.gpus for p in g.pieces)


def test_topology_tree_sums_gpus_and_use_per_domain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Tests the topology view: cluster → rack → node lines with GPUs and utilization, in text, HTML and CLI."""
    from packer.show import topology_rows, topology_tree

    inst, plan = sample()
    layout = cluster_layout(inst, plan)
    rows = [(r.depth, r.level, r.domain, r.gpus, round(r.used, 3)) for r in topology_rows(layout)]
    assert rows == [(0, "cluster", "cluster", 4, 2.214), (1, "rack", "r0", 2, 1.714), (2, "node", "n0", 2, 1.714),
                    (1, "rack", "r1", 2, 0.5), (2, "node", "n1", 2, 0.5)]
    text = topology_tree(layout)
    assert text.splitlines()[0] == "cluster: 2 nodes, 4 GPUs, 2.21 used (55.4%)"
    assert "  rack r0: 1 node, 2 GPUs, 1.71 used (85.7%)" in text and "    node n1: 2 GPUs, 0.50 used (25.0%)" in text
    assert "node n0" not in topology_tree(layout, max_nodes=1) and "(2 nodes not listed" in topology_tree(layout, max_nodes=1)
    page = render_html(layout, plan)
    assert "<h3>Topology</h3>" in page and "rack r1: 1 node, 2 GPUs, 0.50 used (25.0%)" in page
    assert page.count("<ul>") == page.count("</ul>") == 4 and page.count("<li>") == 5
    save_instance(inst, tmp_path / "i.json")
    save_plan(plan, tmp_path / "p.json")
    assert main(["show", str(tmp_path / "p.json"), "--instance", str(tmp_path / "i.json"), "--tree"]) == 0
    out = capsys.readouterr().out
    assert out == text and "[BB..AAAA]" not in out
