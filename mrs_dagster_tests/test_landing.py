"""Reading deliveries: Arrow's CSV reader for well-formed files, pandas' for the rest, with the
cells as pandas reads them either way."""

from pathlib import Path

import pandas as pd
import pytest

from mrs_dagster.contracts import TEXT_DTYPE
from mrs_dagster.landing import _well_formed_csv, read_delivery

WELL_FORMED = {
    "blank cells": "store_id,units\n301,\n,2\n",
    "quoted comma and newline": 'store_id,note\n"301,5","two\nlines"\n',
    "byte order mark": "\ufeffstore_id,units\n301,1\n",
    "blank lines": "store_id,units\n\n301,1\n\n",
    "padded cells": "store_id,units\n 301 , 1.50 \n",
    "numbers kept as written": "store_id,units,ts\n007,1.50,2026-03-02T09:10:00+01:00\n",
    "header only": "store_id,units\n",
}
OTHERS = {
    "a short row": "store_id,units\n301\n302,3\n",
    "a column named twice": "units,units\n1,2\n",
    "a numeric header": "1,units\n1,2\n",
}


def _pandas(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=TEXT_DTYPE, keep_default_na=False)


@pytest.mark.parametrize("text", WELL_FORMED.values(), ids=WELL_FORMED.keys())
def test_a_well_formed_csv_is_read_by_arrow_with_the_cells_pandas_reads(tmp_path: Path, text: str):
    path = tmp_path / "delivery.csv"
    path.write_text(text, encoding="utf-8")
    assert _well_formed_csv(path) is not None
    pd.testing.assert_frame_equal(read_delivery(path), _pandas(path))


@pytest.mark.parametrize("text", OTHERS.values(), ids=OTHERS.keys())
def test_a_csv_arrow_does_not_take_as_it_is_is_read_as_pandas_reads_it(tmp_path: Path, text: str):
    path = tmp_path / "delivery.csv"
    path.write_text(text, encoding="utf-8")
    assert _well_formed_csv(path) is None
    pd.testing.assert_frame_equal(read_delivery(path), _pandas(path))


def test_a_latin_1_csv_is_read_as_latin_1(tmp_path: Path):
    path = tmp_path / "delivery.csv"
    path.write_bytes("store_id,note\n301,café\n".encode("latin-1"))
    assert read_delivery(path)["note"].tolist() == ["café"]


def test_an_empty_file_cannot_be_read(tmp_path: Path):
    path = tmp_path / "delivery.csv"
    path.write_bytes(b"")
    with pytest.raises(pd.errors.EmptyDataError):
        read_delivery(path)
