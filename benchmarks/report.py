"""The benchmark's figures: medians and spreads of the repeats, ratios, the table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
import statistics
from typing import Any

from .measure import Sizes

NAMES = {
    "L": "L: bare paho",
    "P": "P: HA MQTT+templates",
    "F": "F: HA floor",
    "T": "T: ttn_mqtt",
    "B": "B: ttn_mqtt before",
}
RATIOS = (("T", "L"), ("P", "T"), ("T", "F"), ("B", "F"), ("T", "B"))


@dataclass(frozen=True)
class Metric:
    """One figure of the table: how it is named, shown and judged."""

    key: str
    label: str
    digits: int
    # T's target: `limit` for T itself, or against F of the same run: T/F <= limit
    # ("T/F"), T - F <= limit ("T-F"), T <= F ("F").
    limit: float | None = None
    against: str = "T"
    lower_is_better: bool = True
    ratios: bool = True
    # Whether T - F says more than T/F (a fixed cost per device or per start).
    difference: bool = False


METRICS = (
    Metric("cpu_us_per_uplink", "CPU per uplink (µs)", 0, 1.15, "T/F"),
    Metric("uplinks_per_s", "Uplinks per second (burst)", 0, lower_is_better=False),
    Metric("lost_burst", "Uplinks lost in the burst", 0, 0, ratios=False),
    Metric("lost_steady", "Uplinks lost at the fixed rate", 0, ratios=False),
    Metric("p50_ms", "p50 latency at the fixed rate (ms)", 2),
    Metric("p99_ms", "p99 latency at the fixed rate (ms)", 2, 5),
    Metric("kb_per_device", "Memory per device (KB)", 1, 8, "T-F", difference=True),
    Metric("start_s", "Start, devices restored (s)", 2, 0.25, "T-F", difference=True),
    Metric("gc_burst_max_ms", "Longest full GC in the burst (ms)", 0, 0, "F"),
)
# Not asked for, but they explain the figures above.
CONTEXT = (
    Metric("start_empty_s", "  for reference: start, no devices (s)", 2, ratios=False),
    Metric("gc_full_ms", "  full GC after the burst, forced (ms)", 0),
    Metric("gc_pause_max_ms", "  longest full GC, burst+fixed rate (ms)", 0),
    Metric("states_per_uplink", "  states written per uplink (burst)", 1),
    Metric("objects_per_uplink", "  objects kept per uplink (burst)", 2),
    Metric("promoted_per_uplink", "  objects promoted per uplink (fixed rate)", 1),
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
        if metric.difference and "T" in figures and "F" in figures:
            figures["T-F"] = figures["T"]["median"] - figures["F"]["median"]
        summary[metric.key] = figures
    return summary


def met(metric: Metric, figures: dict[str, Any]) -> bool | None:
    """Return whether T meets the metric's target, or None if it has none or no F."""
    if metric.limit is None or "T" not in figures:
        return None
    if metric.against == "T":
        value = figures["T"]["median"]
    elif metric.against == "F":
        if "F" not in figures:
            return None
        value = figures["T"]["median"] - figures["F"]["median"]
    else:
        value = figures.get(metric.against)
        if value is None:
            return None
    if metric.lower_is_better:
        return bool(value <= metric.limit)
    return bool(value >= metric.limit)


def target_text(metric: Metric) -> str:
    """Return the target as the table says it: "<= 5", "T/F <= 1.15", "T <= F"."""
    if metric.against == "F":
        return "T <= F"
    sign = "<=" if metric.lower_is_better else ">="
    prefix = "" if metric.against == "T" else f"{metric.against} "
    return f"{prefix}{sign} {metric.limit:g}"


def targets_for_t(summary: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Return each target for T with its figures and whether it is met."""
    return {
        metric.key: {
            "target": target_text(metric),
            "T": summary[metric.key]["T"]["median"],
            "F": summary[metric.key].get("F", {}).get("median"),
            "met": met(metric, summary[metric.key]),
        }
        for metric in METRICS
        if metric.limit is not None and "T" in summary[metric.key]
    }


def table(
    summary: dict[str, dict[str, Any]],
    sizes: Sizes,
    uplink_bytes: int,
    targets: Sequence[str],
    environment: Mapping[str, Any] | None = None,
) -> str:
    """Return the table: a column per target, the ratios and T's targets."""
    steady = round(sizes.rate * sizes.seconds)
    repeats = f"{sizes.repeats} run{'s' if sizes.repeats > 1 else ''}"
    lines = [
        *(
            [
                f"Home Assistant {environment['home_assistant']} on Python "
                f"{environment['python']}, {environment['cpus']} cores."
            ]
            if environment
            else []
        ),
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
    difference = "T" in targets and "F" in targets
    if difference:
        header = header.replace(
            f"{'target for T':>18}", f"{'T-F':>8}{'target for T':>22}"
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
        if difference:
            value = figures.get("T-F")
            row += (
                f"{'' if value is None else f'{value:+.{max(metric.digits, 1)}f}':>8}"
            )
        verdict = met(metric, figures)
        if verdict is not None:
            word = "met" if verdict else "MISSED"
            row += f"{f'{target_text(metric)} {word}':>{22 if difference else 18}}"
        lines.append(row.rstrip())
    return "\n".join(lines)


def _cell(figure: dict[str, Any] | None, digits: int) -> str:
    if figure is None:
        return "-"
    low, high = figure["min"], figure["max"]
    return f"{figure['median']:.{digits}f} [{low:.{digits}f}-{high:.{digits}f}]"
