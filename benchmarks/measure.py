"""Measuring one target through every phase of a run.

1. Start it (for P, first a run of its own with no sensors: its "no devices" memory).
2. Warm-up: one uplink per device, paced and resent until every device was written;
   not measured. Home Assistant then saves its registries (10 s later); that is left
   to finish before anything is measured.
3. Memory per device: resident memory now, less before the warm-up, per device.
4. Burst: the process's CPU time while every uplink of the burst is handled, less its
   idle CPU over the same time; uplinks per second; uplinks lost.
5. Fixed rate: latency from publishing each uplink to its state written; p50, p99.
6. Start: Home Assistant again with the same configuration, until every device's
   entities are back (T: with their restored values).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
import signal
import subprocess
import sys
import time

from ttn_sim import Broker

from . import ha_config as ha
from .processes import POLL, BenchmarkError, Target, free_port
from .workload import Publisher, Workload, chunks

# Uplinks sent per write to the broker during the burst.
BURST_CHUNK = 20
# The warm-up is paced so that no target loses its first uplinks; lost ones are resent.
WARMUP_RATE = 400.0
# A phase is over when every uplink is written, or when nothing more came for this long.
STALL = 5.0
SETTLE = 2.0
# Home Assistant saves its device and entity registries 10 s after the warm-up made
# them: a cost of the devices' first uplinks, not of the burst.
SETTLE_AFTER_WARMUP = 11.0
IDLE_WINDOW = 3.0
START_TIMEOUT = 300.0


class TtsBroker(Broker):
    """ttn_sim's broker with Nagle's algorithm off, as on The Things Stack.

    The Things Stack is written in Go, whose sockets have TCP_NODELAY set. Mosquitto
    leaves Nagle on by default, which holds an uplink back until the one before it is
    acknowledged: up to 40 ms of delayed ACK, in every target's p99.
    """

    def _config_text(self) -> str:
        return super()._config_text() + "set_tcp_nodelay true\n"


@dataclass(frozen=True)
class Sizes:
    """How big a run is."""

    devices: int
    burst: int
    burst_rate: float
    rate: float
    seconds: float
    repeats: int


class Profiler:
    """Records where a Home Assistant target spends its time: burst, fixed rate, start.

    Off unless asked for (`--profile`): py-spy, even sampling with `--nonblocking`,
    costs the target some CPU. Writes py-spy's raw (collapsed stack) files.
    """

    def __init__(self, py_spy: str | None, directory: Path) -> None:
        self.py_spy = py_spy
        self.directory = directory
        self.run = 0

    @contextmanager
    def phase(self, target: Target, name: str) -> Iterator[None]:
        """Sample the target while the block runs."""
        if self.py_spy is None:
            yield
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        output = self.directory / f"{name}-{self.run}.txt"
        command = [self.py_spy, "record", "--pid", str(target.process.pid)]
        command += ["--rate", "250", "--format", "raw", "--nonblocking"]
        sampler = subprocess.Popen(
            [*command, "--output", str(output)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield
        finally:
            sampler.send_signal(signal.SIGINT)
            sampler.wait(60)


@dataclass(frozen=True)
class Bench:
    """What every target of a run shares."""

    workload: Workload
    broker: Broker
    sizes: Sizes
    work: Path
    profiler: Profiler
    # The copy of the integration T runs, and B (an earlier version), if any.
    integration: Path
    before: Path | None = None

    @property
    def credentials(self) -> ha.Credentials:
        """Return how the targets connect: as the application's API key."""
        app = self.workload.app
        return ha.Credentials(self.broker.port, app.username, app.api_key)

    def publisher(self) -> Publisher:
        """Return a publisher connected as the simulated network server."""
        broker = self.broker
        return Publisher(
            broker.host, broker.port, broker.network_username, broker.network_password
        )


