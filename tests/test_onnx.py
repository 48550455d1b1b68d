"""ONNX export, run in ONNX Runtime and compared with net(x) for every layer and both dtypes."""
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import fastmlp as fm
from fastmlp.onnx import export, to_onnx
from helpers import ACTIVATIONS, assert_close


def _net(act, dtype, bias=True):
    return fm.Sequential(fm.Linear(5, 17, dtype=dtype), ACTIVATIONS[act][0](), fm.Dropout(0.3),
                         fm.Linear(17, 9, bias=bias, dtype=dtype), ACTIVATIONS[act][0](),
                         fm.Linear(9, 3, dtype=dtype), dtype=dtype, seed=7)


def _session(proto):
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def _inputs(rng, n, dtype):
    # Wide range: softplus's linear region and tiny values, GELU's tails.
    return (rng.standard_normal((n, 5)) * np.geomspace(0.01, 30, 5)).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_onnx_runtime_computes_what_the_net_computes(act, dtype, rng):
    net = _net(act, dtype, bias=act != "tanh")
    proto = to_onnx(net)
    onnx.checker.check_model(proto, full_check=True)
    assert {n.op_type for n in proto.graph.node} <= {
        "Gemm", "MatMul", "Relu", "LeakyRelu", "Tanh", "Sigmoid", "Mul", "Add", "Sub", "Div",
        "Erf", "Cast", "Exp", "Log", "Where", "Equal", "Greater", "Identity"}
    session = _session(proto)
    # Exact GELU runs its Erf in float32 under float64 (ONNX Runtime has no double Erf).
    rtol = 1e-6 if (dtype == "float64" and act == "gelu") else None
    for n in (1, 37):  # dynamic batch
        x = _inputs(rng, n, dtype)
        (y,) = session.run(None, {"x": x})
        assert y.dtype == np.dtype(dtype) and y.shape == (n, 3)
        assert_close(y, net(x), dtype, rtol=rtol)


def test_graph_interface_and_export_to_a_file(tmp_path, rng):
    net = _net("relu", "float32")
    path = tmp_path / "model.onnx"
    export(net, path)
    proto = onnx.load(str(path))
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert (inp.name, out.name) == ("x", "y")
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["N", 5]
    assert max(o.version for o in proto.opset_import if o.domain == "") >= 17
    x = _inputs(rng, 8, "float32")
    (y,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    assert_close(y, net(x), "float32")


def test_to_onnx_refuses_a_non_sequential():
    with pytest.raises(TypeError, match="fastmlp.Sequential"):
        to_onnx(fm.Linear(2, 2))


def test_without_onnx_the_error_says_how_to_get_it():
    code = ("import sys; sys.modules['onnx'] = None\n"
            "import fastmlp as fm\nfrom fastmlp.onnx import to_onnx\n"
            "try:\n    to_onnx(fm.Sequential(fm.Linear(2, 1)))\n"
            "except ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "fastmlp[onnx]" in out.stdout


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n_out", [1, 2])
@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_sklearn_regressor_exports_its_predict(dtype, n_out, loss, rng):
    from fastmlp.sklearn import MLPRegressor
    x = rng.standard_normal((60, 4))
    y = x[:, :n_out] * 2 + 0.1 if n_out > 1 else x[:, 0] - x[:, 1]
    if loss == "poisson":
        y = np.exp(y / 4)
    est = MLPRegressor(loss=loss, hidden_layer_sizes=(8,), activation="tanh", max_iter=30,
                       random_state=0, dtype=dtype).fit(x, y)
    (out,) = _session(to_onnx(est)).run(None, {"x": x.astype(dtype)})
    assert out.shape == est.predict(x).shape
    assert_close(out, est.predict(x), dtype)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("labels", [["cat", "dog", "emu"], [3, 7], ["no", "yes"]])
def test_sklearn_classifier_exports_labels_and_probabilities(labels, rng):
    from fastmlp.sklearn import MLPClassifier
    x = rng.standard_normal((90, 3))
    y = np.array(labels, dtype=object if isinstance(labels[0], str) else None)[
        (x[:, 0] > 0).astype(int) + (len(labels) > 2) * (x[:, 1] > 0.5).astype(int)]
    est = MLPClassifier(hidden_layer_sizes=(10,), max_iter=40, random_state=0).fit(x, y)
    label, proba = _session(to_onnx(est)).run(None, {"x": x.astype(np.float32)})
    assert list(label) == list(est.predict(x))
    np.testing.assert_allclose(proba, est.predict_proba(x), rtol=1e-5, atol=1e-6)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sklearn_multilabel_classifier_exports_indicators(rng):
    from fastmlp.sklearn import MLPClassifier
    x = rng.standard_normal((90, 3))
    y = np.c_[x[:, 0] > 0, x[:, 1] > 0.5, x[:, 0] + x[:, 2] > 0].astype(int)
    est = MLPClassifier(hidden_layer_sizes=(10,), max_iter=40, random_state=0).fit(x, y)
    label, proba = _session(to_onnx(est)).run(None, {"x": x.astype(np.float32)})
    np.testing.assert_array_equal(label, est.predict(x))
    np.testing.assert_allclose(proba, est.predict_proba(x), rtol=1e-5, atol=1e-6)


def test_an_unfitted_estimator_is_refused():
    from sklearn.exceptions import NotFittedError

    from fastmlp.sklearn import MLPRegressor
    with pytest.raises(NotFittedError):
        to_onnx(MLPRegressor())
