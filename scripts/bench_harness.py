"""Timing and reporting shared by every benchmark in scripts/bench.py.

Contract (other tools read it): one JSON object per measured configuration on stdout, with at
least the keys in `RESULT_KEYS`; a human-readable Markdown table on stderr. Warm-up calls (which
include compilation) are excluded; rates are medians over repeats; every timed call ends with
`jax.block_until_ready` before the clock is read.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import jax
import numpy as np

RESULT_KEYS = (
    "benchmark",
    "config",
    "backend",
    "platform",
    "device_kind",
    "jax_version",
    "items_per_s",
    "items_per_s_p10",
    "items_per_s_p90",
    "item",
    "flops_per_item",
    "date",
)


@dataclasses.dataclass(frozen=True)
class Workload:
    """One measured configuration: `run()` does `items_per_call` items of work, returns arrays."""

    benchmark: str
    config: dict[str, Any]
    backend: str
    item: str
    items_per_call: int
    run: Callable[[], Any]
    flops_per_item: float | None = None
    bytes_per_item: float | None = None


def measure(workload: Workload, repeats: int, warmup: int = 2) -> dict[str, Any]:
    """Time `workload.run` `repeats` times after `warmup` untimed calls; return its record."""
    for _ in range(warmup):
        jax.block_until_ready(workload.run())
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(workload.run())
        seconds.append(time.perf_counter() - start)
    rates = workload.items_per_call / np.asarray(seconds)
    device = jax.devices()[0]
    return {
        "benchmark": workload.benchmark,
        "config": workload.config,
        "backend": workload.backend,
        "platform": device.platform,
        "device_kind": device.device_kind,
        "device_count": jax.device_count(),
        "jax_version": jax.__version__,
        "items_per_s": float(np.median(rates)),
        "items_per_s_p10": float(np.percentile(rates, 10)),
        "items_per_s_p90": float(np.percentile(rates, 90)),
        "item": workload.item,
        "items_per_call": workload.items_per_call,
        "repeats": repeats,
        "seconds_median": float(np.median(seconds)),
        "flops_per_item": workload.flops_per_item,
        "bytes_per_item": workload.bytes_per_item,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def _si(x: float | None) -> str:
    if x is None:
        return "-"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def markdown_table(records: list[dict[str, Any]]) -> str:
    head = "| benchmark | config | backend | device | item/s (median) | p10 | p90 | FLOP/item |"
    rows = [head, "|" + "---|" * 8]
    for r in records:
        cfg = ", ".join(f"{k}={v}" for k, v in r["config"].items())
        rows.append(
            f"| {r['benchmark']} | {cfg} | {r['backend']} | {r['device_kind']} | "
            f"{_si(r['items_per_s'])} {r['item']}/s | {_si(r['items_per_s_p10'])} | "
            f"{_si(r['items_per_s_p90'])} | {_si(r['flops_per_item'])} |"
        )
    return "\n".join(rows)


def run_workloads(workloads: Iterable[Workload], repeats: int) -> list[dict[str, Any]]:
    """Measure each workload, print its JSON line at once, then the Markdown table on stderr."""
    records = []
    for workload in workloads:
        record = measure(workload, repeats)
        print(json.dumps(record), flush=True)
        records.append(record)
    if records:
        print("\n" + markdown_table(records) + "\n", file=sys.stderr, flush=True)
    return records
