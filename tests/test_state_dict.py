"""state_dict / load_state_dict."""
import numpy as np
import pytest

from helpers import mlp


def test_state_dict_round_trip(rng):
    a = mlp([3, 6, 2], act="tanh", dtype="float64", seed=0)
    b = mlp([3, 6, 2], act="tanh", dtype="float64", seed=1)
    x = rng.standard_normal((5, 3))
    sd = a.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for k, p in a.named_parameters():
        np.testing.assert_array_equal(sd[k], p.data)
        assert sd[k] is not p.data and not np.shares_memory(sd[k], p.data)
    sd["0.weight"][...] = 0  # a copy: the model is untouched
    assert a[0].weight.data.any()
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(b(x), a(x))
    bufs = [p.data for p in b.parameters()]
    b.load_state_dict(mlp([3, 6, 2], act="tanh", dtype="float64", seed=5).state_dict())
    assert all(p.data is q for p, q in zip(b.parameters(), bufs))  # loaded in place


def _unchanged(net, before):
    for (k, p) in net.named_parameters():
        np.testing.assert_array_equal(p.data, before[k], err_msg=k)


def test_load_state_dict_validates_everything_before_changing_anything():
    net = mlp([3, 6, 2], dtype="float64", seed=0)
    before = net.state_dict()
    new = mlp([3, 6, 2], dtype="float64", seed=9).state_dict()

    bad_shape = dict(new)
    bad_shape["2.bias"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"2\.bias"):
        net.load_state_dict(bad_shape)
    _unchanged(net, before)

    missing = dict(new)
    del missing["2.bias"]
    with pytest.raises(KeyError, match=r"2\.bias"):
        net.load_state_dict(missing)
    _unchanged(net, before)

    extra = dict(new, **{"4.weight": np.zeros((2, 2))})
    with pytest.raises(KeyError, match=r"4\.weight"):
        net.load_state_dict(extra)
    _unchanged(net, before)

    bad_dtype = dict(new)
    bad_dtype["2.weight"] = new["2.weight"].astype(np.complex128)
    with pytest.raises(TypeError):
        net.load_state_dict(bad_dtype)
    _unchanged(net, before)
