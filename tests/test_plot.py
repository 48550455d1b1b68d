"""fm.plot (matplotlib is a test dependency)."""
import numpy as np

import fastmlp as fm
from helpers import mlp


PNG = b"\x89PNG\r\n\x1a\n"


def test_plot_module_is_reachable_from_the_package():
    """API.md spells it fm.plot.observed_vs_predicted after `import fastmlp as fm`
    (checked in a fresh interpreter: another test may already have imported it)."""
    import subprocess
    import sys
    code = "import fastmlp as fm; print(fm.plot.observed_vs_predicted.__name__)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "observed_vs_predicted"


def test_observed_vs_predicted_writes_png(tmp_path, rng):
    import matplotlib.pyplot as plt

    import fastmlp.plot  # noqa: F401  (see test_plot_module_is_reachable_from_the_package)
    y = rng.standard_normal(40)
    path = tmp_path / "obs.png"
    fig = fm.plot.observed_vs_predicted(y, y + 0.1, title="t", path=str(path))
    assert path.read_bytes()[:8] == PNG and path.stat().st_size > 1000
    plt.close(fig)


def test_loss_curve_writes_png(tmp_path, rng):
    import matplotlib.pyplot as plt

    import fastmlp.plot  # noqa: F401
    net = mlp([2, 4, 1], dtype="float32", seed=0)
    x = rng.standard_normal((20, 2))
    hist = net.fit(x, x[:, 0], epochs=5, validation_data=(x, x[:, 0]))
    path = tmp_path / "loss.png"
    fig = fm.plot.loss_curve(hist, path=str(path))
    assert path.read_bytes()[:8] == PNG
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), hist.loss)
    np.testing.assert_allclose(ax.lines[1].get_ydata(), hist.val_loss)
    plt.close(fig)
