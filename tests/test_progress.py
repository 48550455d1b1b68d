"""fit(progress=True): a tqdm bar when tqdm is installed, else log lines on stderr; the
training itself is the same either way."""
import subprocess
import sys

import numpy as np

import fastmlp as fm
from helpers import flat_params


def _fit(progress, **kw):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 3)), rng.standard_normal(40)
    net = fm.Sequential(fm.Linear(3, 4, dtype="float64"), fm.ReLU(),
                        fm.Linear(4, 1, dtype="float64"), dtype="float64", seed=0)
    hist = net.fit(x, y, epochs=20, batch_size=8, seed=1, progress=progress,
                   validation_data=(x[:10], y[:10]), **kw)
    return net, hist


def test_tqdm_bar_shows_epochs_and_losses(capsys):
    net, hist = _fit(True)
    err = capsys.readouterr().err
    assert "20/20" in err and "epoch" in err and "val_loss=" in err
    ref, ref_hist = _fit(False)
    np.testing.assert_array_equal(flat_params(net), flat_params(ref))
    np.testing.assert_array_equal(hist.loss, ref_hist.loss)
    assert capsys.readouterr().err == ""


def test_log_lines_keep_the_bar_intact(capsys):
    _fit(True, log_every=10)
    out = capsys.readouterr()
    assert [l.split()[1] for l in out.out.splitlines() if l.startswith("Epoch:")] == ["10", "20"]


_NO_TQDM = """
import sys; sys.modules["tqdm"] = None; sys.modules["tqdm.auto"] = None
import numpy as np, fastmlp as fm
rng = np.random.default_rng(0)
x, y = rng.standard_normal((40, 3)), rng.standard_normal(40)
net = fm.Sequential(fm.Linear(3, 4), fm.ReLU(), fm.Linear(4, 1), seed=0)
net.fit(x, y, epochs=20, progress=True, log_every={log_every})
"""


def test_without_tqdm_log_lines_on_stderr():
    for log_every, epochs in ((0, [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]), (5, [5, 10, 15, 20])):
        run = subprocess.run([sys.executable, "-c", _NO_TQDM.format(log_every=log_every)],
                             capture_output=True, text=True, check=True)
        lines = [l for l in run.stderr.splitlines() if l.startswith("fit: epoch")]
        assert [int(l.split()[2].split("/")[0]) for l in lines] == epochs, run.stderr
