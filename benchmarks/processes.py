"""The processes under measurement: starting, watching and stopping them, leaving none behind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import os
from pathlib import Path
import signal
import socket
import subprocess
import time

import psutil

_RUNNING: list[subprocess.Popen[bytes]] = []
POLL = 0.02


class BenchmarkError(RuntimeError):
    """A target did not do what the benchmark waited for."""


@dataclass
class Records:
    """What a target's probe wrote: `w <seq> <time>`, `ready <time>`, `gc <s> <time>`,
    `s <states written>`, `objects <count> <seconds>`, `promoted <count>`."""

    path: Path
    writes: dict[int, float] = field(default_factory=dict)
    # Full garbage collections: how long each took, and when it ended.
    collections: list[tuple[float, float]] = field(default_factory=list)
    started: float | None = None
    states: int = 0
    # Objects that survived each full collection asked for, and how long it took.
    objects: list[tuple[int, float]] = field(default_factory=list)
    # Objects moved to the oldest generation in each span traced.
    promoted: list[int] = field(default_factory=list)
    ready: float | None = None
    last_change: float = 0.0
    _offset: int = 0
    _rest: bytes = b""

    def poll(self) -> None:
        """Read what was appended since the last poll."""
        try:
            with self.path.open("rb") as file:
                file.seek(self._offset)
                data = file.read()
        except FileNotFoundError:
            return
        if not data:
            return
        self._offset += len(data)
        lines = (self._rest + data).split(b"\n")
        self._rest = lines.pop()
        for line in lines:
            kind, _, value = line.decode().partition(" ")
            if kind == "w":
                seq, _, stamp = value.partition(" ")
                # The first write of an uplink counts; a repeated warm-up uplink
                # may be written twice.
                self.writes.setdefault(int(seq), float(stamp))
            elif kind == "started":
                self.started = float(value)
            elif kind == "ready":
                self.ready = float(value)
            elif kind == "s":
                self.states = int(value)
            elif kind == "objects":
                count, _, took = value.partition(" ")
                self.objects.append((int(count), float(took)))
            elif kind == "promoted":
                self.promoted.append(int(value))
            elif kind == "gc":
                took, _, stamp = value.partition(" ")
                self.collections.append((float(took), float(stamp)))
        self.last_change = time.monotonic()


class Target:
    """One running process: a Home Assistant or the bare subscriber."""

    def __init__(self, command: list[str], cwd: Path, log: Path, records: Path) -> None:
        records.unlink(missing_ok=True)
        self.records = Records(records)
        self.started_at = time.time()
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                command,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                # A Ctrl-C meant for the benchmark reaches it only through stop().
                start_new_session=True,
            )
        _RUNNING.append(self.process)
        self.ps = psutil.Process(self.process.pid)

    def cpu_seconds(self) -> float:
        """Return the CPU time the process used so far, every thread, user and system."""
        times = self.ps.cpu_times()
        return times.user + times.system

    def rss(self) -> int:
        """Return the resident memory of the process in bytes."""
        return self.ps.memory_info().rss

    def wait(self, what: str, condition: Callable[[], bool], timeout: float) -> None:
        """Poll the records until condition() holds; fail if the process ends first."""
        deadline = time.monotonic() + timeout
        while True:
            self.records.poll()
            if condition():
                return
            if self.process.poll() is not None:
                raise BenchmarkError(f"the process ended while waiting for {what}")
            if time.monotonic() > deadline:
                raise BenchmarkError(f"gave up waiting for {what} after {timeout:g} s")
            time.sleep(POLL)

    def count_objects(self) -> tuple[int, float]:
        """Collect all garbage; return the objects that survive and the seconds it took."""
        counted = len(self.records.objects)
        self.process.send_signal(signal.SIGUSR1)
        self.wait("the object count", lambda: len(self.records.objects) > counted, 60)
        return self.records.objects[-1]

    def start_tracing_promotions(self) -> None:
        """Start counting the objects moved to the oldest generation."""
        self.process.send_signal(signal.SIGUSR2)

    def promotions(self) -> int:
        """Stop counting; return the objects moved to the oldest generation meanwhile."""
        counted = len(self.records.promoted)
        self.process.send_signal(signal.SIGUSR2)
        self.wait(
            "the promoted count", lambda: len(self.records.promoted) > counted, 60
        )
        return self.records.promoted[-1]

    def settle(self, seconds: float) -> None:
        """Let the process finish what it was doing."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.records.poll()
            time.sleep(POLL)

    def stop(self) -> None:
        """Stop the process (SIGTERM, SIGKILL after 60 s) and wait for it."""
        stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a process and its session."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if process in _RUNNING:
        _RUNNING.remove(process)


def stop_all() -> None:
    """Stop every process the benchmark started that still runs."""
    for process in list(_RUNNING):
        stop_process(process)


def free_port() -> int:
    """Return a loopback port that is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
