"""Mutation testing: would a test notice if a line of the code did the wrong thing.

Each mutant is one small change to one module: a comparison, boolean or arithmetic
operator swapped, a number moved by one or a text spoiled, True and False swapped,
`not` or a minus removed, a condition negated, a returned value replaced by None, a
statement deleted. The module's test files (`TESTS`) run against each mutant with
`-x`: a test that fails, errors or hangs past the timeout kills it; a mutant that
passes them all survives, and is listed with its line.

No mutant is written to disk. The runner imports pytest, its plugins and what the
tests import once, then forks a process per mutant that imports the mutated module from
memory (an import hook ahead of the others) and runs pytest: the checkout stays as it
is, and a mutant costs its tests, not an interpreter's start.
"""

from __future__ import annotations

import argparse
import ast
from collections.abc import Callable, Iterator
import contextlib
import copy
from dataclasses import dataclass, field
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
from pathlib import Path
import random
import signal
import sys
import tempfile
import threading
import time
from types import CodeType, ModuleType
from typing import NoReturn

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "custom_components.ttn_mqtt"
PACKAGE_DIR = ROOT / "custom_components" / "ttn_mqtt"

# Each module and the test files that pin it, quickest first (pytest stops at the
# first failure). None of them needs a broker: a mutant costs about a second.
TESTS: dict[str, tuple[str, ...]] = {
    "protocol/ids.py": ("tests/test_ids.py", "tests/test_protocol.py"),
    "protocol/topics.py": ("tests/test_protocol.py",),
    "protocol/auth_info.py": ("tests/test_ids.py",),
    "protocol/json_values.py": ("tests/test_protocol.py",),
    "protocol/messages.py": ("tests/test_protocol.py", "tests/test_storage.py"),
    "protocol/downlink.py": ("tests/test_downlink.py",),
    "protocol/storage_integration.py": ("tests/test_storage.py",),
    "protocol/uplink_ledger.py": ("tests/test_storage.py",),
    "protocol/end_devices.py": ("tests/test_end_devices.py",),
    "payload.py": ("tests/test_payload.py",),
    "fields.py": ("tests/test_fields.py",),
}

PYCACHE = Path(tempfile.gettempdir()) / "ttn_mqtt-mutation-pycache"

# Tests that take this many times their clean run (plus the margin) hang: killed.
TIMEOUT_FACTOR = 4
TIMEOUT_MARGIN = 5.0

_COMPARE_SWAPS: dict[type[ast.cmpop], tuple[type[ast.cmpop], ...]] = {
    # An order: its boundary moved, and its negation.
    ast.Lt: (ast.LtE, ast.GtE),
    ast.LtE: (ast.Lt, ast.Gt),
    ast.Gt: (ast.GtE, ast.LtE),
    ast.GtE: (ast.Gt, ast.Lt),
    ast.Eq: (ast.NotEq,),
    ast.NotEq: (ast.Eq,),
    ast.Is: (ast.IsNot,),
    ast.IsNot: (ast.Is,),
    ast.In: (ast.NotIn,),
    ast.NotIn: (ast.In,),
}
_ARITHMETIC_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.Mult,
    ast.Pow: ast.Mult,
    ast.BitOr: ast.BitAnd,
    ast.BitAnd: ast.BitOr,
    ast.LShift: ast.RShift,
    ast.RShift: ast.LShift,
}
_CALL_SWAPS = {"min": "max", "max": "min", "any": "all", "all": "any"}
# Statements deleted (made `pass`) inside functions; at a module's or a class's top
# they would only break the import, which any test notices.
_DELETABLE = (
    ast.Expr,
    ast.Assign,
    ast.AugAssign,
    ast.AnnAssign,
    ast.Raise,
    ast.Continue,
    ast.Break,
    ast.Delete,
)


@dataclass(frozen=True, slots=True)
class Mutant:
    """One change to one module: the node replaced, by its place in ast.walk."""

    module: str
    line: int
    node_index: int
    replacement: ast.AST
    change: str

    @property
    def where(self) -> str:
        """Return the file and line, from the repository's root."""
        return f"custom_components/ttn_mqtt/{self.module}:{self.line}"

    @property
    def module_name(self) -> str:
        """Return the name the module is imported by."""
        return f"{PACKAGE}.{self.module.removesuffix('.py').replace('/', '.')}"


