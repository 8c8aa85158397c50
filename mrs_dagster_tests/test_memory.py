"""The allocator settings (`mrs_dagster.memory`) and the processes started with them, measured in
fresh interpreters: glibc reads the settings when a process starts."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mrs_dagster.memory import ALLOCATOR_ENV, HEAP_PER_DELIVERED_BYTE, PRETOUCH_ENV, allocator_env, pretouch_bytes
from mrs_dagster.partitions import STORE_SHARDS_ENV
from mrs_dagster_tests.browsing import free_port

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc and /proc")

# What the scripts below measure with: the process's resident MiB.
_RESIDENT_MIB = """
import os

def resident_mib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
"""


def _printed(script: str, env: dict[str, str], *args: str) -> list[str]:
    """What `script` (after `_RESIDENT_MIB`) printed, run in a fresh interpreter with `env`."""
    out = subprocess.run([sys.executable, "-c", _RESIDENT_MIB + script, *args], env=env, capture_output=True,
                         text=True, check=True)
    return out.stdout.split()


# Prints the resident MiB given back by freeing 512 MiB of numpy and of Arrow memory, and Arrow's pool.
_FREE_AND_MEASURE = """
import numpy as np, pyarrow as pa

def given_back(allocate):
    held = allocate()
    before = resident_mib()
    del held
    return before - resident_mib()

numbers = given_back(lambda: np.ones(2**26))
arrow = given_back(lambda: pa.array(np.arange(2**26)).cast(pa.float64()))
print(numbers, arrow, pa.default_memory_pool().backend_name)
"""


def _given_back(env: dict[str, str]) -> tuple[float, float, str]:
    numbers, arrow, pool = _printed(_FREE_AND_MEASURE, env)
    return float(numbers), float(arrow), pool


def test_a_process_started_with_the_settings_keeps_what_it_frees():
    numbers, arrow, pool = _given_back(allocator_env(os.environ))
    assert pool == "system"
    assert numbers < 16 and arrow < 16


def test_a_process_started_without_them_gives_freed_memory_back():
    numbers, _, pool = _given_back({k: v for k, v in os.environ.items() if k not in ALLOCATOR_ENV})
    assert numbers > 400  # glibc unmaps a big block when it is freed
    assert pool != "system"  # Arrow's own pool (mimalloc) gives pages back on its own schedule


def test_the_mrs_command_runs_in_an_interpreter_started_with_the_settings(tmp_path):
    """`python -m mrs_dagster` (the `mrs` script) replaces its interpreter by one whose environment
    has the settings, keeping an operator's own value; read from the live process (`mrs serve`)."""
    server = subprocess.Popen([sys.executable, "-m", "mrs_dagster", "serve", "--data-dir", str(tmp_path),
                               "--port", str(free_port())], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              env={**os.environ, "MALLOC_ARENA_MAX": "2"}, text=True)
    try:
        assert "review console" in server.stdout.readline()
        environ = Path(f"/proc/{server.pid}/environ").read_bytes().decode().split("\0")
    finally:
        server.kill()  # a SIGTERM while uvicorn starts up can wait on its graceful shutdown
        server.wait(timeout=30)
    settings = dict(entry.split("=", 1) for entry in environ if entry.split("=", 1)[0] in ALLOCATOR_ENV)
    assert settings == {**ALLOCATOR_ENV, "MALLOC_ARENA_MAX": "2"}


def test_any_command_can_be_started_with_the_settings():
    """What `make ui` does for `dagster dev`, whose run workers inherit its environment."""
    out = subprocess.run([sys.executable, "-m", "mrs_dagster.memory", "/usr/bin/env"], capture_output=True,
                         text=True, check=True)
    environ = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    assert {name: environ.get(name) for name in ALLOCATOR_ENV} == ALLOCATOR_ENV


def test_an_operators_own_allocator_settings_win():
    assert allocator_env({"MALLOC_ARENA_MAX": "4", "PATH": "/bin"}) == {**ALLOCATOR_ENV, "MALLOC_ARENA_MAX": "4",
                                                                         "PATH": "/bin"}