def measure(bench: Bench, target: str) -> dict[str, float]:
    """Run one target through every phase and return its figures."""
    directory = bench.work / target
    result: dict[str, float] = {}
    rss_empty: int | None = None
    start_empty: float | None = None
    if target == "L":
        directory.mkdir(parents=True, exist_ok=True)
        process = start_limit(bench, directory)
        process.wait("the subscriber", lambda: process.records.ready is not None, 30)
    else:
        if target == "P":
            # The peer's entities are YAML: no devices is a configuration of its own.
            rss_empty, start_empty = _peer_without_devices(bench, directory)
        # B is T with another copy of the integration.
        integration = bench.before if target == "B" else bench.integration
        assert integration is not None
        ha.prepare(
            directory,
            "T" if target == "B" else target,
            bench.workload,
            bench.credentials,
            integration,
        )
        process = start_home_assistant(directory, target, expected=0)
        process.wait(
            "Home Assistant", lambda: process.records.ready is not None, START_TIMEOUT
        )
    assert process.records.ready is not None
    result["start_empty_s"] = start_empty or process.records.ready - process.started_at
    try:
        process.settle(SETTLE)
        if rss_empty is None:
            rss_empty = process.rss()
        with bench.publisher() as publisher:
            warm_up(process, publisher, bench.workload)
            process.settle(SETTLE if target == "L" else SETTLE_AFTER_WARMUP)
            rss = process.rss()
            result["kb_per_device"] = (rss - rss_empty) / 1024 / bench.sizes.devices
            # Every target starts the burst with no garbage and no collection due,
            # and the fixed rate too: a full collection in the burst is one the
            # burst made due; the one after it is timed, whatever the chance.
            objects, _ = process.count_objects()
            gc_from = time.time()
            with bench.profiler.phase(process, f"{target}-burst"):
                result.update(burst(process, publisher, bench))
            result["gc_burst_max_ms"] = _longest_collection(process, gc_from)
            process.settle(SETTLE)
            kept, took = process.count_objects()
            result["gc_full_ms"] = took * 1000
            written = len(bench.workload.burst) - result["lost_burst"]
            result["objects_per_uplink"] = (kept - objects) / written
            # Counted at the fixed rate, not in the burst: the count walks the young
            # generations at each of their collections, which costs some CPU.
            if target != "L":
                process.start_tracing_promotions()
            with bench.profiler.phase(process, f"{target}-steady"):
                result.update(steady(process, publisher, bench))
            if target != "L":
                taken = len(bench.workload.steady) - result["lost_steady"]
                result["promoted_per_uplink"] = process.promotions() / taken
            result["gc_pause_max_ms"] = _longest_collection(process, gc_from)
    finally:
        process.stop()
    if target == "L":
        # Nothing to restore: its start is its start.
        result["start_s"] = result["start_empty_s"]
    else:
        result["start_s"] = restart(
            directory, target, bench.sizes.devices, bench.profiler
        )
    return result


def _longest_collection(process: Target, since: float) -> float:
    """Return the longest full garbage collection since then, in ms."""
    return 1000 * max(
        (took for took, at in process.records.collections if at >= since),
        default=0.0,
    )


def _peer_without_devices(bench: Bench, directory: Path) -> tuple[int, float]:
    """Return the peer's memory and start time with no MQTT entities."""
    ha.prepare(
        directory,
        "P",
        bench.workload,
        bench.credentials,
        bench.integration,
        devices=False,
    )
    process = start_home_assistant(directory, "P", expected=0, name="empty")
    try:
        process.wait(
            "Home Assistant", lambda: process.records.ready is not None, START_TIMEOUT
        )
        assert process.records.ready is not None
        started = process.records.ready - process.started_at
        process.settle(SETTLE)
        return process.rss(), started
    finally:
        process.stop()


def start_home_assistant(
    directory: Path,
    target: str,
    *,
    expected: int,
    require_state: bool = False,
    name: str = "main",
) -> Target:
    """Start Home Assistant on a configuration directory made by homeassistant.prepare."""
    records = directory / f"probe-{name}.txt"
    ha.write_configuration(
        directory,
        target,
        http_port=free_port(),
        probe_output=records,
        expected=expected,
        require_state=require_state,
    )
    return Target(
        [
            sys.executable,
            "-m",
            "homeassistant",
            "--config",
            str(directory),
            "--skip-pip",
        ],
        # Not the repository: its custom_components would hide the configuration's.
        cwd=directory,
        log=directory / f"console-{name}.log",
        records=records,
    )


def start_limit(bench: Bench, directory: Path) -> Target:
    """Start the bare subscriber."""
    credentials = bench.credentials
    options = {
        "--port": str(credentials.port),
        "--username": credentials.username,
        "--password": credentials.password,
        "--topic": f"v3/{bench.workload.app.uid}/devices/+/up",
        "--output": str(directory / "records.txt"),
    }
    return Target(
        [sys.executable, "-m", "benchmarks.limit", *sum(options.items(), ())],
        cwd=ha.ROOT,
        log=directory / "console.log",
        records=directory / "records.txt",
    )


