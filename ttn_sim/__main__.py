"""`python -m ttn_sim`: run a simulated TTN application until Ctrl-C or SIGTERM."""

import argparse
from collections.abc import Sequence
import json
from pathlib import Path
import signal
import sys
import threading
from typing import Any

from .broker import API_KEY_PATTERN, Application, Broker
from .network import Network


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m ttn_sim",
        description="Run a mosquitto shaped like The Things Stack with simulated devices.",
    )
    parser.add_argument(
        "--port", type=int, help="plain MQTT port (default: a free one)"
    )
    parser.add_argument(
        "--tls-port", type=int, help="MQTT over TLS port (default: a free one)"
    )
    parser.add_argument(
        "--app-id", default="demo-app", help="application id (default: demo-app)"
    )
    parser.add_argument(
        "--tenant", default="ttn", help='tenant id; "" for Open Source (default: ttn)'
    )
    parser.add_argument(
        "--api-key", help="API key to accept (default: a new random one)"
    )
    parser.add_argument(
        "--interval", type=float, default=5.0, help="seconds between uplinks"
    )
    parser.add_argument(
        "--join-every",
        type=int,
        default=25,
        help="a device rejoins every N uplinks (0: never)",
    )
    parser.add_argument("--seed", type=int, help="make the readings repeatable")
    parser.add_argument(
        "--state-file",
        type=Path,
        help="also write the connection details there as JSON (removed on exit)",
    )
    return parser.parse_args(argv)


def connection_info(broker: Broker, network: Network) -> dict[str, Any]:
    """Return what a client needs to connect (what the integration's config flow asks)."""
    app = network.application
    return {
        "host": broker.host,
        "port": broker.port,
        "tls_port": broker.tls_port,
        "ca_file": str(broker.ca_file),
        "app_id": app.app_id,
        "tenant": app.tenant,
        "username": app.username,
        "api_key": app.api_key,
        "devices": list(network.devices),
        "broker_pid": broker.pid,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run until SIGINT or SIGTERM, then stop everything."""
    args = parse_args(argv)
    if args.api_key and not API_KEY_PATTERN.match(args.api_key):
        sys.exit("--api-key: not an API key (NNSXS. + 39 + . + 52 base32 characters)")
    app = (
        Application(args.app_id, args.tenant, args.api_key)
        if args.api_key
        else Application(args.app_id, args.tenant)
    )
    stop_event = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop_event.set())

    broker = Broker([app], port=args.port, tls_port=args.tls_port)
    with broker, Network(broker, app, seed=args.seed) as network:
        info = connection_info(broker, network)
        for key, value in info.items():
            print(f"{key}: {value}")
        print(f"Sending an uplink every {args.interval:g} s; Ctrl-C stops.", flush=True)
        if args.state_file:
            args.state_file.write_text(json.dumps(info, indent=2) + "\n")
        try:
            network.run_forever(args.interval, stop_event, join_every=args.join_every)
        finally:
            if args.state_file:
                args.state_file.unlink(missing_ok=True)
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
