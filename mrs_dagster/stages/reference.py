"""Reference attributes joined onto report rows."""

from __future__ import annotations

import pandas as pd

from mrs_dagster.stages.timestamps import parse_timestamps
from mrs_dagster.stages.validation import row_errors

_IDS = {"stores": "store_id", "skus": "sku", "campaigns": "campaign_id", "context_events": "event_id",
        "analysts": "analyst_id"}
_TIMES = {"campaigns": ("start", "end"), "context_events": ("start", "end")}


def usable_reference(name: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the usable rows of `reference/<name>.csv`, the others with an `error` column): a row needs
    its id, and a campaign or context event parseable `start` <= `end`."""
    problems = {f"{_IDS[name]} is blank": frame[_IDS[name]].str.strip().eq("")}
    for column in _TIMES.get(name, ()):
        problems[f"{column} is not a timestamp"] = parse_timestamps(frame[column]).isna()
    if name in _TIMES:
        problems["start is after end"] = parse_timestamps(frame["start"]) > parse_timestamps(frame["end"])
    reasons = row_errors(problems, frame.index)
    bad = reasons.ne("")
    return frame[~bad], frame[bad].assign(error=reasons[bad])


def with_region_and_category(rows: pd.DataFrame, stores: pd.DataFrame | None, skus: pd.DataFrame | None) -> pd.DataFrame:
    """`rows` with the store's `region` and the SKU's `category` (NULL where the reference is missing)."""
    return rows.assign(
        region=rows["store_id"].map(stores.set_index("store_id")["region"]) if stores is not None else None,
        category=rows["sku"].map(skus.set_index("sku")["category"]) if skus is not None else None,
    )


def active(analysts: pd.DataFrame) -> pd.Series:
    """Whether each analyst of reference/analysts.csv is active (`true`, `1` or `yes`, any case)."""
    return analysts["active"].astype(str).str.strip().str.lower().isin(["true", "1", "yes"])
