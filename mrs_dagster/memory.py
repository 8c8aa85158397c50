"""How a process that runs pipeline steps allocates memory: what it frees, it keeps for reuse.

A step copies logs of millions of rows several times (reads, takes, validation, writes), and by
default each copy went to memory fresh from the kernel: glibc maps every block over 32 MiB on its
own and unmaps it when freed, Arrow's mimalloc hands freed pages back within milliseconds, and the
kernel zeroes every page it maps again. On the benchmark machine (a VM, where a page the guest
gave back also costs the host a fault) `perf` put a quarter of a whole run in the kernel zeroing
pages (`clear_page_erms`: 25.5 s of 107 s of CPU on the 50 x 200 x 14 world).

With `ALLOCATOR_ENV` a process serves every block, Arrow's included, from glibc's main heap and
never gives it back: the next copy reuses pages the last one freed. Its resident memory stays at
its high-water mark until it exits, which for a process that runs a run (`mrs run`, a shard's
worker, a run worker) is the end of the run. glibc reads the settings only when a process starts,
so they are set in the environment of the processes MRS starts: `mrs` starts its interpreter with
them (`mrs_dagster.__main__`), and `python -m mrs_dagster.memory COMMAND...` starts any other
command with them (`make ui` starts `dagster dev` so, and its run workers inherit them).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

# One arena for every thread (a thread's own arena cannot grow past 64 MiB, so it maps every big
# block on its own), no block mapped on its own, a heap never trimmed, Arrow on the same heap.
ALLOCATOR_ENV = {
    "MALLOC_ARENA_MAX": "1",
    "MALLOC_MMAP_MAX_": "0",
    "MALLOC_TRIM_THRESHOLD_": str(2**62),
    "ARROW_DEFAULT_MEMORY_POOL": "system",
}


def allocator_env(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with the allocator settings it does not set itself (an operator's own value wins)."""
    return {**ALLOCATOR_ENV, **env}


def lacks_allocator_env() -> bool:
    """Whether this process was started without some of the settings, on Linux (elsewhere glibc's
    are moot, and Arrow keeps its own pool)."""
    return sys.platform.startswith("linux") and allocator_env(os.environ) != dict(os.environ)


def exec_with_allocator_env(argv: list[str]) -> None:
    """Replace this process by `argv` (a path to a program, then its arguments) started with the
    settings."""
    os.execve(argv[0], argv, allocator_env(os.environ))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m mrs_dagster.memory PROGRAM [ARGUMENT...]")
    exec_with_allocator_env(sys.argv[1:])
