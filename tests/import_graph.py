"""The package's import graph from its source, function-local imports included.

    python tests/import_graph.py [SRC]       # prints the graph's problems, exit 1 if any

`lint-imports` (pyproject.toml's contracts) checks the layers on the imports Python runs;
this script adds what it does not count: imports inside functions. It finds every
`import chainlab...` / `from chainlab... import` (also the relative ones) in src/chainlab,
module top or function body, and reports

* circles among chainlab's modules (a package counts as its `__init__`), function-local
  imports included;
* the function-local chainlab imports (at most MAX_LOCAL: a hidden dependency is an
  exception, written with its reason);
* modules over MAX_LINES lines.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

MAX_LOCAL = 15
MAX_LINES = 600
SRC = Path(__file__).resolve().parents[1] / "src"


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, e.g. chainlab.cli.study
    target: str  # the module imported, e.g. chainlab.pipeline
    line: int
    local: bool  # inside a function (or a method)


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(name: str, modules: set[str]) -> str:
    """The module `name` is, or the module holding it (from chainlab.x import y: y may be a
    module chainlab.x.y or a name in chainlab.x)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name


def imports_of(path: Path, src: Path, modules: set[str]) -> list[Import]:
    me = module_name(path, src)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    found: list[Import] = []

    def visit(node: ast.AST, local: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = local or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == "chainlab":
                        found.append(Import(me, _resolve(alias.name, modules), child.lineno, local))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    mod = ".".join(base + ([child.module] if child.module else []))
                else:
                    mod = child.module or ""
                if mod.split(".")[0] != "chainlab":
                    continue
                for alias in child.names:
                    target = _resolve(f"{mod}.{alias.name}", modules)
                    found.append(Import(me, target, child.lineno, local))
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                continue  # annotations only: never run
            visit(child, inner)

    visit(tree, False)
    return [i for i in found if i.target and i.target != me]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def graph(src: Path = SRC) -> tuple[list[Import], dict[str, int]]:
    """Every chainlab import in src/chainlab, and each module's line count."""
    files = sorted((src / "chainlab").rglob("*.py"))
    modules = {module_name(p, src) for p in files}
    imports = [i for p in files for i in imports_of(p, src, modules)]
    lines = {module_name(p, src): len(p.read_text().splitlines()) for p in files}
    return imports, lines


def _parents(module: str) -> list[str]:
    """A module's packages: importing chainlab.a.b runs chainlab/__init__ and chainlab/a/__init__."""
    parts = module.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts))]


def cycles(imports: list[Import]) -> list[list[str]]:
    """The circles of the module graph (strongly connected components of more than one
    module), function-local imports included. Importing chainlab.a.b runs chainlab/a/__init__
    first: an import counts as one of each package on the way too, except the importer's own
    packages; a submodule importing its own package (`from chainlab.a import x` inside
    chainlab.a.b) is how a package's parts share it, not a circle."""
    edges: dict[str, set[str]] = {}
    for i in imports:
        own = _parents(i.source)
        for target in [*_parents(i.target), i.target]:
            if target not in own and target != i.source:
                edges.setdefault(i.source, set()).add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return out


def local_imports(imports: list[Import]) -> list[Import]:
    """The function-local import statements (one per statement, however many names)."""
    seen: dict[tuple[str, int], Import] = {}
    for i in imports:
        if i.local:
            seen.setdefault((i.source, i.line), i)
    return list(seen.values())


def problems(src: Path = SRC) -> list[str]:
    imports, lines = graph(src)
    found = [f"import circle: {' <-> '.join(c)}" for c in cycles(imports)]
    local = local_imports(imports)
    if len(local) > MAX_LOCAL:
        found.append(f"{len(local)} function-local chainlab imports, expected at most {MAX_LOCAL}: "
                     + ", ".join(f"{i.source}:{i.line} -> {i.target}" for i in local))
    found += [f"{m}: {n} lines, expected at most {MAX_LINES}" for m, n in sorted(lines.items()) if n > MAX_LINES]
    return found


def main(argv: list[str]) -> int:
    src = Path(argv[0]) if argv else SRC
    imports, lines = graph(src)
    local = local_imports(imports)
    print(f"{len(lines)} modules, {len(imports)} chainlab imports, {len(local)} function-local:")
    for i in local:
        print(f"  {i.source}:{i.line} -> {i.target}")
    found = problems(src)
    for p in found:
        print(p)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
