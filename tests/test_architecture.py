"""The shape of explorer/: imports run one way along the pipeline, with no cycle and no import
hidden inside a function to dodge one. Read from the source with `ast`, so it holds for every
module, imported by a test or not."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "explorer"

# The pipeline, top to bottom. A module may import from its own stage and from the stages above it.
STAGES = [
    ("explorer.errors", "explorer.values", "explorer.files"),
    ("explorer.functions",),
    ("explorer.core",),
    ("explorer.drawing",),
    ("explorer.play",),
    ("explorer.io",),
    ("explorer.api", "explorer"),
    ("explorer.bench", "explorer.cli", "explorer.launch", "explorer.loadtest", "explorer.serve", "explorer.__main__"),
    ("explorer.ui",),
]
# Imports inside a function, each for a reason other than a cycle: torchviz pulls in distutils,
# which is slow, and is needed only when its view is drawn or benchmarked; the notebook widget brings
# anywidget, ipywidgets and IPython, which only a notebook needs.
LATE_IMPORTS = {("explorer.drawing.torchviz_view", "torchviz"), ("explorer.bench", "torchviz"),
                ("explorer.api", "explorer.play.widget")}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def stage_of(module: str) -> int:
    best = None
    for index, prefixes in enumerate(STAGES):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (index, len(prefix))
    assert best is not None, f"{module} is in no stage of the pipeline: add it to STAGES"
    return best[0]


def imports_of(module: str) -> list[tuple[str, bool]]:
    """(imported module, at module level?) for every import in the module's source."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    found = []

    def visit(node, top: bool):
        for child in ast.iter_child_nodes(node):
            inside = top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((alias.name, inside) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(package.split(".")[:len(package.split(".")) - child.level + 1] + [base]).strip(".")
                for alias in child.names:
                    # `from explorer.drawing import render` imports the module explorer.drawing.render
                    candidate = f"{base}.{alias.name}"
                    found.append((candidate if candidate in MODULES else base, inside))
            visit(child, inside)

    visit(tree, True)
    return found


def explorer_imports(module: str) -> set[str]:
    return {name for name, _ in imports_of(module) if name in MODULES}


def test_every_module_is_in_a_stage():
    for module in MODULES:
        stage_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_run_down_the_pipeline(module):
    for imported in explorer_imports(module):
        assert stage_of(imported) <= stage_of(module), \
            f"{module} (stage {stage_of(module)}) imports {imported} (stage {stage_of(imported)}), further down"


def test_no_import_cycle():
    graph = {module: explorer_imports(module) - {module} for module in MODULES}
    done, on_path = set(), []

    def walk(module):
        if module in on_path:
            cycle = on_path[on_path.index(module):] + [module]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        on_path.append(module)
        for imported in sorted(graph[module]):
            walk(imported)
        on_path.pop()
        done.add(module)

    for module in sorted(graph):
        walk(module)


def test_front_doors_are_leaves():
    """Nothing in the library imports the command line or the Streamlit helpers."""
    for module in MODULES:
        if module.startswith("explorer.ui") or module == "explorer.__main__":
            continue
        for imported in explorer_imports(module):
            assert imported != "explorer.cli" and not imported.startswith("explorer.ui"), f"{module} imports {imported}"


def test_no_import_hides_inside_a_function():
    for module in MODULES:
        for name, top in imports_of(module):
            if not top:
                assert (module, name) in LATE_IMPORTS, f"{module} imports {name} inside a function"


# The load generator speaks Streamlit's websocket protocol: it needs the protocol's messages, no Streamlit API.
STREAMLIT_PROTOCOL = {"explorer.loadtest": "streamlit.proto."}


def test_streamlit_only_in_ui():
    for module in MODULES:
        if not module.startswith("explorer.ui"):
            names = {name for name, _ in imports_of(module)}
            allowed = STREAMLIT_PROTOCOL.get(module)
            names = {name for name in names if not (allowed and name.startswith(allowed))}
            assert not any(name == "streamlit" or name.startswith("streamlit.") for name in names), module


def test_the_checks_see_a_cycle_and_a_late_import(tmp_path, monkeypatch):
    """The checks above can fail: a made-up pair of modules that import each other, one inside a function."""
    source = {"explorer.fake_a": "from explorer import fake_b\n",
              "explorer.fake_b": "def late():\n    import explorer.fake_a\n"}
    for name, text in source.items():
        path = tmp_path / f"{name.split('.')[-1]}.py"
        path.write_text(text)
        monkeypatch.setitem(MODULES, name, path)
    assert imports_of("explorer.fake_a") == [("explorer.fake_b", True)]
    assert imports_of("explorer.fake_b") == [("explorer.fake_a", False)]
    with pytest.raises(pytest.fail.Exception, match="import cycle"):
        monkeypatch.setattr("test_architecture.STAGES", STAGES + [("explorer.fake_a", "explorer.fake_b")])
        test_no_import_cycle()
