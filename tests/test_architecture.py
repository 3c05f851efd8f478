"""The package's shape, as docs/architecture.md draws it: folders per stage, no import cycle,
small functions and modules, commands that import no other command, and one wrapper module per
third-party library."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.files import ROOT

ENGINE = ROOT / "engine"
MAX_FUNCTION = 80  # lines
MAX_MODULE = 400  # lines

STAGES = {
    "documents", "time", "request", "workspace", "policy", "cel", "judging", "reporters",
    "trail", "github", "commands", "templates", "bundled",
}  # fmt: skip
# what every stage uses stays at the top
TOP = {
    "__init__", "__main__", "cli", "errors", "findings", "paths", "globs", "resources",
    "escaping", "gitrepo", "verdict", "suggest", "rules", "heap",
}  # fmt: skip
# third-party library -> the only modules that import it
WRAPPERS = {
    "cel_expr_python": {"engine.cel.google"},
    "celpy": {"engine.cel.interpreter"},
    "github": {"engine.github.client"},
    "git": {"engine.gitrepo"},
    "jsonschema": {"engine.documents.schemas"},
    "jsonschema_rs": {"engine.documents.schemas"},
    "starlette": {"engine.github.app.server"},
    "uvicorn": {"engine.github.app.serving"},
}


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(ENGINE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def runtime_imports(path: Path) -> set[str]:
    """Every module ``path`` imports when it runs (function-level imports too), but not those
    only a type checker reads (``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")
        for inner in ast.walk(node)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def graph() -> dict[str, set[str]]:
    names = dict(modules())
    return {
        name: {m for m in runtime_imports(path) if m in names and m != name}
        for name, path in names.items()
    }


def test_the_folders_name_the_stages() -> None:
    entries = {p.stem if p.is_file() else p.name for p in ENGINE.iterdir()}
    entries.discard("__pycache__")
    assert entries == STAGES | TOP


def test_no_import_cycle_among_engine_modules() -> None:
    edges = graph()
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_functions_and_modules_stay_small() -> None:
    too_long = []
    for name, path in modules():
        source = path.read_text(encoding="utf-8")
        if source.count("\n") > MAX_MODULE:
            too_long.append(f"{name}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION:
                    too_long.append(f"{name}.{node.name}: {length} lines")
    assert too_long == []


def test_commands_import_no_other_command_and_parallel_no_judge() -> None:
    edges = graph()
    for name, targets in edges.items():
        if name.startswith("engine.commands.") and name != "engine.commands.common":
            others = {t for t in targets if t.startswith("engine.commands.")}
            assert others <= {"engine.commands", "engine.commands.common"}, (name, others)
    assert "engine.judging.judge" not in edges["engine.judging.parallel"]


def test_each_third_party_library_has_one_wrapper_module() -> None:
    for name, path in modules():
        for imported in runtime_imports(path):
            top = imported.split(".")[0]
            if top in WRAPPERS:
                assert name in WRAPPERS[top], f"{name} imports {imported}"


def test_a_judge_is_not_changed_after_construction(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from engine.judging.judge import Judge
    from engine.request.context import RequestContext
    from engine.workspace.inventory import Workspace

    workspace = Workspace.open(repo=tmp_path, config_file=None)
    judge = Judge(workspace, RequestContext(), datetime(2024, 1, 1, tzinfo=UTC))
    with pytest.raises(AttributeError, match="fixed once built"):
        judge.context = RequestContext(event="deploy")  # type: ignore[misc]
    assert judge.context.event == "local"
