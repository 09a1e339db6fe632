"""The drift chart of a simulation run as a PNG (matplotlib's Agg canvas, no pyplot, as in
bot.metrics.charts): per trait, each simulation's gap (perceived − set) at every bot turn,
with the tolerance band. Pure and synchronous: callers run it in a worker thread."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any, Final

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.domain.profile import TRAIT_LABELS
from bot.simulation.drift import TOLERANCE, TraitDrift

WIDTH_PX: Final = 1200
HEIGHT_PX: Final = 800
DPI: Final = 100


def drift_chart(figures: Sequence[dict[str, Any]], *, title: str) -> bytes:
    traits: list[str] = []
    for f in figures:
        for d in f["drift"]:
            if d["trait"] not in traits:
                traits.append(d["trait"])
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.suptitle(title, fontsize=16)
    count = max(1, len(traits))
    cols = 2 if count > 1 else 1
    rows = -(-count // cols)
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, trait in enumerate(traits or ["(no trait was judged)"]):
        ax = axes[i // cols][i % cols]
        ax.axhspan(-TOLERANCE, TOLERANCE, color="#5b9b5b", alpha=0.15)
        ax.axhline(0, color="#555555", linewidth=0.8)
        for f in figures:
            for raw in f["drift"]:
                if raw["trait"] != trait:
                    continue
                d = TraitDrift.from_json(raw)
                ax.plot(
                    [t for t, _ in d.gaps],
                    [g for _, g in d.gaps],
                    marker="o",
                    linewidth=2,
                    label=str(f["name"])[:30],
                )
        ax.set_title(TRAIT_LABELS.get(trait, trait))
        ax.set_ylim(-100, 100)
        ax.set_xlabel("Bot turn")
        ax.set_ylabel("Perceived − set (points)")
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    for j in range(len(traits or [""]), rows * cols):
        axes[j // cols][j % cols].set_visible(False)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()
