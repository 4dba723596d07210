"""What an uplink costs ttn_mqtt, against a bare MQTT client and Home Assistant's own MQTT.

`scripts/benchmark` (or `.venv/bin/python -m benchmarks.run`) measures, on one mosquitto
shaped like The Things Stack (ttn_sim) and with the same pre-generated uplinks:

- L, the limit: a bare paho-mqtt subscriber that parses each uplink and keeps the latest;
- P, the peer: Home Assistant with its `mqtt` integration and an MQTT entity with a
  template per decoded field per device, as users write them by hand;
- F, Home Assistant's floor: a minimal integration that writes T's entities straight
  from each decoded payload: what any integration showing them pays;
- T, ours: Home Assistant with ttn_mqtt.

It prints a table and writes the figures of every run as JSON. benchmarks/README.md
says what each figure means and how it is measured.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime
import json
import os
from pathlib import Path
import platform
import shutil
import signal
import sys
import time
from typing import Any

from .ha_config import ROOT
from .measure import WARMUP_RATE, Bench, Profiler, Sizes, TtsBroker, measure
from .processes import stop_all
from .report import NAMES, summarise, table, targets_for_t
from .workload import generate

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    args = parse_args(argv)
    sizes = Sizes(
        devices=args.devices or (200 if args.quick else 1000),
        burst=args.burst or (4000 if args.quick else 20000),
        burst_rate=args.burst_rate,
        rate=args.rate,
        seconds=args.seconds or (5.0 if args.quick else 20.0),
        repeats=args.repeats or (1 if args.quick else 3),
    )
    # SIGTERM ends the run like Ctrl-C: through the finally below, which stops
    # every process the run started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = RESULTS / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    steady = round(sizes.rate * sizes.seconds)
    say(
        f"Generating {sizes.devices} warm-up, {sizes.burst} burst and {steady} "
        "fixed-rate uplinks"
    )
    workload = generate(
        sizes.devices,
        sizes.burst,
        steady,
        warmup_rate=WARMUP_RATE,
        burst_rate=sizes.burst_rate,
        steady_rate=sizes.rate,
    )
    say(f"Uplinks of {workload.payload_bytes} bytes on average")
    runs: dict[str, list[dict[str, float]]] = {target: [] for target in args.targets}
    started = time.monotonic()
    try:
        with TtsBroker([workload.app], workdir=work / "mosquitto") as broker:
            bench = Bench(
                workload=workload,
                broker=broker,
                sizes=sizes,
                work=work,
                profiler=Profiler(args.py_spy, work / "profiles"),
                integration=args.ttn_mqtt,
                before=args.before,
            )
            for repeat in range(sizes.repeats):
                bench.profiler.run = repeat + 1
                for target in args.targets:
                    say(f"Run {repeat + 1}/{sizes.repeats}: {NAMES[target]}")
                    result = measure(bench, target)
                    say("  " + ", ".join(f"{k} {v:.4g}" for k, v in result.items()))
                    runs[target].append(result)
    except KeyboardInterrupt:
        say("Interrupted")
        return 130
    finally:
        stop_all()
    summary = summarise(runs)
    report = {
        "command": " ".join(["scripts/benchmark", *sys.argv[1:]]),
        "finished_at": datetime.now(UTC).isoformat(),
        "duration_s": round(time.monotonic() - started, 1),
        "sizes": sizes.__dict__,
        "uplink_bytes": workload.payload_bytes,
        "integration": str(args.ttn_mqtt),
        "before": str(args.before),
        "environment": (measured_on := environment()),
        "targets_for_T": targets_for_t(summary),
        "summary": summary,
        "runs": runs,
    }
    output = args.output or RESULTS / (
        f"benchmark-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(table(summary, sizes, workload.payload_bytes, args.targets, measured_on))
    print()
    say(f"Took {report['duration_s']:.0f} s. JSON: {output}")
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        prog="scripts/benchmark", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 1 repeat, 200 devices, a burst of 4000, 5 s at the fixed rate",
    )
    parser.add_argument("--repeats", type=int, help="repeats of each target (3)")
    parser.add_argument("--devices", type=int, help="devices (1000)")
    parser.add_argument("--burst", type=int, help="uplinks in the burst (20000)")
    parser.add_argument(
        "--burst-rate",
        type=float,
        default=10000.0,
        help="uplinks/s at which the burst is sent (10000)",
    )
    parser.add_argument(
        "--rate", type=float, default=100.0, help="the fixed rate, uplinks/s (100)"
    )
    parser.add_argument("--seconds", type=float, help="fixed-rate duration (20)")
    parser.add_argument(
        "--targets",
        default="LPFT",
        type=lambda text: tuple(dict.fromkeys(text.upper())),
        help="which targets, in this order (LPFT)",
    )
    parser.add_argument(
        "--ttn-mqtt",
        type=Path,
        default=ROOT / "custom_components" / "ttn_mqtt",
        help="the copy of the integration T runs, to compare versions "
        "(custom_components/ttn_mqtt)",
    )
    parser.add_argument(
        "--before",
        type=Path,
        help="another copy of the integration, run as target B beside T in the same "
        "run (e.g. --targets FBT), to compare versions under the same load",
    )
    parser.add_argument("--output", type=Path, help="the JSON file to write")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="profile P, F and T with py-spy (on PATH, or $PY_SPY) in the burst and at "
        "the fixed rate, and while it starts with the devices restored; raw stacks in benchmarks/results/work/profiles",
    )
    args = parser.parse_args(argv)
    if not args.targets or not set(args.targets) <= set(NAMES):
        parser.error("--targets: a combination of L, P, F, T (and B, with --before)")
    if "B" in args.targets and (
        args.before is None or not (args.before / "manifest.json").is_file()
    ):
        parser.error("--targets B: --before names no integration")
    if not (args.ttn_mqtt / "manifest.json").is_file():
        parser.error(f"--ttn-mqtt: no integration in {args.ttn_mqtt}")
    args.py_spy = None
    if args.profile:
        args.py_spy = os.environ.get("PY_SPY") or shutil.which("py-spy")
        if args.py_spy is None:
            parser.error("--profile: py-spy not found; put it on PATH or set PY_SPY")
    return args


def say(text: str) -> None:
    """Tell what the run is doing."""
    print(f"[benchmark] {text}", flush=True)


def environment() -> dict[str, Any]:
    """Return what the figures depend on besides the code."""
    from homeassistant.const import __version__ as ha_version  # noqa: PLC0415
    import paho.mqtt  # noqa: PLC0415

    return {
        "python": platform.python_version(),
        "home_assistant": ha_version,
        "paho_mqtt": paho.mqtt.__version__,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "system": platform.platform(),
    }


if __name__ == "__main__":
    sys.exit(main())
