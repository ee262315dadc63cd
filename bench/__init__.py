"""Benchmarks of printd; each module is also a script (`python bench/NAME.py --help`). Figures: docs/benchmarks.md."""
