"""Run Home Assistant with ttn_mqtt against a simulated TTN application (scripts/demo).

Starts the simulator (mosquitto shaped like The Things Stack, plus simulated devices)
and Home Assistant with its configuration in .demo/, onboards Home Assistant with a demo
user and adds ttn_mqtt through its real config flow. Ctrl-C stops both. A second run
reuses .demo/: the same user, API key, ports and config entry.

`--check` proves it works over Home Assistant's REST API and exits: simulated devices
have entities with live values, a confirmed downlink comes back acknowledged, and no
config entry failed, nothing was logged as an error and no notification waits.
Downlink reports are printed as they arrive.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
import contextlib
import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import threading
import time
from typing import Any
import urllib.error
import urllib.parse
import urllib.request

ROOT = Path(__file__).resolve().parent.parent
# scripts/demo --ha current keeps its own: a newer Home Assistant migrates what it reads.
DEMO = ROOT / os.environ.get("TTN_MQTT_DEMO_DIR", ".demo")
CONFIG = DEMO / "config"
STATE = DEMO / "demo.json"
URL = "http://127.0.0.1:8123"
WEBSOCKET_URL = "ws://127.0.0.1:8123/api/websocket"
CLIENT_ID = f"{URL}/"
USERNAME = "demo"
PASSWORD = "demo-ttn-mqtt"
APP_ID = "demo-app"
MQTT_PORT = 18830
MQTT_TLS_PORT = 18831
UPLINK_INTERVAL = 5.0

CONFIGURATION_YAML = """\
# Written by scripts/demo. Only what the demo needs: default_config would pull in
# integrations whose packages are not installed here.
homeassistant:
  name: ttn_mqtt demo
  latitude: 52.37
  longitude: 4.89
  unit_system: metric
  time_zone: Europe/Amsterdam
  country: NL
frontend:
config:
history:
logbook:
automation: []
logger:
  default: warning
  logs:
    custom_components.ttn_mqtt: info
"""


def log(message: str) -> None:
    """Say what the demo is doing."""
    print(f"[demo] {message}", flush=True)


def request(
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    token: str | None = None,
    form: dict[str, str] | None = None,
) -> Any:
    """Call Home Assistant's HTTP API on loopback and return the decoded JSON."""
    headers = {}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(
        f"{URL}{path}", data=data, headers=headers, method=method
    )
    with urllib.request.urlopen(req, timeout=30) as response:
        raw = response.read()
        if response.headers.get_content_type() != "application/json":
            return raw.decode()
    return json.loads(raw) if raw else None


def wait_until(what: str, check: Callable[[], Any], timeout: float) -> Any:
    """Poll check() until it returns something truthy; fail after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := check():
                return result
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    raise SystemExit(f"[demo] gave up waiting for {what}")


# Asked to see whether Home Assistant answers: it needs no login (a request to the API
# without one counts as a failed login attempt, and leaves a notification).
READY_PATH = "/auth/providers"


def home_assistant_answers() -> bool:
    """Return whether Home Assistant's HTTP server answers (any status will do)."""
    # 400 until the demo user exists: it answers.
    with contextlib.suppress(urllib.error.HTTPError):
        request("GET", READY_PATH)
    return True


def skip_onboarding_extras() -> None:
    """Mark every onboarding step but the user's as done, before the first start.

    Finishing the core_config step sets up Google Translate, Met and Radio Browser,
    whose packages `--skip-pip` leaves out: they would fail, with tracebacks.
    """
    onboarding = CONFIG / ".storage" / "onboarding"
    if onboarding.exists():
        return
    onboarding.parent.mkdir(parents=True, exist_ok=True)
    onboarding.write_text(
        json.dumps(
            {
                "version": 4,
                "minor_version": 1,
                "key": "onboarding",
                "data": {"done": ["core_config", "analytics", "integration"]},
            }
        )
    )


def load_state() -> dict[str, Any]:
    """Return what an earlier run kept: the simulator's API key."""
    return json.loads(STATE.read_text()) if STATE.exists() else {}


