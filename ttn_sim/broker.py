"""A mosquitto that behaves like The Things Stack's MQTT server, for one or more applications."""

from __future__ import annotations

import atexit
from collections.abc import Sequence
from dataclasses import dataclass, field
import functools
import json
import os
from pathlib import Path
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from types import TracebackType
from typing import Self

from .certs import generate_tls_material
from .security import (
    NETWORK_ROLE,
    RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE,
    RIGHT_APPLICATION_TRAFFIC_READ,
    application_role,
    dynsec_client,
    dynsec_config,
    network_role,
)

_ID_PATTERN = re.compile(r"^[a-z0-9](?:-?[a-z0-9]){2,}$")
API_KEY_PATTERN = re.compile(r"^NNSXS\.[A-Z2-7]{39}\.[A-Z2-7]{52}$")
_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_START_ATTEMPTS = 3
_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 5.0


def check_id(what: str, value: str) -> None:
    """Raise ValueError for an application, tenant or device id TTN would refuse."""
    if len(value) > 36 or not _ID_PATTERN.match(value):
        raise ValueError(f"invalid {what}: {value!r}")


def generate_api_key() -> str:
    """Return a random key in the real format: `NNSXS.` + 39 + `.` + 52 base32 characters."""
    key_id = "".join(secrets.choice(_BASE32) for _ in range(39))
    secret = "".join(secrets.choice(_BASE32) for _ in range(52))
    return f"NNSXS.{key_id}.{secret}"


@dataclass(frozen=True)
class Application:
    """A TTN application and its API key, by default one that reads and pushes downlinks.

    `rights`: the key's rights on the application. Without RIGHT_APPLICATION_TRAFFIC_READ
    its subscriptions are granted but nothing arrives; without
    RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE its downlink requests are dropped (see
    `security.application_role`); a key without any right is refused at CONNECT.
    """

    app_id: str
    tenant: str = "ttn"
    api_key: str = field(default_factory=generate_api_key, repr=False)
    rights: frozenset[str] = frozenset(
        {RIGHT_APPLICATION_TRAFFIC_READ, RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE}
    )

    def __post_init__(self) -> None:
        """Refuse ids TTN would refuse: they end up in topics and ACLs."""
        check_id("application id", self.app_id)
        # An empty tenant is The Things Stack Open Source.
        if self.tenant:
            check_id("tenant", self.tenant)

    @property
    def username(self) -> str:
        """MQTT username: `app@tenant`, or the bare id on The Things Stack Open Source."""
        return f"{self.app_id}@{self.tenant}" if self.tenant else self.app_id

    @property
    def uid(self) -> str:
        """The application's name in topics (`v3/<uid>/...`): the same as the username."""
        return self.username