# Prints the page faults and the resident MiB added by filling 256 MiB of numpy, after pre-touching
# `sys.argv[1]` bytes (0: none), and whether a thread pre-touched.
_FILL_AFTER_PRETOUCH = """
import resource, sys
import numpy as np
from mrs_dagster.memory import pretouch

thread = pretouch(int(sys.argv[1]))
if thread is not None:
    thread.join()
faults, resident = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, resident_mib()
np.ones(2**25)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults, resident_mib() - resident, thread is not None)
"""


def _fill_after_pretouch(nbytes: int, env: dict[str, str]) -> tuple[int, float, bool]:
    faults, resident, touched = _printed(_FILL_AFTER_PRETOUCH, env, str(nbytes))
    return int(faults), float(resident), touched == "True"


def test_pretouched_heap_is_resident_and_reused_without_faulting_again():
    """The steps' arrays land in the pre-touched pages: filling 256 MiB after pre-touching 512 MiB
    adds no resident memory and takes no page fault per page, where without it takes one at least
    per 2 MiB huge page and 256 MiB more resident."""
    env = allocator_env(os.environ)
    faults, resident, touched = _fill_after_pretouch(512 * 2**20, env)
    assert touched and resident < 16 and faults < 64
    faults, resident, touched = _fill_after_pretouch(0, env)
    assert not touched and resident > 240 and faults >= 128


def test_no_pretouch_where_freed_memory_is_not_kept():
    """Without the settings glibc would unmap the block on free: nothing to gain, so no thread."""
    _, _, touched = _fill_after_pretouch(512 * 2**20, {k: v for k, v in os.environ.items() if k not in ALLOCATOR_ENV})
    assert not touched


def test_pretouch_grows_with_the_deliveries_within_half_the_available_memory():
    assert pretouch_bytes(10**8, 10**11, env={}) == HEAP_PER_DELIVERED_BYTE * 10**8
    assert pretouch_bytes(10**9, 4 * 10**9, env={}) == 2 * 10**9
    assert pretouch_bytes(0, 10**11, env={}) == 0


def test_an_operators_pretouch_bytes_win_and_a_bad_value_is_refused():
    assert pretouch_bytes(10**9, 10**11, env={PRETOUCH_ENV: "0"}) == 0
    assert pretouch_bytes(10**9, 10**11, env={PRETOUCH_ENV: "2e9"}) == 2 * 10**9
    for bad in ("lots", "-1", "inf", "nan"):
        with pytest.raises(ValueError, match=PRETOUCH_ENV):
            pretouch_bytes(10**9, 10**11, env={PRETOUCH_ENV: bad})


# Runs `mrs run` with the arguments given and prints its peak resident MiB.
_RUN_AND_MEASURE = """
import resource, subprocess, sys
subprocess.run([sys.executable, "-m", "mrs_dagster", "run", *sys.argv[1:]], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
"""


@pytest.mark.world("tiny_world")
def test_an_unpartitioned_mrs_run_touches_its_heap_ahead_and_a_run_in_store_shards_does_not(world_dir, tmp_path):
    """A tiny world's run peaks far below 1.5 GiB; touching 1.5 GiB ahead shows in its peak. In
    store shards the workers need that memory, so the run touches nothing."""
    touched = {PRETOUCH_ENV: str(1536 * 2**20), "DAGSTER_HOME": str(tmp_path / "home")}

    def peak_mib(data_dir, **env) -> float:
        peak, = _printed(_RUN_AND_MEASURE, {**os.environ, **touched, **env}, "--data-dir", str(data_dir))
        return float(peak)

    sharded = tmp_path / "sharded"
    subprocess.run(["cp", "-a", str(world_dir), str(sharded)], check=True)
    assert peak_mib(world_dir) > 1536
    assert peak_mib(sharded, **{STORE_SHARDS_ENV: "2"}) < 1024