def start_simulator(api_key: str | None) -> tuple[subprocess.Popen[bytes], dict]:
    """Start `python -m ttn_sim` and return it with its connection details."""
    info_file = DEMO / "simulator.json"
    info_file.unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "ttn_sim",
        "--port", str(MQTT_PORT), "--tls-port", str(MQTT_TLS_PORT),
        "--app-id", APP_ID, "--interval", str(UPLINK_INTERVAL),
        "--state-file", str(info_file),
    ]  # fmt: skip
    if api_key:
        command += ["--api-key", api_key]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=(DEMO / "simulator.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    info = wait_until(
        "the simulator",
        lambda: (
            process.poll() is None
            and info_file.exists()
            and json.loads(info_file.read_text())
        ),
        30,
    )
    return process, info


def start_home_assistant() -> subprocess.Popen[bytes]:
    """Start Home Assistant with our custom_components on its path."""
    CONFIG.mkdir(parents=True, exist_ok=True)
    (CONFIG / "configuration.yaml").write_text(CONFIGURATION_YAML)
    skip_onboarding_extras()
    link = CONFIG / "custom_components"
    if not link.is_symlink():
        link.symlink_to(ROOT / "custom_components")
    return subprocess.Popen(
        [sys.executable, "-m", "homeassistant", "--config", str(CONFIG), "--skip-pip"],
        cwd=ROOT,
        stdout=(DEMO / "home-assistant.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def onboard() -> None:
    """Create the demo user and finish onboarding, asking nothing."""
    try:
        steps = {
            step["step"]: step["done"] for step in request("GET", "/api/onboarding")
        }
    except urllib.error.HTTPError as err:
        if err.code == 404:  # onboarded: Home Assistant no longer serves the steps
            return
        raise
    if not steps.get("user"):
        auth_code = request(
            "POST",
            "/api/onboarding/users",
            {
                "client_id": CLIENT_ID,
                "name": "Demo",
                "username": USERNAME,
                "password": PASSWORD,
                "language": "en",
            },
        )["auth_code"]
        token = request(
            "POST",
            "/auth/token",
            form={
                "grant_type": "authorization_code",
                "code": auth_code,
                "client_id": CLIENT_ID,
            },
        )["access_token"]
    else:
        token = login()
    if not steps.get("core_config"):
        request("POST", "/api/onboarding/core_config", {}, token)
    if not steps.get("analytics"):
        request("POST", "/api/onboarding/analytics", {}, token)
    if not steps.get("integration"):
        request(
            "POST",
            "/api/onboarding/integration",
            {"client_id": CLIENT_ID, "redirect_uri": CLIENT_ID},
            token,
        )


def login() -> str:
    """Log the demo user in and return an access token."""
    return login_tokens()["access_token"]


def login_tokens() -> dict[str, Any]:
    """Log the demo user in and return the token answer (access and refresh token)."""
    flow = request(
        "POST",
        "/auth/login_flow",
        {
            "client_id": CLIENT_ID,
            "handler": ["homeassistant", None],
            "redirect_uri": CLIENT_ID,
        },
    )
    result = request(
        "POST",
        f"/auth/login_flow/{flow['flow_id']}",
        {"client_id": CLIENT_ID, "username": USERNAME, "password": PASSWORD},
    )
    return request(
        "POST",
        "/auth/token",
        form={
            "grant_type": "authorization_code",
            "code": result["result"],
            "client_id": CLIENT_ID,
        },
    )


def add_integration(token: str, simulator: dict[str, Any]) -> None:
    """Add ttn_mqtt through its config flow, as a user would, unless it is there."""
    entries = request(
        "GET", "/api/config/config_entries/entry?domain=ttn_mqtt", token=token
    )
    if entries:
        return
    flow = request(
        "POST", "/api/config/config_entries/flow", {"handler": "ttn_mqtt"}, token
    )
    result = request(
        "POST",
        f"/api/config/config_entries/flow/{flow['flow_id']}",
        {
            "host": simulator["host"],
            # The form's collapsed section of connection details.
            "connection": {"port": simulator["port"], "use_tls": False},
            "tenant": simulator["tenant"],
            "app_id": simulator["app_id"],
            "app_eui": "70B3D57ED0000000",
            "api_key": simulator["api_key"],
        },
        token,
    )
    if result.get("type") != "create_entry":
        raise SystemExit(f"[demo] the config flow did not create an entry: {result}")
    # The simulator has no Storage Integration to catch up from.
    options = request(
        "POST",
        "/api/config/config_entries/options/flow",
        {"handler": result["result"]["entry_id"]},
        token,
    )
    request(
        "POST",
        f"/api/config/config_entries/options/flow/{options['flow_id']}",
        {"signal_entities": True, "stale_hours": 0, "backfill_hours": 0},
        token,
    )
    log("Added The Things Network (MQTT) for the simulated application")


def ttn_states(token: str) -> list[dict[str, Any]]:
    """Return the states of the simulated devices' sensors."""
    return [
        state
        for state in request("GET", "/api/states", token=token)
        if state["entity_id"].startswith("sensor.th_sensor_01_")
        and state["state"] not in ("unknown", "unavailable")
    ]


def check(token: str) -> None:
    """Prove over the REST API that values are live and a downlink is acknowledged."""
    first = wait_until("live sensor values", lambda: ttn_states(token), 60)
    live = ", ".join(f"{state['entity_id']}={state['state']}" for state in first)
    log(f"Live: {live}")
    changed = wait_until(
        "a new uplink",
        lambda: (
            {s["last_updated"] for s in ttn_states(token)}
            - {s["last_updated"] for s in first}
        ),
        # Uplinks go round the five simulated devices, one every UPLINK_INTERVAL.
        12 * UPLINK_INTERVAL,
    )
    log(f"Updated by the next uplink at {min(changed)}")

    device_id = request(
        "POST",
        "/api/template",
        {"template": f"{{{{ device_id('{first[0]['entity_id']}') }}}}"},
        token,
    )
    response = request(
        "POST",
        "/api/services/ttn_mqtt/send_downlink?return_response",
        {"device_id": device_id, "f_port": 2, "payload": "01 02", "confirmed": True},
        token,
    )
    correlation_id = response["service_response"]["correlation_id"]
    log(f"Sent a confirmed downlink, correlation id {correlation_id}")

    def acknowledged() -> bool:
        state = request("GET", "/api/states/event.th_sensor_01_downlink", token=token)
        attributes = state["attributes"]
        return attributes.get(
            "event_type"
        ) == "ack" and correlation_id in attributes.get("correlation_ids", [])

    wait_until("the downlink's acknowledgement", acknowledged, 4 * UPLINK_INTERVAL)
    log("The downlink came back acknowledged")


async def _websocket(token: str, *messages: dict[str, Any]) -> Any:
    """Open Home Assistant's WebSocket API, log in and yield what comes back."""
    # Home Assistant's own HTTP library, in its virtual environment: imported here,
    # so that scripts/screenshots can use this module without it.
    import aiohttp  # noqa: PLC0415

    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(WEBSOCKET_URL) as websocket,
    ):
        await websocket.receive_json()  # auth_required
        await websocket.send_json({"type": "auth", "access_token": token})
        if (await websocket.receive_json())["type"] != "auth_ok":
            raise SystemExit("[demo] the WebSocket API refused the demo's token")
        for number, message in enumerate(messages, 1):
            await websocket.send_json({"id": number, **message})
        async for answer in websocket:
            yield answer.json()


def websocket_command(token: str, message: dict[str, Any]) -> Any:
    """Send one command over the WebSocket API and return its result."""

    async def command() -> Any:
        async for answer in _websocket(token, message):
            if answer.get("type") == "result":
                return answer["result"]
        return None

    return asyncio.run(command())


def print_downlink_reports(token: str) -> None:
    """Say each downlink report as it arrives, from a thread of its own."""
    sys.path.insert(0, str(ROOT))
    from custom_components.ttn_mqtt.logbook import downlink_message  # noqa: PLC0415

    async def follow() -> None:
        subscribe = {"type": "subscribe_events", "event_type": "ttn_mqtt_downlink"}
        async for answer in _websocket(token, subscribe):
            if answer.get("type") == "event":
                data = answer["event"]["data"]
                log(f"{data.get('ttn_device_id')}: {downlink_message(data)}")

    threading.Thread(target=asyncio.run, args=(follow(),), daemon=True).start()


def check_nothing_is_wrong(token: str) -> None:
    """Fail when a config entry failed, Home Assistant logged an error or notified."""
    failed = [
        f"{entry['domain']} ({entry['state']})"
        for entry in request("GET", "/api/config/config_entries/entry", token=token)
        if entry["state"] not in ("loaded", "not_loaded")
    ]
    if failed:
        raise SystemExit(f"[demo] config entries not loaded: {', '.join(failed)}")
    log_file = DEMO / "home-assistant.log"
    errors = [line for line in log_file.read_text().splitlines() if " ERROR " in line]
    if os.environ.get("TTN_MQTT_DEMO_HA") == "current":
        # Today's Home Assistant sets up core integrations (assist, ffmpeg) whose
        # packages need a compiler and Python's headers, or programs the demo does not
        # install: said, not failed. Ours must log nothing.
        core = [line for line in errors if _core_setup_error(line)]
        if core:
            log(f"{len(core)} errors of core integrations the demo does not install")
        errors = [line for line in errors if line not in core]
    if errors:
        raise SystemExit("[demo] Home Assistant logged errors:\n" + "\n".join(errors))
    notifications = websocket_command(token, {"type": "persistent_notification/get"})
    if os.environ.get("TTN_MQTT_DEMO_HA") == "current":
        # The same core integrations, named in Home Assistant's "Invalid config".
        notifications = [
            n for n in notifications if n.get("notification_id") != "invalid_config"
        ]
    if notifications:
        titles = ", ".join(
            str(n.get("title") or n.get("message")) for n in notifications
        )
        raise SystemExit(f"[demo] Home Assistant shows notifications: {titles}")
    log("No failed config entry, no error in the log, no notification")


def _core_setup_error(line: str) -> bool:
    return "[homeassistant.setup]" in line or "[haffmpeg." in line


def stop(*processes: subprocess.Popen[bytes]) -> None:
    """Stop the processes (SIGTERM, then SIGKILL) and wait for them."""
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def main() -> int:
    """Run the demo until Ctrl-C, or check it and stop."""
    parser = argparse.ArgumentParser(
        prog="scripts/demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--check", action="store_true", help="check it works, then stop"
    )
    args = parser.parse_args()
    DEMO.mkdir(exist_ok=True)
    # Ctrl-C, also when started from a shell that ignores SIGINT in background jobs.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    simulator, info = start_simulator(load_state().get("api_key"))
    STATE.write_text(json.dumps({"api_key": info["api_key"]}) + "\n")
    log(
        f"Simulated TTN application {info['app_id']} on mqtt://{info['host']}:{info['port']}"
    )
    home_assistant = start_home_assistant()
    try:
        log("Starting Home Assistant (the first start takes a minute)...")
        wait_until("Home Assistant", home_assistant_answers, 300)
        onboard()
        token = login()
        add_integration(token, info)
        print_downlink_reports(token)
        if args.check:
            check(token)
            check_nothing_is_wrong(token)
            return 0
        log(f"Open {URL} and log in as {USERNAME} / {PASSWORD}")
        log("Devices: Settings > Devices & services > The Things Network (MQTT)")
        log("Downlinks: Developer tools > Actions > ttn_mqtt.send_downlink")
        log(
            f"Logs: {DEMO.name}/home-assistant.log and {DEMO.name}/simulator.log. "
            "Ctrl-C stops."
        )
        while home_assistant.poll() is None and simulator.poll() is None:
            time.sleep(1)
        log(f"A process ended by itself; see the logs in {DEMO.name}/")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        log("Stopping...")
        stop(home_assistant, simulator)
        log("Stopped.")


if __name__ == "__main__":
    sys.exit(main())
