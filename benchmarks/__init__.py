"""Benchmarks on the real local stack: ``python benchmarks/run.py`` (see run.py)."""
