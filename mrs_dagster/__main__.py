"""`mrs` (and `python -m mrs_dagster`): the CLI, in an interpreter started with the allocator settings
of `mrs_dagster.memory` (glibc reads them only when a process starts), so the runs it executes,
and the shard workers it spawns, reuse the memory they free. Nothing heavy is imported before the
interpreter is replaced."""

from __future__ import annotations

import sys

from mrs_dagster.memory import exec_with_allocator_env, lacks_allocator_env


def main() -> int:
    if lacks_allocator_env():
        exec_with_allocator_env([sys.executable, "-m", "mrs_dagster.cli", *sys.argv[1:]])
    from mrs_dagster.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
