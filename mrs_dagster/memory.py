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

Such a heap still costs its first touch: the kernel zeroes each page the first time the process
writes it, and on a VM the host backs it then too (1 GiB took 0.12 s to 0.72 s here, and a whole
run's 5.6 GiB heap about 8 s of `clear_page_erms`). That cost comes in the step that first needs
the memory, on the run's one busy core. `pretouch` pays it ahead on the other core: a thread takes
a block of heap, writes every page of it and frees it, and the steps then reuse those pages, as
the JVM's `AlwaysPreTouch` does for its heap. An unpartitioned `mrs run` does so (in store shards
the steps run in worker processes, which need the memory a touched heap would hold).
"""

from __future__ import annotations

import ctypes
import mmap
import os
import sys
import threading
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


# Where the settings apply: elsewhere glibc's are moot, and Arrow keeps its own pool.
ON_GLIBC = sys.platform.startswith("linux")


def lacks_allocator_env() -> bool:
    """Whether this process was started without some of the settings, where they apply."""
    return ON_GLIBC and allocator_env(os.environ) != dict(os.environ)


# Heap pre-touched per byte of the deliveries a run ingests: a whole run on the 50 x 200 x 14 world
# (309 MB of CSV) peaked at 5.6 GiB; pre-touching 4.5 GB of it took its median of three from
# 67.4 s to 63.4 s. Less than the whole peak, as the steps allocate on top while the block is held.
HEAP_PER_DELIVERED_BYTE = 14
# At most this share of the memory available when the run starts is pre-touched.
PRETOUCH_SHARE_OF_AVAILABLE = 0.5
# An operator's byte count (0: none) overrides the estimate.
PRETOUCH_ENV = "MRS_PRETOUCH_BYTES"
_HUGE_PAGE = 2 << 20


def pretouch_bytes(delivered_bytes: int, available_bytes: int, env: Mapping[str, str] = os.environ) -> int:
    """How much heap to pre-touch for a run that ingests `delivered_bytes` of deliveries, with
    `available_bytes` of memory available: `HEAP_PER_DELIVERED_BYTE` times them, at most
    `PRETOUCH_SHARE_OF_AVAILABLE` of it; MRS_PRETOUCH_BYTES when set (a byte count, 0: none).

    Raises ValueError for a MRS_PRETOUCH_BYTES that is not a byte count."""
    if PRETOUCH_ENV in env:
        try:
            nbytes = int(float(env[PRETOUCH_ENV]))
        except (ValueError, OverflowError):
            nbytes = -1
        if nbytes < 0:
            raise ValueError(f"{PRETOUCH_ENV}={env[PRETOUCH_ENV]!r}: not a byte count (0 turns pre-touching off)")
        return nbytes
    return int(min(HEAP_PER_DELIVERED_BYTE * delivered_bytes, PRETOUCH_SHARE_OF_AVAILABLE * available_bytes))


def available_memory() -> int:
    """The memory the kernel could give this process now (`MemAvailable`), 0 where unknown."""
    try:
        with open("/proc/meminfo") as meminfo:
            fields = dict(line.split(":", 1) for line in meminfo)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return 0


def pretouch(nbytes: int) -> threading.Thread | None:
    """Write `nbytes` of fresh heap on a thread of its own and free them for this process to reuse
    (see the module); the thread, or None where freed memory is not kept (a process started
    without the settings would hand the block straight back to the kernel) or for no bytes."""
    if nbytes <= 0 or not ON_GLIBC or lacks_allocator_env():
        return None
    thread = threading.Thread(target=_touch, args=(nbytes,), name="mrs-pretouch", daemon=True)
    thread.start()
    return thread


def _touch(nbytes: int) -> None:
    # ctypes lets go of the GIL during each call, so the steps run on while the pages are written.
    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    block = libc.malloc(nbytes)
    if not block:
        return
    # Huge pages, as NumPy asks for its own big arrays: the steps' arrays land in these pages.
    start, end = -(-block // _HUGE_PAGE) * _HUGE_PAGE, (block + nbytes) // _HUGE_PAGE * _HUGE_PAGE
    if end > start:
        libc.madvise(start, end - start, mmap.MADV_HUGEPAGE)
    libc.memset(block, 0, nbytes)
    libc.free(block)


def exec_with_allocator_env(argv: list[str]) -> None:
    """Replace this process by `argv` (a path to a program, then its arguments) started with the
    settings."""
    os.execve(argv[0], argv, allocator_env(os.environ))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m mrs_dagster.memory PROGRAM [ARGUMENT...]")
    exec_with_allocator_env(sys.argv[1:])