def warm_up(process: Target, publisher: Publisher, workload: Workload) -> None:
    """Send each device its first uplink, until every one was written; not measured."""
    writes = process.records.writes
    last = workload.warmup[-1]
    # The first uplink also tells when the target is subscribed.
    deadline = time.monotonic() + 60
    while last not in writes:
        if time.monotonic() > deadline:
            raise BenchmarkError("the target never received an uplink")
        publisher.send(workload.packets[last])
        process.settle(0.5)
    for _ in range(4):
        missing = [seq for seq in workload.warmup if seq not in writes]
        if not missing:
            return
        for seq in missing:
            publisher.send(workload.packets[seq])
            time.sleep(1 / WARMUP_RATE)
        wait_for_phase(process, workload.warmup)
    raise BenchmarkError("the target did not take the warm-up uplinks")


def wait_for_phase(process: Target, seqs: range) -> None:
    """Wait until every uplink of seqs is written, or nothing more comes."""
    records = process.records
    missing = sum(1 for seq in seqs if seq not in records.writes)
    expected = len(records.writes) + missing
    records.last_change = time.monotonic()
    while len(records.writes) < expected:
        if process.process.poll() is not None:
            raise BenchmarkError("the process ended during a phase")
        if time.monotonic() - records.last_change > STALL:
            return
        time.sleep(0.02)
        records.poll()


def burst(process: Target, publisher: Publisher, bench: Bench) -> dict[str, float]:
    """Send the burst at its rate; CPU per uplink, throughput and losses."""
    idle_cpu = process.cpu_seconds()
    idle_start = time.monotonic()
    process.settle(IDLE_WINDOW)
    idle_rate = (process.cpu_seconds() - idle_cpu) / (time.monotonic() - idle_start)
    workload, rate = bench.workload, bench.sizes.burst_rate
    seqs = workload.burst
    states = process.records.states
    cpu_start = process.cpu_seconds()
    start = time.time()
    paced_from = time.monotonic()
    for index, packets in enumerate(chunks(workload.packets, seqs, BURST_CHUNK)):
        delay = paced_from + index * BURST_CHUNK / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        publisher.send(packets)
    wait_for_phase(process, seqs)
    end = time.time()
    cpu = process.cpu_seconds() - cpu_start - idle_rate * (end - start)
    process.settle(2 * POLL + 0.2)
    writes = process.records.writes
    written = [writes[seq] for seq in seqs if seq in writes]
    if not written:
        raise BenchmarkError("the target took none of the burst")
    figures = {
        "cpu_us_per_uplink": cpu / len(written) * 1e6,
        "uplinks_per_s": len(written) / (max(written) - start),
        "lost_burst": len(seqs) - len(written),
    }
    if process.records.states:
        figures["states_per_uplink"] = (process.records.states - states) / len(written)
    return figures


def steady(process: Target, publisher: Publisher, bench: Bench) -> dict[str, float]:
    """Send uplinks at the fixed rate; latency from publishing to the state written."""
    workload, rate = bench.workload, bench.sizes.rate
    seqs = workload.steady
    sent: dict[int, float] = {}
    paced_from = time.monotonic() + 0.1
    for index, seq in enumerate(seqs):
        delay = paced_from + index / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sent[seq] = time.time()
        publisher.send(workload.packets[seq])
    wait_for_phase(process, seqs)
    writes = process.records.writes
    latencies = sorted(
        (writes[seq] - sent[seq]) * 1000 for seq in seqs if seq in writes
    )
    if not latencies:
        raise BenchmarkError("the target took none of the fixed-rate uplinks")
    return {
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "lost_steady": len(seqs) - len(latencies),
    }


def restart(directory: Path, target: str, devices: int, profiler: Profiler) -> float:
    """Start Home Assistant again; return the seconds until every device is back.

    F and T: until every device's sensors have their restored values. P: MQTT sensors keep
    no value over a restart; until they all exist.
    """
    process = start_home_assistant(
        directory,
        target,
        expected=devices,
        require_state=target in "FTB",
        name="restart",
    )
    try:
        with profiler.phase(process, f"{target}-start"):
            process.wait(
                "the restored entities",
                lambda: process.records.ready is not None,
                START_TIMEOUT,
            )
    finally:
        process.stop()
    assert process.records.ready is not None
    return process.records.ready - process.started_at


def percentile(ordered: list[float], percent: float) -> float:
    """Return a percentile of sorted values (nearest rank)."""
    rank = max(0, min(len(ordered) - 1, round(percent / 100 * len(ordered)) - 1))
    return ordered[rank]
