"""Timing a `mrs` command as its own process, as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MRS = [sys.executable, "-m", "mrs_dagster"]


@dataclass(frozen=True)
class Usage:
    seconds: float  # wall-clock
    peak_gib: float  # the process's peak resident memory (its largest worker's, when it starts any)
    exit_code: int = 0  # negative: killed by that signal (-9: most often the kernel, out of memory)
    error: str = ""  # the end of its stderr, when it failed


def mrs(*args: str, home: Path, check: bool = True, env: dict[str, str] | None = None) -> Usage:
    """Run `mrs <args>` with `home` as the Dagster home (and `env` set); raises when the command
    fails, unless `check` is false."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen([*MRS, *args], stdout=subprocess.DEVNULL, stderr=errors,
                                   env={**os.environ, **(env or {}), "DAGSTER_HOME": str(home)})
        # wait4, not wait: it also reports the peak memory of this one child.
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        tail = errors.read().decode(errors="replace")[-4000:] if process.returncode else ""
    if process.returncode and check:
        raise RuntimeError(f"mrs {' '.join(args)} exited {process.returncode}:\n{tail}")
    return Usage(seconds, usage.ru_maxrss / 2**20, process.returncode, tail)
