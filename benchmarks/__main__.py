"""Run every ``benchmarks/bench_*.py`` in name order: ``python -m benchmarks``.

Exits non-zero if any benchmark reports a figure beyond its floor.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    status = 0
    for module in sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])):
        if module.startswith("bench_"):
            print(f"== {module}")
            status |= importlib.import_module(f"benchmarks.{module}").main([])
    return status


if __name__ == "__main__":
    sys.exit(main())
