"""One worker thread that runs delayed calls in order, and is gone after `stop()`.

Why not `threading.Timer`: a timer per event leaves threads to chase at shutdown,
and Home Assistant's test harness fails a test that leaves any thread behind.
"""

from collections.abc import Callable
import heapq
import itertools
import logging
import threading
import time
from typing import Any

_LOGGER = logging.getLogger(__name__)


class Scheduler:
    """Run `fn(*args)` after a delay on a single thread; calls due together run in order."""

    def __init__(self, name: str) -> None:
        """Create the scheduler; `start()` starts its thread."""
        self._name = name
        self._queue: list[tuple[float, int, Callable[..., Any], tuple[Any, ...]]] = []
        self._order = itertools.count()
        self._condition = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the worker thread."""
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` on the worker after `delay` seconds."""
        with self._condition:
            entry = (time.monotonic() + delay, next(self._order), fn, args)
            heapq.heappush(self._queue, entry)
            self._condition.notify()

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` on the worker as soon as it is free."""
        self.call_later(0.0, fn, *args)

    def stop(self) -> None:
        """Drop pending calls and wait for the worker thread to end."""
        with self._condition:
            self._stopping = True
            self._queue.clear()
            self._condition.notify()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._stopping and (
                    not self._queue or self._queue[0][0] > time.monotonic()
                ):
                    timeout = (
                        self._queue[0][0] - time.monotonic() if self._queue else None
                    )
                    self._condition.wait(timeout)
                if self._stopping:
                    return
                _, _, fn, args = heapq.heappop(self._queue)
            try:
                fn(*args)
            except Exception:
                # A bug in one simulated event must not silence the whole network.
                _LOGGER.exception("ttn_sim: scheduled call %s failed", fn)
