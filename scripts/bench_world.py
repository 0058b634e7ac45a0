"""Workloads for `scripts/bench.py world`."""

from __future__ import annotations


def workloads(preset: str):
    """Yield bench_harness.Workload objects for the preset, or return None while not built."""
    del preset
    return None
