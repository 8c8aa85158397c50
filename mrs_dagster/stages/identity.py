"""Stable ids: the same inputs give the same id in every run, on every machine."""

from __future__ import annotations

import hashlib

import pandas as pd


def stable_id(*parts) -> str:
    """hash(part1 || part2 || ...) as 16 hex digits; timestamps hash by their UTC ISO form."""
    text = "||".join(p.isoformat() if isinstance(p, pd.Timestamp) else str(p) for p in parts)
    return hashlib.sha1(text.encode()).hexdigest()[:16]
