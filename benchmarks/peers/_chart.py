"""Draw peers.png from peers.json: one group of bars per shape, one bar per tool.

Run with the `chart` venv's python (matplotlib is not a dependency of the project):
`python _chart.py peers.json OUTDIR`. A bar is the median wall time on a log scale, its
whisker the min-max range; a tool that failed or cannot express a shape gets a label
instead of a bar, and each peer's bar is labelled with jupyter-argo's time over its own.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COLOURS = {"ours": "#d9480f", "kfp": "#1c7ed6", "metaflow": "#37b24d", "dflow": "#7048e8"}


def draw(summary: dict[str, Any], out: Path) -> None:
    tools = list(summary["tools"])
    shapes = list(summary["shapes"])
    height = 0.8 / len(tools)
    fig, ax = plt.subplots(figsize=(10, 1.1 + 1.25 * len(shapes)), dpi=110)
    medians = [
        c["median"] for row in summary["cells"].values() for c in row.values() if "median" in c
    ]
    low, high = min(medians) / 3, max(medians) * 8
    for i, name in enumerate(tools):
        for j, shape in enumerate(shapes):
            cell = summary["cells"][shape][name]
            y = j + (i - (len(tools) - 1) / 2) * height
            if "median" not in cell:
                label = summary["tools"][name]["label"]
                if "na" in cell:
                    why = f"{label}: n/a ({cell['na']})"
                else:
                    why = f"{label}: failed {cell['failed']} of {cell['runs']}: {cell['error']}"
                ax.text(low * 1.05, y, why[:110], va="center", fontsize=7, color="#c92a2a")
                continue
            error = [[cell["median"] - cell["min"]], [cell["max"] - cell["median"]]]
            ax.barh(
                y,
                cell["median"],
                height * 0.9,
                color=COLOURS.get(name, "grey"),
                xerr=error,
                error_kw={"elinewidth": 0.8, "capsize": 2},
                left=0,
            )
            label = f"{cell['median']:.2f} s"
            ours = summary["cells"][shape].get("ours", {}).get("median")
            if name != "ours" and ours is not None:
                label += f"  (jupyter-argo {ours / cell['median']:.2f}x)"
            if "failed" in cell:
                label += f"  failed {cell['failed']}/{cell['runs']}"
            ax.text(cell["max"] * 1.08, y, label, va="center", fontsize=7)
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ticks = [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500) if low <= t <= high]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_yticks(range(len(shapes)), [summary["shapes"][s] for s in shapes], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("wall time of one run, seconds (log scale; bar: median, whisker: min-max)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=COLOURS.get(n, "grey")) for n in tools]
    labels = [f"{t['label']} {t['version']}" for t in summary["tools"].values()]
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=4, fontsize=8)
    load = summary["load"]
    ax.set_title(
        f"jupyter-argo and its peers, {summary['date']}\n{summary['machine']}, "
        f"load average {load['min']:.1f}-{load['max']:.1f}",
        fontsize=9,
    )
    ax.grid(axis="x", which="both", alpha=0.2)
    fig.tight_layout()
    fig.savefig(out / "peers.png")


if __name__ == "__main__":
    draw(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]))
