"""Memory of fit and predict: data in the model's dtype and C order is read where it lies,
np.memmap included, never copied (tracemalloc sees NumPy's allocations)."""
import tracemalloc

import numpy as np
import pytest

import fastmlp as fm


def peak_of(call):
    """The peak of NumPy's (traced) allocations during call()."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture
def memmapped(tmp_path):
    """x (200,000 x 20 float32, 16 MB) and y in files, mapped read-only, and a model."""
    rng = np.random.default_rng(0)
    x = np.lib.format.open_memmap(tmp_path / "x.npy", "w+", np.float32, (200_000, 20))
    x[...] = rng.standard_normal(x.shape, np.float32)
    y = np.lib.format.open_memmap(tmp_path / "y.npy", "w+", np.float32, (200_000, 1))
    y[...] = x[:, :1] * 2
    x.flush(), y.flush()
    net = fm.Sequential(fm.Linear(20, 8), fm.ReLU(), fm.Linear(8, 1), seed=0)
    net.fit(np.asarray(x[:64]), np.asarray(y[:64]), epochs=1)  # warm-up
    return np.load(tmp_path / "x.npy", mmap_mode="r"), np.load(tmp_path / "y.npy",
                                                              mmap_mode="r"), net


def test_memmap_input_is_not_copied(memmapped):
    x, y, net = memmapped
    assert isinstance(x, np.memmap) and not x.flags.writeable
    for shuffle in (False, True):
        peak = peak_of(lambda: net.fit(x, y, epochs=1, batch_size=1024, shuffle=shuffle, seed=0))
        assert peak < x.nbytes / 8, (shuffle, peak)
    # predict's output is the one allocation as large as the rows (4 bytes a row here).
    peak = peak_of(lambda: net.predict(x))
    assert peak < x.nbytes / 8 + 4 * len(x), peak
    # The same data from memory trains the same model as from the file.
    a = fm.Sequential(fm.Linear(20, 1), seed=1)
    b = fm.Sequential(fm.Linear(20, 1), seed=1)
    a.fit(x[:5000], y[:5000], epochs=2, batch_size=256, seed=3)
    b.fit(np.array(x[:5000]), np.array(y[:5000]), epochs=2, batch_size=256, seed=3)
    np.testing.assert_array_equal(a.flat_parameters(), b.flat_parameters())


def test_other_layouts_are_converted_once(memmapped):
    # What the measurement above would see of a copy: other dtypes and Fortran order are
    # converted once, at the size of the data.
    x, y, net = memmapped
    for other in (x.astype(np.float64), np.asfortranarray(x)):
        peak = peak_of(lambda: net.fit(other, y, epochs=1, batch_size=1024))
        assert x.nbytes <= peak < 1.5 * x.nbytes, peak
