"""The documentation's examples are real: every script in docs/examples runs as shown (in
a scratch directory), the demo's numbers on the walkthrough page are what the demo gives,
and the performance tables of README.md and the bench page are what bench/readme_table.py
makes of the committed bench results. Also: the [docs] extra pins what
docs/requirements.txt does. Building the site itself is a step of .ci/run."""
import importlib
import json
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from fastmlp import demo

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = sorted((DOCS / "examples").glob("*.py"))
PAGES = "\n".join(p.read_text() for p in DOCS.rglob("*.rst"))


def _example(path):
    needs_torch = "import torch" in path.read_text()
    return pytest.param(path, id=path.name, marks=[pytest.mark.torch] if needs_torch else [])


@pytest.mark.parametrize("path", [_example(p) for p in EXAMPLES])
def test_example_runs(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples write model files
    runpy.run_path(str(path), run_name="__main__")


def test_cli_example_runs(tmp_path):
    # The fastmlp console script sits beside this interpreter in its environment.
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    run = subprocess.run(["bash", "-euo", "pipefail", str(DOCS / "examples" / "cli.sh")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "houses.onnx").exists()
    assert run.stdout.splitlines()[-5] == "price"  # the predictions' header, 3 rows, saved


def test_every_example_is_on_a_page():
    for path in [*EXAMPLES, DOCS / "examples" / "cli.sh"]:
        assert f"examples/{path.name}" in PAGES, f"{path.name} is included by no page"


def test_walkthrough_shows_the_demos_numbers(capsys):
    table = dict(re.findall(r"^\s+(from_scratch|sequential|linear_regression)\s+([0-9.]+)\s",
                            (DOCS / "walkthrough.rst").read_text(), re.M))
    results = demo.run(plot=False)
    capsys.readouterr()
    assert set(table) == set(results)
    for name, value in results.items():
        # The figures as printed; a little slack for other kernels' rounding.
        assert abs(float(table[name]) - value) <= 1e-3 * value, (name, table[name], value)


def _readme_table():
    """bench/readme_table.py, imported from bench/ (not a package) as run.py does."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        return importlib.import_module("readme_table")
    finally:
        sys.path.remove(str(ROOT / "bench"))


def test_performance_tables_are_what_the_committed_results_make():
    """Both pages' tables come from bench/results/latest.json, so neither can drift from
    the run they quote: a hand edit, or new results without regenerating, fails here."""
    readme_table = _readme_table()
    data = json.loads((ROOT / "bench" / "results" / "latest.json").read_text())
    for page, (marker, render) in readme_table.PAGES.items():
        found = readme_table.generated_region(Path(page).read_text(), marker)
        assert found.group(1) == render(data), f"{page}: run python bench/readme_table.py"


def test_readme_shows_a_miss_as_slower():
    """Every ratio below 1 in README's table says so, and the header promises no win."""
    readme_table = _readme_table()
    region = readme_table.generated_region((ROOT / "README.md").read_text(), "<!-- {} -->")
    lines = [line for line in region.group(1).splitlines() if line.startswith("| ")]
    assert len(lines) > 2, "no performance table in README.md"
    assert "faster than" not in lines[0]
    for line in lines[2:]:
        for value, after in re.findall(r"(\d+(?:\.\d+)?)x( \(slower\))?", line):
            assert (float(value) < 1) == bool(after), (value, line)


def test_a_miss_that_rounds_to_1_reads_as_slower():
    fmt_ratio = _readme_table().fmt_ratio
    assert fmt_ratio(0.9981) == "0.998x (slower)"
    assert fmt_ratio(0.994) == "0.99x (slower)"
    assert fmt_ratio(1.004) == "1.00x"


def test_docs_extra_pins_the_requirements_file():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11, as the doc tools need
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["docs"]
    tools = [l.strip() for l in (DOCS / "requirements.txt").read_text().splitlines()
             if l.strip() and not l.startswith("#")]
    assert tools and all("==" in t for t in tools), tools
    assert [r for r in extra if not r.startswith("fastmlp[")] == tools
