"""The shape of the code, checked from its source (no imports, no encodes): short functions, an import graph
between subpackages without cycles or arrows back up, and an installed package list that names every package."""
from __future__ import annotations

import ast
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
MAX_FUNCTION_LINES = 80
# functions allowed past MAX_FUNCTION_LINES for now (being split elsewhere); a new long function fails
LONG_FUNCTIONS: set[str] = set()
# subpackage -> subpackages it must never import (the arrows that would run back up)
FORBIDDEN = {
    "encoding": {"analysis", "text", "tagging", "shots", "scenes", "bench", "parallel", "semantic", "pipeline"},
    "text": {"pipeline", "encoding", "parallel", "bench"},
    "tagging": {"pipeline", "encoding", "parallel", "bench"},
    "shots": {"pipeline", "encoding"},
    "analysis": {"pipeline", "encoding", "text", "tagging"},
    "frames": {"encoding", "analysis", "pipeline"},
    "pipeline": {"tagging", "bench", "parallel", "semantic"},  # --keyframes-from auto is resolved by the caller
    "progress": {"pipeline", "encoding", "analysis", "text", "tagging", "shots", "bench", "parallel", "semantic"},
}


def _sources(*folders: str):
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


def _functions(tree: ast.AST, prefix: str = ""):
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + node.name, node.end_lineno - node.lineno + 1
            yield from _functions(node, prefix + node.name + ".")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, prefix + node.name + ".")


def test_no_long_functions():
    too_long = []
    for path in _sources("semcodec", "cli", "benchmarks", "sample_videos"):
        rel = path.relative_to(ROOT).as_posix()
        for name, lines in _functions(ast.parse(path.read_text())):
            if lines > MAX_FUNCTION_LINES and f"{rel}:{name}" not in LONG_FUNCTIONS:
                too_long.append(f"{rel}:{name} ({lines} lines)")
    assert not too_long, f"functions over {MAX_FUNCTION_LINES} lines: {too_long}"


def test_library_draws_no_bars_and_prints_nothing():
    """Progress is a protocol the front end supplies (semcodec.progress); output is the CLI's job."""
    offenders = []
    for path in _sources("semcodec"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] == "tqdm" for n in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports tqdm")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} print()")
    assert not offenders, offenders


def _subpackage(module: str) -> str | None:
    """'semcodec.text.analyze' -> 'text'; a top-level module 'semcodec.units' -> 'units'; the CLI -> 'cli'."""
    parts = module.split(".")
    if parts[0] in ("cli", "semcodec_cli"):
        return "cli"
    if parts[0] != "semcodec" or len(parts) < 2:
        return None  # outside the project, or the package root (its __version__)
    return parts[1]


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in _sources("semcodec", "cli"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        package = parts[:-1]  # what a relative import starts from, for a module and for an __init__ alike
        src = _subpackage(".".join(p for p in parts if p != "__init__"))
        if src is None:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
                module = ".".join(p for p in (base, node.module) if p)
                # `from semcodec import units` imports a module too; `from semcodec import __version__` does not
                targets = [module] + [f"{module}.{a.name}" for a in node.names if _is_module(f"{module}.{a.name}")]
            else:
                continue
            for target in targets:
                dst = _subpackage(target)
                if dst is not None and dst != src:
                    graph.setdefault(src, set()).add(dst)
    return graph


def test_import_graph_has_no_arrow_back_up():
    graph = _import_graph()
    assert "cli" not in {d for s, ds in graph.items() if s != "cli" for d in ds}, "the library imports the CLI"
    bad = [f"{s} -> {d}" for s, ds in graph.items() for d in ds & FORBIDDEN.get(s, set())]
    assert not bad, bad


def test_import_graph_has_no_cycle():
    graph = _import_graph()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                pytest.fail(f"import cycle: {' -> '.join(path[path.index(nxt):] + [nxt])}")
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python 3.11+")
def test_installed_packages_name_every_package_folder():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "semcodec").rglob("__init__.py")}
    listed = set(config["packages"])
    assert listed - {"semcodec_cli"} == on_disk
    assert config["package-dir"] == {"semcodec_cli": "cli"} and "semcodec_cli" in listed
