"""The package's layout holds: no import cycles between its modules, and no import of its own modules inside a
function unless it is declared (a ``# deferred:`` comment saying why, or a package whose docstring declares
the rule, as ``cli/`` does for start-up speed)."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "trust_survey"
#: Packages whose ``__init__`` docstring declares that they import the library inside functions, and why.
DEFERRING_PACKAGES = {"trust_survey.cli"}
#: Modules over LONG lines whose docstring does not yet say why (files other work is editing in place).
NOT_YET_EXPLAINED = {"trust_survey.ingest.orchestrate", "trust_survey.matching.matcher"}
LONG = 600
#: Function-level imports of the package's own modules that were there before this test and are still to be
#: hoisted or declared, as "importing module -> imported module". The list may only shrink.
NOT_YET_DECLARED: set[str] = {
    "trust_survey.commissioning.reader -> trust_survey.geography",
    "trust_survey.ingest.export -> trust_survey.build.spss",
    "trust_survey.ingest.export -> trust_survey.writers",
    "trust_survey.ingest.extract -> trust_survey.ingest.identify",
    "trust_survey.ingest.individual -> trust_survey.common.redact",
    "trust_survey.ingest.individual -> trust_survey.errors",
    "trust_survey.ingest.individual -> trust_survey.ingest.issues",
    "trust_survey.ingest.individual -> trust_survey.ingest.platform_csv",
    "trust_survey.ingest.individual -> trust_survey.ingest.platform_layout",
    "trust_survey.ingest.individual -> trust_survey.instruments.model",
    "trust_survey.ingest.individual -> trust_survey.writers",
    "trust_survey.ingest.orchestrate -> trust_survey.csvread",
    "trust_survey.ingest.orchestrate -> trust_survey.errors",
    "trust_survey.ingest.orchestrate -> trust_survey.settings",
    "trust_survey.ingest.platform_csv -> trust_survey.csvread",
    "trust_survey.ingest.platform_draft -> trust_survey.errors",
    "trust_survey.ingest.platform_draft -> trust_survey.ingest.individual",
    "trust_survey.ingest.platform_draft -> trust_survey.ingest.issues",
    "trust_survey.ingest.platform_draft -> trust_survey.ingest.platform_csv",
    "trust_survey.ingest.platform_draft -> trust_survey.ingest.readers",
    "trust_survey.ingest.platform_draft -> trust_survey.ingest.sniff",
    "trust_survey.ingest.platform_draft -> trust_survey.store",
    "trust_survey.ingest.readers -> trust_survey.csvread",
    "trust_survey.instruments.loader -> trust_survey.instruments.model",
    "trust_survey.matching.model -> trust_survey.errors",
    "trust_survey.matching.model -> trust_survey.matching.evaluate",
    "trust_survey.matching.model -> trust_survey.matching.files",
    "trust_survey.matching.model -> trust_survey.matching.store",
    "trust_survey.matching.model -> trust_survey.settings",
    "trust_survey.matching.model -> trust_survey.store",
    "trust_survey.report.orchestrate -> trust_survey.geography",
    "trust_survey.report.sources -> trust_survey.ingest.platform_csv",
    "trust_survey.simulate.individual_files -> trust_survey.ingest.platform_csv",
    "trust_survey.store -> trust_survey.geography.reference",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(importer: str, node: ast.ImportFrom | ast.Import, modules: dict[str, Path]) -> list[str]:
    """The package's own modules an import statement names (a name imported from a package counts as its
    module when there is one)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in modules]
    base = node.module or ""
    if node.level:
        package = importer.split(".")
        if not modules[importer].name == "__init__.py":
            package = package[:-1]
        package = package[:len(package) - node.level + 1]
        base = ".".join(package + ([base] if base else []))
    out = []
    for alias in node.names:
        full = f"{base}.{alias.name}"
        if full in modules:
            out.append(full)
        elif base in modules:
            out.append(base)
    return out


def _imports(modules: dict[str, Path]):
    """(importer, imported, inside a function, line, the source line and the one above it) for every import."""
    for name, path in modules.items():
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        tree = ast.parse(source)
        parents: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                parents[child] = node
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            inside, up = False, parents.get(node)
            while up is not None:
                if isinstance(up, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                    inside = True
                    break
                up = parents.get(up)
            context = " ".join(lines[max(0, node.lineno - 2):node.end_lineno])
            for target in _resolve(name, node, modules):
                if target != name:
                    yield name, target, inside, node.lineno, context


def _is_package_face(importer: str, target: str, modules: dict[str, Path]) -> bool:
    """A package's ``__init__`` handing on names of its own modules is not a dependency between modules."""
    return modules[importer].name == "__init__.py" and target.startswith(importer + ".")


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
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
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_layout__no_import_cycle_between_modules__even_through_imports_inside_functions():
    modules = _modules()
    edges: dict[str, set[str]] = {}
    for importer, target, _, _, _ in _imports(modules):
        if not _is_package_face(importer, target, modules):
            edges.setdefault(importer, set()).add(target)
    assert _cycles(edges) == []


def test_layout__imports_of_own_modules_inside_functions__are_declared():
    modules = _modules()
    undeclared = set()
    for importer, target, inside, line, context in _imports(modules):
        if not inside or "# deferred:" in context:
            continue
        if any(importer == p or importer.startswith(p + ".") for p in DEFERRING_PACKAGES):
            continue
        undeclared.add(f"{importer} -> {target}")
    new = sorted(undeclared - NOT_YET_DECLARED)
    assert new == [], ("import these at the top of the module, or say why not with a '# deferred:' comment "
                       "on the line above the import")
    assert sorted(NOT_YET_DECLARED - undeclared) == [], "hoisted or declared now: take them off NOT_YET_DECLARED"


def test_layout__the_cycle_finder_finds_a_cycle_hidden_in_a_function(tmp_path):
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_layout__each_package_docstring_names_its_stages_in_order():
    for name, path in _modules().items():
        if path.name != "__init__.py" or name in ("trust_survey",):
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        assert doc, f"{name}: its __init__ has no docstring naming its stages"
        own = [m.split(".")[-1] for m in _modules() if m.startswith(name + ".") and m.count(".") == name.count(".") + 1]
        named = [m for m in own if f".{m}`" in doc or f"{m}" in doc]
        assert len(named) >= len(own) * 0.5, f"{name}: its docstring names few of its modules ({named} of {own})"


def test_layout__a_module_over_600_lines__says_why_in_its_docstring():
    unexplained = set()
    for name, path in _modules().items():
        source = path.read_text(encoding="utf-8")
        if source.count("\n") > LONG and "Long because" not in (ast.get_docstring(ast.parse(source)) or ""):
            unexplained.add(name)
    assert sorted(unexplained - NOT_YET_EXPLAINED) == [], "split it, or say in its docstring: 'Long because ...'"
    assert sorted(NOT_YET_EXPLAINED - unexplained) == [], "explained or split now: take it off NOT_YET_EXPLAINED"
