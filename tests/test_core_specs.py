"""What crosses the language line: the core's enumerations, range-checked in the core, and
the parameter layout Sequential builds its views from."""
import math

import numpy as np
import pytest

import fastmlp as fm
from fastmlp import _core


def test_enum_names_are_the_core_kinds():
    assert set(_core.Act.__members__) == {"identity", "relu", "leaky_relu", "tanh", "sigmoid",
                                          "gelu", "gelu_tanh", "silu", "softplus"}
    assert set(_core.LossKind.__members__) == {"mse", "l1", "huber", "bce_with_logits",
                                               "cross_entropy", "poisson_nll"}
    assert set(_core.OptKind.__members__) == {"sgd", "adam", "adamw", "rmsprop"}
    assert set(_core.LayerKind.__members__) == {"linear", "activation", "dropout"}


def _opt_spec(kind):
    s = _core.OptSpec()
    s.kind = kind
    return s


X = np.ones((2, 3), np.float32)
# Each call hands the core an out-of-range kind, as an int from Python can.
UNKNOWN_KINDS = {
    "activation kernel": lambda: _core.act_forward_f32(X, _core.ActSpec(_core.Act(99))),
    "activation backward": lambda: _core.act_backward_f64(X.astype(np.float64), X.astype(np.float64),
                                                          _core.ActSpec(_core.Act(-1))),
    "layer kind": lambda: _core.param_layout([_core.LayerSpec(_core.LayerKind(7))]),
    "layer activation": lambda: _core.param_layout([
        _core.LayerSpec(_core.LayerKind.linear, 3, 2),
        _core.LayerSpec(_core.LayerKind.activation, act=_core.ActSpec(_core.Act(42)))]),
    "net": lambda: _core.Net_f32(
        [_core.LayerSpec(_core.LayerKind.linear, 3, 2),
         _core.LayerSpec(_core.LayerKind.activation, act=_core.ActSpec(_core.Act(9)))],
        3, np.zeros(8, np.float32), np.zeros(8, np.float32), lambda x: x),
    "loss": lambda: _core.loss_f32(X, X, None, _core.LossSpec(_core.LossKind(99)), False),
    "optimizer update": lambda: _core.optim_update_f32(_opt_spec(_core.OptKind(4)), 1, X,
                                                       X.copy(), []),
    "optimizer": lambda: _core.Optimizer_f32(_opt_spec(_core.OptKind(4)), [(X, X.copy())], []),
}


@pytest.mark.parametrize("what", sorted(UNKNOWN_KINDS))
def test_unknown_kind_is_a_value_error_from_the_core(what):
    with pytest.raises(ValueError, match="unknown"):
        UNKNOWN_KINDS[what]()


def test_dropout_probability_is_checked_by_the_core():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        _core.param_layout([_core.LayerSpec(_core.LayerKind.linear, 3, 2),
                            _core.LayerSpec(_core.LayerKind.dropout, p=1.5)])


def test_layer_spec_fields_are_named():
    s = fm.Linear(3, 5, bias=False)._spec()
    assert (s.kind, s.in_features, s.out_features, s.bias) == (_core.LayerKind.linear, 3, 5, False)
    a = fm.LeakyReLU(0.2)._spec()
    assert a.kind == _core.LayerKind.activation
    assert (a.act.kind, a.act.a) == (_core.Act.leaky_relu, 0.2)
    assert fm.Dropout(0.25)._spec().p == 0.25


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sequential_views_follow_the_core_layout(dtype):
    layers = [fm.Linear(4, 6, dtype=dtype), fm.Tanh(), fm.Dropout(0.1),
              fm.Linear(6, 3, bias=False, dtype=dtype), fm.ReLU(), fm.Linear(3, 2, dtype=dtype)]
    net = fm.Sequential(*layers, dtype=dtype, seed=0)
    layout = _core.param_layout([l._spec() for l in layers])
    assert [(p.layer, p.name, p.offset, p.shape) for p in layout] == [
        (0, "weight", 0, (4, 6)), (0, "bias", 24, (6,)), (3, "weight", 30, (6, 3)),
        (5, "weight", 48, (3, 2)), (5, "bias", 54, (2,))]
    flat, grad = net.flat_parameters(), net.flat_gradients()
    assert flat.size == grad.size == _core.param_count([l._spec() for l in layers]) == 56
    named = dict(net.named_parameters())
    for p in layout:
        param = named[f"{p.layer}.{p.name}"]
        size = math.prod(p.shape)
        assert param.data.shape == param.grad.shape == p.shape
        assert np.shares_memory(param.data, flat[p.offset:p.offset + size])
        assert np.shares_memory(param.grad, grad[p.offset:p.offset + size])
        np.testing.assert_array_equal(param.data.ravel(), flat[p.offset:p.offset + size])


def test_a_bad_chain_leaves_the_layers_free():
    """The core checks the layout before any Linear is moved into flat buffers."""
    first, second = fm.Linear(3, 4), fm.Linear(5, 1)
    before = first.weight.data.copy()
    with pytest.raises(ValueError, match="Linear expects 5 input features"):
        fm.Sequential(first, fm.ReLU(), second)
    net = fm.Sequential(first, fm.ReLU(), fm.Linear(4, 1))
    np.testing.assert_array_equal(net[0].weight.data, before)
