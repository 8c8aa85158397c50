"""Helpers of the tests and scripts that start servers and look at them in a browser."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

# Debian's Chromium, installed by `make test`; the flags keep it off the (closed) network.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 120.0) -> None:
    """Until `url` answers 200 (a server the caller started is up)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        assert time.monotonic() < deadline, f"{url} did not come up"
        time.sleep(0.5)
