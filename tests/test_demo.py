"""`python -m fastmlp demo`: the seed experiment end to end, in a subprocess."""
import re
import subprocess
import sys

import numpy as np

EPOCH = re.compile(r"^Epoch:\s+(\d+)\s+Loss:\s+([0-9.eE+-]+)\s*$")


def _run(args, cwd):
    proc = subprocess.run([sys.executable, "-m", "fastmlp", "demo", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _sections(out):
    """Epoch lines grouped by the '== Part' header above them."""
    parts, current = [], None
    for line in out.splitlines():
        if line.startswith("== Part"):
            current = []
            parts.append(current)
        m = EPOCH.match(line.strip())
        if m:
            assert current is not None, "Epoch line before any part header"
            current.append((int(m.group(1)), float(m.group(2))))
    return parts


def _sse_table(out):
    table = {}
    for line in out.splitlines():
        m = re.match(r"^(from_scratch|sequential|linear_regression)\s+([0-9.]+)\s+([0-9.]+)\s*$",
                     line)
        if m:
            table[m.group(1)] = (float(m.group(2)), float(m.group(3)))
    return table


def test_demo_no_plot(tmp_path):
    out = _run(["--no-plot", "--epochs", "200"], tmp_path)
    lines = [l for l in out.splitlines() if l.strip().startswith("Epoch:")]
    assert len(lines) == 40, out
    parts = _sections(out)
    assert len(parts) == 3, out  # scratch, sequential, linear regression
    for part in parts[:2]:
        epochs = [e for e, _ in part]
        losses = np.array([l for _, l in part])
        assert epochs == list(range(10, 201, 10))
        assert np.isfinite(losses).all()
        assert losses[-1] < 0.9 * losses[0], losses  # falling
        assert np.sum(np.diff(losses) > 0) <= 1, losses  # essentially monotone
    assert parts[2] == []
    table = _sse_table(out)
    assert set(table) == {"from_scratch", "sequential", "linear_regression"}, out
    ols = table["linear_regression"][0]
    assert ols > 0 and table["linear_regression"][1] == 1.0
    for name in ("from_scratch", "sequential"):
        sse, ratio = table[name]
        assert abs(sse / ols - 1) <= 0.15, (name, sse, ols)
        assert abs(ratio - sse / ols) < 2e-3
    assert not list(tmp_path.iterdir())  # --no-plot writes nothing


def test_demo_ols_line_is_the_least_squares_fit(tmp_path):
    """The OLS SSE printed is that of numpy.linalg.lstsq on the demo's data."""
    from fastmlp import demo
    x, y = demo.make_data(np.random.default_rng(0))
    design = np.hstack([x.astype(np.float64), np.ones((len(x), 1))])
    coef = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)[0]
    sse = float(np.sum((design @ coef - y) ** 2))
    table = _sse_table(_run(["--no-plot", "--epochs", "10"], tmp_path))
    assert abs(table["linear_regression"][0] - sse) < 5e-3


def test_demo_writes_plots(tmp_path):
    out_dir = tmp_path / "plots"
    out = _run(["--epochs", "20", "--out-dir", str(out_dir)], tmp_path)
    pngs = sorted(out_dir.glob("*.png"))
    assert len(pngs) == 3, (out, pngs)
    for p in pngs:
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
        assert str(p) in out
    lines = [l for l in out.splitlines() if l.strip().startswith("Epoch:")]
    assert len(lines) == 4


def test_demo_rejects_bad_epochs(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fastmlp", "demo", "--no-plot", "--epochs", "0"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "epochs" in proc.stderr
