"""The dashboard (seed 003): a static site of the top findings, charts with alt text and the
health panel, readable on a laptop and printable to PDF. Also the pieces the review console
shares with it: the page templates and an event's chart."""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from mrs_dagster.lake import Lake, dataset
from mrs_dagster.reporting import charts
from mrs_dagster.stages import dashboard
from mrs_dagster.stages.ingest import current_sales_series
from mrs_dagster.stages.insights import money, sku_phrase
from mrs_dagster.stages.segment_trends import latest_week

TEMPLATES = Environment(loader=PackageLoader("mrs_dagster.reporting"), autoescape=select_autoescape())
TOP_FINDINGS = 10
TOP_CHARTS = 6
# The overview charts' span: a day's bar stays readable, and drawing costs the same on any history.
OVERVIEW_DAYS = 28


@dataclass(frozen=True)
class Chart:
    png: bytes
    alt: str

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels, from the PNG header."""
        return struct.unpack(">II", self.png[16:24])


def chart_data(lake: Lake, run_id: str, events: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The current sales series and the baseline's predictions the charts of `events` (rows with
    store_id, window_start, window_end) show: each event's store in its window and context, read
    alone (the logs are sorted by tick and written at it, so a read skips the rest of history)."""
    series = _around(lake, "sales_timeseries_data", run_id, ["store_id", "sku", "ts", "sales_value", "feed_version"], events)
    baseline = _around(lake, "baseline_sales_model_prediction_log", run_id,
                       ["store_id", "sku", "ts", "expected_sales_value", "written_at", "version"], events)
    return current_sales_series(series), baseline


def _around(lake: Lake, name: str, run_id: str, columns: list[str], events: pd.DataFrame) -> pd.DataFrame:
    reads = [lake.read(name, run_id=run_id, columns=columns, store_ids=[e.store_id], since=e.window_start - dashboard.CONTEXT,
                       as_of=e.window_end + dashboard.CONTEXT) for e in events.itertuples(index=False)]
    # Two events of a store can overlap: a row read twice would count twice.
    return pd.concat(reads, ignore_index=True).drop_duplicates() if reads else dataset(name).empty()[columns]


def event_chart(series: pd.DataFrame, baseline: pd.DataFrame, event, currency: str) -> Chart:
    """Sales against baseline around `event` (an insights or minority_events row)."""
    frame = dashboard.sales_against_baseline(series, baseline, event)
    what = sku_phrase(event, listed=0)
    title = f"store {event.store_id}, {what}: {event.window_start:%a %d %b %H:%M}–{event.window_end:%H:%M}"
    inside = frame[frame["ts"].between(event.window_start, event.window_end)]
    ratio = inside["sales"].sum() / inside["baseline"].sum() if inside["baseline"].sum() > 0 else None
    alt = (f"Line chart of sales against baseline for {what} at store {event.store_id}, every 5 minutes from "
           f"{frame['ts'].min():%d %b %H:%M} to {frame['ts'].max():%d %b %H:%M}"
           if len(frame) else f"Empty chart: no sales rows for {what} at store {event.store_id}")
    alt += (f"; the event window {event.window_start:%H:%M}–{event.window_end:%H:%M} is shaded"
            + (f", where sales ran at {ratio:.1f} times the baseline." if ratio is not None else "."))
    return Chart(charts.sales_against_baseline(frame, event.window_start, event.window_end, title, currency), alt)


@dataclass(frozen=True)
class DashboardInputs:
    insights: pd.DataFrame
    segment_trends: pd.DataFrame
    health: pd.DataFrame
    series: pd.DataFrame  # the current series of the top events' stores
    baseline: pd.DataFrame  # the baseline predictions of those stores
    error_rows: int  # unified_sales_data's dead letters
    valid_rows: int  # unified_sales_data's rows
    run_id: str
    newest_tick: pd.Timestamp | None
    currency: str = "£"


