"""Tables and plots of replay results next to FGD's published numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from packer.errors import InputError
from packer.replay.runner import PUBLISHED_NAMES


def _num(v: float | None, digits: int = 2) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def table(results: list[dict[str, Any]], published: dict | None = None, workload: str = "default") -> str:
    """A Markdown table: allocation at 100% / 130%, unallocated GPUs, gap to the bound, FGD's numbers."""
    head = "| policy | alloc@100 (%) | alloc@130 (%) | sd@130 | unallocated GPUs @130 | bound gap @130 (pts) | published @100 | published @130 |"
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        pub = (published or {}).get((workload, PUBLISHED_NAMES.get(r["policy"], "")))
        p100 = f"{pub['mean'][100]:.2f}" if pub else "–"
        p130 = f"{pub['mean'][130]:.2f}" if pub else "–"
        gap = r.get("bound", {}).get("gap_pts_130")
        a100, a130 = r["allocation_pct"].get("100"), r["allocation_pct"].get("130")
        un = r["unallocated_gpus"].get("130")
        lines.append(
            f"| {r['policy']} | {_num(a100)} | {_num(a130)} | {_num(r['allocation_pct_std'].get('130'))} | "
            f"{_num(un, 1)} | {_num(gap)} | {p100} | {p130} |"
        )
    return "\n".join(lines)


def plot(results: list[dict[str, Any]], out: str | Path, published: dict | None = None,
         workload: str = "default", title: str | None = None) -> None:
    """Allocation ratio vs arrived demand (0..130%), packer's runs solid, FGD's published dashed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("plotting needs matplotlib: pip install matplotlib (or pip install packer[plot])") from None
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    xs = list(range(131))
    for ax, lo in zip(axes, (0, 80), strict=True):
        for r in results:
            ys = r["curves"]["allocation_pct"]
            line, = ax.plot(xs[lo:], ys[lo:], label=f"{r['policy']} (ours)", lw=1.6)
            pub = (published or {}).get((workload, PUBLISHED_NAMES.get(r["policy"], "")))
            if pub:
                ax.plot(xs[lo:], pub["mean"][lo:], ls="--", color=line.get_color(), lw=1.0,
                        label=f"{r['policy']} (FGD published)")
        ax.plot(xs[lo:], [min(x, 100) for x in xs[lo:]], color="grey", lw=0.8, ls=":", label="arrived (cap 100)")
        ax.set_xlabel("arrived GPU demand (% of capacity)")
        ax.set_ylabel("GPU allocation ratio (%)")
        ax.grid(alpha=0.3)
    axes[1].set_ylim(85, 100.5)
    axes[1].set_title("zoom: 80-130%")
    axes[0].set_title(title or f"openb {workload}: allocation vs arrived demand")
    handles, labels = axes[1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 5), fontsize=7)
    fig.tight_layout(rect=(0, 0.06 + 0.03 * ((len(labels) - 1) // 5), 1, 1))
    fig.savefig(str(out), dpi=130)
    plt.close(fig)


__all__ = ["plot", "table"]