def _variants(node: ast.AST, in_function: bool) -> Iterator[ast.AST]:
    """Yield the replacements of a node, each one mutant."""
    match node:
        case ast.Compare(ops=ops):
            for place, op in enumerate(ops):
                for swapped in _COMPARE_SWAPS[type(op)]:
                    yield _with(node, ops=[*ops[:place], swapped(), *ops[place + 1 :]])
        case ast.BoolOp(op=ast.And()):
            yield _with(node, op=ast.Or())
        case ast.BoolOp(op=ast.Or()):
            yield _with(node, op=ast.And())
        case ast.UnaryOp(op=ast.Not() | ast.USub(), operand=operand):
            yield operand
        case ast.BinOp(op=op) | ast.AugAssign(op=op) if type(op) in _ARITHMETIC_SWAPS:
            yield _with(node, op=_ARITHMETIC_SWAPS[type(op)]())
        case ast.Constant(value=bool(value)):
            yield ast.Constant(not value)
        case ast.Constant(value=int(value) | float(value)):
            yield ast.Constant(value + 1)
            yield ast.Constant(value - 1)
        case ast.Constant(value=str(value)):
            yield ast.Constant(f"XX{value}XX")
        case ast.Constant(value=bytes(value)):
            yield ast.Constant(b"XX" + value + b"XX")
        case ast.Call(func=ast.Name(id=name)) if name in _CALL_SWAPS:
            yield _with(node, func=ast.Name(_CALL_SWAPS[name], ast.Load()))
        case ast.Return(value=ast.Constant(value=None)) | ast.Return(value=None):
            pass
        case ast.Return():
            yield ast.Return(ast.Constant(None))
    # A condition that no operator swap above turns around.
    if isinstance(node, ast.If | ast.While | ast.IfExp) and not isinstance(
        node.test, ast.Compare | ast.UnaryOp | ast.BoolOp
    ):
        yield _with(node, test=ast.UnaryOp(ast.Not(), node.test))
    if in_function and isinstance(node, _DELETABLE):
        yield ast.Pass()


def _with[T: ast.AST](node: T, **changes: object) -> T:
    mutated = copy.copy(node)
    for name, value in changes.items():
        setattr(mutated, name, value)
    return mutated


