"""The allocator settings (`mrs_dagster.memory`) and the processes started with them, measured in
fresh interpreters: glibc reads the settings when a process starts."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mrs_dagster.memory import ALLOCATOR_ENV, allocator_env
from mrs_dagster_tests.browsing import free_port

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc and /proc")

# Prints the resident MiB given back by freeing 512 MiB of numpy and of Arrow memory, and Arrow's pool.
_FREE_AND_MEASURE = """
import os
import numpy as np, pyarrow as pa

def resident_mib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

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
    out = subprocess.run([sys.executable, "-c", _FREE_AND_MEASURE], env=env, capture_output=True, text=True,
                         check=True)
    numbers, arrow, pool = out.stdout.split()
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
