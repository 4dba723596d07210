"""Ready for HACS and hassfest: the checks their validators run, written as tests.

Neither validator is installed here, so this file checks the same rules: the
manifest's keys, order and requirements, hacs.json, the components the code uses,
en.json's shape, and services.yaml, en.json and icons.json agreeing with each other
and with the actions the integration registers.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
from pathlib import Path
import re
import sys
from typing import Any

from awesomeversion import AwesomeVersion, AwesomeVersionStrategy
import homeassistant
from homeassistant.const import Platform, __version__ as HA_VERSION
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv, selector
from homeassistant.helpers.service import async_get_all_descriptions
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml_dict
from packaging.requirements import Requirement
import pytest

from custom_components.ttn_mqtt.compat import vol
from custom_components.ttn_mqtt.const import DOMAIN

from .translation_scan import SOURCE, IntegrationScan

ROOT = SOURCE.parent.parent
MANIFEST = json.loads((SOURCE / "manifest.json").read_text())
STRINGS = json.loads((SOURCE / "translations" / "en.json").read_text())
ICONS = json.loads((SOURCE / "icons.json").read_text())
SERVICES = load_yaml_dict(str(SOURCE / "services.yaml"))

# Lower case words joined by single hyphens or underscores: hassfest's translation keys.
TRANSLATION_KEY = re.compile(r"^(?!.*[_-]{2})[a-z0-9]+(?:[_-][a-z0-9]+)*$")
HTML_TAG = re.compile(r"<[a-z/!]", re.IGNORECASE)
SINGLE_QUOTED_PLACEHOLDER = re.compile(r"'\{\w+\}'")
REFERENCE = re.compile(r"\[%key:[^%]+%\]")
MDI_ICON = re.compile(r"^mdi:[a-z0-9-]+$")

# Home Assistant integrations hassfest lets any integration import without declaring
# them: the entity platforms and a few internal ones.
IMPORTABLE_COMPONENTS = {
    *(platform.value for platform in Platform),
    "automation",
    "frontend",
    "homeassistant",
    "persistent_notification",
    "script",
    "system_health",
    "webhook",
    "websocket_api",
    "zone",
}


# The manifest, hacs.json and the package's imports.


def test_manifest_keys_in_hassfest_order() -> None:
    """Domain, name, then the other keys alphabetically, or hassfest rewrites the file."""
    keys = list(MANIFEST)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])


def test_manifest_content() -> None:
    """What hassfest and HACS require of a custom integration's manifest."""
    assert MANIFEST["domain"] == DOMAIN == SOURCE.name
    assert MANIFEST["name"]
    assert MANIFEST["codeowners"]
    assert all(
        re.match(r"^@[\w-]+(/[\w-]+)?$", owner) for owner in MANIFEST["codeowners"]
    )
    for key in ("documentation", "issue_tracker"):
        assert vol.Url()(MANIFEST[key]).startswith("https://")
    assert MANIFEST["config_flow"] is True
    assert (SOURCE / "config_flow.py").is_file()
    assert MANIFEST["integration_type"] == "hub"
    assert MANIFEST["iot_class"] == "cloud_push"
    assert [Requirement(line).name for line in MANIFEST["requirements"]] == [
        "paho-mqtt"
    ]
    # A version HACS and Home Assistant's loader can compare.
    version = AwesomeVersion(MANIFEST["version"])
    assert version.strategy is AwesomeVersionStrategy.SEMVER


def test_requirements_fit_home_assistant_pins() -> None:
    """Home Assistant installs our requirements under its own pins: never a conflict.

    The manifest names a range every supported release's pin falls in; this checks
    the pin of the release under test (scripts/test runs the oldest and the newest).
    """
    constraints = Path(homeassistant.__file__).parent / "package_constraints.txt"
    pins = {
        requirement.name: requirement.specifier
        for line in constraints.read_text().splitlines()
        if line.strip() and not line.startswith("#")
        for requirement in [Requirement(line)]
    }
    for line in MANIFEST["requirements"]:
        ours = Requirement(line)
        (pinned,) = (spec.version for spec in pins[ours.name] if spec.operator == "==")
        assert ours.specifier.contains(pinned), (line, pinned)
        assert importlib.metadata.version(ours.name) == pinned


