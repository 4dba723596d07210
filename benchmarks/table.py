"""Print the table of a benchmark's JSON again: `python -m benchmarks.table FILE...`.

With the report's current rows and targets, from every figure of every run the file
keeps; several files are printed one after the other.
"""

from __future__ import annotations

import json
from pathlib import Path
import sys

from .measure import Sizes
from .report import summarise, table


def main(paths: list[str]) -> None:
    """Print each file's table."""
    for path in paths:
        report = json.loads(Path(path).read_text())
        runs = report["runs"]
        print(f"{path}: {report['command']} ({report['integration']})")
        print(
            table(
                summarise(runs),
                Sizes(**report["sizes"]),
                report["uplink_bytes"],
                runs,
                report.get("environment"),
            )
        )
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
