"""Configuration directories of the two Home Assistant targets.

P, the peer: Home Assistant's own `mqtt` integration (its broker connection is a config
entry, written to `.storage/core.config_entries` as the config flow would) and, in
YAML, one MQTT entity per decoded field per device, written by hand the way users do:
a `sensor` with a `value_template` for each number and the string, a `binary_sensor`
for the boolean and a `device_tracker` fed with the nested location.

F, Home Assistant's floor: benchmarks/ha_components/bench_floor's config entry for the
same application: T's entities, with nothing of ttn_mqtt's in between.

T, ours: ttn_mqtt's config entry for the same application (catch-up off), nothing else.

Both have the recorder and the frontend off (benchmarks/ha_components/frontend takes
the frontend's place) and the probe (benchmarks/ha_components/bench_probe).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
import json
from pathlib import Path
import shutil

from .workload import Workload

ROOT = Path(__file__).resolve().parent.parent
BENCH_COMPONENTS = Path(__file__).resolve().parent / "ha_components"
# The manifests of the benchmark's integrations, written beside their code in each
# configuration. Not kept as manifest.json files: the hassfest action validates every
# manifest.json in the repository, and these are not integrations to publish (one
# takes the name of Home Assistant's frontend, on purpose).
MANIFESTS = {
    "bench_probe": {
        "domain": "bench_probe",
        "name": "Benchmark probe",
        "codeowners": [],
        "documentation": "https://github.com/ttn-mqtt/ttn_mqtt/tree/main/benchmarks",
        "iot_class": "local_push",
        "requirements": [],
        "version": "0.1.0",
    },
    "bench_floor": {
        "domain": "bench_floor",
        "name": "Benchmark floor (F)",
        "codeowners": [],
        "documentation": "https://github.com/ttn-mqtt/ttn_mqtt/tree/main/benchmarks",
        "iot_class": "local_push",
        "requirements": [],
        "version": "0.1.0",
    },
    "frontend": {
        "domain": "frontend",
        "name": "Frontend (turned off by the benchmark)",
        "codeowners": [],
        "documentation": "https://github.com/ttn-mqtt/ttn_mqtt/tree/main/benchmarks",
        "integration_type": "system",
        "requirements": [],
        "version": "0.1.0",
    },
}

CONFIGURATION = """\
homeassistant:
  name: ttn_mqtt benchmark
  latitude: 52.37
  longitude: 4.89
  elevation: 0
  unit_system: metric
  time_zone: UTC
  country: NL
  currency: EUR
http:
  server_host: 127.0.0.1
  server_port: {http_port}
logger:
  default: warning
bench_probe:
  output: {probe_output}
  expected: {expected}
  require_state: {require_state}
"""

# The numbers and the string, as a user would describe them.
SENSORS = (
    ("temperature", "°C", "temperature"),
    ("humidity", "%", "humidity"),
    ("co2", "ppm", "carbon_dioxide"),
    ("battery", "V", "voltage"),
    ("mode", None, None),
    ("seq", None, None),
)


@dataclass(frozen=True)
class Credentials:
    """Where the targets connect, as the application's API key."""

    port: int
    username: str
    password: str


def prepare(
    config_dir: Path,
    target: str,
    workload: Workload,
    broker: Credentials,
    integration: Path,
    *,
    devices: bool = True,
) -> None:
    """Write a fresh configuration directory for target "P", "F" or "T".

    T runs the copy of ttn_mqtt in `integration`. P has its MQTT entities when
    `devices` is set, and none otherwise.
    """
    shutil.rmtree(config_dir, ignore_errors=True)
    components = config_dir / "custom_components"
    components.mkdir(parents=True)
    for name, manifest in MANIFESTS.items():
        (components / name).mkdir()
        for module in (BENCH_COMPONENTS / name).glob("*.py"):
            shutil.copy(module, components / name)
        (components / name / "manifest.json").write_text(json.dumps(manifest, indent=2))
    storage = config_dir / ".storage"
    storage.mkdir()
    if target == "T":
        (components / "ttn_mqtt").symlink_to(integration.resolve())
        entry = _entry(
            "ttn_mqtt",
            workload.app.app_id,
            {
                "host": "127.0.0.1",
                "port": broker.port,
                "use_tls": False,
                "tenant": workload.app.tenant,
                "app_id": workload.app.app_id,
                "api_key": broker.password,
            },
            {"backfill_hours": 0},
            unique_id=f"127.0.0.1/{workload.app.uid}",
        )
    elif target == "F":
        entry = _entry(
            "bench_floor",
            workload.app.app_id,
            {
                "host": "127.0.0.1",
                "port": broker.port,
                "username": broker.username,
                "password": broker.password,
                "uid": workload.app.uid,
                "app_id": workload.app.app_id,
            },
            {},
        )
    else:
        entry = _entry(
            "mqtt",
            "127.0.0.1",
            {
                "broker": "127.0.0.1",
                "port": broker.port,
                "username": broker.username,
                "password": broker.password,
            },
            # No discovery: the application's key may subscribe to v3/<app>/# only.
            {"discovery": False, "birth_message": {}, "will_message": {}},
            version=1,
            minor_version=2,
        )
        (config_dir / "mqtt.yaml").write_text(
            _mqtt_entities(workload) if devices else "{}\n"
        )
    (storage / "core.config_entries").write_text(
        json.dumps(
            {
                "version": 1,
                "minor_version": 5,
                "key": "core.config_entries",
                "data": {"entries": [entry]},
            },
            indent=1,
        )
    )


