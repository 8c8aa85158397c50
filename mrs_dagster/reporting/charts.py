"""The dashboard's charts as PNG bytes (matplotlib's object API: no pyplot state, so the review
console can draw from several threads)."""

from __future__ import annotations

import io

import matplotlib
import pandas as pd
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure

matplotlib.use("Agg")

DPI = 110
SALES, BASELINE, WINDOW = "#1f5fa8", "#8a8a8a", "#f2c14e"
CAUSE_COLOURS = {"promotion": "#4e79a7", "weather": "#59a14f", "local_event": "#f28e2b", "viral_demand": "#e15759",
                 "data_error": "#b07aa1", "stockout": "#9c755f", "unknown": "#bab0ac", "none": "#d7d7d7"}


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def sales_against_baseline(frame: pd.DataFrame, window_start: pd.Timestamp, window_end: pd.Timestamp,
                           title: str, currency: str) -> bytes:
    """Sales and baseline per tick (`frame`: ts, sales, baseline) with the event window shaded."""
    figure = Figure(figsize=(7.2, 2.6))
    ax = figure.subplots()
    ax.axvspan(window_start, window_end, color=WINDOW, alpha=0.35, label="event window", linewidth=0)
    ax.plot(frame["ts"], frame["baseline"], color=BASELINE, linestyle="--", linewidth=1.4, label="baseline")
    ax.plot(frame["ts"], frame["sales"], color=SALES, linewidth=1.6, label="sales")
    ax.set_title(title, fontsize=9, loc="left")
    ax.set_ylabel(f"sales per 5 min ({currency})", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    ax.grid(alpha=0.25)
    ax.xaxis.set_major_formatter(DateFormatter("%H:%M"))
    return _png(figure)


def events_by_cause(counts: pd.DataFrame) -> bytes:
    """Stacked bars of events per day by cause (`counts`: days x causes)."""
    figure = Figure(figsize=(7.2, 2.8))
    ax = figure.subplots()
    bottom = pd.Series(0, index=counts.index)
    labels = [d.strftime("%a %d %b") for d in counts.index]
    for cause in counts.columns:
        ax.bar(labels, counts[cause], bottom=bottom, label=cause.replace("_", " "), color=CAUSE_COLOURS.get(cause))
        bottom += counts[cause]
    ax.set_ylabel("events", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.tick_params(axis="x", rotation=45)
    ax.legend(fontsize=7, frameon=False, ncols=4)
    ax.grid(axis="y", alpha=0.25)
    return _png(figure)


def money_heat_map(matrix: pd.DataFrame, currency: str) -> bytes:
    """Stores (rows) x days (columns) coloured by money at stake."""
    figure = Figure(figsize=(7.2, max(2.0, 0.28 * len(matrix) + 1.2)))
    ax = figure.subplots()
    image = ax.imshow(matrix.to_numpy(), aspect="auto", cmap="YlOrRd", interpolation="nearest")
    ax.set_yticks(range(len(matrix)), [f"store {s}" for s in matrix.index], fontsize=7)
    ax.set_xticks(range(len(matrix.columns)), [d.strftime("%d %b") for d in matrix.columns], fontsize=7, rotation=45)
    figure.colorbar(image, ax=ax, label=f"money at stake ({currency})").ax.tick_params(labelsize=7)
    return _png(figure)
