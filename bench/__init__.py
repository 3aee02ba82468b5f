"""Benchmarks for `make bench`: each bench/bench_*.py module has run() -> list of result dicts."""
