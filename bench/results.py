"""bench/results.md: one section per benchmark, each replaced whole when its benchmark runs again."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).with_name("results.md")
TITLE = "# Benchmarks (`make bench`)\n"


def write_section(heading: str, text: str) -> None:
    """Replace (or add) the `## heading` section of bench/results.md with `text`."""
    sections: dict[str, str] = {}
    current = None
    for line in (RESULTS.read_text().splitlines(keepends=True) if RESULTS.is_file() else []):
        if line.startswith("## "):
            current = line[3:].strip()
            sections[current] = ""
        elif current is not None:
            sections[current] += line
    sections[heading] = f"\n{text.strip()}\n\n"
    RESULTS.write_text(TITLE + "\n" + "".join(f"## {h}\n{body}" for h, body in sections.items()))
    print(f"\nwritten to {RESULTS}")
