"""The stats chart as a PNG, drawn server-side with matplotlib's Agg backend. Pure and synchronous:
callers run it in a worker thread so drawing never blocks the event loop."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Final

# The object API with an explicit Agg canvas: no pyplot, so no global figure state shared
# between threads and no GUI backend picked from the environment.
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.domain.stats import VersionStats
from bot.metrics.calibration import Calibration

WIDTH_PX: Final = 1200
HEIGHT_PX: Final = 800
DPI: Final = 100
# beyond this many versions every n-th tick label is kept so the labels stay readable
MAX_TICK_LABELS: Final = 24


def _present(xs: Sequence[int], ys: Sequence[float | None]) -> tuple[list[int], list[float]]:
    kept = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
    return [x for x, _ in kept], [y for _, y in kept]


def stats_chart(stats: Sequence[VersionStats], *, title: str) -> bytes:
    """Alignment and median response time per version in the order they were saved, and
    satisfaction as bars. Versions without a figure have no point (or bar), never a zero."""
    ordered = sorted(stats, key=lambda s: (s.created_at, s.version))
    xs = list(range(len(ordered)))
    labels = [f"v{s.version}\n{s.created_at:%d %b}" for s in ordered]

    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.suptitle(title, fontsize=16)
    align_ax, time_ax, sat_ax = fig.subplots(3, 1, sharex=True)

    ax, ay = _present(xs, [s.alignment for s in ordered])
    align_ax.plot(ax, ay, marker="o", linewidth=2, color="#3b2f63")
    align_ax.set_ylim(0, 100)
    align_ax.set_ylabel("Alignment\n(points, 0–100)")
    align_ax.grid(True, alpha=0.3)

    tx, ty = _present(xs, [None if s.median_ms is None else s.median_ms / 1000 for s in ordered])
    time_ax.plot(tx, ty, marker="o", linewidth=2, color="#d0743c")
    # headroom above the slowest point, so it is not drawn on the frame
    time_ax.set_ylim(0, max(ty) * 1.15 if ty else 1.0)
    time_ax.set_ylabel("Median response\ntime (s)")
    time_ax.grid(True, alpha=0.3)

    sx, sy = _present(
        xs, [None if s.satisfaction is None else 100 * s.satisfaction for s in ordered]
    )
    sat_ax.bar(sx, sy, color="#5b9b5b", width=0.6)
    for x in sx:
        sat_ax.annotate(
            f"{ordered[x].rated} rated",
            (x, 2),
            ha="center",
            va="bottom",
            fontsize=9,
            color="white",
        )
    sat_ax.set_ylim(0, 100)
    # the default font has no emoji, so no 👍 here
    sat_ax.set_ylabel("Satisfaction\n(% thumbs-up of rated)")
    sat_ax.set_xlabel("Profile version (date saved)")
    sat_ax.grid(True, axis="y", alpha=0.3)

    step = max(1, -(-len(xs) // MAX_TICK_LABELS))
    sat_ax.set_xticks(xs[::step], labels[::step])
    sat_ax.set_xlim(-0.6, max(len(xs) - 0.4, 0.6))
    if not ax and not tx and not sx:
        align_ax.text(
            0.5, 0.5, "no figures in this period", ha="center", transform=align_ax.transAxes
        )

    fig.tight_layout(rect=(0, 0, 1, 0.96))
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def calibration_chart(c: Calibration, *, title: str) -> bytes:
    """Set level on x, the judge's perceived level on y with its 95% interval, and the ideal
    diagonal; a setting the judge gave no level at has no point."""
    fig = Figure(figsize=(800 / DPI, 800 / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.plot([0, 100], [0, 100], linestyle="--", color="#999999", label="ideal (perceived = set)")
    shown = [lv for lv in c.levels if lv.perceived is not None]
    xs = [lv.setting for lv in shown]
    ys = [lv.perceived.value for lv in shown if lv.perceived is not None]
    below = [
        0.0
        if lv.perceived is None or lv.perceived.low is None
        else lv.perceived.value - lv.perceived.low
        for lv in shown
    ]
    above = [
        0.0
        if lv.perceived is None or lv.perceived.high is None
        else lv.perceived.high - lv.perceived.value
        for lv in shown
    ]
    ax.errorbar(
        xs,
        ys,
        yerr=[below, above],
        marker="o",
        linewidth=2,
        capsize=6,
        color="#3b2f63",
        label="perceived (mean, 95% interval)",
    )
    for low, high in c.dead_ranges:
        ax.axvspan(low, high, color="#d0743c", alpha=0.15)
    ax.set_xlim(-5, 105)
    ax.set_ylim(0, 100)
    ax.set_xlabel(f"{c.trait.replace('_', ' ')} set (0–100)")
    ax.set_ylabel("perceived by the judge (0–100)")
    rho = (
        "n/a"
        if c.correlation is None
        else f"{c.correlation.rho:.2f} [{c.correlation.low:.2f}, {c.correlation.high:.2f}]"
    )
    ax.set_title(f"{title}\nSpearman ρ {rho}; shaded: dead ranges", fontsize=12)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left")
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()
