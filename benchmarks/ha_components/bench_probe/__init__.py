"""Benchmark probe: when Home Assistant writes the state of the benchmark's marker entity.

Put by benchmarks/run.py in the configuration of both Home Assistant runs (the peer's
MQTT sensors and ttn_mqtt), so that both are measured the same way, from inside.

Every uplink of the benchmark carries a unique number in its decoded field `seq`, and
each device has a sensor of it, `sensor.<device>_seq`. For each write of such a sensor
the probe appends `w <seq> <last_updated>` to its output file: `last_updated` is the
time Home Assistant's state machine stamped the new state, so that the probe's own
bookkeeping adds nothing to the latency it reports. It also appends `started <time>`
once Home Assistant has started, `ready <time>` once `expected` marker sensors exist
(with a value, when `require_state` is set; the time is when the last of them was
written) and `gc <seconds> <time>` after each full garbage collection, as those hold
everything up; `s <count>`, the states written so far (every entity's), when it
changed; and on SIGUSR1 it collects every generation and appends `objects <count>
<seconds>`, the objects that survive and how long that took (not a `gc` line). The
first SIGUSR2 starts counting the objects each collection of the middle generation
moves to the oldest (those that count towards the next full collection: Python runs
one once they are a quarter of the objects the last one left); the second appends
`promoted <count>`. Lines are written from the executor five times a second, when any.
"""

from __future__ import annotations

from datetime import timedelta
import gc
from pathlib import Path
import signal
import time
from typing import Any

from homeassistant.const import (
    EVENT_HOMEASSISTANT_STARTED,
    EVENT_STATE_CHANGED,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    callback,
)
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.typing import ConfigType
import voluptuous as vol

DOMAIN = "bench_probe"
MARKER_PREFIX = "sensor."
MARKER_SUFFIX = "_seq"
FLUSH_INTERVAL = timedelta(seconds=0.2)
READY_POLL_INTERVAL = timedelta(seconds=0.1)

CONFIG_SCHEMA = vol.Schema(
    {
        DOMAIN: vol.Schema(
            {
                vol.Required("output"): cv.string,
                vol.Required("expected"): cv.positive_int,
                vol.Optional("require_state", default=False): cv.boolean,
            }
        )
    },
    extra=vol.ALLOW_EXTRA,
)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Start recording."""
    conf = config[DOMAIN]
    output = Path(conf["output"])
    expected: int = conf["expected"]
    require_state: bool = conf["require_state"]
    # Appended to from the event loop and, for collections, from any thread: each
    # append is one step under the GIL, and flush() takes what is there in one.
    lines: list[str] = []
    collection_started = 0.0
    counting = False
    # Objects moved to the oldest generation while tracing: the young ones a
    # collection of generation 1 found, less those it freed. (A tuple it stops
    # tracking counts as moved: few live that briefly.)
    tracing = False
    young = 0
    promoted = 0
    states = 0
    states_told = 0

    def append(text: str) -> None:
        with output.open("a") as file:
            file.write(text)

    @callback
    def flush(_now: object = None) -> None:
        nonlocal states_told
        if states != states_told:
            states_told = states
            lines.append(f"s {states}\n")
        if lines:
            count = len(lines)
            text = "".join(lines[:count])
            del lines[:count]
            hass.async_add_executor_job(append, text)

    @callback
    def state_written(event: Event[EventStateChangedData]) -> None:
        nonlocal states
        states += 1
        entity_id = event.data["entity_id"]
        if not (
            entity_id.endswith(MARKER_SUFFIX) and entity_id.startswith(MARKER_PREFIX)
        ):
            return
        new_state = event.data["new_state"]
        if new_state is None:
            return
        try:
            seq = int(float(new_state.state))
        except ValueError:
            return
        lines.append(f"w {seq} {new_state.last_updated_timestamp:.6f}\n")

    def collected(phase: str, info: dict[str, Any]) -> None:
        nonlocal collection_started, young, promoted
        if info["generation"] == 1 and tracing:
            # Both young generations: only they are walked, not the whole heap.
            if phase == "start":
                young = len(gc.get_objects(0)) + len(gc.get_objects(1))
            else:
                promoted += young - info["collected"]
            return
        if info["generation"] != 2 or counting:
            return
        if phase == "start":
            collection_started = time.perf_counter()
        else:
            took = time.perf_counter() - collection_started
            lines.append(f"gc {took:.6f} {time.time():.6f}\n")

    @callback
    def count_objects() -> None:
        # Asked between phases: what stays once the garbage is gone.
        nonlocal counting
        counting = True
        started = time.perf_counter()
        gc.collect()
        took = time.perf_counter() - started
        counting = False
        lines.append(f"objects {len(gc.get_objects())} {took:.6f}\n")
        flush()

    @callback
    def trace_promotions() -> None:
        nonlocal tracing, promoted
        if not tracing:
            promoted = 0
            tracing = True
            return
        # What the young generations hold now is moved too, and counted.
        gc.collect(1)
        tracing = False
        lines.append(f"promoted {promoted}\n")
        flush()

    cancel_ready_poll: CALLBACK_TYPE | None = None

    @callback
    def check_ready(_now: object = None) -> None:
        markers = [
            state
            for state in hass.states.async_all("sensor")
            if state.entity_id.endswith(MARKER_SUFFIX)
            and (
                not require_state
                or state.state not in (STATE_UNKNOWN, STATE_UNAVAILABLE)
            )
        ]
        if len(markers) < expected:
            return
        written = max(
            (state.last_updated_timestamp for state in markers), default=time.time()
        )
        lines.append(f"ready {written:.6f}\n")
        flush()
        if cancel_ready_poll is not None:
            cancel_ready_poll()

    @callback
    def started(_event: Event) -> None:
        lines.append(f"started {time.time():.6f}\n")
        flush()
        if expected == 0:
            check_ready()

    # For as long as the process runs: the probe is never unloaded.
    gc.callbacks.append(collected)
    hass.loop.add_signal_handler(signal.SIGUSR1, count_objects)
    hass.loop.add_signal_handler(signal.SIGUSR2, trace_promotions)
    hass.bus.async_listen(EVENT_STATE_CHANGED, state_written)
    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STARTED, started)
    async_track_time_interval(hass, flush, FLUSH_INTERVAL, cancel_on_shutdown=True)
    if expected:
        cancel_ready_poll = async_track_time_interval(
            hass, check_ready, READY_POLL_INTERVAL, cancel_on_shutdown=True
        )
    return True
