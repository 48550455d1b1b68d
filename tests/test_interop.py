"""fastmlp.interop against PyTorch itself: the converted model computes the same outputs,
and a round trip gives back the same weights bit for bit."""
import subprocess
import sys

import numpy as np
import pytest

import fastmlp as fm
from fastmlp.interop import from_torch, to_torch
from helpers import ACTIVATIONS, assert_close, flat_params

DTYPES = ("float32", "float64")


def _net(act, dtype, bias=True):
    return fm.Sequential(fm.Linear(5, 17, dtype=dtype), ACTIVATIONS[act][0](),
                         fm.Linear(17, 9, bias=bias, dtype=dtype), fm.Dropout(0.25),
                         fm.Linear(9, 3, dtype=dtype), dtype=dtype, seed=4)


def _torch_out(module, x):
    import torch
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_to_torch_computes_what_the_net_computes(act, dtype, rng):
    import torch
    net = _net(act, dtype, bias=act != "relu").eval()
    module = to_torch(net)
    assert isinstance(module, torch.nn.Sequential) and not module.training
    assert all(p.dtype == getattr(torch, dtype) for p in module.parameters())
    assert [type(m).__name__ for m in module] == [type(l).__name__ for l in net]
    x = rng.standard_normal((31, 5)).astype(dtype)
    assert_close(_torch_out(module, x), net(x), dtype)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_keeps_weights_layers_and_mode(dtype):
    net = _net("softplus_b2_t1", dtype)
    back = from_torch(to_torch(net))
    assert back.dtype == net.dtype and back.training
    assert [repr(l) for l in back] == [repr(l) for l in net]
    np.testing.assert_array_equal(flat_params(back), flat_params(net))


@pytest.mark.torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_from_torch_of_a_torch_built_model(dtype, rng):
    import torch
    torch.manual_seed(0)
    tdt = getattr(torch, dtype)
    module = torch.nn.Sequential(
        torch.nn.Linear(4, 8, dtype=tdt), torch.nn.GELU(approximate="tanh"),
        torch.nn.Sequential(torch.nn.Linear(8, 6, bias=False, dtype=tdt),
                            torch.nn.LeakyReLU(0.3)),
        torch.nn.Dropout(0.1), torch.nn.Linear(6, 2, dtype=tdt)).eval()
    net = from_torch(module)
    assert [type(l).__name__ for l in net] == ["Linear", "GELU", "Linear", "LeakyReLU",
                                               "Dropout", "Linear"]
    assert net[3].negative_slope == 0.3 and net[4].p == 0.1 and net[2].bias is None
    assert not net.training
    x = rng.standard_normal((12, 4)).astype(dtype)
    assert_close(net(x), _torch_out(module, x), dtype)


@pytest.mark.torch
def test_from_torch_refuses_what_it_cannot_convert():
    import torch
    with pytest.raises(TypeError, match="ReLU6"):
        from_torch(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU6()))
    with pytest.raises(TypeError, match="float32 or all float64"):
        from_torch(torch.nn.Sequential(torch.nn.Linear(2, 2, dtype=torch.float16)))
    with pytest.raises(TypeError, match="torch.nn.Sequential"):
        from_torch(torch.nn.Linear(2, 2))


def test_to_torch_refuses_a_non_sequential():
    with pytest.raises(TypeError, match="fastmlp.Sequential"):
        to_torch(fm.Linear(2, 2))


def test_without_torch_the_error_says_how_to_get_it():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import fastmlp as fm\nfrom fastmlp.interop import to_torch\n"
            "try:\n    to_torch(fm.Sequential(fm.Linear(2, 1)))\n"
            "except ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install torch" in out.stdout
