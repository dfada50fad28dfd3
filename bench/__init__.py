"""Benchmarks for carepath (run from the repo root, e.g. `python -m bench.engine`).

Nothing here is imported by the service or the tests.
"""
