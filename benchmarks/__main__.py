"""Run every benchmark module (each in its own process, so one's warm caches do not help another).

``python -m benchmarks`` runs all; ``python -m benchmarks process pollers`` runs the named ones;
options after the names go to each of them (``python -m benchmarks run --sizes 500 1000``).
Exit status is non-zero when any benchmark reports a figure under its floor.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    split = next((i for i, a in enumerate(argv) if a.startswith("-")), len(argv))
    asked, options = argv[:split], argv[split:]
    wanted = [n for n in names if not asked or n.removeprefix("bench_") in asked or n in asked]
    failed = []
    for name in wanted:
        print(f"\n=== {name} ===", flush=True)
        rc = subprocess.call([sys.executable, "-m", f"benchmarks.{name}", *options], cwd=HERE.parent)
        if rc:
            failed.append(name)
    if failed:
        print(f"\nbelow floor or failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
