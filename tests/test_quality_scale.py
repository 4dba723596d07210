"""quality_scale.yaml accounts for every rule, and the rules hassfest checks in code hold.

hassfest validates the file of core integrations only. This checks ours the same way:
its schema, every rule of today's scale (none left todo), and, for rules marked done,
the checks hassfest's quality_scale_validation makes on a core integration's code.
"""

from __future__ import annotations

import ast
from functools import cache
import json
from pathlib import Path
import re
import tomllib
from typing import Any

import homeassistant
from homeassistant.const import Platform
from homeassistant.util.yaml import load_yaml_dict
import pytest

from custom_components.ttn_mqtt.compat import vol

from .translation_scan import SOURCE

ROOT = SOURCE.parent.parent
SCALE = load_yaml_dict(str(SOURCE / "quality_scale.yaml"))["rules"]
MANIFEST = json.loads((SOURCE / "manifest.json").read_text())

# The rules of the scale and their tiers, as hassfest lists them (Home Assistant
# 2026.10: 54 rules; docs-conditions and docs-triggers came after 2025.4's 52).
TIERS = {
    "bronze": [
        "action-setup",
        "appropriate-polling",
        "brands",
        "common-modules",
        "config-flow",
        "config-flow-test-coverage",
        "dependency-transparency",
        "docs-actions",
        "docs-conditions",
        "docs-high-level-description",
        "docs-installation-instructions",
        "docs-removal-instructions",
        "docs-triggers",
        "entity-event-setup",
        "entity-unique-id",
        "has-entity-name",
        "runtime-data",
        "test-before-configure",
        "test-before-setup",
        "unique-config-entry",
    ],
    "silver": [
        "action-exceptions",
        "config-entry-unloading",
        "docs-configuration-parameters",
        "docs-installation-parameters",
        "entity-unavailable",
        "integration-owner",
        "log-when-unavailable",
        "parallel-updates",
        "reauthentication-flow",
        "test-coverage",
    ],
    "gold": [
        "devices",
        "diagnostics",
        "discovery",
        "discovery-update-info",
        "docs-data-update",
        "docs-examples",
        "docs-known-limitations",
        "docs-supported-devices",
        "docs-supported-functions",
        "docs-troubleshooting",
        "docs-use-cases",
        "dynamic-devices",
        "entity-category",
        "entity-device-class",
        "entity-disabled-by-default",
        "entity-translations",
        "exception-translations",
        "icon-translations",
        "reconfiguration-flow",
        "repair-issues",
        "stale-devices",
    ],
    "platinum": ["async-dependency", "inject-websession", "strict-typing"],
}
RULES = [rule for rules in TIERS.values() for rule in rules]

# hassfest's schema of a rule's value.
RULE_VALUE = vol.Any(
    vol.In(["todo", "done"]),
    vol.Schema({vol.Required("status"): vol.In(["todo", "done"]), "comment": str}),
    vol.Schema({vol.Required("status"): "exempt", vol.Required("comment"): str}),
)


def _status(rule: str) -> str:
    value = SCALE[rule]
    return value["status"] if isinstance(value, dict) else value


def _done(rule: str) -> bool:
    return _status(rule) == "done"


@cache
def _module(name: str) -> ast.Module:
    return ast.parse((SOURCE / f"{name}.py").read_text())


def _function(module: ast.Module, name: str) -> ast.AsyncFunctionDef | None:
    return next(
        (
            node
            for node in module.body
            if isinstance(node, ast.AsyncFunctionDef) and node.name == name
        ),
        None,
    )


def _calls(tree: ast.AST, name: str) -> bool:
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == name
        for node in ast.walk(tree)
    )


def _platform_modules() -> list[str]:
    return [
        platform.value
        for platform in Platform
        if (SOURCE / f"{platform.value}.py").is_file()
    ]


# The file itself.


def test_every_rule_of_the_scale_is_accounted_for() -> None:
    """Each rule once, in hassfest's schema, and an exemption always says why."""
    assert list(SCALE) == RULES
    for rule, value in SCALE.items():
        RULE_VALUE(value)
        if _status(rule) == "exempt":
            assert value["comment"].strip(), rule


def test_no_rule_is_left_todo() -> None:
    """Every rule is done or, with a reason, exempt: the platinum tier."""
    assert {rule for rule in RULES if _status(rule) == "todo"} == set()


