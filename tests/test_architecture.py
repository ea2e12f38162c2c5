"""The import graph of `course_catalogue`, checked with `ast` (nothing is imported to check it).

The rules (docs/architecture.md explains the layers):

1. No cycle among run-time imports: every `import` statement of a module, at module level or
   inside a function, counts; only imports under `if TYPE_CHECKING:` (annotations) do not.
2. Layers: a package imports only the packages below it (`LAYERS`): the domain (`catalogue`)
   nothing of ours; `mappings` the domain; `harvesters` (format readers) the mappings and the
   domain, never `services` or `web`; `skills` (ESCO taxonomy, linking) the domain; `search` the
   domain and `skills`; `services` everything but the
   interfaces; the interfaces (`web`: API, dashboard, CLI, Celery) never `harvesters`.
3. The interfaces reach the harvest machinery through the services' operations, never its
   internals (`SERVICE_INTERNALS`), and never call the catalogue store's write methods for
   sources and runs themselves (`STORE_WRITES` called on anything named `store` or `*.store`);
   accounts, tokens and entitlements are written through `services.accounts` only: of the
   interfaces, only authentication (`web.auth`) opens the account store (`ACCOUNT_STORE_USERS`).
4. The two engines are apart: `search.opensearch` imports nothing of `search.tantivy`, nor the
   other way round (what they share is in the `search` core).
5. Flask is imported only by the interfaces (`web`) and the per-app wiring (`services.runtime`);
   Celery only by `services.tasks` and `web.celery_setup`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "course_catalogue"

LAYERS: Mapping[str, frozenset[str]] = {
    "catalogue": frozenset({"catalogue"}),
    "mappings": frozenset({"catalogue", "mappings"}),
    "harvesters": frozenset({"catalogue", "mappings", "harvesters"}),
    "skills": frozenset({"catalogue", "skills"}),
    "search": frozenset({"catalogue", "skills", "search"}),
    "services": frozenset({"catalogue", "mappings", "harvesters", "skills", "search", "services"}),
    "web": frozenset({"catalogue", "mappings", "skills", "search", "services", "web"}),
}
SERVICE_INTERNALS = frozenset(
    f"course_catalogue.services.{name}"
    for name in ("pipeline", "intake", "spool", "locks", "publish", "webhook_delivery")
)
STORE_WRITES = frozenset({"save_source", "start_run", "finish_run", "harvesting", "confirm_withdrawals"})
ACCOUNT_STORE_USERS = frozenset({"course_catalogue.web.auth"})
FLASK_ALLOWED = ("course_catalogue.web", "course_catalogue.services.runtime")
CELERY_ALLOWED = ("course_catalogue.services.tasks", "course_catalogue.web.celery_setup")


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module

    @property
    def layer(self) -> str:
        return self.name.split(".")[1] if "." in self.name else ""


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:  # Alembic scripts: loaded by Alembic, never imported
            continue
        found[_name(path)] = Module(_name(path), path, ast.parse(path.read_text(encoding="utf-8")))
    return found


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped |= {id(n) for n in ast.walk(child)}
    return skipped


def runtime_imports(module: Module) -> Iterator[tuple[str, int]]:
    """(imported name, line) of every import outside `if TYPE_CHECKING:`; for `from a import b`
    both `a` and `a.b` (b may be a module)."""
    skipped = _type_checking_nodes(module.tree)
    for node in ast.walk(module.tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno
            for alias in node.names:
                yield f"{node.module}.{alias.name}", node.lineno


def graph(found: Mapping[str, Module]) -> dict[str, set[str]]:
    return {
        name: {target for target, _ in runtime_imports(module) if target in found and target != name}
        for name, module in found.items()
    }


def cycles(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            advanced = False
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(edges.get(target, ())))))
                    advanced = True
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
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
                    found.append(sorted(component))
    return found


@pytest.fixture(scope="module")
def found() -> dict[str, Module]:
    return modules()


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert cycles(edges) == [["a", "b", "c"]]


def test_no_import_cycle_at_run_time(found: dict[str, Module]) -> None:
    assert cycles(graph(found)) == []


def test_each_layer_imports_only_the_layers_below_it(found: dict[str, Module]) -> None:
    wrong = []
    for module in found.values():
        allowed = LAYERS.get(module.layer)
        if allowed is None:  # the package's own __init__
            continue
        for target, line in runtime_imports(module):
            if target.startswith("course_catalogue.") and target.split(".")[1] not in allowed:
                wrong.append(f"{module.name}:{line} imports {target}")
    assert wrong == []


def test_interfaces_call_service_operations_not_the_harvest_internals(found: dict[str, Module]) -> None:
    wrong = []
    for module in found.values():
        if module.layer != "web":
            continue
        for target, line in runtime_imports(module):
            if any(target == internal or target.startswith(internal + ".") for internal in SERVICE_INTERNALS):
                wrong.append(f"{module.name}:{line} imports {target}")
        for node in ast.walk(module.tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in STORE_WRITES
                and ast.unparse(node.func.value).split(".")[-1].lstrip("_") == "store"
            ):
                wrong.append(f"{module.name}:{node.lineno} calls {ast.unparse(node.func)}")
    assert wrong == []


def test_interfaces_write_accounts_through_the_account_service(found: dict[str, Module]) -> None:
    wrong = [
        f"{module.name}:{line} imports {target}"
        for module in found.values()
        if module.layer == "web" and module.name not in ACCOUNT_STORE_USERS
        for target, line in runtime_imports(module)
        if target.startswith("course_catalogue.catalogue.account_store")
    ]
    assert wrong == []


def test_the_search_engines_do_not_import_each_other(found: dict[str, Module]) -> None:
    wrong = []
    for module in found.values():
        for mine, other in (("search.opensearch", "search.tantivy"), ("search.tantivy", "search.opensearch")):
            if module.name.startswith(f"course_catalogue.{mine}"):
                wrong += [
                    f"{module.name}:{line} imports {target}"
                    for target, line in runtime_imports(module)
                    if target.startswith(f"course_catalogue.{other}")
                ]
    assert wrong == []


def _uses(target: str, library: str) -> bool:
    roots = (library, "flask_") if library == "flask" else (library,)  # Flask's extensions count
    return any(
        target == root or target.startswith(root if root.endswith("_") else f"{root}.") for root in roots
    )


@pytest.mark.parametrize(("library", "allowed"), [("flask", FLASK_ALLOWED), ("celery", CELERY_ALLOWED)])
def test_frameworks_stay_at_the_edges(
    found: dict[str, Module], library: str, allowed: tuple[str, ...]
) -> None:
    wrong = [
        f"{module.name}:{line} imports {target}"
        for module in found.values()
        if not module.name.startswith(allowed)
        for target, line in runtime_imports(module)
        if _uses(target, library)
    ]
    assert wrong == []
