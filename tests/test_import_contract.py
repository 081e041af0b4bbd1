"""The import contract of docs/architecture.md ("Where code goes"), checked over the import graph.

Every `import` in every module of `services/workforce` and `training-jobs/workforce_train` counts, the late
ones inside functions too (an import that only works because it runs late is still a dependency). Rules:

- `core` is the shared library: it imports only itself and `v1` (the generated protos), never a service;
- a service folder (SERVICES) imports only `core`, `v1` and itself;
- the clients and launchers beside them have explicit, documented allowances (ALLOWED);
- `workforce_train` (the training jobs, a client of the system) imports only `workforce.core`, `workforce.v1`
  and itself;
- there are no import cycles between modules.
"""

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "workforce": ROOT / "services" / "workforce",
    "workforce_train": ROOT / "training-jobs" / "workforce_train",
}
GENERATED = "workforce.v1"  # protoc output: not scanned, importable by everyone
SHARED = ("workforce.core", GENERATED)

# The deployable services (and the offline evaluator, a service-like CLI): each imports SHARED and itself.
SERVICES = (
    "gateway",
    "planner",
    "coordinator",
    "workers",
    "roles",
    "sandbox",
    "modelserver",
    "browser",
    "evaluation",
)

# Everything in `workforce` that is not core, v1 or a service: what it may import besides SHARED and itself.
ALLOWED = {
    # `workforce-service NAME`: the one container entry point; it starts a service by calling its `main`.
    "workforce.services": tuple(f"workforce.{s}.main" for s in SERVICES),
    # the `workforce` CLI: an HTTP client of the gateway; its modules use each other.
    "workforce.cli": ("workforce.cli_review", "workforce.cli_tool_review", "workforce.cli_errors", "workforce.story",
                      "workforce"),
    "workforce.cli_errors": (),
    "workforce.cli_review": ("workforce.cli_errors",),
    "workforce.cli_tool_review": ("workforce.cli_errors",),
    "workforce.story": (),
    # `make run`: the local launcher. It starts services as processes (by name, not by import).
    "workforce.local": (),
    "workforce": (),
}


# The one module of the training jobs that runs a service's code in process: the α-UMi / AutoAct closure's run
# stage drives the tool worker's agent directly (with its adapters) to log what each role's requests carried.
TRAIN_EXCEPTIONS = {
    "workforce_train.loop.roles_run": ("workforce.workers.tool", "workforce.workers.tools"),
}


def _module_files(package: str, root: Path):
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        parts = [package, *rel.parts]
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        if name == GENERATED or name.startswith(GENERATED + "."):
            continue
        yield name, path, path.name == "__init__.py"


def _graph() -> tuple[set[str], dict[str, set[tuple[str, int]]]]:
    modules: dict[str, tuple[Path, bool]] = {}
    for package, root in PACKAGES.items():
        for name, path, is_package in _module_files(package, root):
            modules[name] = (path, is_package)
    edges: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for name, (path, is_package) in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                # `from pkg import sub` imports the submodule pkg.sub when there is one
                subs = [f"{source}.{alias.name}" for alias in node.names]
                targets = [s for s in subs if s in modules or s.startswith(GENERATED + ".")] or [source]
            for target in targets:
                if target.split(".")[0] in PACKAGES:
                    edges[name].add((target, node.lineno))
    return set(modules), edges


MODULES, EDGES = _graph()


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _owner(name: str) -> str:
    """The unit a rule is about: workforce.<service>, workforce.core, a top-level module, workforce_train."""
    parts = name.split(".")
    if parts[0] == "workforce_train":
        return "workforce_train"
    return ".".join(parts[:2])


def _allowed(source: str, target: str) -> bool:
    owner = _owner(source)
    if _within(target, owner) or any(_within(target, s) for s in SHARED):
        return True
    if owner == "workforce_train":
        return any(_within(target, allowed) for allowed in TRAIN_EXCEPTIONS.get(source, ()))
    if owner == "workforce.core" or owner in tuple(f"workforce.{s}" for s in SERVICES):
        return False
    return any(target == allowed for allowed in ALLOWED[owner])


def test_every_area_has_a_rule():
    """A new top-level folder or module must be given a place in the contract (a service or an allowance)."""
    areas = {_owner(m) for m in MODULES if m.startswith("workforce.") or m == "workforce"}
    known = {"workforce.core", *(f"workforce.{s}" for s in SERVICES), *ALLOWED}
    assert areas <= known, f"not in the import contract: {sorted(areas - known)}"


def test_services_import_only_core_and_themselves():
    broken = [
        f"{source}:{line} imports {target}"
        for source in sorted(EDGES)
        for target, line in sorted(EDGES[source])
        if not _allowed(source, target)
    ]
    assert not broken, "imports that break the contract:\n" + "\n".join(broken)


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    graph = {m: sorted({t for t, _ in EDGES.get(m, ()) if t in MODULES and t != m}) for m in MODULES}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
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
    return found


def test_no_import_cycles():
    cycles = _cycles()
    assert not cycles, "import cycles (late imports included):\n" + "\n".join(" ↔ ".join(c) for c in cycles)


@pytest.mark.parametrize(
    "source, target, allowed",
    [
        ("workforce.workers.tool.agent", "workforce.core.llm.client", True),
        ("workforce.workers.tool.agent", "workforce.workers.tools", True),
        ("workforce.workers.tool.agent", "workforce.roles.main", False),
        ("workforce.core.config", "workforce.gateway.main", False),
        ("workforce.gateway.tasks", "workforce.v1.gateway_pb2", True),
        ("workforce.services", "workforce.gateway.main", True),
        ("workforce.services", "workforce.gateway.tasks", False),
        ("workforce.local.processes", "workforce.modelserver.main", False),
        ("workforce_train.loop.pipeline", "workforce.core.scoring", True),
        ("workforce_train.loop.pipeline", "workforce.modelserver.main", False),
    ],
)
def test_the_rule_itself(source, target, allowed):
    """The checker is honest: it refuses what the contract forbids."""
    assert _allowed(source, target) is allowed


def test_the_graph_sees_late_and_relative_imports():
    late = {t for t, _ in EDGES["workforce.services"]}
    assert "workforce.workers.main" in late  # an import inside main(), written relative
    assert len(MODULES) > 100
