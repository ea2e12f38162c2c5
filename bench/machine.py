"""What a benchmark ran on (cores, CPU model, RAM, load) and the percentile summary every bench uses."""

from __future__ import annotations

import os
import platform
import statistics
from pathlib import Path
from typing import Any


def describe_machine() -> dict[str, Any]:
    """nproc, CPU model, total RAM and the 1-minute load average at the time of the call."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ram_gb = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "ram_gb": ram_gb,
        "load_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
    }


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50/p95/p99 (inclusive method), rounded to 0.01."""
    if not samples:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    if len(samples) == 1:
        return {"p50": round(samples[0], 2), "p95": round(samples[0], 2), "p99": round(samples[0], 2)}
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": round(statistics.median(samples), 2), "p95": round(cuts[94], 2), "p99": round(cuts[98], 2)}
