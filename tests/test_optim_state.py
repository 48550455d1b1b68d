"""Optimizer.state_dict / load_state_dict: training resumed from a saved state continues
exactly as training that never stopped."""
import numpy as np
import pytest

import fastmlp as fm
from helpers import flat_params, reg_data, small_mlp

OPTIMIZERS = {
    "adam": lambda ps: fm.optim.Adam(ps, lr=1e-2, amsgrad=True),
    "sgd": lambda ps: fm.optim.SGD(ps, lr=1e-2, momentum=0.9, nesterov=True),
    "rmsprop": lambda ps: fm.optim.RMSprop(ps, lr=1e-3, centered=True, momentum=0.5),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_resumed_training_is_bitwise_the_same(name):
    x, y = reg_data(40)
    straight = small_mlp()
    opt = OPTIMIZERS[name](straight.parameters())
    straight.fit(x, y, optimizer=opt, epochs=6, batch_size=8, shuffle=False)

    first = small_mlp()
    opt1 = OPTIMIZERS[name](first.parameters())
    first.fit(x, y, optimizer=opt1, epochs=3, batch_size=8, shuffle=False)
    saved_weights, saved_opt = first.state_dict(), opt1.state_dict()
    opt1.state[0][...] = 123.0  # the saved state is a copy

    resumed = small_mlp(seed=99)
    resumed.load_state_dict(saved_weights)
    opt2 = OPTIMIZERS[name](resumed.parameters())
    opt2.load_state_dict(saved_opt)
    assert opt2.step_count == 3 * 5
    resumed.fit(x, y, optimizer=opt2, epochs=3, batch_size=8, shuffle=False)
    np.testing.assert_array_equal(flat_params(resumed), flat_params(straight))
    assert opt2.step_count == opt.step_count == 6 * 5


def test_load_state_dict_checks_before_changing_anything():
    net = small_mlp()
    opt = fm.optim.Adam(net.parameters(), lr=0.1)
    net.fit(*reg_data(), optimizer=opt, epochs=2)
    good = opt.state_dict()
    bad_shape = dict(good, state=[good["state"][0], good["state"][1][:-1]])
    with pytest.raises(ValueError, match=r"state\[1\]"):
        opt.load_state_dict(bad_shape)
    with pytest.raises(ValueError, match="2 state buffers"):
        fm.optim.SGD(net.parameters(), lr=0.1, momentum=0.9).load_state_dict(good)
    with pytest.raises(ValueError, match="lr"):
        opt.load_state_dict(dict(good, lr=-1.0))
    after = opt.state_dict()
    for a, b in zip(after["state"], good["state"]):
        np.testing.assert_array_equal(a, b)
    assert (after["step_count"], after["lr"]) == (good["step_count"], good["lr"])
