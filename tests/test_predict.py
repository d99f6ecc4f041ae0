"""`dlcc predict` and `dlcc eval --data`: a trained run used on new files, with its class names.

The run is trained on an iris-like CSV whose labels are words; the files given to predict have their
columns in another order, extra columns, or the target left out, and bad ones must be exit 2 with a
message naming the line and the column.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import dlcc
from tests.runs_helpers import dlcc as run_cli
from tests.runs_helpers import dlcc_json

SPECIES = ("setosa", "versicolor", "virginica")
COLUMNS = ("sepal_length", "sepal_width", "petal_length", "petal_width")
CENTERS = np.array([[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.6, 2.0]])


def flowers(n: int, seed: int) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    return (CENTERS[labels] + rng.normal(0, 0.3, (n, 4))).round(2), [SPECIES[k] for k in labels]


def write_table(path, x, labels, columns=COLUMNS + ("species",), rows=None):
    """Write the table with `columns` in that order (any subset of the features, species, id)."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for i in range(len(x)):
            cells = dict(zip(COLUMNS, x[i].tolist()), species=labels[i], id=f"plant-{i}")
            writer.writerow([cells[c] for c in columns] if rows is None else rows[i])
    return path


IRIS = {
    "name": "iris",
    "data": {"dataset": "csv", "options": {"path": "PATH", "target": "species"},
             "validation": 0.2, "test": 0.2, "normalize": "standard"},
    "model": {"layers": [{"units": 16, "activation": "relu"}, {"units": 3, "activation": "softmax"}]},
    "training": {"epochs": 20, "batch_size": 16},
}


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    base = tmp_path_factory.mktemp("iris")
    x, labels = flowers(300, seed=0)
    table = write_table(base / "iris.csv", x, labels)
    config = json.loads(json.dumps(IRIS).replace("PATH", str(table)))
    run = dlcc.train(config, runs_dir=base / "runs", progress=False)
    return run


def test_class_names_are_kept_in_the_run_folder_and_shown_by_eval(iris):
    assert iris.summary.class_names == list(SPECIES) and iris.classes == SPECIES
    assert iris.summary.feature_names == list(COLUMNS) and iris.summary.target_name == "species"
    result = dlcc_json("eval", iris.path)
    assert result["classes"] == list(SPECIES)
    assert [c["name"] for c in result["per_class"]] == list(SPECIES)
    text = run_cli("eval", iris.path).stdout
    assert "virginica" in text and "versicolor" in text


def test_predict_on_shuffled_columns_gives_evals_classes(iris, tmp_path):
    """The test split's rows, written with the columns in another order, an extra id column and the
    target present: predict's classes are the ones eval's confusion matrix counts."""
    x, y = iris.data("test")
    columns = ("id", "petal_width", "species", "sepal_length", "petal_length", "sepal_width")
    path = write_table(tmp_path / "shuffled.csv", x, [SPECIES[k] for k in y], columns)
    result = run_cli("predict", iris.path, path)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "prediction" and len(lines) == len(x) + 1
    predicted = [SPECIES.index(name) for name in lines[1:]]
    np.testing.assert_array_equal(predicted, iris.predict(x))
    confusion = np.zeros((3, 3), dtype=int)
    np.add.at(confusion, (y, predicted), 1)
    assert confusion.tolist() == dlcc_json("eval", iris.path)["confusion"]


def test_predict_matches_the_python_api_with_and_without_the_target(iris, tmp_path):
    x, _ = flowers(25, seed=5)
    path = write_table(tmp_path / "new.csv", x, [""] * len(x), COLUMNS)  # no species column at all
    data = dlcc_json("predict", iris.path, path, "--proba")
    assert data["classes"] == list(SPECIES) and data["examples"] == 25
    assert data["predictions"] == [SPECIES[k] for k in iris.predict(x)] == iris.predictions(path).labels
    np.testing.assert_allclose(data["probabilities"], iris.predict_proba(x), rtol=1e-6)
    np.testing.assert_allclose(np.sum(data["probabilities"], axis=1), 1, rtol=1e-5)


def test_predict_proba_csv_and_out_file(iris, tmp_path):
    x, labels = flowers(10, seed=6)
    source = write_table(tmp_path / "new.csv", x, labels)
    out = tmp_path / "predictions.csv"
    result = run_cli("predict", iris.path, source, "--proba", "--out", out)
    assert result.exit_code == 0 and result.stdout == "" and "wrote 10 predictions" in result.stderr
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["prediction", "p_setosa", "p_versicolor", "p_virginica"]
    assert all(row["prediction"] == max(SPECIES, key=lambda s: float(row[f"p_{s}"])) for row in rows)


def test_npz_input_and_ensembles_average_their_members(iris, tmp_path):
    x, labels = flowers(300, seed=0)
    table = tmp_path / "iris.csv"
    write_table(table, x, labels)
    config = json.loads(json.dumps(IRIS).replace("PATH", str(table)))
    ensemble = dlcc.train(config, runs_dir=tmp_path / "runs", progress=False,
                          overrides={"ensemble.members": 3, "training.epochs": 5})
    np.savez(tmp_path / "x.npz", x=x[:7])
    data = dlcc_json("predict", ensemble.path, tmp_path / "x.npz", "--proba")
    members = [m.forward(ensemble.model.inputs(x[:7]), training=False) for m in ensemble.model.net.members]
    np.testing.assert_allclose(data["probabilities"], np.mean(members, axis=0), rtol=1e-5)


