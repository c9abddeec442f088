"""The layers, read from the source: arrows point down only, and one module owns the run
directory.

closedform (core) <- trained, compare (models) <- modfourier (application). closedform imports
none of the others; trained never imports compare or modfourier; compare never imports
modfourier and imports trained only inside functions (to run a torch model).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("closedform", "trained", "compare", "modfourier")
FORBIDDEN = {  # package -> packages it must never import (anywhere in its source)
    "closedform": {"trained", "compare", "modfourier", "torch"},
    "trained": {"compare", "modfourier"},
    "compare": {"modfourier"},
}


def _imports(path: Path):
    """(top-level module imported, line, at module level?) for every import in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno, id(node) in top
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.lineno, id(node) in top


def _sources(package):
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_arrows_point_down(package):
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in _sources(package)
        for name, line, _ in _imports(path)
        if name in FORBIDDEN[package]
    ]
    assert not bad, "imports that run up the layers:\n" + "\n".join(bad)


def test_compare_imports_trained_only_lazily():
    eager = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in _sources("compare")
        for name, line, top in _imports(path)
        if name in ("trained", "torch") and top
    ]
    assert not eager, "module-level imports of trained/torch in compare:\n" + "\n".join(eager)


def test_only_the_run_directory_module_knows_the_file_layout():
    """The names of the run directory's files and the checkpoint pattern appear in code only in
    closedform/rundir.py (everything else asks it)."""
    owner = ROOT / "closedform" / "rundir.py"
    needles = ('"metrics.jsonl"', '"weights.safetensors"', "epoch_{", r"epoch_(\d{7})")
    bad = []
    for package in PACKAGES:
        for path in _sources(package):
            if path == owner:
                continue
            for i, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#")[0]
                if any(n in code for n in needles) and not code.lstrip().startswith(">>>"):
                    bad.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not bad, "run-directory layout spelled outside closedform/rundir.py:\n" + "\n".join(bad)
