"""Benchmarks (not tests): each ``bench_*`` module has a ``main() -> int`` printing its figures."""
