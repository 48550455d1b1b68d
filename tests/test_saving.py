import json
import re

import numpy as np
import pytest
import safetensors.numpy

import fastmlp as fm


def _all_layers_net(dtype):
    return fm.Sequential(fm.Linear(5, 16), fm.LeakyReLU(0.2), fm.Linear(16, 16, init="xavier_uniform"),
                         fm.GELU(approximate="tanh"), fm.Dropout(0.25), fm.Linear(16, 8),
                         fm.Softplus(beta=2.0, threshold=10.0), fm.Linear(8, 8), fm.Tanh(),
                         fm.Linear(8, 8), fm.Sigmoid(), fm.Linear(8, 8), fm.SiLU(),
                         fm.Linear(8, 4, bias=False), fm.Identity(), fm.ReLU(), fm.Linear(4, 2),
                         dtype=dtype, seed=3)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_keeps_architecture_and_predictions(tmp_path, dtype):
    net = _all_layers_net(dtype)
    x = np.random.default_rng(0).standard_normal((9, 5)).astype(dtype)
    net.fit(x, np.ones((9, 2)), epochs=3, seed=1)
    path = tmp_path / "m.safetensors"
    fm.save(net, path)
    back = fm.load(path)
    assert repr(back) == repr(net)
    assert back.dtype == net.dtype
    for (na, pa), (nb, pb) in zip(net.named_parameters(), back.named_parameters()):
        assert na == nb
        np.testing.assert_array_equal(pa.data, pb.data)
    np.testing.assert_array_equal(back.predict(x), net.predict(x))


def test_the_file_is_plain_safetensors(tmp_path):
    net = fm.Sequential(fm.Linear(3, 4), fm.ReLU(), fm.Linear(4, 1), seed=0)
    path = tmp_path / "m.safetensors"
    fm.save(net, path)
    tensors = safetensors.numpy.load_file(str(path))
    assert sorted(tensors) == ["0.bias", "0.weight", "2.bias", "2.weight"]
    np.testing.assert_array_equal(tensors["0.weight"], net[0].weight.data)


def test_load_refuses_files_that_are_not_fastmlp_models(tmp_path):
    path = tmp_path / "other.safetensors"
    safetensors.numpy.save_file({"w": np.zeros(3, np.float32)}, str(path))
    with pytest.raises(ValueError, match="not a fastmlp model"):
        fm.load(path)


def test_load_refuses_unknown_layers_and_wrong_shapes(tmp_path):
    w = {"0.weight": np.zeros((3, 4), np.float32), "0.bias": np.zeros(4, np.float32)}
    meta = {"format": "fastmlp.Sequential/1", "dtype": "float32",
            "layers": json.dumps([{"type": "Conv2d"}])}
    path = tmp_path / "bad.safetensors"
    safetensors.numpy.save_file(w, str(path), metadata=meta)
    with pytest.raises(ValueError, match="unknown layer type 'Conv2d'"):
        fm.load(path)
    meta["layers"] = json.dumps([{"type": "Linear", "in_features": 3, "out_features": 5,
                                  "bias": True, "init": "default"}])
    safetensors.numpy.save_file(w, str(path), metadata=meta)
    with pytest.raises(ValueError, match=r"\(3, 5\)"):
        fm.load(path)


def test_save_needs_a_sequential(tmp_path):
    with pytest.raises(TypeError, match="Sequential"):
        fm.save(fm.Linear(2, 2), tmp_path / "x.safetensors")


def test_a_failed_save_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    old = fm.Sequential(fm.Linear(3, 2), seed=0)
    fm.save(old, path)
    before = path.read_bytes()

    def half_then_crash(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.numpy, "save_file", half_then_crash)
    with pytest.raises(OSError, match="disk full"):
        fm.save(fm.Sequential(fm.Linear(3, 2), seed=1), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]  # no temporary left
    np.testing.assert_array_equal(fm.load(path).flat_parameters(), old.flat_parameters())


def test_save_replaces_the_file_by_rename(tmp_path):
    path = tmp_path / "model.safetensors"
    fm.save(fm.Sequential(fm.Linear(3, 2), seed=0), path)
    inode = path.stat().st_ino
    new = fm.Sequential(fm.Linear(3, 2), seed=1)
    fm.save(new, str(path))
    assert path.stat().st_ino != inode  # a new file renamed over the old one
    np.testing.assert_array_equal(fm.load(path).flat_parameters(), new.flat_parameters())
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_load_of_a_damaged_header_names_the_file(tmp_path):
    # Found by tests/fuzz/test_load.py: bad JSON or a bad layer argument in the header came
    # out as json's JSONDecodeError or the layer's own message, naming no file, and a size
    # in the header was allocated before its weight was looked at.
    w = {"0.weight": np.zeros((3, 4), np.float32), "0.bias": np.zeros(4, np.float32)}
    linear = {"type": "Linear", "in_features": 3, "out_features": 4, "bias": True,
              "init": "default"}
    path = tmp_path / "bad.safetensors"
    for layers, why in ((json.dumps([linear])[:-3], "valid fastmlp model file"),
                        (json.dumps([{**linear, "init": "def<ult"}]), "init"),
                        (json.dumps([{**linear, "bias": "yes", "color": 1}]), "color"),
                        (json.dumps([{**linear, "in_features": 10**12}]), "weight"),
                        (json.dumps([linear, {"type": "ReLU"}, {**linear, "in_features": 4}]),
                         "weight is missing")):
        meta = {"format": "fastmlp.Sequential/1", "dtype": "float32", "layers": layers}
        safetensors.numpy.save_file(w, str(path), metadata=meta)
        with pytest.raises(ValueError, match=f"{re.escape(str(path))}.*{why}"):
            fm.load(path)
