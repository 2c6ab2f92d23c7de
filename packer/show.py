"""Pictures of a plan: the cluster as GPUs × memory slices, coloured by tenant and request.

One drawing (a :class:`Scene` of rectangles and text) feeds every output: hand-written SVG,
a self-contained HTML page (one collapsible section per rack, for large clusters), and PNG through
matplotlib when it is installed. :func:`summary_table` is the terminal view: one row per node with
a character bar per GPU (one letter per memory slice or share, by tenant) and utilization tables.
:func:`topology_tree` draws the cluster's topology (``Instance.cluster_topology``) as an indented tree,
cluster → pod → rack → nvlink domain → node, with GPUs and utilization per domain; the HTML page has it
as nested collapsible sections.

Colours: each tenant has a hue; its requests are lighter or darker shades of it. A MIG GPU is drawn
as its memory positions (instance widths are to scale); full GPUs are one block; shared GPUs are
split by milli share; a GPU in mode ``any`` that the plan leaves unused is a dashed outline.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from packer.errors import InputError
from packer.export.layout import ClusterLayout, GpuLayout, cluster_layout
from packer.formats import write_text_atomic
from packer.model import MILLI_PER_GPU, Instance, Plan

PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#8cd17d",
)
EMPTY = "#eeeeee"
INK = "#222222"
GPU_W = 128
GPU_H = 34
GAP = 8
LABEL_W = 150
MARGIN = 20
GPUS_PER_ROW = 8
MAX_BARS = 24


# ------------------------------------------------------------------------------------------ scene


@dataclass(frozen=True)
class Rect:
    """A rectangle of the scene (pixels), with its fill, outline and hover title."""

    x: float
    y: float
    w: float
    h: float
    fill: str
    stroke: str = "none"
    title: str | None = None
    dashed: bool = False


@dataclass(frozen=True)
class Text:
    """A line of text of the scene at (x, y) pixels."""

    x: float
    y: float
    text: str
    size: float = 11
    anchor: str = "start"  # start, middle, end
    bold: bool = False
    fill: str = INK


@dataclass
class Scene:
    """A drawing: its size and the rectangles and texts every output renders."""

    width: float
    height: float
    items: list[Rect | Text] = field(default_factory=list)


def _mix(color: str, white: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    r, g, b = (round(c + (255 - c) * white) for c in (r, g, b))
    return f"#{r:02x}{g:02x}{b:02x}"


def _dark(color: str, k: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return "#{:02x}{:02x}{:02x}".format(*(round(c * (1 - k)) for c in (r, g, b)))


class Colors:
    """Tenant hues and per-request shades, fixed by first appearance in the instance."""

    def __init__(self, inst: Instance) -> None:
        tenants = [t.id for t in inst.tenants]
        for r in inst.requests:
            if r.tenant not in tenants:
                tenants.append(r.tenant)
        self.tenants = tenants
        self.tenant_color = {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(tenants)}
        self.request_color: dict[str, str] = {}
        seen: dict[str, int] = {}
        shades = (0.0, 0.35, -0.25, 0.55, 0.18, -0.12)
        for r in inst.requests:
            k = seen.get(r.tenant, 0)
            seen[r.tenant] = k + 1
            base = self.tenant_color[r.tenant]
            s = shades[k % len(shades)]
            self.request_color[r.id] = _mix(base, s) if s >= 0 else _dark(base, -s)
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        self.letter = {t: letters[i % 26] for i, t in enumerate(tenants)}

    def text_on(self, fill: str) -> str:
        """Ink that reads on ``fill``: dark on light colours, white on dark ones."""
        r, g, b = (int(fill[i : i + 2], 16) for i in (1, 3, 5))
        return INK if (0.299 * r + 0.587 * g + 0.114 * b) > 150 else "#ffffff"


def group_level(inst: Instance) -> str | None:
    """The level GPUs are grouped by in pictures: ``rack`` when the topology has it, else the coarsest."""
    levels = [lv for lv in inst.topology.levels if lv != "node"]
    if "rack" in levels:
        return "rack"
    return levels[-1] if levels else None


def groups(layout: ClusterLayout) -> list[tuple[str, list[tuple[str, list[GpuLayout]]]]]:
    """(domain id, its nodes with their GPUs), in first-appearance order."""
    inst = layout.instance
    level = group_level(inst)
    out: dict[str, list[tuple[str, list[GpuLayout]]]] = {}
    for node_id, gpus in layout.by_node():
        key = inst.domain(inst.node(node_id), level) if level else "cluster"
        out.setdefault(key, []).append((node_id, gpus))
    return list(out.items())


def _piece_label(p, w: float) -> str:  # type: ignore[no-untyped-def]
    if p.kind == "mig":
        text = p.profile or ""
    elif p.kind == "share":
        text = f"{p.gpu_milli}m"
    else:
        text = p.request
    if len(text) * 6.0 <= w - 4:
        return text
    short = text.split(".")[0] if p.kind == "mig" else ""
    return short if short and len(short) * 6.0 <= w - 2 else ""


def _draw_piece(sc: Scene, p, px: float, pw: float, y: float, colors: Colors, tip: str,  # type: ignore[no-untyped-def]
                font: float) -> None:
    """One unit drawn as a block of width ``pw`` at ``px``: its colour, a bar if it was running, a label."""
    fill = colors.request_color.get(p.request, "#999999")
    sc.items.append(Rect(px + 0.5, y + 0.5, pw - 1, GPU_H - 1, fill, "#ffffff", tip))
    if p.running:
        sc.items.append(Rect(px + 1.5, y + 1.5, pw - 3, 3, INK, "none", f"{p.request} was running"))
    label = _piece_label(p, pw)
    if label:
        sc.items.append(Text(px + pw / 2, y + GPU_H / 2 + 4, label, font, "middle", fill=colors.text_on(fill)))


def _draw_gpu(sc: Scene, g: GpuLayout, x: float, y: float, colors: Colors) -> None:
    title = f"{g.node}/{g.gpu} {g.model or ''} mode {g.mode}"
    if g.mode == "any" and not g.pieces:
        sc.items.append(Rect(x, y, GPU_W, GPU_H, "#fafafa", "#999999", title + " (unused, mode any)", dashed=True))
        sc.items.append(Text(x + GPU_W / 2, y + GPU_H / 2 + 4, "any", 10, "middle", fill="#888888"))
        return
    sc.items.append(Rect(x, y, GPU_W, GPU_H, EMPTY, "#bbbbbb", title))
    if g.mode == "mig" and g.memory_positions:
        n = g.memory_positions
        for i in range(1, n):
            sc.items.append(Rect(x + GPU_W * i / n, y + GPU_H - 5, 0.8, 5, "#cccccc"))
        for p in g.pieces:
            if p.start is None or p.size is None:
                continue
            tip = f"{p.request} ({p.tenant}): {p.profile} @ {p.start} on {g.node}/{g.gpu}"
            _draw_piece(sc, p, x + GPU_W * p.start / n, GPU_W * p.size / n, y, colors, tip, 9.5)
    elif g.mode == "shared":
        cur = x
        for p in g.pieces:
            pw = GPU_W * (p.gpu_milli or 0) / MILLI_PER_GPU
            tip = f"{p.request} ({p.tenant}): {p.gpu_milli} milli on {g.node}/{g.gpu}"
            _draw_piece(sc, p, cur, pw, y, colors, tip, 9.5)
            cur += pw
    else:
        for p in g.pieces:
            tip = f"{p.request} ({p.tenant}): whole GPU {g.node}/{g.gpu}"
            _draw_piece(sc, p, x, GPU_W, y, colors, tip, 10)


Grouped = list[tuple[str, list[tuple[str, list[GpuLayout]]]]]


def _grid(sc: Scene, layout: ClusterLayout, colors: Colors, y: float, grouped: Grouped,
          only: Iterable[str] | None = None) -> float:
    level = group_level(layout.instance) or "cluster"
    wanted = set(only) if only is not None else None
    for dom, nodes in grouped:
        if wanted is not None and dom not in wanted:
            continue
        used = sum(g.used() for _, gs in nodes for g in gs)
        total = sum(len(gs) for _, gs in nodes)
        sc.items.append(Text(MARGIN, y + 14, f"{level} {dom}", 13, bold=True))
        sc.items.append(Text(MARGIN + 150, y + 14, f"{used:.2f} of {total} GPUs used ({_pct(used, total)})", 11,
                             fill="#555555"))
        y += 24
        for node_id, gpus in nodes:
            node = layout.instance.node(node_id)
            modes = sorted({g.mode for g in gpus})
            sc.items.append(Text(MARGIN, y + 14, node_id, 12, bold=True))
            sc.items.append(Text(MARGIN, y + 28, f"{node.gpu_model or '-'} · {'/'.join(modes) or '-'}", 9.5,
                                 fill="#555555"))
            if not gpus:
                y += GPU_H + 22
            for k, g in enumerate(gpus):
                col = k % GPUS_PER_ROW
                if k and col == 0:
                    y += GPU_H + 22
                gx = MARGIN + LABEL_W + col * (GPU_W + GAP)
                sc.items.append(Text(gx, y + 9, f"GPU {g.gpu} · {g.mode}", 9, fill="#666666"))
                _draw_gpu(sc, g, gx, y + 12, colors)
            y += GPU_H + 22
        y += 8
    return y


def _pct(a: float, b: float) -> str:
    return f"{100 * a / b:.1f}%" if b else "-"


def utilization(layout: ClusterLayout) -> dict[str, dict[str, tuple[float, float]]]:
    """Used and total GPU-equivalents by tenant (total = all GPUs), by mode and by domain."""
    n = len(layout.gpus)
    by_tenant: dict[str, float] = {}
    by_mode: dict[str, list[float]] = {}
    by_dom: dict[str, list[float]] = {}
    inst = layout.instance
    level = group_level(inst)
    for g in layout.gpus:
        for t, v in g.used_by_tenant().items():
            by_tenant[t] = by_tenant.get(t, 0.0) + v
        m = by_mode.setdefault(g.mode, [0.0, 0.0])
        m[0] += g.used()
        m[1] += 1
        dom = inst.domain(inst.node(g.node), level) if level else "cluster"
        d = by_dom.setdefault(dom, [0.0, 0.0])
        d[0] += g.used()
        d[1] += 1
    return {
        "tenant": {t: (v, float(n)) for t, v in sorted(by_tenant.items())},
        "mode": {k: (v[0], v[1]) for k, v in sorted(by_mode.items())},
        f"{level or 'cluster'}": {k: (v[0], v[1]) for k, v in by_dom.items()},
    }


@dataclass(frozen=True)
class TreeRow:
    """One domain of the topology tree: its depth (0 = cluster), level, id, GPUs and GPUs used."""

    depth: int
    level: str
    domain: str
    gpus: int
    used: float
    nodes: int


def topology_rows(layout: ClusterLayout) -> list[TreeRow]:
    """The topology tree of the layout's instance, depth first, with GPUs and GPU-equivalents used
    (by the plan the layout was made from, or the instance's running work) per domain."""
    inst = layout.instance
    topo = inst.cluster_topology
    used_by_node: dict[str, float] = {}
    for node_id, gpus in layout.by_node():
        used_by_node[node_id] = sum(g.used() for g in gpus)
    ids = topo.node_domains("node")
    return [TreeRow(depth, level, dom, sum(inst.nodes[i].num_gpus for i in members),
                    sum(used_by_node.get(ids[i], 0.0) for i in members), len(members))
            for depth, level, dom, members in topo.tree()]


def topology_tree(layout: ClusterLayout, *, max_nodes: int = 200) -> str:
    """The topology as an indented text tree, one line per domain: level, id, nodes, GPUs, used and
    utilization. Node lines are left out when the cluster has more than ``max_nodes`` nodes."""
    rows = topology_rows(layout)
    nodes = len(layout.instance.nodes)
    lines = []
    for r in rows:
        if r.level == "node" and nodes > max_nodes:
            continue
        lines.append(f"{'  ' * r.depth}{_tree_label(r)}")
    if nodes > max_nodes:
        lines.append(f"({nodes} nodes not listed one by one)")
    return "\n".join(lines) + "\n"


def _tree_label(r: TreeRow) -> str:
    name = "cluster" if r.level == "cluster" else f"{r.level} {r.domain}"
    what = f"{r.gpus} GPUs" if r.level == "node" else f"{r.nodes} node{'s' if r.nodes != 1 else ''}, {r.gpus} GPUs"
    return f"{name}: {what}, {r.used:.2f} used ({_pct(r.used, r.gpus)})"


def _tree_html(layout: ClusterLayout) -> list[str]:
    """The topology tree as nested lists, one item per domain down to nodes."""
    parts = ["<h3>Topology</h3>"]
    depth_open = 0
    for r in topology_rows(layout):
        while depth_open > r.depth + 1:
            parts.append("</ul>")
            depth_open -= 1
        parts.append("<ul>" * (r.depth + 1 - depth_open) + f"<li>{html.escape(_tree_label(r))}</li>")
        depth_open = r.depth + 1
    parts += ["</ul>"] * depth_open
    return parts


def _bars(sc: Scene, layout: ClusterLayout, colors: Colors, y: float) -> float:
    util = utilization(layout)
    bar_w = 280
    mode_colors = {"mig": "#4e79a7", "full": "#59a14f", "shared": "#f28e2b", "any": "#bab0ac"}
    for title, rows in util.items():
        sc.items.append(Text(MARGIN, y + 14, f"Utilization by {title}", 13, bold=True))
        y += 22
        if len(rows) > MAX_BARS and title not in ("tenant", "mode"):
            y = _heat_strip(sc, title, rows, y)
            continue
        for key, (used, total) in rows.items():
            if title == "tenant":
                fill = colors.tenant_color.get(key, "#999999")
            elif title == "mode":
                fill = mode_colors.get(key, "#999999")
            else:
                fill = "#76b7b2"
            sc.items.append(Text(MARGIN, y + 12, key, 11))
            sc.items.append(Rect(MARGIN + LABEL_W, y + 2, bar_w, 13, EMPTY, "#cccccc"))
            frac = min(used / total, 1.0) if total else 0.0
            if frac > 0:
                sc.items.append(Rect(MARGIN + LABEL_W, y + 2, bar_w * frac, 13, fill, "none",
                                     f"{key}: {used:.2f} of {total:g}"))
            sc.items.append(Text(MARGIN + LABEL_W + bar_w + 8, y + 12,
                                 f"{used:.2f} / {total:g} GPUs ({_pct(used, total)})", 10.5, fill="#444444"))
            y += 18
        y += 8
    return y


def _heat_strip(sc: Scene, title: str, rows: dict[str, tuple[float, float]], y: float) -> float:
    """Many domains: one small cell per domain, darker = busier, with the spread in words."""
    fracs = sorted((a / b if b else 0.0) for a, b in rows.values())
    mid = fracs[len(fracs) // 2]
    sc.items.append(Text(MARGIN, y + 11, f"{len(rows)} {title}s: min {100 * fracs[0]:.1f}%, median {100 * mid:.1f}%, "
                         f"max {100 * fracs[-1]:.1f}% (one cell per {title}, darker = busier)", 10.5,
                         fill="#444444"))
    y += 18
    cell = 12
    per_row = max(1, int((sc.width - 2 * MARGIN) // (cell + 2)))
    for k, (key, (used, total)) in enumerate(rows.items()):
        frac = min(used / total, 1.0) if total else 0.0
        x = MARGIN + (k % per_row) * (cell + 2)
        yy = y + (k // per_row) * (cell + 2)
        sc.items.append(Rect(x, yy, cell, cell, _mix("#2f6f6a", 0.92 - 0.92 * frac), "none",
                             f"{title} {key}: {used:.2f} of {total:g} GPUs ({_pct(used, total)})"))
    return y + ((len(rows) - 1) // per_row + 1) * (cell + 2) + 10


def _legend(sc: Scene, colors: Colors, y: float, width: float, inst: Instance) -> float:
    def row(entries: list[tuple[str, str]], y: float, size: float) -> float:
        x = MARGIN
        for label, color in entries:
            w = 26 + len(label) * size * 0.62
            if x + w > width - MARGIN and x > MARGIN:
                x = MARGIN
                y += 18
            sc.items.append(Rect(x, y + 2, 12, 12, color))
            sc.items.append(Text(x + 16, y + 12, label, size))
            x += w
        return y + 20

    y = row([(f"tenant {t}", colors.tenant_color[t]) for t in colors.tenants] + [("bar on top: running before the plan", INK)], y, 11)
    drawn = [r for r in inst.requests if r.kind != "host"]  # host units hold no GPU: never drawn
    if len(drawn) <= 30:
        y = row([(r.id, colors.request_color[r.id]) for r in drawn], y, 9.5)
    return y + 4


def build_scene(layout: ClusterLayout, plan: Plan | None = None, *, only: Iterable[str] | None = None,
                bars: bool = True, heading: bool = True, colors: Colors | None = None,
                grouped: Grouped | None = None) -> Scene:
    """The picture of ``layout`` (optionally only some ``only`` domains, without bars or heading).

    ``colors`` and ``grouped`` (from :func:`groups`) may be passed in when drawing many parts.
    """
    inst = layout.instance
    colors = colors or Colors(inst)
    grouped = grouped if grouped is not None else groups(layout)
    max_gpus = max((n.num_gpus for n in inst.nodes), default=1)
    cols = max(1, min(GPUS_PER_ROW, max_gpus))
    width = max(MARGIN * 2 + LABEL_W + cols * (GPU_W + GAP), 720)
    sc = Scene(width=width, height=0)
    y = MARGIN
    if heading:
        what = f"plan for {inst.name}" if plan is not None else f"running state of {inst.name}"
        sc.items.append(Text(MARGIN, y + 16, f"packer · {what}", 17, bold=True))
        y += 24
        used = layout.used()
        sub = f"{len(layout.gpus)} GPUs · {used:.2f} GPU-equivalents used ({_pct(used, len(layout.gpus))})"
        if plan is not None:
            sub += f" · status {plan.status} · solver {plan.solver.name}"
            if plan.unplaced:
                sub += f" · {len(plan.unplaced)} unplaced"
        sc.items.append(Text(MARGIN, y + 12, sub, 11, fill="#444444"))
        y += 22
        y = _legend(sc, colors, y, width, inst)
    y = _grid(sc, layout, colors, y, grouped, only)
    if bars:
        y = _bars(sc, layout, colors, y + 4)
    sc.height = y + MARGIN
    return sc


# --------------------------------------------------------------------------------------- writers


def scene_svg(sc: Scene) -> str:
    """The scene as a standalone SVG document."""
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{sc.width:.0f}" height="{sc.height:.0f}" '
        f'viewBox="0 0 {sc.width:.0f} {sc.height:.0f}" font-family="Helvetica, Arial, sans-serif">',
        f'<rect x="0" y="0" width="{sc.width:.0f}" height="{sc.height:.0f}" fill="#ffffff"/>',
    ]
    for it in sc.items:
        if isinstance(it, Rect):
            attrs = (f'x="{it.x:.1f}" y="{it.y:.1f}" width="{max(it.w, 0):.1f}" height="{max(it.h, 0):.1f}" '
                     f'fill="{it.fill}"')
            if it.stroke != "none":
                attrs += f' stroke="{it.stroke}" stroke-width="1"'
            if it.dashed:
                attrs += ' stroke-dasharray="4 3"'
            if it.title:
                out.append(f"<rect {attrs}><title>{html.escape(it.title)}</title></rect>")
            else:
                out.append(f"<rect {attrs}/>")
        else:
            weight = ' font-weight="bold"' if it.bold else ""
            out.append(
                f'<text x="{it.x:.1f}" y="{it.y:.1f}" font-size="{it.size}" text-anchor="{it.anchor}" '
                f'fill="{it.fill}"{weight}>{html.escape(it.text)}</text>'
            )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def render_svg(layout: ClusterLayout, plan: Plan | None = None) -> str:
    """The whole picture as one SVG document."""
    return scene_svg(build_scene(layout, plan))


def render_html(layout: ClusterLayout, plan: Plan | None = None) -> str:
    """A self-contained page: heading, utilization, one collapsible section per rack (domain), then the
    topology tree with GPUs and utilization per domain."""
    inst = layout.instance
    colors = Colors(inst)
    grouped = groups(layout)
    head = build_scene(layout, plan, only=(), bars=True, heading=True, colors=colors, grouped=grouped)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>packer · {html.escape(inst.name)}</title>",
        "<style>body{font-family:Helvetica,Arial,sans-serif;margin:16px;color:#222}"
        "details{margin:8px 0;border:1px solid #ddd;border-radius:4px;padding:4px 8px}"
        "summary{cursor:pointer;font-weight:bold}table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}</style></head><body>",
        scene_svg(head),
    ]
    if plan is not None and plan.unplaced:
        parts.append("<h3>Unplaced requests</h3><table><tr><th>request</th><th>reason</th></tr>")
        for u in plan.unplaced:
            parts.append(f"<tr><td>{html.escape(u.request)}</td><td>{html.escape(u.reason)}</td></tr>")
        parts.append("</table>")
    level = group_level(inst) or "cluster"
    many = len(grouped) > 4
    for dom, nodes in grouped:
        used = sum(g.used() for _, gs in nodes for g in gs)
        total = sum(len(gs) for _, gs in nodes)
        sc = build_scene(layout, plan, only=(dom,), bars=False, heading=False, colors=colors, grouped=[(dom, nodes)])
        state = "" if many else " open"
        parts.append(
            f"<details{state}><summary>{html.escape(level)} {html.escape(dom)}: {len(nodes)} nodes, "
            f"{used:.2f} of {total} GPUs used ({_pct(used, total)})</summary>"
        )
        parts.append(scene_svg(sc))
        parts.append("</details>")
    parts += _tree_html(layout)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def render_png(layout: ClusterLayout, path: str | Path, plan: Plan | None = None) -> None:
    """Draws the scene with matplotlib; InputError (exit 2) when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Rectangle
    except ImportError:
        raise InputError(
            "PNG output needs matplotlib (pip install 'packer[plot]'); write .svg or .html instead",
            file=str(path),
        ) from None
    sc = build_scene(layout, plan)
    dpi = 100
    fig = plt.figure(figsize=(sc.width / dpi, sc.height / dpi), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, sc.width)
    ax.set_ylim(sc.height, 0)
    ax.axis("off")
    for it in sc.items:
        if isinstance(it, Rect):
            ax.add_patch(
                Rectangle((it.x, it.y), max(it.w, 0), max(it.h, 0), facecolor=it.fill,
                          edgecolor=None if it.stroke == "none" else it.stroke,
                          linewidth=0 if it.stroke == "none" else 0.8, linestyle="--" if it.dashed else "-")
            )
        else:
            ax.text(it.x, it.y, it.text, fontsize=it.size * 0.75, ha={"start": "left", "end": "right"}.get(
                it.anchor, "center"), va="baseline", color=it.fill, fontweight="bold" if it.bold else "normal")
    tmp = Path(path).with_name(f".{Path(path).name}.tmp.png")
    try:
        fig.savefig(tmp, dpi=dpi, format="png")
        tmp.replace(path)
    finally:
        plt.close(fig)
        if tmp.exists():
            tmp.unlink()


# -------------------------------------------------------------------------------------- terminal


def gpu_bar(g: GpuLayout, colors: Colors, width: int = 8) -> str:
    """A GPU as ``width`` characters: a tenant letter per memory slice or share, ``.`` free, ``~`` unused any."""
    if g.mode == "any" and not g.pieces:
        return "~" * width
    cells = ["."] * width
    if g.mode == "mig" and g.memory_positions:
        n = g.memory_positions
        for p in g.pieces:
            if p.start is None or p.size is None:
                continue
            lo = round(width * p.start / n)
            hi = max(lo + 1, round(width * (p.start + p.size) / n))
            for i in range(lo, min(hi, width)):
                cells[i] = colors.letter.get(p.tenant, "?")
    elif g.mode == "shared":
        pos = 0.0
        for p in g.pieces:
            nxt = pos + width * (p.gpu_milli or 0) / MILLI_PER_GPU
            for i in range(round(pos), min(round(nxt), width)):
                cells[i] = colors.letter.get(p.tenant, "?").lower()
            pos = nxt
    else:
        for p in g.pieces:
            cells = [colors.letter.get(p.tenant, "?")] * width
    return "".join(cells)


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*headers), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows]


def summary_table(layout: ClusterLayout, plan: Plan | None = None, *, max_nodes: int = 200) -> str:
    """The terminal summary: nodes with GPU bars, then utilization by tenant, mode and domain."""
    inst = layout.instance
    colors = Colors(inst)
    lines = []
    used = layout.used()
    title = f"{inst.name}: {len(layout.gpus)} GPUs, {used:.2f} used ({_pct(used, len(layout.gpus))})"
    if plan is not None:
        title += f"; plan {plan.status} by {plan.solver.name}, {len(plan.assignments)} placed, " \
                 f"{len(plan.unplaced)} unplaced"
    lines.append(title)
    lines.append("legend: " + ", ".join(f"{colors.letter[t]}={t}" for t in colors.tenants)
                 + "  (one char per memory slice; lower case = shared; . free; ~ unused 'any')")
    lines.append("")
    rows = []
    level = group_level(inst)
    for k, (node_id, gpus) in enumerate(layout.by_node()):
        if k >= max_nodes:
            rows.append(["…", f"{len(inst.nodes) - max_nodes} more nodes", "", "", "", ""])
            break
        node = inst.node(node_id)
        u = sum(g.used() for g in gpus)
        modes: dict[str, int] = {}
        for g in gpus:
            modes[g.mode] = modes.get(g.mode, 0) + 1
        rows.append([
            node_id,
            inst.domain(node, level) if level else "",
            node.gpu_model or "-",
            " ".join(f"{m}×{c}" for m, c in sorted(modes.items())),
            f"{u:.2f}/{len(gpus)}",
            " ".join(f"[{gpu_bar(g, colors)}]" for g in gpus),
        ])
    lines += _table(["node", level or "", "model", "modes", "used", "GPUs"], rows)
    host = layout.host_by_node()
    if host:
        # Host units hold no GPU: listed by node, with the CPU and memory they take.
        lines.append("")
        hrows = []
        for node_id, items in host.items():
            node = inst.node(node_id)
            per: dict[str, int] = {}
            for h in items:
                per[h.request] = per.get(h.request, 0) + 1
            cpu = sum(h.cpu_milli for h in items)
            mem = sum(h.memory_mib for h in items)
            hrows.append([
                node_id,
                " ".join(f"{r}×{c}" if c > 1 else r for r, c in per.items()),
                f"{cpu}" + (f"/{node.cpu_milli}" if node.cpu_milli is not None else ""),
                f"{mem}" + (f"/{node.memory_mib}" if node.memory_mib is not None else ""),
            ])
            if len(hrows) >= max_nodes:
                break
        lines += _table(["host units on node", "requests", "milli-CPU", "MiB"], hrows)
    for title, data in utilization(layout).items():
        lines.append("")
        lines += _table([title, "used", "of", "share"],
                        [[k, f"{a:.2f}", f"{b:g}", _pct(a, b)] for k, (a, b) in data.items()])
    if plan is not None and plan.unplaced:
        lines.append("")
        rows = [[u.request, u.reason] for u in plan.unplaced[:max_nodes]]
        if len(plan.unplaced) > max_nodes:
            rows.append(["…", f"{len(plan.unplaced) - max_nodes} more unplaced requests"])
        lines += _table(["unplaced", "reason"], rows)
    return "\n".join(lines) + "\n"


def show(inst: Instance, plan: Plan | None, out: str | Path | None = None, *, tree: bool = False) -> str | None:
    """Writes the picture to ``out`` (by suffix: .svg, .html/.htm, .png); returns the table when no ``out``
    (the topology tree instead with ``tree``)."""
    layout = cluster_layout(inst, plan)
    if out is None:
        return topology_tree(layout) if tree else summary_table(layout, plan)
    suffix = Path(out).suffix.lower()
    if suffix == ".svg":
        write_text_atomic(out, render_svg(layout, plan))
    elif suffix in (".html", ".htm"):
        write_text_atomic(out, render_html(layout, plan))
    elif suffix == ".png":
        render_png(layout, out, plan)
    else:
        raise InputError("output must end in .svg, .html or .png", file=str(out))
    return None


__all__ = [
    "Colors",
    "Rect",
    "Scene",
    "Text",
    "build_scene",
    "gpu_bar",
    "render_html",
    "render_png",
    "render_svg",
    "scene_svg",
    "show",
    "summary_table",
    "TreeRow",
    "topology_rows",
    "topology_tree",
    "utilization",
]