def _is_docstring(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def _left_alone(tree: ast.Module) -> set[int]:
    """Return the ids of the nodes not mutated.

    Annotations (never evaluated: `from __future__ import annotations`), type aliases,
    docstrings, decorators (they configure, e.g. a cache's size), what only a type
    checker runs, and the message of an exception raised, which is for a person to
    read (its other arguments, such as DownlinkError's reason, are mutated).
    """
    roots: list[ast.AST] = []
    for node in ast.walk(tree):
        match node:
            case (
                ast.arg(annotation=ast.AST() as annotation)
                | ast.AnnAssign(annotation=annotation)
            ):
                roots.append(annotation)
            case ast.TypeAlias() | ast.If(test=ast.Name(id="TYPE_CHECKING")):
                roots.append(node)
            case ast.Raise(exc=ast.Call(args=[*_, message])):
                roots.append(message)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
            roots.append(node.returns)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            roots.extend(node.decorator_list)
        if (
            isinstance(
                node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
            )
            and node.body
            and _is_docstring(node.body[0])
        ):
            roots.append(node.body[0])
    return {id(sub) for root in roots for sub in ast.walk(root)}


def _in_functions(tree: ast.Module) -> set[int]:
    return {
        id(sub)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for statement in node.body
        for sub in ast.walk(statement)
    }


def _short(node: ast.AST, limit: int = 70) -> str:
    if isinstance(node, ast.If | ast.While):
        node = node.test  # the condition, not the whole block
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def generate(module: str) -> list[Mutant]:
    """Return the mutants of a module (a path under custom_components/ttn_mqtt)."""
    tree = ast.parse((PACKAGE_DIR / module).read_text(), module)
    left_alone = _left_alone(tree)
    in_functions = _in_functions(tree)
    mutants = [
        Mutant(
            module,
            node.lineno,
            index,
            replacement,
            f"{_short(node)} → {_short(replacement)}",
        )
        for index, node in enumerate(ast.walk(tree))
        if id(node) not in left_alone and hasattr(node, "lineno")
        for replacement in _variants(node, id(node) in in_functions)
    ]
    return sorted(mutants, key=lambda mutant: mutant.line)


def _mutated_code(mutant: Mutant) -> CodeType:
    path = PACKAGE_DIR / mutant.module
    tree = ast.parse(path.read_text(), str(path))
    target = list(ast.walk(tree))[mutant.node_index]
    replacement = ast.copy_location(copy.deepcopy(mutant.replacement), target)
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if value is target:
                setattr(parent, name, replacement)
            elif isinstance(value, list):
                value[:] = [replacement if item is target else item for item in value]
    ast.fix_missing_locations(tree)
    return compile(tree, str(path), "exec", dont_inherit=True)


class _MutantFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import one module from a code object instead of its file."""

    def __init__(self, name: str, path: Path, code: CodeType) -> None:
        self._name, self._path, self._code = name, path, code

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self._name:
            return None
        return importlib.util.spec_from_file_location(fullname, self._path, loader=self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        exec(self._code, module.__dict__)


def _own_module(name: str) -> bool:
    """Return whether a module is the project's, imported anew by each run."""
    top = name.partition(".")[0]
    return (ROOT / top).is_dir() or (ROOT / f"{top}.py").is_file()


def _run_pytest(
    tests: tuple[str, ...], mutant: Mutant | None, modules_out: Path | None
) -> NoReturn:
    """Run the tests in this forked process, with the mutant; exit with pytest's code."""
    code = 99
    try:
        os.setpgid(0, 0)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        if mutant is not None:
            path = PACKAGE_DIR / mutant.module
            code_object = _mutated_code(mutant)
            sys.meta_path.insert(
                0, _MutantFinder(mutant.module_name, path, code_object)
            )
        import pytest  # noqa: PLC0415

        # The plugins were imported before pytest could rewrite their asserts.
        quiet = "ignore::pytest.PytestAssertRewriteWarning"
        code = pytest.main([*tests, "-x", "-q", "-p", "no:cacheprovider", "-W", quiet])
        if modules_out is not None:
            # In the order they were imported: some patch others as they load.
            modules_out.write_text("\n".join(sys.modules))
    finally:
        os._exit(int(code))


def _fork(
    tests: tuple[str, ...],
    mutant: Mutant | None = None,
    modules_out: Path | None = None,
) -> int:
    pid = os.fork()
    if pid == 0:
        _run_pytest(tests, mutant, modules_out)
    with contextlib.suppress(OSError):  # the child got there first
        os.setpgid(pid, pid)
    return pid


def _clean_run(tests: tuple[str, ...]) -> float:
    """Run the tests on the code as it is; return how long a run takes, warmed up.

    The modules the first run imported, but the project's, are then imported here,
    so that each forked run finds them loaded; a second run is timed.
    """
    with tempfile.TemporaryDirectory() as directory:
        modules_out = Path(directory) / "modules"
        _, status = os.waitpid(_fork(tests, modules_out=modules_out), 0)
        if code := os.waitstatus_to_exitcode(status):
            sys.exit(f"{' '.join(tests)} fail without a mutant (pytest's exit {code})")
        names = modules_out.read_text().split()
    for name in names:
        if not _own_module(name) and name not in sys.modules:
            # One that fails here was imported some other way: the runs import it.
            with contextlib.suppress(Exception):
                importlib.import_module(name)
    if threading.active_count() > 1:
        sys.exit("an import started a thread: forking this process is not safe")
    start = time.monotonic()
    os.waitpid(_fork(tests), 0)
    return time.monotonic() - start


@dataclass(slots=True)
class Result:
    """What became of a module's mutants."""

    module: str
    total: int
    killed: int = 0
    survivors: list[Mutant] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def done(self) -> int:
        """Return how many mutants have run."""
        return self.killed + len(self.survivors)

    @property
    def score(self) -> float:
        """Return the share of the mutants killed, in percent."""
        return 100.0 * self.killed / self.done if self.done else 100.0


def _run_mutants(
    mutants: list[Mutant],
    tests: tuple[str, ...],
    timeout: float,
    jobs: int,
    outcome: Callable[[Mutant, bool], None],
) -> None:
    """Run the tests against each mutant, `jobs` at once; tell outcome if it survived."""
    waiting = list(reversed(mutants))
    running: dict[int, tuple[Mutant, float]] = {}
    try:
        while waiting or running:
            while waiting and len(running) < jobs:
                mutant = waiting.pop()
                running[_fork(tests, mutant)] = (mutant, time.monotonic())
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid:
                outcome(running.pop(pid)[0], os.waitstatus_to_exitcode(status) == 0)
                continue
            now = time.monotonic()
            for pid, (mutant, started) in list(running.items()):
                if now - started > timeout:
                    # Tests that hang on a mutant noticed it: killed.
                    _stop(pid)
                    del running[pid]
                    outcome(mutant, False)
            time.sleep(0.01)
    finally:
        # Interrupted (Ctrl-C reaches this process group only): stop the runs too.
        for pid in running:
            _stop(pid)


def _stop(pid: int) -> None:
    """Stop a run and whatever it started (its own process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _run_module(module: str, mutants: list[Mutant], args: argparse.Namespace) -> Result:
    tests = tuple(args.tests or TESTS[module])
    clean = _clean_run(tests)
    result = Result(module, len(mutants))
    start = time.monotonic()
    interactive = sys.stderr.isatty()

    def outcome(mutant: Mutant, survived: bool) -> None:
        if survived:
            result.survivors.append(mutant)
        else:
            result.killed += 1
        if interactive:
            print(
                f"\r{module}: {result.done}/{result.total}, "
                f"{len(result.survivors)} survived",
                end="",
                file=sys.stderr,
            )

    timeout = args.timeout or clean * TIMEOUT_FACTOR + TIMEOUT_MARGIN
    _run_mutants(mutants, tests, timeout, max(1, args.jobs), outcome)
    result.seconds = time.monotonic() - start
    if interactive:
        print(file=sys.stderr)
    print(
        f"{module}: {result.score:.1f} % of {result.total} mutants killed in "
        f"{result.seconds:.0f} s by {' '.join(tests)}",
        flush=True,
    )
    return result


def _report(results: list[Result], seconds: float) -> None:
    width = max(len(result.module) for result in results)
    print(f"\n{'Module':<{width}}  Mutants  Killed  Survived    Score   Time")
    for result in results:
        print(
            f"{result.module:<{width}}  {result.total:7}  {result.killed:6}  "
            f"{len(result.survivors):8}  {result.score:5.1f} %  {result.seconds:4.0f} s"
        )
    total = sum(result.total for result in results)
    killed = sum(result.killed for result in results)
    score = 100.0 * killed / total if total else 100.0
    print(
        f"{'All':<{width}}  {total:7}  {killed:6}  {total - killed:8}  {score:5.1f} %  "
        f"{seconds:4.0f} s"
    )
    survivors = [mutant for result in results for mutant in result.survivors]
    if survivors:
        print("\nSurvivors (no test noticed these changes):")
        for mutant in survivors:
            print(f"{mutant.where}  {mutant.change}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/mutation",
        description="Mutation testing: each small change to a module runs the "
        "module's test files; a module's score is the share of changes they notice.",
    )
    parser.add_argument(
        "modules",
        nargs="*",
        type=lambda text: text.removeprefix("custom_components/ttn_mqtt/"),
        help=f"modules under custom_components/ttn_mqtt (default: {', '.join(TESTS)})",
    )
    parser.add_argument(
        "--sample", type=int, metavar="N", help="run N of each module's mutants"
    )
    parser.add_argument(
        "--seed", default="1", help="what the sample is drawn with (default: 1)"
    )
    parser.add_argument(
        "--line",
        type=int,
        action="append",
        metavar="N",
        help="run only the mutants of line N (repeatable), e.g. to look at a survivor",
    )
    parser.add_argument(
        "--tests", nargs="+", metavar="TEST", help="run these instead of TESTS[module]"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="mutants run at once (default: 1)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="when a mutant's tests count as hanging (default: "
        f"{TIMEOUT_FACTOR} times the clean run, plus {TIMEOUT_MARGIN:g} s)",
    )
    parser.add_argument(
        "--list", action="store_true", help="list the mutants, run nothing"
    )
    parser.add_argument(
        "--fail-under",
        type=float,
        metavar="PERCENT",
        help="exit with 1 if a module scores less",
    )
    args = parser.parse_args()
    args.modules = args.modules or list(TESTS)
    for module in args.modules:
        if not (PACKAGE_DIR / module).is_file():
            parser.error(f"no {module} under custom_components/ttn_mqtt")
        if module not in TESTS and not args.tests:
            parser.error(f"which tests pin {module}? Name them with --tests")
    return args


def main() -> int:
    """Run the mutants of the modules asked for; print the scores and the survivors."""
    args = _arguments()
    os.chdir(ROOT)
    started = time.monotonic()
    chosen = {}
    for module in args.modules:
        mutants = generate(module)
        if args.line:
            mutants = [mutant for mutant in mutants if mutant.line in args.line]
        if args.sample is not None and args.sample < len(mutants):
            sample = random.Random(f"{args.seed}:{module}").sample(mutants, args.sample)
            mutants = sorted(sample, key=lambda mutant: mutant.line)
        chosen[module] = mutants
    if args.list:
        for mutant in (mutant for mutants in chosen.values() for mutant in mutants):
            print(f"{mutant.where}  {mutant.change}")
        return 0
    # Compiled once for all runs (and the next invocation), even with
    # PYTHONDONTWRITEBYTECODE, and kept apart from the checkout.
    sys.pycache_prefix = str(PYCACHE)
    sys.dont_write_bytecode = False
    results = [_run_module(module, chosen[module], args) for module in chosen]
    _report(results, time.monotonic() - started)
    under = args.fail_under is not None and any(
        result.score < args.fail_under for result in results
    )
    return 1 if under else 0


if __name__ == "__main__":
    sys.exit(main())
