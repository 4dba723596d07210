"""Find the translation keys the integration's code uses, by reading its source.

Every use becomes a `KeyUse`: the path it needs in en.json, such as
("exceptions", "not_connected") or ("config", "step", "user", "data", "host"), the
placeholders the code gives with it, and where it is. Keys the code computes are
followed: a local variable to its assignments (narrowed by an enclosing
`if name == "key":`), a call of a function of the same module to what it returns, an
f-string to its parts, and the expressions in COMPUTED to the keys they can take.
Anything else raises UnresolvedKey: a new way of choosing a key fails the tests until
this file learns it, rather than passing unchecked.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
import importlib
from itertools import product
from pathlib import Path
import re
from typing import Any

from homeassistant.const import Platform
from homeassistant.data_entry_flow import section as form_section

from custom_components.ttn_mqtt.compat import vol

PACKAGE = "custom_components.ttn_mqtt"
SOURCE = Path(__file__).parent.parent / "custom_components" / "ttn_mqtt"

# Flow methods that abort with a reason of their own when given none.
IMPLICIT_ABORTS = {
    # Another flow for the same unique id is running (unless raise_on_progress=False).
    "async_set_unique_id": "already_in_progress",
    "_abort_if_unique_id_configured": "already_configured",
    "_async_abort_entries_match": "already_configured",
    "_abort_if_unique_id_mismatch": "unique_id_mismatch",
}


class UnresolvedKey(Exception):
    """The code chooses a translation key in a way this scanner cannot follow."""


@dataclass(frozen=True)
class KeyUse:
    """A translation the code needs: its path in en.json, and the placeholders given."""

    path: tuple[str, ...]
    where: str
    # The placeholder names the code passes; None when it cannot be told statically.
    placeholders: frozenset[str] | None = None


# Keys the code computes from values this scanner cannot follow: the expression as
# written in the code, and where its values come from.
COMPUTED: dict[str, Callable[[], set[str]]] = {}


def _called_name(node: ast.AST) -> str | None:
    """Return the name a call calls: `f` for f(...), `m` for x.y.m(...)."""
    if not isinstance(node, ast.Call):
        return None
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((kw.value for kw in call.keywords if kw.arg == name), None)


def _is_false(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _base_names(cls: ast.ClassDef) -> set[str]:
    return {ast.unparse(base).rsplit(".", 1)[-1] for base in cls.bases}


class SourceModule:
    """One parsed source file, able to follow the keys its expressions take."""

    def __init__(self, path: Path, module: str) -> None:
        """Parse the file of a module and index its functions and each node's parent."""
        self.path = path
        self.name = module.rsplit(".", 1)[-1]
        self.module = module
        self.tree = ast.parse(path.read_text())
        self.parents = {
            child: node
            for node in ast.walk(self.tree)
            for child in ast.iter_child_nodes(node)
        }
        self.functions: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self.functions.setdefault(node.name, []).append(node)
        self._following: set[str] = set()

    def where(self, node: ast.AST) -> str:
        """Return file:line of a node, for messages."""
        return f"{self.path.name}:{getattr(node, 'lineno', '?')}"

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        """Yield the node's parents, innermost first."""
        while node in self.parents:
            node = self.parents[node]
            yield node

    def enclosing(self, node: ast.AST, kind: type | tuple[type, ...]) -> Any:
        """Return the innermost ancestor of a kind, or None."""
        return next((a for a in self.ancestors(node) if isinstance(a, kind)), None)

    def keys_of(self, node: ast.expr) -> set[str]:
        """Return every string an expression can take."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.Constant) and node.value is None:
            return set()
        if isinstance(node, ast.IfExp):
            return self.keys_of(node.body) | self.keys_of(node.orelse)
        if isinstance(node, ast.Await):
            return self.keys_of(node.value)
        if isinstance(node, ast.JoinedStr):
            return self._f_string_keys(node)
        if isinstance(node, ast.FormattedValue) and node.format_spec is None:
            return self.keys_of(node.value)
        if isinstance(node, ast.Name) and node.id not in self.functions:
            if (narrowed := self._narrowed(node)) is not None:
                return {getattr(value, "value", value) for value in narrowed}
            return self._name_keys(node)
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "value"
            and isinstance(node.value, ast.Name)
            and (narrowed := self._narrowed(node.value)) is not None
        ):
            return {value.value for value in narrowed}
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id.isupper()
        ):
            return self._mapped_keys(node.value.id, node.slice)
        source = ast.unparse(node)
        if source in COMPUTED:
            return COMPUTED[source]()
        if (name := _called_name(node)) in self.functions:
            return self._return_keys(name)
        raise UnresolvedKey(
            f"{self.where(node)}: cannot tell which translation keys `{source}` "
            f"takes; teach {Path(__file__).name}"
        )

    def _mapped_keys(self, name: str, key: ast.expr) -> set[str]:
        """Return what a mapping of translation_keys.py gives for a key (narrowed)."""
        mapping = getattr(importlib.import_module(f"{PACKAGE}.translation_keys"), name)
        if isinstance(key, ast.Name):
            if (narrowed := self._narrowed(key)) is not None:
                return {mapping[value] for value in narrowed}
            return set(mapping.values())
        if (
            isinstance(key, ast.Attribute)
            and isinstance(key.value, ast.Name)
            and key.value.id[:1].isupper()
        ):
            # A member, as ConnectResult.MISSING_RIGHTS.
            return {mapping[self.evaluate(key)]}
        # An attribute of a local value (err.problem): any key of the mapping.
        return set(mapping.values())

    def _f_string_keys(self, node: ast.JoinedStr) -> set[str]:
        parts = [self.keys_of(value) for value in node.values]
        return {"".join(combination) for combination in product(*parts)}

    def _narrowed(self, node: ast.Name) -> list[Any] | None:
        """Return the values an enclosing `if name == x:` or `if name in (...):` allows."""
        for ancestor in self.ancestors(node):
            if not (
                isinstance(ancestor, ast.If)
                and isinstance(test := ancestor.test, ast.Compare)
                and isinstance(test.left, ast.Name)
                and test.left.id == node.id
                and len(test.ops) == 1
                and any(node in ast.walk(statement) for statement in ancestor.body)
            ):
                continue
            if isinstance(test.ops[0], ast.Eq | ast.Is):
                return [self.evaluate(test.comparators[0])]
            if isinstance(test.ops[0], ast.In):
                return list(self.evaluate(test.comparators[0]))
        return None

    def _name_keys(self, node: ast.Name) -> set[str]:
        """Follow a variable to what is assigned to it in its function."""
        function = self.enclosing(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        values = [
            assignment.value
            for assignment in ast.walk(function or self.tree)
            if (
                isinstance(assignment, ast.Assign)
                and any(
                    isinstance(t, ast.Name) and t.id == node.id
                    for t in assignment.targets
                )
            )
            or (
                isinstance(assignment, ast.AnnAssign | ast.NamedExpr)
                and isinstance(assignment.target, ast.Name)
                and assignment.target.id == node.id
                and assignment.value is not None
            )
        ]
        if not values:
            raise UnresolvedKey(
                f"{self.where(node)}: `{node.id}` is assigned nothing this scanner "
                f"can follow; teach {Path(__file__).name}"
            )
        return set().union(*(self.keys_of(value) for value in values))

    def _return_keys(self, name: str) -> set[str]:
        """Return every key a function of this module returns."""
        if name in self._following:
            return set()
        self._following.add(name)
        try:
            return set().union(
                *(
                    self.keys_of(node.value)
                    for function in self.functions[name]
                    for node in ast.walk(function)
                    if isinstance(node, ast.Return) and node.value is not None
                )
            )
        finally:
            self._following.discard(name)

    def evaluate(self, node: ast.expr | None) -> Any:
        """Evaluate an expression of module-level names, as the module sees them."""
        if node is None:
            return []
        namespace = dict(vars(importlib.import_module(self.module)))
        try:
            return eval(ast.unparse(node), namespace)
        except NameError as err:
            raise UnresolvedKey(
                f"{self.where(node)}: `{ast.unparse(node)}` uses local names "
                f"({err}); build it at module level"
            ) from err

    def placeholders(self, node: ast.expr | None) -> frozenset[str] | None:
        """Return the placeholder names a `translation_placeholders=` gives."""
        if node is None:
            return frozenset()
        if isinstance(node, ast.Dict):
            if all(isinstance(key, ast.Constant) for key in node.keys):
                return frozenset(key.value for key in node.keys)  # type: ignore[union-attr]
            return None
        if not isinstance(node, ast.Name):
            return None
        # A dict built in the same function: its literal keys and the keys set later.
        function = self.enclosing(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        names: set[str] = set()
        for statement in ast.walk(function or self.tree):
            if not isinstance(statement, ast.Assign):
                continue
            for target in statement.targets:
                if isinstance(target, ast.Name) and target.id == node.id:
                    found = self.placeholders(statement.value)
                    if found is None:
                        return None
                    names |= found
                elif (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == node.id
                    and isinstance(target.slice, ast.Constant)
                ):
                    names.add(target.slice.value)
        return frozenset(names)


class IntegrationScan:
    """Every translation key the integration's modules use."""

    def __init__(self, directory: Path = SOURCE, package: str = PACKAGE) -> None:
        """Read every module of the Home Assistant layer (the package's top level)."""
        self.modules = [
            SourceModule(
                path, package if path.stem == "__init__" else f"{package}.{path.stem}"
            )
            for path in sorted(directory.glob("*.py"))
        ]

    def uses(self) -> list[KeyUse]:
        """Return every key use; raise UnresolvedKey for one that cannot be followed."""
        found: list[KeyUse] = []
        for module in self.modules:
            found.extend(self._entity_attribute_uses(module))
            found.extend(self._call_uses(module))
            found.extend(self._flow_error_uses(module))
        return found

    def _platform(self, module: SourceModule, node: ast.AST) -> str:
        if module.name not in {platform.value for platform in Platform}:
            raise UnresolvedKey(
                f"{module.where(node)}: an entity translation key outside a platform "
                "module: which platform's entities use it?"
            )
        return module.name

    def _description_platform(
        self, module: SourceModule, node: ast.AST, name: str
    ) -> str:
        """Return the platform of a description: its module's, else its class's name."""
        if module.name in {platform.value for platform in Platform}:
            return module.name
        # BinarySensorEntityDescription -> binary_sensor.
        words = re.findall(r"[A-Z][a-z]+", name.removesuffix("EntityDescription"))
        platform = "_".join(words).lower()
        if platform not in {platform.value for platform in Platform}:
            raise UnresolvedKey(f"{module.where(node)}: a description of {name}")
        return platform

    def _entity_attribute_uses(self, module: SourceModule) -> Iterator[KeyUse]:
        """`_attr_translation_key = "key"`, in a class or in its __init__."""
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets = [node.target]
            else:
                continue
            if any(
                ast.unparse(target).rsplit(".", 1)[-1] == "_attr_translation_key"
                for target in targets
            ):
                platform = self._platform(module, node)
                for key in module.keys_of(node.value):
                    yield KeyUse(("entity", platform, key), module.where(node))

    def _call_uses(self, module: SourceModule) -> Iterator[KeyUse]:
        for node in ast.walk(module.tree):
            if not isinstance(node, ast.Call):
                continue
            name = _called_name(node)
            if (key := _keyword(node, "translation_key")) is not None:
                yield from self._translation_key_uses(module, node, name, key)
            if name in {
                "async_show_form",
                "async_show_menu",
                "async_abort",
                "async_update_reload_and_abort",
                "AbortFlow",
                *IMPLICIT_ABORTS,
            }:
                yield from self._flow_uses(module, node, name)

    def _translation_key_uses(
        self, module: SourceModule, call: ast.Call, name: str | None, key: ast.expr
    ) -> Iterator[KeyUse]:
        where = module.where(call)
        placeholders = module.placeholders(_keyword(call, "translation_placeholders"))
        if _keyword(call, "translation_domain") is not None:
            section: tuple[str, ...] = ("exceptions",)
        elif name == "async_create_issue":
            section = ("issues",)
        elif name and name.endswith("Description"):
            section = ("entity", self._description_platform(module, call, name))
            placeholders = None
        elif name == "replace":
            # dataclasses.replace of a description: the function says which it returns.
            function = module.enclosing(call, (ast.FunctionDef, ast.AsyncFunctionDef))
            returns = ast.unparse(function.returns) if function else ""
            section = ("entity", self._description_platform(module, call, returns))
            placeholders = None
        elif name == "SelectSelectorConfig":
            for selector in module.keys_of(key):
                for option in module.evaluate(_keyword(call, "options")):
                    value = option["value"] if isinstance(option, dict) else option
                    yield KeyUse(("selector", selector, "options", value), where)
            return
        else:
            raise UnresolvedKey(f"{where}: translation_key= in a call of {name}")
        for value in module.keys_of(key):
            yield KeyUse((*section, value), where, placeholders)

    def _flow_section(self, module: SourceModule, node: ast.AST) -> set[str]:
        """Return the flow sections (config, options) a node's texts belong to."""
        cls = module.enclosing(node, ast.ClassDef)
        if cls is not None:
            bases = _base_names(cls)
            if any("OptionsFlow" in base for base in bases):
                return {"options"}
            if any(base == "ConfigFlow" for base in bases):
                return {"config"}
            raise UnresolvedKey(f"{module.where(node)}: a flow of class {bases}")
        # A helper: its texts belong to every flow that calls it.
        function = module.enclosing(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        if function is None:
            raise UnresolvedKey(f"{module.where(node)}: flow texts outside a function")
        sections: set[str] = set()
        for caller in ast.walk(module.tree):
            if _called_name(caller) == function.name:
                sections |= self._flow_section(module, caller)
        return sections

    def _flow_uses(
        self, module: SourceModule, call: ast.Call, name: str | None
    ) -> Iterator[KeyUse]:
        where = module.where(call)
        step = module.enclosing(call, (ast.FunctionDef, ast.AsyncFunctionDef))
        for section in self._flow_section(module, call):
            if name in ("async_show_form", "async_show_menu"):
                step_ids = module.keys_of(_keyword(call, "step_id"))
                for step_id in step_ids:
                    yield KeyUse((section, "step", step_id), where)
                    for field in self._form_fields(module, call):
                        yield KeyUse((section, "step", step_id, *field), where)
                    for option in module.evaluate(_keyword(call, "menu_options")):
                        yield KeyUse(
                            (section, "step", step_id, "menu_options", option), where
                        )
                continue
            reason = _keyword(call, "reason")
            if reason is None and name == "AbortFlow" and call.args:
                # raise AbortFlow("reason"): its reason comes first.
                reason = call.args[0]
            if reason is not None:
                reasons = module.keys_of(reason)
            elif name == "async_update_reload_and_abort":
                # Without a reason, Home Assistant picks one by the flow's source.
                reasons = {
                    "reauth_successful"
                    if "reauth" in step.name
                    else "reconfigure_successful"
                }
            elif name == "async_set_unique_id" and _is_false(
                _keyword(call, "raise_on_progress")
            ):
                reasons = set()
            else:
                reasons = {IMPLICIT_ABORTS[name]}
            for value in reasons:
                yield KeyUse((section, "abort", value), where)

    def _flow_error_uses(self, module: SourceModule) -> Iterator[KeyUse]:
        """`errors[field] = "key"`, `errors = {"base": "key"}` and `errors={...}`."""
        for node in ast.walk(module.tree):
            values: list[ast.expr] = []
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = (
                    node.targets if isinstance(node, ast.Assign) else [node.target]
                )
                for target in targets:
                    if (
                        isinstance(target, ast.Subscript)
                        and ast.unparse(target.value) == "errors"
                    ):
                        values.append(node.value)
                    elif (
                        isinstance(target, ast.Name)
                        and target.id == "errors"
                        and isinstance(node.value, ast.Dict)
                    ):
                        values.extend(node.value.values)
            elif _called_name(node) == "async_show_form" and isinstance(
                errors := _keyword(node, "errors"), ast.Dict
            ):
                values.extend(errors.values)
            for value in values:
                for section in self._flow_section(module, node):
                    for key in module.keys_of(value):
                        yield KeyUse((section, "error", key), module.where(node))

    def _form_fields(
        self, module: SourceModule, call: ast.Call
    ) -> list[tuple[str, ...]]:
        """Return the paths of a form's field labels, its data_schema evaluated.

        A field is ("data", name), or ("sections", section, "data", name) inside a
        section, whose own name is ("sections", section, "name").
        """
        schema = _keyword(call, "data_schema")
        if schema is None:
            return []
        if _called_name(schema) == "add_suggested_values_to_schema":
            schema = schema.args[0]
        if isinstance(schema, ast.Call) and schema.keywords:
            # A schema built with options (a section collapsed or not) has the
            # same fields as with its defaults.
            schema = ast.Call(func=schema.func, args=schema.args, keywords=[])
        value = module.evaluate(schema)
        if not isinstance(value, vol.Schema):
            raise UnresolvedKey(f"{module.where(call)}: data_schema is not a Schema")
        paths: list[tuple[str, ...]] = []
        for key, field in value.schema.items():
            if isinstance(field, form_section):
                paths.append(("sections", str(key), "name"))
                paths += [
                    ("sections", str(key), "data", str(inner))
                    for inner in field.schema.schema
                ]
            else:
                paths.append(("data", str(key)))
        return paths
