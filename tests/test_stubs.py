"""python/fastmlp/_core.pyi is exactly what pybind11-stubgen makes of the built extension, so
the stub cannot drift from the bindings. After changing cpp/bindings, from the source tree:

    pip install . && python -m pybind11_stubgen fastmlp._core --exit-code -o python

(pybind11 and pybind11-stubgen are pinned in pyproject.toml: both shape the text.)"""
import difflib
import subprocess
import sys
from pathlib import Path

import fastmlp

COMMITTED = Path(__file__).resolve().parent.parent / "python" / "fastmlp" / "_core.pyi"
REGENERATE = "pip install . && python -m pybind11_stubgen fastmlp._core --exit-code -o python"


def _diff(expected: str, actual: str, expected_name: str, actual_name: str) -> str:
    return "".join(difflib.unified_diff(expected.splitlines(keepends=True),
                                        actual.splitlines(keepends=True),
                                        expected_name, actual_name))


def test_committed_stub_is_what_stubgen_generates(tmp_path):
    # cwd=tmp_path: the extension is imported from site-packages, not from a source tree.
    run = subprocess.run([sys.executable, "-m", "pybind11_stubgen", "fastmlp._core",
                          "--exit-code", "-o", str(tmp_path)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, (f"pybind11-stubgen failed (it comes with pip install "
                                 f"'.[test]'):\n{run.stdout}{run.stderr}")
    generated = (tmp_path / "fastmlp" / "_core.pyi").read_text()
    committed = COMMITTED.read_text()
    assert generated == committed, (
        f"{COMMITTED} is stale; regenerate it from the source tree with\n    {REGENERATE}\n"
        + _diff(committed, generated, "committed", "generated"))


def test_stub_is_installed_with_the_package():
    installed = Path(fastmlp.__file__).parent / "_core.pyi"
    assert installed.is_file(), f"{installed} missing: the wheel must ship the stub"
    assert (installed.parent / "py.typed").is_file()
    assert installed.read_text() == COMMITTED.read_text(), (
        "the installed stub differs from the source tree's: reinstall with pip install .")
