"""The shape of the package's import graph: no cycle, ``front.py`` at the bottom, every module importable
on its own.

The graph is read from the source (the AST of every module), not from ``sys.modules``, so that a cycle
hidden in a function-level import counts as much as one at module level. An edge ``a -> b`` means that
running ``a`` (any of its imports, at module level or inside a function or class; not the ones under
``if TYPE_CHECKING:``) may execute ``b``:

* ``import p.q.r`` and ``from p.q.r import x`` execute ``p.q.r`` and, before it, the packages ``p.q``
  (Python runs a package's ``__init__`` before its submodules), except the packages the importer lives in,
  which are running or have already run;
* ``from p.q import x`` where ``x`` is not a module of ``p.q`` reads ``x`` from the package ``p.q`` itself:
  an edge to ``p.q`` even from inside it (a module that imports its own package's ``__init__`` sees it
  half-initialised);
* ``from p.q import m`` where ``m`` is a submodule executes ``p.q`` and ``p.q.m``.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "pareto_unlearn"
REPO = Path(__file__).resolve().parents[1]
ROOT = REPO / PACKAGE
# What front.py may import from the package: it is the bottom of the data flow, next to these two.
FRONT_MAY_IMPORT = {f"{PACKAGE}._io", f"{PACKAGE}.exceptions"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


@dataclass(frozen=True)
class ImportSite:
    """Where an edge of the graph comes from: the line and the function (or "<module>") it sits in."""

    line: int
    where: str
    text: str

    def __str__(self) -> str:
        return f"line {self.line} ({self.where}): {self.text}"


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the nodes that run only under ``if TYPE_CHECKING:`` (the body, not the ``else``)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in node.body:
                skip.update(id(n) for n in ast.walk(stmt))
    return skip


def _imports(module: str, path: Path, tree: ast.AST):
    """(target, ImportSite) for every import statement of ``module``: ``import a.b`` gives ``a.b``;
    ``from a.b import c, d`` gives ``a.b``, ``a.b.c`` and ``a.b.d`` (relative imports resolved)."""
    skip = _type_checking_only(tree)
    scope: dict[int, str] = {}

    def visit(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = where
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = child.name if where == "<module>" else f"{where}.{child.name}"
            scope[id(child)] = inner
            visit(child, inner)

    visit(tree, "<module>")
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if id(node) in skip or not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        site = ImportSite(node.lineno, scope.get(id(node), "<module>"), ast.unparse(node))
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, site
            continue
        base = node.module or ""
        if node.level:
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join(package + ([base] if base else []))
        yield base, site
        for alias in node.names:
            yield f"{base}.{alias.name}", site


def import_graph() -> dict[str, dict[str, list[ImportSite]]]:
    """module -> {module it may execute -> the import statements that do it}, for every module."""
    modules = _modules()
    graph: dict[str, dict[str, list[ImportSite]]] = {m: {} for m in modules}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for target, site in _imports(module, path, tree):
            if target != PACKAGE and not target.startswith(PACKAGE + "."):
                continue
            parts = target.split(".")
            for k in range(1, len(parts) + 1):
                name = ".".join(parts[:k])
                if name not in modules or name == module:
                    continue
                # Named outright (``import a.b``, ``from a.b import …``), or the package a name that is
                # not a module is read from: an edge even from inside it. A package passed on the way
                # to a submodule runs first, unless the importer lives inside it.
                named = name == target or (k == len(parts) - 1 and target not in modules)
                inside = module.startswith(name + ".")
                if named or not inside:
                    graph[module].setdefault(name, []).append(site)
    return graph


def _strongly_connected(graph: dict[str, dict[str, list[ImportSite]]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative DFS), those with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return sorted(components)


def _shortest_cycle(graph: dict[str, dict[str, list[ImportSite]]], start: str, within: set[str]) -> list[str]:
    """The shortest cycle through ``start`` inside one component (breadth-first search)."""
    previous: dict[str, str] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        node = queue.popleft()
        for child in sorted(graph[node]):
            if child not in within:
                continue
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if child not in seen:
                seen.add(child)
                previous[child] = node
                queue.append(child)
    raise AssertionError(f"{start} is in a component but on no cycle")


def find_cycles(graph: dict[str, dict[str, list[ImportSite]]]) -> list[list[str]]:
    """One shortest cycle through each module that lies on a cycle (duplicates dropped), shortest first."""
    cycles: dict[tuple[str, ...], list[str]] = {}
    for component in _strongly_connected(graph):
        for module in component:
            cycle = _shortest_cycle(graph, module, set(component))[:-1]
            turn = cycle.index(min(cycle))
            key = tuple(cycle[turn:] + cycle[:turn])
            cycles.setdefault(key, [*key, key[0]])
    return sorted(cycles.values(), key=lambda c: (len(c), c))


def _describe(graph: dict[str, dict[str, list[ImportSite]]], cycle: list[str]) -> str:
    lines = [" -> ".join(cycle)]
    for a, b in zip(cycle, cycle[1:]):
        for site in graph[a][b]:
            lines.append(f"    {a} -> {b}: {site}")
    return "\n".join(lines)


# --- the graph builder on small cases ------------------------------------------------------------


def test_graph_builder_sees_function_level_and_parent_packages(tmp_path, monkeypatch):
    pkg = tmp_path / PACKAGE
    for rel, text in {
        "__init__.py": "",
        "a/__init__.py": "from pareto_unlearn.a._x import X\n",
        "a/_x.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pareto_unlearn.b import Y\n"
                   "X = 1\ndef f():\n    from pareto_unlearn.a._y import g\n",
        "a/_y.py": "from pareto_unlearn.a import X\nfrom pareto_unlearn.b._z import Z\n",
        "b/__init__.py": "from . import _z\n",
        "b/_z.py": "Z = 2\ndef h():\n    import pareto_unlearn.a._x as x\n",
    }.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", pkg)
    graph = import_graph()
    edges = {(a, b) for a, targets in graph.items() for b in targets}
    p = PACKAGE
    assert (f"{p}.a._x", f"{p}.a._y") in edges  # function level counts
    assert (f"{p}.a._x", f"{p}.b") not in edges  # TYPE_CHECKING does not
    assert (f"{p}.a._y", f"{p}.a") in edges  # a name read from its own package
    assert (f"{p}.a._y", f"{p}.b") in edges and (f"{p}.a._y", f"{p}.b._z") in edges  # parent package first
    assert (f"{p}.b._z", f"{p}.a") in edges and (f"{p}.b._z", f"{p}.b") not in edges
    assert (f"{p}.b", f"{p}.b._z") in edges
    cycles = find_cycles(graph)
    assert [f"{p}.a", f"{p}.a._x", f"{p}.a._y", f"{p}.a"] in cycles
    assert any(f"{p}.b._z" in c for c in cycles)


# --- the package ---------------------------------------------------------------------------------


def test_import_graph_has_no_cycle():
    graph = import_graph()
    cycles = find_cycles(graph)
    components = _strongly_connected(graph)
    report = "\n".join(_describe(graph, c) for c in cycles)
    groups = "\n".join(f"  {len(c)} modules: {', '.join(c)}" for c in components)
    assert not cycles, (
        f"the import graph of {PACKAGE} has {len(components)} group(s) of modules that import each other:\n"
        f"{groups}\none shortest cycle through each module, with the import lines that make it:\n{report}"
    )


def test_front_imports_only_io_and_exceptions():
    graph = import_graph()
    extra = {b: sites for b, sites in graph[f"{PACKAGE}.front"].items() if b not in FRONT_MAY_IMPORT}
    listing = "\n".join(f"  -> {b}: {site}" for b, sites in sorted(extra.items()) for site in sites)
    assert not extra, (
        f"{PACKAGE}/front.py is the bottom of the data flow and may import only "
        f"{sorted(FRONT_MAY_IMPORT)} from the package; it imports:\n{listing}"
    )


# --- every module imports on its own ------------------------------------------------------------

# One fresh interpreter per group of modules; each module is imported after every ``pareto_unlearn``
# module has been dropped from ``sys.modules``. Importing ``p.q.m`` runs ``p``, then ``p.q`` (unless ``p``
# loaded it), then ``m`` (unless loaded by then): a module that the fresh import of one of its packages
# has already loaded, with every package between them, was imported on its own in exactly that order, so
# it is not imported again (it is "covered"). The modules that the fresh ``import pareto_unlearn`` loads
# are covered in every group; they are printed on the line after ``_LOADED``.
_LOADED = "loaded by the fresh import of pareto_unlearn:"
_IMPORT_EACH = textwrap.dedent(
    f"""
    import importlib, json, sys, traceback
    names = sys.argv[1:]
    failed, covered, fresh = [], set(), 0
    for name in names:
        if name in covered:
            continue
        for loaded in [m for m in sys.modules if m == "pareto_unlearn" or m.startswith("pareto_unlearn.")]:
            del sys.modules[loaded]
        fresh += 1
        try:
            importlib.import_module(name)
        except BaseException:
            failed.append(name + ":\\n" + traceback.format_exc())
            continue
        if name == "pareto_unlearn":
            print({_LOADED!r})
            print(json.dumps(sorted(m for m in sys.modules if m.startswith("pareto_unlearn."))))
        for m in names:  # below ``name``, every package on the way to m and m itself already loaded
            way = m.split(".")[len(name.split(".")):]
            if m.startswith(name + ".") and all(
                    ".".join([name, *way[:k]]) in sys.modules for k in range(1, len(way) + 1)):
                covered.add(m)
    print(f"{{fresh}} fresh imports, {{len(covered)}} modules covered")
    if failed:
        print("\\n".join(failed))
        sys.exit(1)
    """
)


def _groups() -> dict[str, list[str]]:
    """Modules by top-level subpackage, each package before its submodules; the top-level modules (and
    the package itself, first) form the group ``""``."""
    groups: dict[str, list[str]] = {}
    for name, path in _modules().items():
        parts = name.split(".")
        is_subpackage = len(parts) > 2 or (len(parts) == 2 and path.name == "__init__.py")
        groups.setdefault(parts[1] if is_subpackage else "", []).append(name)
    return {group: sorted(names, key=lambda n: n.split(".")) for group, names in groups.items()}


def test_every_module_imports_on_its_own():
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}

    def run(names: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", _IMPORT_EACH, *names], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=300)

    groups = _groups()
    assert groups[""][0] == PACKAGE and {"task", "plotting", "experiments"} <= set(groups), groups
    top = run(groups.pop(""))
    results = {"<top level>": top}
    lines = top.stdout.splitlines()
    covered = set(json.loads(lines[lines.index(_LOADED) + 1])) if _LOADED in lines else set()
    rest = {group: [m for m in names if m not in covered] for group, names in sorted(groups.items())}
    rest = {group: names for group, names in rest.items() if names}  # else: all covered by the package
    with ThreadPoolExecutor(max_workers=2) as pool:  # one fresh interpreter per group, two at a time
        results.update(zip(rest, pool.map(run, rest.values())))
    failures = [f"[{group}]\n{done.stdout}{done.stderr}"
                for group, done in results.items() if done.returncode]
    assert not failures, "modules that do not import on their own:\n" + "\n".join(failures)


# --- imports inside functions ------------------------------------------------------------------

# A package module imported inside a function hides an edge of the graph from a reader and delays its
# errors to the first call. One is allowed only with its reason on the line, ``# lazy: <why>`` (an
# optional extra's module, say, or the launcher's import of the commands after it has set up signals).
_LAZY = "# lazy: "


def _unexplained_function_level_imports(module: str, path: Path) -> list[ImportSite]:
    """The function-level imports of package modules in ``module`` that do not state a reason."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = []
    for target, site in _imports(module, path, ast.parse(source, filename=str(path))):
        inside_package = target == PACKAGE or target.startswith(PACKAGE + ".")
        if site.where != "<module>" and inside_package and _LAZY not in lines[site.line - 1] \
                and site not in found:
            found.append(site)
    return found


