"""build_info and the thread count."""
import numpy as np

import fastmlp as fm
from helpers import mlp, single_threaded, until_threaded


def test_build_info():
    info = fm.build_info()
    assert info["version"] == fm.__version__ != "0+unknown"
    assert isinstance(info["compiler"], str) and info["compiler"]
    assert isinstance(info["openmp"], bool)
    assert info["isa"] in {"portable", "avx2", "avx512", "neon"}


def test_set_and_get_num_threads(rng):
    original = fm.get_num_threads()
    assert isinstance(original, int) and original >= 1
    # 300 x 256 x 256: a 39 MFLOP product, well past the core's threading threshold
    net = mlp([16, 256, 256, 4], dtype="float32", seed=0)
    x = rng.standard_normal((300, 16)).astype(np.float32)
    try:
        fm.set_num_threads(1)
        assert fm.get_num_threads() == 1
        one = single_threaded(lambda: net(x))
        assert fm.build_info()["openmp"]  # tests/test_threads.py needs it too
        fm.set_num_threads(2)
        assert fm.get_num_threads() == 2
        for two in until_threaded(lambda: net(x)):
            np.testing.assert_array_equal(two, one)
    finally:
        fm.set_num_threads(original)
    assert fm.get_num_threads() == original
