"""build_info and the thread count."""
import numpy as np

import fastmlp as fm
from helpers import mlp


def test_build_info():
    info = fm.build_info()
    assert info["version"] == fm.__version__ != "0+unknown"
    assert isinstance(info["compiler"], str) and info["compiler"]
    assert isinstance(info["openmp"], bool)
    assert info["isa"] in {"portable", "avx2", "avx512", "neon"}


def test_set_and_get_num_threads(rng):
    original = fm.get_num_threads()
    assert isinstance(original, int) and original >= 1
    net = mlp([16, 64, 4], dtype="float32", seed=0)
    x = rng.standard_normal((300, 16)).astype(np.float32)
    try:
        fm.set_num_threads(1)
        assert fm.get_num_threads() == 1
        one = net(x)
        if fm.build_info()["openmp"]:
            fm.set_num_threads(2)
            assert fm.get_num_threads() == 2
        np.testing.assert_array_equal(net(x), one)
    finally:
        fm.set_num_threads(original)
    assert fm.get_num_threads() == original
