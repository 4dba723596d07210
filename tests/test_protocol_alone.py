"""The protocol layer stands alone: it imports, and works, with Home Assistant absent."""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys
import textwrap

PACKAGE = Path(__file__).parent.parent / "custom_components" / "ttn_mqtt"

# Run in a fresh interpreter in which importing homeassistant fails, with only the
# protocol directory's parent on the path: `protocol` is a package of its own there.
SCRIPT = textwrap.dedent(
    """
    import importlib
    import pkgutil
    import sys

    class NoHomeAssistant:
        def find_spec(self, name, path=None, target=None):
            if name == "homeassistant" or name.startswith("homeassistant."):
                raise ImportError(f"{name} is blocked")
            return None

    sys.meta_path.insert(0, NoHomeAssistant())
    sys.path.insert(0, sys.argv[1])
    import protocol

    names = [
        f"protocol.{module.name}" for module in pkgutil.iter_modules(protocol.__path__)
    ]
    for name in names:
        importlib.import_module(name)
    from protocol.messages import Uplink, parse_payload

    uplink = parse_payload(
        b'{"end_device_ids": {"device_id": "dev-1"},'
        b' "uplink_message": {"f_port": 1, "decoded_payload": {"t": 21.5}}}'
    )
    assert isinstance(uplink, Uplink) and uplink.decoded_payload == {"t": 21.5}
    assert not any(name.startswith("homeassistant") for name in sys.modules)
    print(len(names))
    """
)


def test_protocol_imports_without_home_assistant() -> None:
    """Every module of protocol/ imports and parses an uplink without Home Assistant."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(PACKAGE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    modules = {path.stem for path in (PACKAGE / "protocol").glob("*.py")} - {"__init__"}
    assert int(done.stdout) == len(modules)