class Broker:
    """A mosquitto on loopback with TTN's credentials, rights, TLS and buffering.

    Each application user may subscribe only under `v3/<uid>/`, receives its traffic
    and may publish only downlink pushes and replaces, as far as its key's rights go;
    a wrong key gets CONNACK 5. A superuser
    (`network_username`) stands in for the network server. Logs, configuration and
    certificates live in `workdir`; a temporary one is removed by `stop()`.

    Starting and stopping block for a moment. Tests do it on the event loop's thread
    on purpose: the integration's MQTT client reads on a thread of its own.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        applications: Sequence[Application],
        workdir: Path | None = None,
        port: int | None = None,
        tls_port: int | None = None,
        max_queued_messages: int = 64,
        *,
        verbose_log: bool = False,
    ) -> None:
        """Prepare a broker; nothing runs and nothing is written until `start()`."""
        self._applications = {app.app_id: app for app in applications}
        self._owns_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="ttn-sim-"))
        # Ports the broker chose may be chosen again if another process takes one.
        self._ports_chosen = port is None and tls_port is None
        chosen = _free_ports(2)
        self.port = port or chosen[0]
        self.tls_port = tls_port or chosen[1]
        self._started = False
        self.max_queued_messages = max_queued_messages
        self.verbose_log = verbose_log
        # "/" cannot appear in a TTN id, so this name never clashes with an application.
        self.network_username = "ttn-sim/network-server"
        self.network_password = secrets.token_urlsafe(24)
        self._tls = generate_tls_material()
        self._process: subprocess.Popen[bytes] | None = None
        self._archived_log = ""
        # Applications whose every CONNECT is refused (see refuse_connections).
        self._refused: set[str] = set()

    @property
    def ca_file(self) -> Path:
        """PEM of the CA that signed the TLS listener's certificate."""
        return self.workdir / "ca.pem"

    @property
    def log_file(self) -> Path:
        """Mosquitto's log; kept (appended to) across restarts."""
        return self.workdir / "mosquitto.log"

    @property
    def pid(self) -> int | None:
        """The running mosquitto's process id, if it runs."""
        return self._process.pid if self.is_running else None

    @property
    def is_running(self) -> bool:
        """Whether mosquitto is running."""
        return self._process is not None and self._process.poll() is None

    @property
    def applications(self) -> list[Application]:
        """The applications the broker knows, with their current keys."""
        return list(self._applications.values())

    def replace_application(self, application: Application) -> None:
        """Add or replace an application (e.g. a new API key); applies at the next (re)start."""
        self._applications[application.app_id] = application

    def refuse_connections(self, application: Application, refuse: bool = True) -> None:
        """Refuse every CONNECT of the application with CONNACK 5, valid key or not.

        What TTS answers while its Identity Server cannot be reached to fetch the key's
        rights: mystique connect.go turns any error of that step into "not authorized".
        `refuse=False` accepts the application again. A running broker restarts to
        apply it, so every client (the simulated network too) loses its connection.
        """
        if refuse:
            self._refused.add(application.app_id)
        else:
            self._refused.discard(application.app_id)
        if self.is_running:
            self.restart()

    def start(self) -> None:
        """Write the configuration, start mosquitto and wait until it listens.

        A port taken by another process between choosing it and binding it (the
        kernel's choice is free only at that moment) is no failure: a broker that
        never ran chooses new ports, a restart waits for its own.
        """
        if self.is_running:
            return
        for attempt in range(_START_ATTEMPTS):
            try:
                self._start_once()
            except _PortTaken:
                if attempt + 1 == _START_ATTEMPTS:
                    raise
                if self._ports_chosen and not self._started:
                    self.port, self.tls_port = _free_ports(2)
                else:
                    time.sleep(0.2)
            else:
                self._started = True
                return

    def _start_once(self) -> None:
        self._write_files()
        log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        with (self.workdir / "mosquitto.stderr").open("ab") as stderr:
            # A session of its own: a Ctrl-C meant for the caller does not reach it,
            # so stop() decides when it ends.
            self._process = subprocess.Popen(
                [_mosquitto_binary(), "-c", str(self.workdir / "mosquitto.conf")],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        atexit.register(self.stop)
        self._wait_until_listening(log_offset)

    def stop(self) -> None:
        """Stop mosquitto (SIGTERM, then SIGKILL) and remove a temporary workdir. Idempotent."""
        self._terminate()
        atexit.unregister(self.stop)
        if self._owns_workdir and self.workdir.exists():
            self._archived_log = self.log_text()
            shutil.rmtree(self.workdir, ignore_errors=True)

    def kill(self) -> None:
        """Kill mosquitto at once, as a crash would: clients see the connection drop."""
        if self.is_running:
            assert self._process is not None
            self._process.kill()
            self._process.wait()

    def restart(self) -> None:
        """Start again on the same ports with the same credentials and certificates."""
        self._terminate()
        self.start()

    def log_text(self) -> str:
        """Everything mosquitto logged so far (connections, refusals, subscriptions)."""
        current = (
            self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        )
        return self._archived_log + current

    def count_connects(self, username: str) -> int:
        """How many connections `username` got accepted (refused ones are not logged by name)."""
        # The line reads "New client connected from <addr> as <id> (p2, c1, k60, u'<user>')."
        marker = f"u'{username}')."
        return sum(
            1
            for line in self.log_text().splitlines()
            if "New client connected from" in line and line.endswith(marker)
        )

    def count_refused(self) -> int:
        """How many CONNECTs got CONNACK 5 (mosquitto logs no username).

        Bad credentials, a key without rights and a refused application alike.
        """
        return self.log_text().count("disconnected, not authorised.")

    def __enter__(self) -> Self:
        """Start the broker."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the broker."""
        self.stop()

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _write_files(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ca_file.write_bytes(self._tls.ca_pem)
        (self.workdir / "server.pem").write_bytes(self._tls.server_cert_pem)
        key_file = self.workdir / "server.key"
        key_file.write_bytes(self._tls.server_key_pem)
        key_file.chmod(0o600)
        clients = [
            dynsec_client(self.network_username, self.network_password, NETWORK_ROLE)
        ]
        roles = [network_role()]
        for app in self._applications.values():
            role = application_role(
                app.uid,
                can_read=RIGHT_APPLICATION_TRAFFIC_READ in app.rights,
                can_write=RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE in app.rights,
            )
            # mqtt.go `Connect`: rights.RequireApplication wants at least one right.
            disabled = not app.rights or app.app_id in self._refused
            clients.append(
                dynsec_client(
                    app.username, app.api_key, role["rolename"], disabled=disabled
                )
            )
            roles.append(role)
        security_file = self.workdir / "dynamic-security.json"
        security_file.write_text(json.dumps(dynsec_config(clients, roles), indent=1))
        security_file.chmod(0o600)
        (self.workdir / "mosquitto.conf").write_text(self._config_text())

    def _config_text(self) -> str:
        workdir = self.workdir
        log_types = (
            ["all"]
            if self.verbose_log
            else [
                "error",
                "warning",
                "notice",
                "information",
                "subscribe",
                "unsubscribe",
            ]
        )
        lines = [
            "# Written by ttn_sim: shaped like The Things Stack's MQTT server.",
            # Run as root, mosquitto would switch to user "mosquitto", who cannot read
            # a private temporary directory.
            *(["user root"] if os.geteuid() == 0 else []),
            "per_listener_settings false",
            "allow_anonymous false",
            f"plugin {_dynsec_plugin()}",
            f"plugin_opt_config_file {workdir / 'dynamic-security.json'}",
            "persistence false",
            f"max_queued_messages {self.max_queued_messages}",
            f"log_dest file {self.log_file}",
            *(f"log_type {log_type}" for log_type in log_types),
            "connection_messages true",
            f"listener {self.port} {self.host}",
            f"listener {self.tls_port} {self.host}",
            f"cafile {self.ca_file}",
            f"certfile {workdir / 'server.pem'}",
            f"keyfile {workdir / 'server.key'}",
        ]
        return "\n".join(lines) + "\n"

    def _wait_until_listening(self, log_offset: int) -> None:
        # Mosquitto logs "running" once every listener is bound. Watching the log
        # rather than probing the port keeps probe connections out of it.
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                break
            if self.log_file.exists():
                with self.log_file.open("rb") as log:
                    log.seek(log_offset)
                    if re.search(rb"mosquitto version \S+ running", log.read()):
                        return
            time.sleep(0.01)
        self._terminate()
        tail = self._log_tail()
        if "Address already in use" in tail:
            raise _PortTaken(f"mosquitto could not bind its ports:\n{tail}")
        raise RuntimeError(f"mosquitto did not start:\n{tail}")

    def _log_tail(self, lines: int = 30) -> str:
        stderr_file = self.workdir / "mosquitto.stderr"
        stderr = stderr_file.read_text(errors="replace") if stderr_file.exists() else ""
        return "\n".join((self.log_text() + stderr).splitlines()[-lines:])


class _PortTaken(RuntimeError):
    """Mosquitto could not bind a port: another process has it."""


def _free_ports(count: int) -> list[int]:
    """Return loopback ports free now (the kernel picks them), all different.

    The sockets are held together while the kernel picks: one closed before the next
    is bound may be given out again.
    """
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _mosquitto_binary() -> str:
    return shutil.which("mosquitto") or "/usr/sbin/mosquitto"


@functools.cache
def _dynsec_plugin() -> str:
    """Find the Dynamic Security plugin shipped with mosquitto 2 (Debian: mosquitto package)."""
    if override := os.environ.get("TTN_SIM_DYNSEC_PLUGIN"):
        return override
    name = "mosquitto_dynamic_security.so"
    prefix = Path(os.path.realpath(_mosquitto_binary())).parent.parent
    for lib in dict.fromkeys(
        [prefix / "lib", Path("/usr/lib"), Path("/usr/local/lib")]
    ):
        # Debian puts it in the multiarch directory, e.g. lib/x86_64-linux-gnu/.
        for candidate in [lib / name, *sorted(lib.glob(f"*/{name}"))]:
            if candidate.is_file():
                return str(candidate)
    raise FileNotFoundError(
        "mosquitto_dynamic_security.so not found; install mosquitto 2 "
        "or set TTN_SIM_DYNSEC_PLUGIN to its path"
    )
