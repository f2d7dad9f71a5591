"""Architecture rules, checked on the source: only segview.ui imports Qt; the CLI never imports the UI."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "segview"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _modules(sub: str = ""):
    return [p for p in (PACKAGE / sub).rglob("*.py")]


def test_only_ui_imports_qt():
    for path in _modules():
        if "ui" in path.relative_to(PACKAGE).parts[:1]:
            continue
        qt = {n for n in _imports(path) if n.split(".")[0] in {"PySide6", "pyqtgraph", "shiboken6"}}
        assert not qt, f"{path.relative_to(PACKAGE)} imports {qt}"


def test_cli_never_imports_ui():
    for path in _modules("cli"):
        assert not {n for n in _imports(path) if n.startswith("segview.ui")}, path


def test_torch_only_in_distillation():
    for path in _modules():
        if "distill" in str(path.relative_to(PACKAGE)):
            continue
        assert "torch" not in {n.split(".")[0] for n in _imports(path)}, path
