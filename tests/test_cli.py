"""The `fastmlp` command on CSV files made from bundled data sets: train, predict (columns
in any order), info, export (checked in ONNX Runtime against predict) and the error paths."""
import csv
import json
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
from sklearn.datasets import load_diabetes, load_iris

from fastmlp import cli


def _write(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


def _read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    iris, diab = load_iris(), load_diabetes()
    names = [n.replace(" (cm)", "").replace(" ", "_") for n in iris.feature_names]
    files = {
        "iris": _write(d / "iris.csv", names + ["species"],
                       [list(r) + [iris.target_names[t]] for r, t in zip(iris.data, iris.target)]),
        # predict must find the columns by name: reversed order, the target absent
        "iris_reordered": _write(d / "iris_rev.csv", names[::-1],
                                 [list(r[::-1]) for r in iris.data]),
        "diabetes": _write(d / "diab.csv", list(diab.feature_names) + ["progression"],
                           [list(r) + [t] for r, t in zip(diab.data, diab.target)]),
    }
    files["iris_model"] = str(d / "iris.safetensors")
    files["diab_model"] = str(d / "diab.safetensors")
    assert cli.main(["train", files["iris"], "--target", "species", "--epochs", "150",
                     "--hidden", "16", "--lr", "3e-3", "--standardize", "--val-split", "0.2", "--seed", "1",
                     "--out", files["iris_model"]]) == 0
    assert cli.main(["train", files["diabetes"], "--target", "progression", "--epochs", "150",
                     "--hidden", "32,16", "--activation", "tanh", "--standardize",
                     "--batch-size", "64", "--lr", "3e-3", "--out", files["diab_model"]]) == 0
    files["dir"] = d
    return files


def test_classification_with_string_labels(data, capsys):
    out = data["dir"] / "pred.csv"
    assert cli.main(["predict", data["iris_model"], data["iris_reordered"], "--proba",
                     "--out", str(out)]) == 0
    header, rows = _read(out)
    assert header == ["proba_setosa", "proba_versicolor", "proba_virginica", "species"]
    proba = np.array([[float(v) for v in r[:3]] for r in rows])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    labels = [r[3] for r in rows]
    truth = [load_iris().target_names[t] for t in load_iris().target]
    assert np.mean(np.array(labels) == np.array(truth)) > 0.9
    assert [load_iris().target_names[i] for i in proba.argmax(1)] == labels
    # The same rows in the training file's order predict the same.
    cli.main(["predict", data["iris_model"], data["iris"]])
    again = capsys.readouterr().out.splitlines()
    assert again[0] == "species" and again[1:] == labels


def test_regression_learns_and_reports(data, capsys):
    cli.main(["predict", data["diab_model"], data["diabetes"]])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "progression"
    pred = np.array([float(v) for v in lines[1:]])
    y = load_diabetes().target
    assert 1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2) > 0.5  # units of y


def test_export_matches_predict_in_onnx_runtime(data, capsys):
    for model, csv_file, names in ((data["iris_model"], data["iris"], None),
                                   (data["diab_model"], data["diabetes"], None)):
        path = str(data["dir"] / "m.onnx")
        assert cli.main(["export", model, path]) == 0
        header, rows = _read(csv_file)
        x = np.array([[float(v) for v in r[:-1]] for r in rows], np.float32)
        outs = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": x})
        capsys.readouterr()
        cli.main(["predict", model, csv_file, "--proba"] if model == data["iris_model"]
                 else ["predict", model, csv_file])
        lines = capsys.readouterr().out.splitlines()[1:]
        if model == data["iris_model"]:
            label, proba = outs
            assert [l.decode() if isinstance(l, bytes) else l for l in label] == \
                [l.split(",")[-1] for l in lines]
            np.testing.assert_allclose(proba, [[float(v) for v in l.split(",")[:3]]
                                               for l in lines], rtol=1e-4, atol=1e-6)
        else:
            np.testing.assert_allclose(outs[0][:, 0], [float(v) for v in lines], rtol=1e-4)


def test_info(data, capsys):
    assert cli.main(["info", data["iris_model"], "--json"]) == 0
    desc = json.loads(capsys.readouterr().out)
    assert desc["task"] == "classification" and desc["classes"] == ["setosa", "versicolor",
                                                                     "virginica"]
    assert desc["in_features"] == 4 and desc["standardized"] is True
    assert desc["parameters"] == 4 * 16 + 16 + 16 * 3 + 3


def test_task_is_chosen_and_said(data, capsys):
    out = str(data["dir"] / "t.safetensors")
    small = _write(data["dir"] / "small.csv", ["a", "b", "y"],
                   [[i, i % 3, i % 2] for i in range(30)])
    assert cli.main(["train", small, "--target", "y", "--epochs", "2", "--out", out]) == 0
    assert "task classification" in capsys.readouterr().err


@pytest.mark.parametrize("case", ["missing file", "missing column", "non-numeric feature",
                                  "not a model", "proba of regression", "bad split"])
def test_errors_are_one_line_and_status_2(data, tmp_path, case):
    bad = _write(tmp_path / "bad.csv", ["age", "sex"], [["x", "1"]])
    argv = {
        "missing file": ["train", str(tmp_path / "none.csv"), "--target", "y", "--out", "m"],
        "missing column": ["predict", data["diab_model"], data["iris"]],
        "non-numeric feature": ["train", bad, "--target", "sex", "--out", str(tmp_path / "m")],
        "not a model": ["info", data["iris"]],
        "proba of regression": ["predict", data["diab_model"], data["diabetes"], "--proba"],
        "bad split": ["train", data["iris"], "--target", "species", "--val-split", "1.5",
                      "--out", str(tmp_path / "m")],
    }[case]
    run = subprocess.run([sys.executable, "-m", "fastmlp", *argv], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0], run.stderr


def test_bench_prints_the_peers_side_by_side(capsys):
    assert cli.main(["bench", "--repeats", "2", "--seconds", "0.01"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {l.split("  ")[0]: l for l in lines[2:]}
    assert {"fastmlp fit", "NumPy hand-written"} <= set(rows)
    assert rows["fastmlp fit"].rstrip().endswith("1.00x")


@pytest.mark.parametrize("reader", ["pandas", "csv module"])
@pytest.mark.parametrize("case", ["repeated name", "long row", "empty file"])
def test_both_csv_readers_refuse_the_same_files(tmp_path, monkeypatch, reader, case):
    from fastmlp import tabular
    if reader == "csv module":
        monkeypatch.setitem(sys.modules, "pandas", None)  # as if not installed
    else:
        import pandas  # noqa: F401 (the [test] extra installs it)
    path = tmp_path / "bad.csv"
    path.write_text({"repeated name": "a,b,a\n1,2,3\n", "long row": "a,b\n1,2\n3,4,5\n",
                     "empty file": ""}[case])
    with pytest.raises(tabular.TableError, match=str(path)):
        tabular.read_csv(str(path))
