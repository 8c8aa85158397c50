import pandas as pd
import pytest

from mrs_dagster.stages.shards import StoreShard, by_shard, shard_number


def test_every_store_falls_in_exactly_one_shard_and_keeps_it():
    stores = [str(301 + i) for i in range(40)]
    shards = StoreShard.all(4)
    held = [[s for s in stores if shard.holds(s)] for shard in shards]
    assert sorted(s for group in held for s in group) == sorted(stores)
    assert all(held), "40 stores leave no shard of 4 empty"
    assert [shard_number(s, 4) for s in stores] == [shard_number(s, 4) for s in stores]
    assert shard_number(301, 4) == shard_number("301", 4)


def test_a_shard_key_round_trips_and_a_bad_key_is_refused():
    assert StoreShard.parse("2-of-4") == StoreShard(2, 4)
    assert StoreShard(2, 4).key == "2-of-4"
    for bad in ("2", "x-of-4", "5-of-4", "0-of-4"):
        with pytest.raises(ValueError):
            StoreShard.parse(bad)


def test_stores_and_groups_are_the_stores_of_the_shard():
    frame = pd.DataFrame({"store_id": ["301", "302", "303", "304", "301"], "units": range(5)})
    for shard in StoreShard.all(3):
        assert all(shard_number(s, 3) == shard.number for s in shard.stores(frame["store_id"]))
    groups = by_shard(frame["store_id"], 3)
    assert sum(len(stores) for stores in groups.values()) == 4
    assert all(shard.stores(stores) == stores for shard, stores in groups.items())
