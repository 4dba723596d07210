"""The benchmark's figures: medians and spreads of the repeats, ratios, the table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import statistics
from typing import Any

from .measure import Sizes

NAMES = {
    "L": "L: bare paho",
    "P": "P: HA MQTT+templates",
    "T": "T: ttn_mqtt",
}
RATIOS = (("T", "L"), ("P", "T"))


@dataclass(frozen=True)
class Metric:
    """One figure of the table: how it is named, shown and judged."""

    key: str
    label: str
    digits: int
    # The target for T.
    target: float | None = None
    lower_is_better: bool = True
    ratios: bool = True


METRICS = (
    Metric("cpu_us_per_uplink", "CPU per uplink (µs)", 0, 220),
    Metric("uplinks_per_s", "Uplinks per second (burst)", 0, lower_is_better=False),
    Metric("lost_burst", "Uplinks lost in the burst", 0, 0, ratios=False),
    Metric("lost_steady", "Uplinks lost at the fixed rate", 0, ratios=False),
    Metric("p50_ms", "p50 latency at the fixed rate (ms)", 2),
    Metric("p99_ms", "p99 latency at the fixed rate (ms)", 2, 10),
    Metric("kb_per_device", "Memory per device (KB)", 1, 40),
    Metric("start_s", "Start, devices restored (s)", 2, 3),
)
# Not asked for, but they explain the figures above.
CONTEXT = (
    Metric("start_empty_s", "  for reference: start, no devices (s)", 2, ratios=False),
    Metric("gc_pause_max_ms", "  for reference: longest full GC (ms)", 0, ratios=False),
)


def summarise(runs: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, Any]]:
    """Return, per metric and target, the median and spread of the repeats, and ratios."""
    summary: dict[str, dict[str, Any]] = {}
    for metric in (*METRICS, *CONTEXT):
        figures: dict[str, Any] = {}
        for target, results in runs.items():
            values = [result[metric.key] for result in results if metric.key in result]
            if values:
                figures[target] = {
                    "median": statistics.median(values),
                    "min": min(values),
                    "max": max(values),
                    "values": values,
                }
        if metric.ratios:
            for numerator, denominator in RATIOS:
                if numerator in figures and denominator in figures:
                    low = figures[denominator]["median"]
                    figures[f"{numerator}/{denominator}"] = (
                        figures[numerator]["median"] / low if low else None
                    )
        summary[metric.key] = figures
    return summary


def met(metric: Metric, figure: dict[str, Any] | None) -> bool | None:
    """Return whether T's median meets the metric's target, or None if it has none."""
    if figure is None or metric.target is None:
        return None
    if metric.lower_is_better:
        return figure["median"] <= metric.target
    return figure["median"] >= metric.target


def targets_for_t(summary: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Return each target for T with its median and whether it is met."""
    return {
        metric.key: {
            "target": metric.target,
            "median": summary[metric.key]["T"]["median"],
            "met": met(metric, summary[metric.key]["T"]),
        }
        for metric in METRICS
        if metric.target is not None and "T" in summary[metric.key]
    }


def table(
    summary: dict[str, dict[str, Any]],
    sizes: Sizes,
    uplink_bytes: int,
    targets: Sequence[str],
) -> str:
    """Return the table: a column per target, the ratios and T's targets."""
    steady = round(sizes.rate * sizes.seconds)
    repeats = f"{sizes.repeats} run{'s' if sizes.repeats > 1 else ''}"
    lines = [
        f"{sizes.devices} devices, uplinks of {uplink_bytes / 1024:.1f} KB with 8 "
        f"decoded fields; a burst of {sizes.burst} at {sizes.burst_rate:g}/s, then "
        f"{sizes.rate:g}/s for {sizes.seconds:g} s ({steady} uplinks).",
        f"Median [min-max] of {repeats}.",
        "",
    ]
    ratios = [
        f"{numerator}/{denominator}"
        for numerator, denominator in RATIOS
        if numerator in targets and denominator in targets
    ]
    header = (
        f"{'':38}"
        + "".join(f"{NAMES[target]:>23}" for target in targets)
        + "".join(f"{ratio:>7}" for ratio in ratios)
        + f"{'target for T':>18}"
    )
    lines += [header, "-" * len(header)]
    for metric in (*METRICS, *CONTEXT):
        figures = summary[metric.key]
        row = f"{metric.label:38}"
        row += "".join(
            f"{_cell(figures.get(target), metric.digits):>23}" for target in targets
        )
        for ratio in ratios:
            value = figures.get(ratio)
            row += f"{'' if value is None else f'{value:.2f}':>7}"
        if metric.target is not None and "T" in figures:
            verdict = "met" if met(metric, figures["T"]) else "MISSED"
            sign = "<=" if metric.lower_is_better else ">="
            row += f"{f'{sign} {metric.target:g} {verdict}':>18}"
        lines.append(row.rstrip())
    return "\n".join(lines)


def _cell(figure: dict[str, Any] | None, digits: int) -> str:
    if figure is None:
        return "-"
    low, high = figure["min"], figure["max"]
    return f"{figure['median']:.{digits}f} [{low:.{digits}f}-{high:.{digits}f}]"
