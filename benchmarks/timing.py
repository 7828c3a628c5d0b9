"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def time_stages(stages: dict[str, Callable[[], object]], n_items: int, runs: int = 3) -> dict[str, float]:
    """Median CPU microseconds per item of each stage (each warmed once, then timed ``runs`` times)."""
    out = {}
    for name, fn in stages.items():
        fn()
        times = []
        for _ in range(runs):
            t0 = time.process_time()
            fn()
            times.append((time.process_time() - t0) / n_items * 1e6)
        out[name] = statistics.median(times)
    return out
