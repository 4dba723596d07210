"""L, the limit: a bare paho-mqtt 2.1.0 subscriber that parses each uplink and keeps the latest.

Run by benchmarks/run.py as a process of its own (`python -m benchmarks.limit`), so its
CPU time and memory are measured like Home Assistant's. It writes the same lines as
the Home Assistant probe (benchmarks/ha_components/bench_probe): `ready <time>`
once subscribed, `w <seq> <time>` once an uplink is parsed and kept, and `gc <seconds>
<time>` after each full garbage collection; on SIGUSR1, `objects <count> <seconds>`.
"""

from __future__ import annotations

import argparse
import gc
import signal
import threading
import time
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

FLUSH_INTERVAL = 0.2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--output", required=True)
    args = parser.parse_args()

    latest: dict[str, dict[str, Any]] = {}
    lines: list[str] = []
    stop = threading.Event()

    def on_message(client: mqtt.Client, userdata: Any, message: Any) -> None:
        body = orjson.loads(message.payload)
        latest[body["end_device_ids"]["device_id"]] = body
        seq = body["uplink_message"]["decoded_payload"]["seq"]
        lines.append(f"w {seq} {time.time():.6f}\n")

    def on_subscribe(*_: Any) -> None:
        lines.append(f"ready {time.time():.6f}\n")

    collection_started = 0.0

    def collected(phase: str, info: dict[str, Any]) -> None:
        nonlocal collection_started
        if info["generation"] != 2:
            return
        if phase == "start":
            collection_started = time.perf_counter()
        else:
            took = time.perf_counter() - collection_started
            lines.append(f"gc {took:.6f} {time.time():.6f}\n")

    def count_objects(*_: Any) -> None:
        # As the probe: what stays once the garbage is gone.
        gc.callbacks.remove(collected)
        started = time.perf_counter()
        gc.collect()
        took = time.perf_counter() - started
        gc.callbacks.append(collected)
        lines.append(f"objects {len(gc.get_objects())} {took:.6f}\n")

    def flush() -> None:
        with open(args.output, "a") as output:
            while not stop.wait(FLUSH_INTERVAL):
                if lines:
                    count = len(lines)
                    output.write("".join(lines[:count]))
                    output.flush()
                    del lines[:count]
            output.write("".join(lines))

    def on_connect(client: mqtt.Client, *_: Any) -> None:
        client.subscribe(args.topic, qos=0)

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-limit")
    client.username_pw_set(args.username, args.password)
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    signal.signal(signal.SIGTERM, lambda *_: client.disconnect())
    signal.signal(signal.SIGUSR1, count_objects)
    gc.callbacks.append(collected)
    writer = threading.Thread(target=flush, name="bench-limit-writer")
    writer.start()
    try:
        client.connect("127.0.0.1", args.port, keepalive=60)
        client.loop_forever()
    finally:
        stop.set()
        writer.join()


if __name__ == "__main__":
    main()
