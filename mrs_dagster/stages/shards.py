"""Store shards: detection and cohorting are per store, so the stores are split into `count`
shards that can run apart. A store's shard is a hash of its id, so it never moves while the count
stays the same, whatever stores come and go."""

from __future__ import annotations

import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class StoreShard:
    """Shard `number` (1-based) of `count`; its partition key is e.g. "2-of-4"."""

    number: int
    count: int

    def __post_init__(self):
        if not 1 <= self.number <= self.count:
            raise ValueError(f"shard {self.number} of {self.count}: the number must be between 1 and the count")

    @property
    def key(self) -> str:
        return f"{self.number}-of-{self.count}"

    @classmethod
    def parse(cls, key: str) -> StoreShard:
        number, sep, count = key.partition("-of-")
        if not (sep and number.isdigit() and count.isdigit()):
            raise ValueError(f"{key!r} is not a store shard key such as '1-of-4'")
        return cls(int(number), int(count))

    @classmethod
    def all(cls, count: int) -> list[StoreShard]:
        return [cls(number, count) for number in range(1, count + 1)]

    def holds(self, store_id: str) -> bool:
        return shard_number(store_id, self.count) == self.number

    def stores(self, store_ids) -> list[str]:
        """Of `store_ids`, those in this shard (sorted)."""
        return sorted(s for s in set(map(str, store_ids)) if self.holds(s))


def shard_number(store_id: str, count: int) -> int:
    """The 1-based shard of `store_id` among `count` (CRC-32: the same in every process)."""
    return zlib.crc32(str(store_id).encode()) % count + 1


def by_shard(store_ids, count: int) -> dict[StoreShard, list[str]]:
    """`store_ids` grouped by shard, shards without a store left out."""
    groups: dict[StoreShard, list[str]] = {}
    for store_id in sorted(set(map(str, store_ids))):
        groups.setdefault(StoreShard(shard_number(store_id, count), count), []).append(store_id)
    return dict(sorted(groups.items(), key=lambda item: item[0].number))
