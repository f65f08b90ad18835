"""tfllmrec's imports flow one way: no cycles, and no layer imports from a layer above it."""

import ast
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "tfllmrec"
# Lower layers first; a module imports from its own layer or from lower ones only.
# `data` and `evaluation` (NumPy and pandas) sit beside the TensorFlow stack, below it.
LAYERS = [
    {"errors", "files", "cache", "backend", "model_rules", "ranges", "trainable_mode", "__init__"},
    {"data", "evaluation", "encoders"},
    {"towers"},
    {"models"},
    {"training", "export"},
    {"tasks", "serving"},
    {"recipes"},
    {"cli_parser"},
    {"cli", "__main__"},
]


def _module_name(path):
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path):
    """Modules of tfllmrec that `path` imports, anywhere in the file (function-level too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from p import x`: x is a module of p, or a name of p's own (then `_resolve` gives p).
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return {n for n in names if n.startswith("tfllmrec.")}


def _resolve(name, modules):
    """The module an imported name refers to: the module itself, or its package."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _graph():
    """({module: path}, {module: modules it imports}); packages stand for their __init__.py."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return modules, {name: {_resolve(n, modules) for n in _imports(path)} - {None, name}
                     for name, path in modules.items()}


def _through_packages(graph, modules):
    """The graph between modules, an import of a package standing for what its
    __init__.py re-exports (a package's face is not a module of its own)."""
    packages = {name for name, path in modules.items() if path.name == "__init__.py"}

    def expand(target, seen):
        if target not in packages:
            return {target}
        seen = seen | {target}
        return set().union(*[expand(t, seen) for t in graph[target] if t not in seen])

    return {name: set().union(*[expand(t, {name}) for t in targets]) - {name}
            for name, targets in graph.items() if name not in packages}


def _cycles(graph):
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


def _layer(module):
    top = module.split(".")[1] if module.count(".") else "__init__"
    for rank, layer in enumerate(LAYERS):
        if top in layer:
            return rank
    raise AssertionError(f"{module} is in no layer of test_imports.LAYERS: add its package there")


def test_no_import_cycles():
    modules, graph = _graph()
    cycles = _cycles(_through_packages(graph, modules))
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_module_imports_from_a_layer_above_it():
    _, graph = _graph()
    upward = [f"{a} -> {b}" for a, targets in graph.items() for b in targets if _layer(b) > _layer(a)]
    assert not upward, "imports from a higher layer:\n" + "\n".join(sorted(upward))


def test_the_checks_see_function_level_imports_and_cycles_through_packages(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from tfllmrec.recipes import pipeline\n")
    assert _imports(module) == {"tfllmrec.recipes.pipeline"}
    graph = {"p": {"p.a"}, "p.a": {"q.b"}, "q.b": {"p"}}
    modules = {"p": Path("p/__init__.py"), "p.a": Path("p/a.py"), "q.b": Path("q/b.py")}
    assert _cycles(_through_packages(graph, modules)) == ["p.a -> q.b -> p.a"]
