"""mypy --strict over the source tree's python/fastmlp, with the configuration in
pyproject.toml: the committed _core.pyi types the extension (tests/test_stubs.py keeps it
current). From the source tree: python -m mypy"""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_package_passes_mypy_strict(tmp_path):
    # A fresh cache: a result that cannot come from an earlier run's state.
    run = subprocess.run([sys.executable, "-m", "mypy", "--strict",
                          "--config-file", str(ROOT / "pyproject.toml"),
                          "--cache-dir", str(tmp_path / "mypy-cache"),
                          str(ROOT / "python" / "fastmlp")],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, (f"mypy --strict failed (mypy comes with pip install "
                                 f"'.[test]'):\n{run.stdout}{run.stderr}")
