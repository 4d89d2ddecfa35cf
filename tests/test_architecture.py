"""The layout that docs/ARCHITECTURE.md states is the one the code follows.

Read from the source (ast), not by importing it: every import, at module level or inside a function,
of one module of the package by another.
  - No import circle between modules.
  - No import from a package to one stated above it ("Import direction:" in docs/ARCHITECTURE.md),
    and none between two packages stated at the same level.
  - Every package and top-level module appears in that line, and nowhere else is a mode's name
    compared with a string more than a few times (the registry in calculus/ is the one place).
"""
import ast
import re
from pathlib import Path

import pytest

from autodiff_cli.calculus import MODES

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "autodiff_cli"
MAX_MODE_NAME_COMPARISONS = 4


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _exists(module):
    path = ROOT / module.replace(".", "/")
    return path.is_dir() or path.with_suffix(".py").is_file()


def _imports():
    """{module: {modules of the package it imports}}."""
    edges = {}
    for path in PACKAGE.rglob("*.py"):
        module = _module_name(path)
        here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = here[:len(here) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    found.add(sub if _exists(sub) else target)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        edges[module] = {m for m in found if m.split(".")[0] == "autodiff_cli" and m != module}
    return edges


def _top(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _stated_order():
    """[[package, ...], ...] from top to bottom, from the "Import direction:" line."""
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    line = re.search(r"^Import direction[^`]*`([^`]+)`", text, re.MULTILINE)
    assert line, "docs/ARCHITECTURE.md has no 'Import direction: `a -> b, c -> ...`' line"
    return [[name.strip() for name in level.split(",")] for level in line.group(1).split("->")]


def test_no_import_circle():
    edges = _imports()
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(v):                      # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in list(edges):
        if v not in index:
            visit(v)
    assert not circles, f"import circles: {circles}"


def test_imports_go_down_the_stated_order():
    order = _stated_order()
    level = {name: depth for depth, names in enumerate(order) for name in names}
    tops = {_top(m) for m in _imports()} - {None, "__main__"}
    assert tops <= set(level), f"not placed in docs/ARCHITECTURE.md's import direction: {sorted(tops - set(level))}"
    wrong = []
    for module, targets in _imports().items():
        source = _top(module)
        if source in (None, "__main__"):
            continue                      # the package's own __init__ (the public API) and `python -m`
        for target in targets:
            destination = _top(target)
            if destination is None or destination == source:
                continue
            if level[destination] <= level[source]:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "imports against the stated direction:\n" + "\n".join(sorted(wrong))


def test_the_checker_catches_an_upward_import(tmp_path, monkeypatch):
    """The rule above can fail: an engine module importing the CLI is caught."""
    fake = tmp_path / "autodiff_cli"
    for path in PACKAGE.rglob("*.py"):
        target = fake / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    (fake / "engine" / "graph.py").write_text((fake / "engine" / "graph.py").read_text() + "\nfrom ..cli import app\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "ARCHITECTURE.md").write_text((ROOT / "docs" / "ARCHITECTURE.md").read_text())
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    with pytest.raises(AssertionError, match="engine.graph imports autodiff_cli.cli"):
        test_imports_go_down_the_stated_order()


def _mode_name_comparisons():
    """(file, line) of every comparison of a mode (an expression that names `mode`) with a mode's
    name written as a string: `result.mode == "grad"`, `record["mode"] in ("jvp", "minimize")`."""
    names = set(MODES) | {"minimize"}           # and the batch records' own mode
    found = []
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Compare):
                continue
            literals, others = [], []
            for operand in [node.left, *node.comparators]:
                if isinstance(operand, ast.Constant):
                    literals.append(operand.value)
                elif isinstance(operand, (ast.Tuple, ast.List, ast.Set)):
                    literals.extend(e.value for e in operand.elts if isinstance(e, ast.Constant))
                else:
                    others.append(ast.get_source_segment(source, operand) or "")
            if names & {v for v in literals if isinstance(v, str)} and any("mode" in o for o in others):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_a_mode_is_named_in_comparisons_at_most_a_few_times():
    found = _mode_name_comparisons()
    assert len(found) <= MAX_MODE_NAME_COMPARISONS, found


def test_the_documented_signature_and_fields_are_the_code_s():
    import dataclasses
    import inspect

    from autodiff_cli import evaluate
    from autodiff_cli.result import Result
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    assert f"`evaluate{inspect.signature(evaluate)}`" in text
    missing = [f.name for f in dataclasses.fields(Result) if f"`{f.name}`" not in text]
    assert not missing, f"Result fields not in docs/ARCHITECTURE.md: {missing}"


def test_every_mode_has_a_command_and_a_record_mode():
    from autodiff_cli.batch.records import MODES as RECORD_MODES
    from autodiff_cli.cli import app
    import typer
    commands = typer.main.get_command(app).commands
    assert set(MODES) <= set(commands)
    assert set(MODES) <= set(RECORD_MODES)
    import json
    schema = json.loads((ROOT / "autodiff_cli" / "result.schema.json").read_text())
    listed = schema["$defs"]["result"]["properties"]["mode"]["enum"] if "$defs" in schema else None
    assert listed == [*MODES, "minimize"] == list(RECORD_MODES)
