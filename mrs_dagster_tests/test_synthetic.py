"""The synthetic world: deterministic, every cause embedded with the reference data explaining it."""

import pandas as pd

from mrs_dagster.contracts import CAUSES
from mrs_dagster.synthetic import WARMUP_DAYS, WorldSpec, generate_world, write_world


def test_same_seed_same_world_other_seed_other_world(small_world):
    again = generate_world(small_world.spec)
    pd.testing.assert_frame_equal(again.sales, small_world.sales)
    pd.testing.assert_frame_equal(again.truth, small_world.truth)
    other = generate_world(WorldSpec(seed=small_world.spec.seed + 1, stores=6, skus=24, days=10))
    assert not other.sales["units"].equals(small_world.sales["units"])


def test_every_cause_is_embedded_after_the_warmup_with_its_explanation(small_world):
    truth = small_world.truth
    assert set(truth["cause"]) == set(CAUSES)
    assert truth["start"].min() >= pd.Timestamp(small_world.spec.start, tz="UTC") + pd.Timedelta(days=WARMUP_DAYS)
    assert len(small_world.campaigns) == (truth.drop_duplicates(["start", "cause"])["cause"] == "promotion").sum()
    assert set(small_world.context_events["kind"]) == {"weather", "local_event"}
    per_store = truth.sort_values("start").groupby("store_id")
    for _, rows in per_store:
        assert (rows["start"].iloc[1:].to_numpy() >= rows["end"].iloc[:-1].to_numpy()).all()


def test_data_errors_double_the_delivered_sales_and_the_correction_restores_them(small_world):
    corrected = small_world.corrections
    assert not corrected.empty and (corrected["feed_version"] == 2).all()
    delivered = small_world.sales.merge(corrected, on=["store_id", "sku", "ts"], suffixes=("", "_true"))
    assert len(delivered) == len(corrected)
    assert (delivered["units"] == 2 * delivered["units_true"]).all()


def test_written_world_follows_the_data_dir_contract(tmp_path, small_world):
    write_world(small_world, tmp_path)
    landed = sorted(p.suffix for p in (tmp_path / "landing/sales").iterdir())
    assert set(landed) == {".csv", ".parquet"}
    for name in ("stores", "skus", "campaigns", "context_events", "analysts"):
        assert (tmp_path / "reference" / f"{name}.csv").is_file()
    truth = pd.read_csv(tmp_path / "truth/anomalies.csv")
    assert list(truth.columns) == ["store_id", "sku", "start", "end", "cause"]
    assert any((tmp_path / "corrections").iterdir())
    assert set(small_world.sales["units"].unique()) >= {-1.0}  # returns are in the data


def test_a_world_of_a_week_has_no_anomalies_and_still_writes(tmp_path):
    world = generate_world(WorldSpec(seed=3, stores=2, skus=4, days=WARMUP_DAYS))
    assert world.truth.empty and world.campaigns.empty and world.corrections.empty
    write_world(world, tmp_path)
    assert list(pd.read_csv(tmp_path / "truth/anomalies.csv").columns) == ["store_id", "sku", "start", "end", "cause"]
