"""The package's import graph, read from the source with ``ast`` (nothing is imported): inference and
evaluation never import training code, and the onnxruntime engine loads no torch (nor onnx)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vocoder"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _import_nodes(tree: ast.Module, at_import_time: bool) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, or (``at_import_time``) those that run when the module is imported: not
    inside a function body or an ``if TYPE_CHECKING:`` block (class bodies and try/if blocks run)."""
    if not at_import_time:
        return [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    found, todo = [], list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) or _is_type_checking(node):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return found


def imported_names(source: str, module: str, is_package: bool = False, at_import_time: bool = False) -> set[str]:
    """Absolute dotted names ``module``'s source imports; ``from a import b`` gives ``a`` and ``a.b`` (b may
    be a submodule), relative imports are resolved against ``module``."""
    names: set[str] = set()
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in _import_nodes(ast.parse(source), at_import_time):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
            continue
        if node.level:
            base = package[: len(package) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        names.add(target)
        names.update(f"{target}.{a.name}" for a in node.names)
    return names


def imports_of(module: str, at_import_time: bool = False) -> set[str]:
    path = MODULES[module]
    return imported_names(path.read_text(), module, path.name == "__init__.py", at_import_time)


def import_time_closure(start: str) -> tuple[set[str], set[str]]:
    """(package modules loaded by ``import start``, top-level names of the outside modules they import):
    the modules' import-time imports and every parent package, transitively."""
    seen: set[str] = set()
    outside: set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        for name in imports_of(module, at_import_time=True):
            if name in MODULES:
                todo.append(name)
            elif name.split(".")[0] != "vocoder":
                outside.add(name.split(".")[0])
    return seen, outside


def test_the_parser_sees_every_kind_of_import():
    source = """
import vocoder.train.trainer
from vocoder import train
from ..train import checkpoint
from . import base
import numpy as np
def f():
    from vocoder.train.warm_start import warm_start
if TYPE_CHECKING:
    import torch
"""
    every = imported_names(source, "vocoder.infer.runtime")
    assert {"vocoder.train.trainer", "vocoder.train", "vocoder.train.checkpoint", "vocoder.infer.base", "numpy",
            "vocoder.train.warm_start.warm_start", "torch"} <= every
    at_import = imported_names(source, "vocoder.infer.runtime", at_import_time=True)
    assert "vocoder.train.warm_start" not in at_import and "torch" not in at_import
    assert "vocoder.train.checkpoint" in at_import
    package = imported_names("from .x import y", "vocoder.infer", is_package=True)
    assert package == {"vocoder.infer.x", "vocoder.infer.x.y"}


def test_inference_and_evaluation_never_import_training_code():
    checked = [m for m in MODULES if m.startswith(("vocoder.infer.", "vocoder.eval.")) or m in ("vocoder.infer",
                                                                                               "vocoder.eval")]
    assert len(checked) >= 20 and "vocoder.infer.runtime" in checked and "vocoder.eval.bench" in checked
    offenders = {
        m: sorted(n for n in imports_of(m) if n == "vocoder.train" or n.startswith("vocoder.train."))
        for m in checked
    }
    assert {m: names for m, names in offenders.items() if names} == {}


def test_the_onnx_runtime_loads_no_torch():
    loaded, outside = import_time_closure("vocoder.infer.runtime")
    # the closure is real: the runtime, the schema of the file's metadata, the input checks, the seeded noise
    assert {"vocoder.infer.runtime", "vocoder.infer.onnx_metadata", "vocoder.infer.base", "vocoder.infer.checks",
            "vocoder.infer.noise", "vocoder.config"} <= loaded
    assert {"numpy", "onnxruntime"} <= outside
    assert "torch" not in outside and "onnx" not in outside, sorted(outside)
    assert not any(m.startswith(("vocoder.train", "vocoder.models")) for m in loaded), sorted(loaded)
