"""The Python package's floors: every module imports only modules on lower floors (a static
scan of every import, lazy ones included), and each module imports alone, without the
package's __init__ running first, in a fresh interpreter."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

import fastmlp

PACKAGE = Path(fastmlp.__file__).parent

# Lowest first. A module may import fastmlp modules from lower floors only.
FLOORS = [
    {"_version", "_core", "_checks"},
    {"params", "functional", "init", "metrics", "linear_model", "tabular", "progress",
     "_distributed"},
    {"losses", "optim.optimizers"},
    {"optim.lr_scheduler"},
    {"optim"},
    {"_modelfile"},
    {"_checkpoint"},
    {"training"},
    {"nn"},
    {"saving", "plot", "interop"},
    {"onnx"},
    {"demo", "sklearn", "quickbench"},
    {"cli"},
    {"__main__"},
    {""},  # the package itself
]
FLOOR = {name: i for i, names in enumerate(FLOORS) for name in names}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_package(name: str) -> bool:
    return (PACKAGE / name.replace(".", "/") / "__init__.py").exists() if name else True


def _imports(path: Path) -> set:
    """The fastmlp modules a source file imports, anywhere in it."""
    name = _module_name(path)
    package = name if _is_package(name) else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".") if package else []
            base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
            target = ".".join(base + (node.module.split(".") if node.module else []))
            for alias in node.names:
                sub = f"{target}.{alias.name}" if target else alias.name
                found.add(sub if sub in FLOOR else target)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            for m in mods:
                if m and (m == "fastmlp" or m.startswith("fastmlp.")):
                    found.add(m[len("fastmlp."):] if m != "fastmlp" else "")
    return found - {name}


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_floor():
    assert {_module_name(p) for p in SOURCES} | {"_core"} == set(FLOOR)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: _module_name(p) or "fastmlp")
def test_imports_point_down(path):
    name = _module_name(path)
    upward = {m: FLOOR[m] for m in _imports(path) if FLOOR[m] >= FLOOR[name]}
    assert not upward, f"fastmlp.{name} (floor {FLOOR[name]}) imports {upward}"


# Loads fastmlp.<name> under an empty stand-in package, so that nothing but the
# module's own imports run.
_ALONE = """
import importlib, sys, types
pkg = types.ModuleType("fastmlp")
pkg.__path__ = [{path!r}]
sys.modules["fastmlp"] = pkg
importlib.import_module("fastmlp.{name}")
"""


@pytest.mark.parametrize("name", sorted(n for n in FLOOR if n and n != "_core"))
def test_module_imports_alone_in_a_fresh_interpreter(name):
    code = _ALONE.format(path=str(PACKAGE), name=name)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
