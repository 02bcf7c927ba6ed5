"""Imports run one way: config -> data -> models -> the toolbox (steps) -> checks | callbacks
-> stages -> cli. A module may import its own layer and the ones below, never one above;
checks and callbacks, side by side, never import each other. Every module has a layer, so a
new one is placed on purpose. Imports inside functions count too."""

import ast
from pathlib import Path

import {{ cookiecutter.package_name }}

PACKAGE = Path({{ cookiecutter.package_name }}.__file__).parent
LAYERS = [
    # leaves: no project imports, or only of each other
    {"errors", "quiet", "progress", "runtime", "rundir", "describe", "plots", "verdicts", "config", "schedule",
     "stages", "precision", "recipe", "bootstrap", "registry", "train_context", "storage", "__init__"},
    {"data", "backbones", "table_model"},
    {"models"},
    {"steps", "references", "mode_gap", "autos", "resolve", "cross_validation"},
    {"checks", "callbacks"},
    {"train", "evaluate", "tune", "distribute", "resume", "checkpoints", "serving", "report",
     "multi_worker", "predict", "bucket_runs"},
    {"cli", "__main__"},
]
SIDE_BY_SIDE = {"checks": "callbacks", "callbacks": "checks"}


def top(module: str) -> str:
    return module.split(".")[0]


def layer_of(module: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if top(module) in names)


def project_imports(path: Path) -> set[str]:
    """The project modules a file imports, as dotted names below the package."""
    here = list(path.relative_to(PACKAGE).with_suffix("").parts)
    package = here[:-1]  # the package the file is in (for __init__.py: the one it starts)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            if node.module:
                found.add(".".join(base + node.module.split(".")))
            else:  # `from . import x`: the module x beside it
                found.update(".".join(base + [alias.name]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE.name + "."):
            found.add(node.module.removeprefix(PACKAGE.name + "."))
    return found


def modules() -> dict[str, Path]:
    return {".".join(p.relative_to(PACKAGE).with_suffix("").parts): p for p in PACKAGE.rglob("*.py")}


def test_every_module_has_a_layer():
    unplaced = sorted(name for name in modules() if not any(top(name) in names for names in LAYERS))
    assert not unplaced, f"give these modules a layer in LAYERS: {unplaced}"


def test_imports_run_one_way():
    backwards = []
    for name, path in modules().items():
        for target in project_imports(path):
            if layer_of(target) > layer_of(name) or SIDE_BY_SIDE.get(top(name)) == top(target):
                backwards.append(f"{name} imports {target}")
    assert not backwards, backwards


def test_no_module_imports_itself_in_a_circle():
    """A circle (a imports b, b imports a, at the top or inside a function) makes the order of
    imports matter and hides which module holds what; data/source.py and data/tables.py had one."""
    names = modules()

    def resolved(target: str) -> str | None:
        return target if target in names else (f"{target}.__init__" if f"{target}.__init__" in names else None)

    graph = {name: {resolved(t) for t in project_imports(path)} - {None, name} for name, path in names.items()}
    circles = set()
    for start in graph:
        reached, frontier = set(), list(graph[start])
        while frontier:
            node = frontier.pop()
            if node not in reached:
                reached.add(node)
                frontier += graph[node]
        if start in reached:
            circles.add(start)
    assert not circles, f"modules on an import circle: {sorted(circles)}"