# Modules compat.py imports only where their successor, which Home Assistant now
# requires instead, is missing.
SUCCESSORS = {"voluptuous": ("probatio",)}
# Packages that a Home Assistant integration requires, imported only where the running
# release has that integration and after setting it up: lorawan (2026.11) brings
# lorawan-connection (lorawan_share.py). A pin of ours could conflict with its own.
WITH_INTEGRATION = {"lorawan_connection"}


def test_requirements_cover_every_import() -> None:
    """Each package the code imports is pinned, or ships with Home Assistant itself."""
    pinned = {Requirement(line).name.lower() for line in MANIFEST["requirements"]}
    # The packages Home Assistant itself requires, which every installation has.
    with_home_assistant = {
        re.split(r"[\s;=<>~!\[]", line)[0].lower()
        for line in importlib.metadata.requires("homeassistant") or ()
    }
    distributions = importlib.metadata.packages_distributions()
    unpinned = set()
    for top in _imported_top_level_modules():
        if (
            top in sys.stdlib_module_names
            or top == "homeassistant"
            or top in WITH_INTEGRATION
        ):
            continue
        if importlib.util.find_spec(top) is None:
            # The other release's branch of compat.py (the package imports here).
            continue
        owners = {
            name.lower()
            for module in (top, *SUCCESSORS.get(top, ()))
            for name in distributions.get(module, [module])
        }
        if not owners & (pinned | with_home_assistant):
            unpinned.add(top)
    assert not unpinned
    # The manifest's loggers name each requirement's modules, for the log settings.
    for requirement in pinned:
        modules = {
            top
            for top, names in distributions.items()
            if requirement in {n.lower() for n in names}
        }
        assert modules <= set(MANIFEST["loggers"])


def _imported_top_level_modules() -> set[str]:
    modules = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules


def test_components_used_are_declared() -> None:
    """Hassfest's dependency rule: an imported integration is a platform or declared."""
    declared = set(MANIFEST.get("dependencies", [])) | set(
        MANIFEST.get("after_dependencies", [])
    )
    undeclared = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "homeassistant.components":
                    names = [alias.name for alias in node.names]
                elif node.module.startswith("homeassistant.components."):
                    names = [node.module.split(".")[2]]
            elif isinstance(node, ast.Import):
                names = [
                    alias.name.split(".")[2]
                    for alias in node.names
                    if alias.name.startswith("homeassistant.components.")
                ]
            for component in names:
                # A module of ours named after it (diagnostics.py) is its platform.
                if not (
                    component in IMPORTABLE_COMPONENTS | declared
                    or (SOURCE / f"{component}.py").is_file()
                ):
                    undeclared.add(f"{component} ({path.name})")
    assert not undeclared