def test_the_rule_list_is_home_assistants() -> None:
    """The core integrations of the Home Assistant under test use no rule we miss.

    On the newest release this is every rule there is, so a rule Home Assistant adds
    fails here until this file and quality_scale.yaml have it.
    """
    components = Path(homeassistant.__file__).parent / "components"
    used = {
        rule
        for path in components.glob("*/quality_scale.yaml")
        for rule in load_yaml_dict(str(path)).get("rules", {})
    }
    assert used
    assert used <= set(RULES)
    if "docs-triggers" in used:
        assert used == set(RULES)


def test_comments_name_tests_that_exist() -> None:
    """A test a comment cites as evidence is still there, under that name."""
    cited = {
        name
        for value in SCALE.values()
        if isinstance(value, dict)
        for name in re.findall(r"\btest_\w+", value.get("comment", ""))
    }
    assert cited
    sources = "".join(path.read_text() for path in (ROOT / "tests").glob("test_*.py"))
    assert {name for name in cited if f"def {name}(" not in sources} == set()


# hassfest's checks of the code, for the rules marked done.


def test_config_flow() -> None:
    """config-flow: the manifest says so, and config_flow.py exists."""
    assert _done("config-flow")
    assert MANIFEST["config_flow"] is True
    assert (SOURCE / "config_flow.py").is_file()


def test_unique_config_entry() -> None:
    """unique-config-entry: the flow sets a unique id and aborts on a known one."""
    assert _done("unique-config-entry")
    flow = _module("config_flow")
    assert _calls(flow, "async_set_unique_id")
    assert _calls(flow, "_abort_if_unique_id_configured")


@pytest.mark.parametrize(
    ("rule", "step"),
    [
        ("reauthentication-flow", "async_step_reauth"),
        ("reconfiguration-flow", "async_step_reconfigure"),
    ],
)
def test_flow_steps(rule: str, step: str) -> None:
    """reauthentication-flow and reconfiguration-flow: the flow has the step."""
    assert _done(rule)
    assert any(
        isinstance(node, ast.AsyncFunctionDef) and node.name == step
        for node in ast.walk(_module("config_flow"))
    )


def test_runtime_data_with_a_typed_entry() -> None:
    """runtime-data, with strict-typing: runtime_data is set, the entry's type is ours.

    hassfest wants a `<Name>ConfigEntry` annotation on the entry argument of the entry
    functions of __init__.py, diagnostics.py and every platform, and of the options flow.
    """
    assert _done("runtime-data")
    assert _done("strict-typing")
    setup = _function(_module("__init__"), "async_setup_entry")
    assert setup is not None
    entry_name = setup.args.args[1].arg
    assert any(
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == entry_name
        and node.attr == "runtime_data"
        and isinstance(node.ctx, ast.Store)
        for node in ast.walk(setup)
    )
    functions = {
        "__init__": {
            "async_migrate_entry": 2,
            "async_remove_config_entry_device": 2,
            "async_remove_entry": 2,
            "async_setup_entry": 2,
            "async_unload_entry": 2,
        },
        "diagnostics": {
            "async_get_config_entry_diagnostics": 2,
            "async_get_device_diagnostics": 2,
        },
        **{module: {"async_setup_entry": 2} for module in _platform_modules()},
    }
    checked = []
    for module, names in functions.items():
        for name, position in names.items():
            if (function := _function(_module(module), name)) is None:
                continue
            annotation = function.args.args[position - 1].annotation
            assert isinstance(annotation, ast.Name), (module, name)
            assert re.match(r"^[A-Za-z]+ConfigEntry$", annotation.id), (module, name)
            checked.append(name)
    assert len(checked) >= 8
    options_flow = [
        node
        for node in ast.walk(_module("config_flow"))
        if isinstance(node, ast.FunctionDef) and node.name == "async_get_options_flow"
    ]
    for function in options_flow:
        annotation = function.args.args[0].annotation
        assert isinstance(annotation, ast.Name)
        assert annotation.id.endswith("ConfigEntry")


def test_test_before_setup() -> None:
    """test-before-setup: the integration raises ConfigEntryNotReady or AuthFailed."""
    assert _done("test-before-setup")
    raised = {
        (node.exc.func.id if isinstance(node.exc, ast.Call) else "")
        for path in SOURCE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Raise)
        and isinstance(node.exc, ast.Call)
        and isinstance(node.exc.func, ast.Name)
    }
    assert {"ConfigEntryNotReady", "ConfigEntryAuthFailed"} <= raised


