"""Every translation key the code uses is in en.json, with the placeholders it gives.

The keys are found by reading the code (tests/translation_scan.py), so a new error,
abort, step, form field, entity, exception or repair issue is checked without this
file changing.
"""

from __future__ import annotations

from functools import cache
import json
from pathlib import Path
import re
from typing import Any

import pytest

from .translation_scan import SOURCE, IntegrationScan, KeyUse, UnresolvedKey

PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Home Assistant's own texts, referenced rather than written: `[%key:...%]`.
REFERENCE = re.compile(r"^\[%key:[a-z0-9_:]+%\]$")


def _strings() -> dict[str, Any]:
    return json.loads((SOURCE / "translations" / "en.json").read_text())


@cache
def _uses() -> tuple[KeyUse, ...]:
    return tuple(IntegrationScan().uses())


def _lookup(strings: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = strings
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _texts(strings: dict[str, Any], path: tuple[str, ...]) -> list[str]:
    """Return the texts a use shows: an exception's message, an issue's title and body."""
    node = _lookup(strings, path)
    if isinstance(node, str):
        return [node]
    if path[0] == "exceptions":
        return [node["message"]] if isinstance(node, dict) and "message" in node else []
    if path[0] == "issues":
        return [node[key] for key in ("title", "description") if key in (node or {})]
    return []


def _icons() -> dict[str, Any]:
    return json.loads((SOURCE / "icons.json").read_text())


def _missing(strings: dict[str, Any], use: KeyUse) -> bool:
    node = _lookup(strings, use.path)
    if not node:
        # Field entities are named after their field: their key is for icons only.
        return use.path[0] != "entity" or not _lookup(_icons(), use.path)
    if use.path[0] == "exceptions":
        return not isinstance(node, dict) or not node.get("message")
    if use.path[0] == "issues":
        return not node.get("title") or not node.get("description")
    return False


def test_every_key_used_in_the_code_is_translated() -> None:
    """Each step, form field, error, abort, entity, exception and issue has its text."""
    strings = _strings()
    missing = sorted(
        {
            f"{'.'.join(use.path)} (used at {use.where})"
            for use in _uses()
            if _missing(strings, use)
        }
    )
    assert not missing, "missing from translations/en.json:\n" + "\n".join(missing)


def test_placeholders_are_given() -> None:
    """Every {placeholder} of an exception's or issue's text is given where it is raised."""
    strings = _strings()
    problems = []
    for use in _uses():
        if use.placeholders is None:
            continue
        for text in _texts(strings, use.path):
            if lacking := set(PLACEHOLDER.findall(text)) - use.placeholders:
                problems.append(
                    f"{'.'.join(use.path)} at {use.where} lacks {sorted(lacking)}"
                )
    assert not problems, "\n".join(problems)


def test_no_translation_is_left_unused() -> None:
    """Texts the code no longer uses are removed, not left to mislead translators."""
    strings = _strings()
    used = {use.path for use in _uses()}
    checked: list[tuple[str, ...]] = [
        *(
            (section, key)
            for section in ("exceptions", "issues")
            for key in strings.get(section, {})
        ),
        *(
            ("entity", platform, key)
            for platform, keys in strings.get("entity", {}).items()
            for key in keys
        ),
    ]
    for flow in ("config", "options"):
        for kind in ("error", "abort", "step"):
            checked.extend(
                (flow, kind, key) for key in strings.get(flow, {}).get(kind, {})
            )
        for step, texts in strings.get(flow, {}).get("step", {}).items():
            checked.extend(
                (flow, "step", step, "data", key) for key in texts.get("data", {})
            )
    unused = sorted(".".join(path) for path in checked if path not in used)
    assert not unused, "not used by the code:\n" + "\n".join(unused)


def test_every_form_field_is_explained() -> None:
    """Hassfest's rule: a data_description only describes a field of its step's data."""
    strings = _strings()
    problems = [
        f"{flow}.step.{step}.data_description.{key}"
        for flow in ("config", "options")
        for step, texts in strings.get(flow, {}).get("step", {}).items()
        for key in texts.get("data_description", {})
        if key not in texts.get("data", {})
    ]
    assert not problems


# The scanner itself: it must find keys written in each way, and refuse what it
# cannot follow rather than let it pass.

SAMPLE = """
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir

class Flow(ConfigFlow, domain="x"):
    async def async_step_user(self, user_input=None):
        errors = {}
        if user_input is not None:
            if not (error := await self._async_check(user_input)):
                return self.async_abort(reason="done")
            errors["base"] = error
        self._abort_if_unique_id_configured()
        return self.async_show_form(step_id="user", errors=errors)

    async def _async_check(self, data):
        return None if data else "refused"

class Light(LightEntity):
    _attr_translation_key = "lamp"

def fail(device_id):
    raise HomeAssistantError(
        translation_domain="x",
        translation_key="unknown_device" if device_id else "no_device",
        translation_placeholders={"device_id": device_id},
    )

def report(hass):
    ir.async_create_issue(hass, "x", "id", translation_key="broken")
"""


def _scan_sample(tmp_path: Path, source: str, name: str = "light.py") -> set[tuple]:
    """Scan one module, alone in a directory of its own."""
    directory = tmp_path / name.removesuffix(".py")
    directory.mkdir()
    (directory / name).write_text(source)
    return {use.path for use in IntegrationScan(directory, "sample").uses()}


def test_scanner_finds_keys_however_written(tmp_path: Path) -> None:
    """Literal, returned, conditional and implicit keys are all found."""
    found = _scan_sample(tmp_path, SAMPLE)

    assert ("config", "error", "refused") in found
    assert ("config", "abort", "done") in found
    assert ("config", "abort", "already_configured") in found
    assert ("config", "step", "user") in found
    assert ("entity", "light", "lamp") in found
    assert ("exceptions", "unknown_device") in found
    assert ("exceptions", "no_device") in found
    assert ("issues", "broken") in found


def test_scanner_refuses_keys_it_cannot_follow(tmp_path: Path) -> None:
    """A key from a parameter, or an entity key outside a platform, fails loudly."""
    with pytest.raises(UnresolvedKey, match="reason"):
        _scan_sample(
            tmp_path,
            "def fail(reason):\n"
            "    raise HomeAssistantError(translation_domain='x', translation_key=reason)\n",
        )
    with pytest.raises(UnresolvedKey, match="outside a platform"):
        _scan_sample(
            tmp_path,
            "class Base(Entity):\n    _attr_translation_key = 'base'\n",
            name="entity.py",
        )


def test_every_entity_has_an_icon() -> None:
    """Each entity translation key has its icon, and icons.json names no other key."""
    used = {use.path for use in _uses() if use.path[0] == "entity"}
    icons = {
        ("entity", platform, key)
        for platform, keys in _icons()["entity"].items()
        for key in keys
    }
    assert used == icons
