"""Percentiles of samples, quantiles of Prometheus histograms, and scraping `/metrics`."""

from __future__ import annotations

import asyncio
import math
import urllib.request
from collections.abc import Sequence

from prometheus_client.parser import text_string_to_metric_families


def percentile(samples: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) of samples by linear interpolation; None without samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    position = q * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def histogram_quantile(buckets: Sequence[tuple[float, float]], q: float) -> float | None:
    """Prometheus' histogram_quantile: linear within the bucket holding the q-th observation.

    `buckets` are (upper bound, cumulative count), +Inf included. Above the last finite bound the
    answer is that bound (as Prometheus does).
    """
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] == 0:
        return None
    rank = q * ordered[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound


class MetricsText:
    """The samples of one `/metrics` scrape."""

    def __init__(self, text: str) -> None:
        self.samples: list[tuple[str, dict[str, str], float]] = [
            (s.name, dict(s.labels), float(s.value))
            for family in text_string_to_metric_families(text)
            for s in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples of `name` whose labels include `labels`."""
        return sum(v for n, lbl, v in self.samples if n == name and labels.items() <= lbl.items())

    def buckets(self, name: str) -> list[tuple[float, float]]:
        """(upper bound, cumulative count) of histogram `name`, summed over other labels."""
        totals: dict[float, float] = {}
        for n, labels, v in self.samples:
            if n == f"{name}_bucket":
                bound = float(labels["le"])
                totals[bound] = totals.get(bound, 0.0) + v
        return sorted(totals.items())

    def mean(self, name: str) -> float | None:
        """Sum over count of histogram `name`."""
        count = self.value(f"{name}_count")
        return self.value(f"{name}_sum") / count if count else None


async def scrape(port: int) -> MetricsText:
    """GET the service's `/metrics`."""

    def get() -> str:
        url = f"http://127.0.0.1:{port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            return str(response.read().decode())

    return MetricsText(await asyncio.to_thread(get))