def test_actions_are_set_up_once() -> None:
    """action-setup: actions are registered in async_setup, never per entry."""
    assert _done("action-setup")
    for module in ("__init__", *_platform_modules()):
        setup_entry = _function(_module(module), "async_setup_entry")
        if setup_entry is not None:
            assert not _calls(setup_entry, "async_register"), module
            assert not _calls(setup_entry, "async_register_entity_service"), module
    setup = _function(_module("__init__"), "async_setup")
    assert setup is not None
    assert _calls(_module("services"), "async_register")


def test_config_entry_unloading() -> None:
    """config-entry-unloading: __init__.py unloads an entry."""
    assert _done("config-entry-unloading")
    assert _function(_module("__init__"), "async_unload_entry") is not None


def test_parallel_updates() -> None:
    """parallel-updates: every platform module sets PARALLEL_UPDATES."""
    assert _done("parallel-updates")
    for module in _platform_modules():
        assert any(
            isinstance(node, ast.Assign)
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "PARALLEL_UPDATES"
            for node in _module(module).body
        ), module


def test_has_entity_name() -> None:
    """has-entity-name: every entity class, or a base of it here, sets it True."""
    assert _done("has-entity-name")
    classes: dict[str, tuple[list[str], bool]] = {}
    for path in SOURCE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = [base.id for base in node.bases if isinstance(base, ast.Name)]
            sets_it = any(
                isinstance(item, ast.Assign)
                and isinstance(item.targets[0], ast.Name)
                and item.targets[0].id == "_attr_has_entity_name"
                and isinstance(item.value, ast.Constant)
                and item.value.value is True
                for item in node.body
            )
            classes[node.name] = (bases, sets_it)

    def has_it(name: str) -> bool:
        bases, sets_it = classes.get(name, ([], False))
        return sets_it or any(has_it(base) for base in bases)

    entities = [
        name
        for name, (bases, _) in classes.items()
        if name.endswith("Entity") or any(base.endswith("Entity") for base in bases)
    ]
    assert len(entities) >= 6
    assert [name for name in entities if not has_it(name)] == []


def test_diagnostics() -> None:
    """diagnostics: diagnostics.py has both functions."""
    assert _done("diagnostics")
    for name in (
        "async_get_config_entry_diagnostics",
        "async_get_device_diagnostics",
    ):
        assert _function(_module("diagnostics"), name) is not None


def test_discovery_is_rightly_exempt() -> None:
    """discovery: exempt, and indeed nothing in the manifest or flow discovers."""
    assert _status("discovery") == "exempt"
    assert _status("discovery-update-info") == "exempt"
    keys = {"bluetooth", "dhcp", "homekit", "mqtt", "ssdp", "usb", "zeroconf"}
    assert not keys & set(MANIFEST)
    steps = {f"async_step_{key}" for key in (*keys, "discovery", "hassio")}
    assert not any(
        isinstance(node, ast.AsyncFunctionDef) and node.name in steps
        for node in ast.walk(_module("config_flow"))
    )


def test_brands() -> None:
    """brands: the integration ships its icon (tests/test_brand.py checks it all)."""
    assert _done("brands")
    assert (SOURCE / "brand" / "icon.png").is_file()


def test_strict_typing() -> None:
    """strict-typing: mypy is strict on the integration, and the test command runs it."""
    assert _done("strict-typing")
    mypy: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"][
        "mypy"
    ]
    assert mypy["strict"] is True
    assert mypy["files"] == ["custom_components/ttn_mqtt"]
    assert "python -m mypy" in (ROOT / "scripts" / "test").read_text()


def test_inject_websession() -> None:
    """inject-websession: HTTP goes through Home Assistant's shared session only."""
    assert _done("inject-websession")
    code = "".join(path.read_text() for path in SOURCE.rglob("*.py"))
    assert "async_get_clientsession" in code
    assert "ClientSession(" not in code
    assert "async_create_clientsession" not in code


def test_docs_sections_exist() -> None:
    """The docs rules marked done point at README sections that are there."""
    readme = (ROOT / "README.md").read_text()
    for rule, heading in {
        "docs-actions": "## Actions and events",
        "docs-examples": "## Automation examples",
        "docs-known-limitations": "## Known limitations",
        "docs-troubleshooting": "## Troubleshooting",
        "docs-removal-instructions": "## Removal",
        "docs-installation-instructions": "## Installation",
        "docs-configuration-parameters": "### Options",
        "docs-installation-parameters": "### The connection form",
    }.items():
        assert _done(rule)
        assert f"\n{heading}\n" in readme, heading