def build_dashboard(inputs: DashboardInputs) -> dict[str, bytes]:
    """The site's files by name: index.html and its PNGs."""
    insights, currency = inputs.insights, inputs.currency
    files: dict[str, bytes] = {}

    def figure(name: str, chart: Chart, **fields) -> dict:
        files[name] = chart.png
        width, height = chart.size
        return {"src": name, "alt": chart.alt, "width": width, "height": height, **fields}

    top = insights.head(TOP_CHARTS)
    event_figures = [
        figure(f"event-{e.rank}.png", event_chart(inputs.series, inputs.baseline, e, currency), rank=e.rank, finding=e.finding)
        for e in top.itertuples(index=False)
    ]
    overview = []
    if len(insights):
        recent = dashboard.recent_events(insights, OVERVIEW_DAYS)
        counts = dashboard.events_by_cause(recent)
        busiest = counts.sum().idxmax()
        overview.append(figure("events-by-cause.png", Chart(charts.events_by_cause(counts), (
            f"Stacked bar chart of {len(recent)} minority events per day by cause, {counts.index.min():%d %b} to "
            f"{counts.index.max():%d %b}; the most common cause is {busiest.replace('_', ' ')} "
            f"({int(counts[busiest].sum())} events).")), id="events-by-cause",
            heading=f"Events by cause, last {OVERVIEW_DAYS} days"))
        matrix = dashboard.money_by_store_and_day(recent)
        store, day = matrix.stack().idxmax()
        overview.append(figure("store-day-heat-map.png", Chart(charts.money_heat_map(matrix, currency), (
            f"Heat map of money at stake for {len(matrix)} stores by day; the most, "
            f"{money(matrix.to_numpy().max(), currency)}, at store {store} on {day:%d %b}.")),
            id="store-day-heat-map", heading=f"Money at stake by store and day, last {OVERVIEW_DAYS} days"))
    page = TEMPLATES.get_template("dashboard.html").render(
        title="MRS dashboard", run_id=inputs.run_id, insights=insights,
        newest_tick=f"{inputs.newest_tick:%Y-%m-%d %H:%M} UTC" if inputs.newest_tick is not None else "no data",
        slo_panel=dashboard.slo_panel(inputs.health, inputs.error_rows, inputs.valid_rows).to_dict("records"),
        top=[{"event_id": e.event_id, "rank": e.rank, "finding": e.finding, "cause": e.cause,
              "confidence": f"{e.confidence_score:.0%}" if pd.notna(e.confidence_score) else "n/a",
              "money": money(e.sales_at_stake, currency)} for e in insights.head(TOP_FINDINGS).itertuples(index=False)],
        charts=event_figures, overview=overview, trends=_latest_week(inputs.segment_trends, currency),
    )
    files["index.html"] = page.encode()
    return files


def _latest_week(trends: pd.DataFrame, currency: str) -> list[tuple[str, list[dict]]]:
    out = []
    for dimension, rows in latest_week(trends).sort_values("dimension", kind="stable").groupby("dimension", sort=False):
        out.append((dimension, [{
            "segment": r.segment, "events": r.events,
            "events_change": "n/a" if pd.isna(r.events_change) else f"{int(r.events_change):+d}",
            "sales_at_stake": money(r.sales_at_stake, currency),
            "sales_at_stake_change": "n/a" if pd.isna(r.sales_at_stake_change) else
            ("+" if r.sales_at_stake_change >= 0 else "") + money(r.sales_at_stake_change, currency),
            "share_affected": f"{r.share_affected:.1%}",
        } for r in rows.itertuples(index=False)]))
    return out


def write_site(files: dict[str, bytes], site_dir: Path) -> None:
    """Replace the site at `site_dir` whole: written aside, then swapped in, so a reader never
    sees half a dashboard."""
    site_dir.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{site_dir.name}-", dir=site_dir.parent))
    staged.chmod(0o755)  # mkdtemp makes it private; the site is for reading
    for name, content in files.items():
        (staged / name).write_bytes(content)
    old = site_dir.with_name(f".{site_dir.name}-old")
    if site_dir.exists():
        os.replace(site_dir, old)
    os.replace(staged, site_dir)
    shutil.rmtree(old, ignore_errors=True)