def test_protocol_layer_imports_nothing_from_home_assistant() -> None:
    """The protocol layer could be published on its own."""
    for path in (SOURCE / "protocol").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [alias.name for alias in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                assert not any(n.startswith("homeassistant") for n in names), path.name


HACS_JSON = vol.Schema(
    {
        vol.Required("name"): str,
        vol.Optional("content_in_root"): bool,
        vol.Optional("country"): vol.Any(str, [str]),
        vol.Optional("filename"): str,
        vol.Optional("hacs"): str,
        vol.Optional("hide_default_branch"): bool,
        vol.Optional("homeassistant"): str,
        vol.Optional("persistent_directory"): str,
        vol.Optional("render_readme"): bool,
        vol.Optional("zip_release"): bool,
    },
    # HACS refuses keys it does not know.
    extra=vol.PREVENT_EXTRA,
)


def test_hacs_json() -> None:
    """hacs.json passes HACS's schema and asks for the oldest Home Assistant we test on."""
    hacs = HACS_JSON(json.loads((ROOT / "hacs.json").read_text()))
    assert hacs["name"] == MANIFEST["name"]
    assert hacs["homeassistant"] == "2025.4.0"
    assert AwesomeVersion(hacs["homeassistant"]) <= AwesomeVersion(HA_VERSION)
    # HACS manages the first integration only; a repository holds one.
    integrations = [
        path.parent.name
        for path in (ROOT / "custom_components").glob("*/manifest.json")
    ]
    assert integrations == [DOMAIN]
    assert (ROOT / "README.md").is_file()


# en.json's shape.


def _key(value: Any) -> str:
    if not isinstance(value, str) or not TRANSLATION_KEY.match(value):
        raise vol.Invalid(f"{value!r} is not a translation key ([a-z0-9-_]+)")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise vol.Invalid("empty text")
    if value != value.strip():
        raise vol.Invalid(f"leading or trailing spaces in {value!r}")
    if HTML_TAG.search(value):
        raise vol.Invalid(f"HTML in {value!r}")
    if SINGLE_QUOTED_PLACEHOLDER.search(value):
        raise vol.Invalid(f"a placeholder in single quotes in {value!r}")
    if (reference := REFERENCE.search(value)) and reference.group() != value:
        raise vol.Invalid(f"a reference combined with text in {value!r}")
    return value


def _keyed(schema: Any) -> Any:
    return cv.schema_with_slug_keys(schema, slug_validator=_key)


_TEXTS = {str: _text}
_FLOW = vol.Schema(
    {
        vol.Optional("flow_title"): _text,
        vol.Required("step"): {
            str: {
                vol.Optional("title"): _text,
                vol.Optional("description"): _text,
                vol.Optional("data"): _TEXTS,
                vol.Optional("data_description"): _TEXTS,
                vol.Optional("menu_options"): _TEXTS,
                vol.Optional("submit"): _text,
                vol.Optional("sections"): {
                    str: {
                        vol.Optional("name"): _text,
                        vol.Optional("description"): _text,
                        vol.Optional("data"): _TEXTS,
                        vol.Optional("data_description"): _TEXTS,
                    }
                },
            }
        },
        vol.Optional("error"): _TEXTS,
        vol.Optional("abort"): _TEXTS,
        vol.Optional("progress"): _TEXTS,
        vol.Optional("create_entry"): _TEXTS,
    }
)
_STATES = {vol.Optional("name"): _text, vol.Optional("state"): _keyed(_text)}
STRINGS_SCHEMA = vol.Schema(
    {
        vol.Optional("title"): _text,
        vol.Optional("config"): _FLOW,
        vol.Optional("options"): _FLOW,
        vol.Optional("selector"): _keyed({vol.Required("options"): _keyed(_text)}),
        vol.Optional("entity"): cv.schema_with_slug_keys(
            _keyed({**_STATES, vol.Optional("state_attributes"): _keyed(_STATES)})
        ),
        vol.Optional("device"): _keyed({vol.Required("name"): _text}),
        vol.Optional("exceptions"): _keyed({vol.Required("message"): _text}),
        vol.Optional("issues"): _keyed(
            {
                vol.Required("title"): _text,
                vol.Exclusive("description", "fixable"): _text,
                vol.Exclusive("fix_flow", "fixable"): _FLOW,
            }
        ),
        vol.Optional("services"): _keyed(
            {
                vol.Required("name"): _text,
                vol.Required("description"): _text,
                vol.Optional("fields"): _keyed(
                    {
                        vol.Required("name"): _text,
                        vol.Required("description"): _text,
                        vol.Optional("example"): _text,
                    }
                ),
                vol.Optional("sections"): _keyed(
                    {vol.Required("name"): _text, vol.Optional("description"): _text}
                ),
            }
        ),
        vol.Optional("common"): _TEXTS,
    }
)


def test_strings_follow_home_assistants_schema() -> None:
    """en.json passes the rules hassfest checks: keys, sections and every text."""
    STRINGS_SCHEMA(STRINGS)


@pytest.mark.parametrize(
    ("strings", "error"),
    [
        ({"selector": {"priority": {"options": {"HIGH": "High"}}}}, "translation key"),
        ({"exceptions": {"gone": {"message": ""}}}, "empty text"),
        ({"exceptions": {"gone": {"message": "Gone "}}}, "trailing spaces"),
        ({"exceptions": {"gone": {"message": "Gone '{device}'"}}}, "single quotes"),
        ({"exceptions": {"gone": {"message": "<b>Gone</b>"}}}, "HTML"),
        ({"services": {"send": {"name": "Send"}}}, "description"),
    ],
)
def test_strings_schema_refuses_mistakes(strings: dict[str, Any], error: str) -> None:
    """The schema above catches what hassfest would."""
    with pytest.raises(vol.Invalid, match=error):
        STRINGS_SCHEMA(strings)


# Actions: services.yaml, en.json and icons.json.

_FIELD = vol.Schema(
    {
        vol.Optional("example"): object,
        vol.Optional("default"): object,
        vol.Optional("required"): bool,
        vol.Optional("advanced"): bool,
        vol.Optional("selector"): selector.validate_selector,
    }
)
SERVICES_SCHEMA = vol.Schema(
    {
        cv.slug: vol.Any(
            None,
            {
                vol.Optional("target"): vol.Any(
                    selector.TargetSelector.CONFIG_SCHEMA, None
                ),
                vol.Optional("fields"): {str: _FIELD},
            },
        )
    }
)


def test_services_yaml_is_valid() -> None:
    """Every field has a valid selector; names and descriptions live in en.json only."""
    SERVICES_SCHEMA(SERVICES)
    for service in SERVICES.values():
        for field in (service or {}).get("fields", {}).values():
            assert "selector" in field


def test_services_and_translations_agree() -> None:
    """Each action and each of its fields has a name and description, and no more."""
    translated = STRINGS["services"]
    assert set(translated) == set(SERVICES)
    for name, service in SERVICES.items():
        fields = (service or {}).get("fields", {})
        assert set(translated[name].get("fields", {})) == set(fields), name
        assert translated[name]["name"]
        assert translated[name]["description"]
        for field in translated[name].get("fields", {}).values():
            assert field["name"]
            assert field["description"]


def test_select_options_are_translated() -> None:
    """A select with a translation_key has a text for each option, and only those."""
    used: dict[str, set[str]] = {}
    for service in SERVICES.values():
        for field in (service or {}).get("fields", {}).values():
            select = field.get("selector", {}).get("select") or {}
            if "translation_key" in select:
                options = {
                    option["value"] if isinstance(option, dict) else option
                    for option in select["options"]
                }
                used.setdefault(select["translation_key"], set()).update(options)
    for use in IntegrationScan().uses():
        if use.path[0] == "selector":
            used.setdefault(use.path[1], set()).add(use.path[3])
    translated = {
        key: set(texts["options"]) for key, texts in STRINGS.get("selector", {}).items()
    }
    assert translated == used


def test_every_action_has_an_icon() -> None:
    """icons.json names an mdi icon for every action, and for no other."""
    assert set(ICONS["services"]) == set(SERVICES)
    for icons in ICONS["services"].values():
        assert MDI_ICON.match(icons["service"])


def test_entity_icons_belong_to_entities() -> None:
    """Each entity icon is for a translation key the code uses, and is an mdi icon."""
    used = {use.path[1:] for use in IntegrationScan().uses() if use.path[0] == "entity"}
    for platform, keys in ICONS.get("entity", {}).items():
        assert platform in {p.value for p in Platform}
        for key, icons in keys.items():
            assert (platform, key) in used
            assert _icon_values(icons)
            assert all(MDI_ICON.match(icon) for icon in _icon_values(icons))


def _icon_values(icons: Any) -> list[str]:
    if isinstance(icons, str):
        return [icons]
    if isinstance(icons, dict):
        return [icon for value in icons.values() for icon in _icon_values(value)]
    return []


async def test_registered_actions_are_described(hass: HomeAssistant) -> None:
    """The actions Home Assistant registers are those described, with translated texts."""
    assert await async_setup_component(hass, DOMAIN, {})
    assert set(hass.services.async_services_for_domain(DOMAIN)) == set(SERVICES)

    descriptions = (await async_get_all_descriptions(hass))[DOMAIN]

    for name, service in SERVICES.items():
        described = descriptions[name]
        # Home Assistant 2026.x leaves the names to the frontend's translations.
        if "name" in described:
            assert described["name"] == STRINGS["services"][name]["name"]
        for field, texts in STRINGS["services"][name].get("fields", {}).items():
            assert texts["name"]
            if "name" in described["fields"][field]:
                assert described["fields"][field]["name"] == texts["name"]
        assert set(described["fields"]) == set((service or {}).get("fields", {}))