def test_eval_data_scores_another_file_of_the_same_shape(iris, tmp_path):
    x, y = iris.data("test")
    columns = ("species",) + COLUMNS[::-1]
    path = write_table(tmp_path / "again.csv", x, [SPECIES[k] for k in y], columns)
    again = dlcc_json("eval", iris.path, "--data", path)
    test = dlcc_json("eval", iris.path)
    assert again["split"] is None and again["data"] == str(path)
    assert again["accuracy"] == test["accuracy"] and again["confusion"] == test["confusion"]
    assert again["loss"] == pytest.approx(test["loss"], rel=1e-6)
    stored = json.loads((iris.path / "eval.json").read_text())
    assert f"data:{path}" in stored and "test" in stored
    assert iris.evaluate(data=path)["accuracy"] == test["accuracy"]

    bare = tmp_path / "no-header.csv"  # no header: the features in training order, then the target
    bare.write_text("".join(",".join(map(str, [*row, SPECIES[k]])) + "\n" for row, k in zip(x.tolist(), y)))
    assert dlcc_json("eval", iris.path, "--data", bare)["confusion"] == test["confusion"]


@pytest.mark.parametrize("text, message", [
    ("sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,nan,0.2\n",
     "column 'petal_length', line 2: 'nan' is not a finite number"),
    ("sepal_length,sepal_width,petal_length\n5.1,3.5,1.4\n",
     "line 1: no column 'petal_width'"),
    ("sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n4.9,wide,1.4,0.2\n",
     "column 'sepal_width', line 3: 'wide' is not a number"),
    ("sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n4.9,3.0,1.4\n",
     "line 3 has 3 fields, expected 4"),
    ("5.1,3.5,1.4\n", "line 1: 3 columns"),
    ("sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,\n",
     "column 'petal_width', line 2: '' is not a number"),
])
def test_bad_input_is_exit_2_naming_the_line_and_column(iris, tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    for command in (("predict", iris.path, path), ("eval", iris.path, "--data", path)):
        result = run_cli(*command)
        assert result.exit_code == 2, result.output
        assert message in result.stderr and "Traceback" not in result.output
        assert result.stderr.count("\n") <= 3


def test_wrong_widths_types_and_labels_are_exit_2(iris, tmp_path):
    np.savez(tmp_path / "narrow.npz", x=np.zeros((3, 5)))
    (tmp_path / "notes.json").write_text("{}")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n")
    unknown = write_table(tmp_path / "unknown.csv", np.ones((2, 4)), ["setosa", "tulip"])
    cases = [
        (("predict", iris.path, tmp_path / "narrow.npz"), "5 features per example, but the run takes 4"),
        (("predict", iris.path, tmp_path / "notes.json"), "give a .csv table, an .npz archive"),
        (("predict", iris.path, tmp_path / "image.png"), "give a .csv table, an .npz archive"),
        (("predict", iris.path, tmp_path / "missing.csv"), "no such file"),
        (("eval", iris.path, "--data", unknown), "column 'species', line 3: 'tulip' is not one of the run's classes"),
        (("eval", iris.path, "--data", tmp_path / "narrow.npz"), "5 features per example"),
        (("eval", iris.path, "--data", unknown, "--split", "val"), "give --split or --data, not both"),
    ]
    x, _ = flowers(3, seed=1)
    no_target = write_table(tmp_path / "nolabel.csv", x, [""] * 3, COLUMNS)
    cases.append((("eval", iris.path, "--data", no_target), "needs a column 'species'"))
    for command, message in cases:
        result = run_cli(*command)
        assert result.exit_code == 2, (command, result.output)
        assert message in result.stderr, (command, result.stderr)
    with pytest.raises(dlcc.DataError, match="shape \\(n, 4\\)"):
        iris.predict(np.zeros((2, 3)))


def test_predict_needs_only_the_run_folder(iris, tmp_path):
    """The training CSV may be gone: normalization, class names and columns are in the run folder."""
    import shutil

    x, labels = flowers(300, seed=0)
    table = write_table(tmp_path / "iris.csv", x, labels)
    config = json.loads(json.dumps(IRIS).replace("PATH", str(table)))
    run = dlcc.train(config, runs_dir=tmp_path / "runs", progress=False, overrides={"training.epochs": 3})
    expected = run.predict(x[:5])
    table.unlink()
    shutil.copytree(run.path, tmp_path / "moved")
    again = dlcc.load(tmp_path / "moved")
    np.testing.assert_array_equal(again.predict(x[:5]), expected)
    assert again.predictions(x[:5]).labels == [SPECIES[k] for k in expected]
    with pytest.raises(dlcc.DlccError, match="iris.csv"):
        again.evaluate("test")  # scoring a split needs the data, and says which file is missing
