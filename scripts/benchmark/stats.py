"""Numbers from samples and readings: percentiles, latency and spread summaries,
garbage-collector pauses, the machine's busy time."""

from __future__ import annotations

import math
import statistics
from typing import Any


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_summary(seconds: list[float]) -> dict[str, Any]:
    ms = [s * 1000 for s in seconds]
    return {
        "count": len(ms),
        "p50_ms": percentile(ms, 50),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms) if ms else None,
    }


def per_second(sent_at: list[float], seconds: list[float], start_at: float) -> list[dict[str, Any]]:
    """Latencies grouped by the second (from ``start_at``) their request was sent in:
    shows whether a tail is spread evenly or comes from a few moments."""
    buckets: dict[int, list[float]] = {}
    for at, latency in zip(sent_at, seconds, strict=True):
        buckets.setdefault(max(0, int(at - start_at)), []).append(latency)
    return [{"second": second, **latency_summary(buckets[second])} for second in sorted(buckets)]


def spread_summary(ms: list[float]) -> dict[str, Any]:
    return {
        "samples_ms": [round(x, 2) for x in ms],
        "median_ms": statistics.median(ms) if ms else None,
        "worst_ms": max(ms) if ms else None,
    }


def client_gc(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The load processes' collector pauses since they started, per generation, all processes together."""
    out = {}
    for generation in ("0", "1", "2"):
        entries = [r["gc"][generation] for r in reports if "gc" in r]
        out[f"gen{generation}"] = {
            "count": sum(e["count"] for e in entries),
            "total_ms": round(1000 * sum(e["total_s"] for e in entries), 1),
            "longest_ms": round(1000 * max((e["max_s"] for e in entries), default=0.0), 1),
        }
    return out


def gc_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The server's garbage-collector pauses between two probe readings, per generation.
    (The longest pause is the longest since the server started.)"""
    out = {}
    for generation, entry in after.get("gc", {}).items():
        old = before.get("gc", {}).get(generation, {"count": 0, "total_s": 0.0})
        out[f"gen{generation}"] = {
            "count": entry["count"] - old["count"],
            "total_ms": round((entry["total_s"] - old["total_s"]) * 1000, 1),
            "longest_ms": round(entry["max_s"] * 1000, 1),
        }
    return out


def machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)