def write_configuration(
    config_dir: Path,
    target: str,
    *,
    http_port: int,
    probe_output: Path,
    expected: int,
    require_state: bool,
) -> None:
    """Write configuration.yaml; the probe's part changes from one start to the next."""
    text = CONFIGURATION.format(
        http_port=http_port,
        probe_output=probe_output,
        expected=expected,
        require_state=str(require_state).lower(),
    )
    if target == "P":
        text += "mqtt: !include mqtt.yaml\n"
    (config_dir / "configuration.yaml").write_text(text)


def _entry(
    domain: str,
    title: str,
    data: dict[str, object],
    options: dict[str, object],
    *,
    unique_id: str | None = None,
    version: int = 1,
    minor_version: int = 1,
) -> dict[str, object]:
    now = datetime.now(UTC).isoformat()
    return {
        "created_at": now,
        "data": data,
        "discovery_keys": {},
        "disabled_by": None,
        "domain": domain,
        "entry_id": f"bench{domain.replace('_', '')}entry".ljust(26, "0")[:26],
        "minor_version": minor_version,
        "modified_at": now,
        "options": options,
        "pref_disable_new_entities": False,
        "pref_disable_polling": False,
        "source": "user",
        "subentries": [],
        "title": title,
        "unique_id": unique_id,
        "version": version,
    }


def _mqtt_entities(workload: Workload) -> str:
    """Return `mqtt:` YAML: eight entities per device, each on the device's uplink topic."""
    sensors: list[str] = []
    binary_sensors: list[str] = []
    trackers: list[str] = []
    decoded = "value_json.uplink_message.decoded_payload"
    for device_id in workload.device_ids:
        topic = workload.topic(device_id)
        for field, unit, device_class in SENSORS:
            lines = [
                f'  - name: "{device_id} {field}"',
                f'    unique_id: "{device_id}-{field}"',
                f'    state_topic: "{topic}"',
                f'    value_template: "{{{{ {decoded}.{field} }}}}"',
            ]
            if unit:
                lines.append(f'    unit_of_measurement: "{unit}"')
                lines.append(f"    device_class: {device_class}")
                lines.append("    state_class: measurement")
            sensors.append("\n".join(lines))
        binary_sensors.append(
            "\n".join(
                [
                    f'  - name: "{device_id} door open"',
                    f'    unique_id: "{device_id}-door_open"',
                    f'    state_topic: "{topic}"',
                    f"    value_template: \"{{{{ 'ON' if {decoded}.door_open else 'OFF' }}}}\"",
                    "    device_class: door",
                ]
            )
        )
        trackers.append(
            "\n".join(
                [
                    f'  - name: "{device_id} location"',
                    f'    unique_id: "{device_id}-location"',
                    f'    json_attributes_topic: "{topic}"',
                    f'    json_attributes_template: "{{{{ {decoded}.location | tojson }}}}"',
                    "    source_type: gps",
                ]
            )
        )
    return (
        "sensor:\n"
        + "\n".join(sensors)
        + "\nbinary_sensor:\n"
        + "\n".join(binary_sensors)
        + "\ndevice_tracker:\n"
        + "\n".join(trackers)
        + "\n"
    )
