"""The benchmark's modules; ``scripts/bench.py`` is the command line that runs them (docs/benchmark.md)."""