def test_package_imports_sit_at_module_level_unless_a_reason_is_given():
    found = [f"{path.relative_to(REPO)}: {site}" for module, path in _modules().items()
             for site in _unexplained_function_level_imports(module, path)]
    assert not found, (f"package modules imported inside functions without `{_LAZY}<reason>` on the line; "
                       "import them at module level:\n" + "\n".join(found))


def test_the_function_level_check_finds_one(tmp_path):
    """The check above can fail: an unexplained import in a function is found, an explained one is not."""
    path = tmp_path / "probe.py"
    path.write_text("from pareto_unlearn.front import Front\n\n\n"
                    "def f():\n    from pareto_unlearn.front import COST_NAMES\n\n\n"
                    "def g():\n    from pareto_unlearn.distributed import connect  # lazy: needs dask\n")
    found = _unexplained_function_level_imports(f"{PACKAGE}.probe", path)
    assert [(site.line, site.where) for site in found] == [(5, "f")]


# --- only the command line prints -------------------------------------------------------------------

_PRINTERS = {f"{PACKAGE}.cli", f"{PACKAGE}.__main__"}  # the executable and its commands


def test_only_the_command_line_prints():
    """Library code logs (and shows tqdm bars that can be switched off); a print() anywhere else is a bug."""
    found = []
    for module, path in _modules().items():
        if module in _PRINTERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not found, "print() outside the command line:\n" + "\n".join(found)
