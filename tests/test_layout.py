"""The tree reads like the data flow: imports go one way, and there are no circles.

Read from the source with :mod:`ast` (no imports), so every ``import`` counts, including the
ones inside functions that keep start-up light.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("backtest", "models", "strategies")

#: The pipeline's stages, lowest first: a module may import its own stage or one listed before.
STAGES = (
    "backtest.atomic",
    "backtest.data",
    "backtest.features",
    "backtest.splits",
    "backtest.validation",
    "backtest.config",
    "models",
    "backtest.engine",
    "strategies",
    "backtest.portfolio",
    "backtest.evaluation",
    "backtest.reports",
    "backtest.compare",
    "backtest.study",
    "backtest.live",
    "backtest.pipeline",
    "backtest.api",
    "backtest",
    "backtest.cli",
)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return out


def _stage(module: str) -> int | None:
    matches = [i for i, s in enumerate(STAGES) if module == s or module.startswith(f"{s}.")]
    return max(matches, key=lambda i: len(STAGES[i])) if matches else None


MODULES = _modules()
GRAPH = {m: {t for t in _imports(p) if t in MODULES and t != m} for m, p in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_the_cycle_finder_finds_a_planted_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles():
    assert _cycles(GRAPH) == []


# The entry point runs the command line, and the report stamps the package's version.
_ALLOWED_UPWARD = {
    ("backtest.__main__", "backtest.cli"),
    ("backtest.reports.html.sections", "backtest"),
}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_flow_down_the_pipeline(module):
    here = _stage(module)
    upward = [
        target
        for target in sorted(GRAPH[module])
        if (module, target) not in _ALLOWED_UPWARD and (_stage(target) or 0) > (here or 0)
    ]
    assert not upward, f"{module} ({STAGES[here]}) imports later stages: {upward}"


def test_argparse_stays_in_the_command_line_package():
    users = [m for m, p in MODULES.items() if "argparse" in _imports(p)]
    assert users and all(m.startswith("backtest.cli") for m in users), users
