"""User data: CSV tables and .npz archives, task inference, label remapping, error messages."""


import numpy as np
import pydantic
import pytest

from dlcc.data import load, validate_options
from dlcc.errors import DataError
from tests.conftest import data_config


def load_file(dataset, options, validation=0, test=0, normalize="none", seed=0):
    cfg = data_config(dataset, options, validation=validation, test=test, normalize=normalize)
    return load(cfg, np.random.default_rng(seed))


def write_csv(tmp_path, text, name="table.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def by_first_feature(split):
    order = np.argsort(split.x[:, 0])
    return split.x[order], split.y[order]


def test_csv_classification_remaps_labels(tmp_path):
    path = write_csv(tmp_path, "a,label,b\n1,7,0.5\n2,3,0.25\n3,7,1\n4,10,2\n")
    s = load_file("csv", {"path": path, "target": "label"})
    assert s.task == "classification" and s.classes == 3
    x, y = by_first_feature(s.train)
    np.testing.assert_array_equal(x, [[1, 0.5], [2, 0.25], [3, 1], [4, 2]])
    np.testing.assert_array_equal(y.argmax(axis=1), [1, 0, 1, 2])  # 3 -> 0, 7 -> 1, 10 -> 2


def test_csv_string_labels_and_index_targets_without_header(tmp_path):
    path = write_csv(tmp_path, "5.1,3.5,setosa\n6.2,2.9,versicolor\n5.9,3.0,setosa\n")
    s = load_file("csv", {"path": path, "target": -1, "header": False})
    assert s.classes == 2 and s.train.x.shape == (3, 2)
    x, y = by_first_feature(s.train)
    np.testing.assert_array_equal(y.argmax(axis=1), [0, 0, 1])


def test_csv_regression_inferred_from_real_values(tmp_path):
    path = write_csv(tmp_path, "x,y\n0,0.5\n1,1.5\n2,2.5\n3,3.25\n")
    s = load_file("csv", {"path": path, "target": "y"}, test=1)
    assert s.task == "regression" and s.classes is None
    assert s.train.y.shape == (3, 1) and s.test.y.shape == (1, 1)


def test_csv_task_can_be_forced(tmp_path):
    path = write_csv(tmp_path, "x,y\n0,1\n1,2\n2,1\n3,2\n")
    s = load_file("csv", {"path": path, "target": "y", "task": "regression"})
    assert s.task == "regression" and sorted(s.target_units(s.train.y)[:, 0]) == [1, 1, 2, 2]
    np.testing.assert_allclose(sorted(s.train.y[:, 0]), [-1, -1, 1, 1])  # standardized: mean 1.5, std 0.5


def test_many_distinct_integers_are_read_as_labels_that_the_output_layer_must_confirm(tmp_path):
    rows = "".join(f"{i},{i * 3}\n" for i in range(60))
    s = load_file("csv", {"path": write_csv(tmp_path, "x,y\n" + rows), "target": "y"})
    assert s.task == "classification" and s.classes == 60 and "'y'" in s.auto_labels
    assert s.class_names[:3] == ("0", "3", "6")


def test_csv_errors_name_file_and_column(tmp_path):
    path = write_csv(tmp_path, "a,b,label\n1,2,0\n3,oops,1\n")
    with pytest.raises(DataError, match="'b', line 3: 'oops' is not a number") as error:
        load_file("csv", {"path": path, "target": "label"})
    assert path in str(error.value)

    with pytest.raises(DataError, match="'colour'.*columns: a, b, label"):
        load_file("csv", {"path": path, "target": "colour"})
    with pytest.raises(DataError, match="3 columns"):
        load_file("csv", {"path": path, "target": 3})
    with pytest.raises(DataError, match="missing.csv"):
        load_file("csv", {"path": str(tmp_path / "missing.csv"), "target": 0})
    with pytest.raises(DataError, match="NaN"):
        load_file("csv", {"path": write_csv(tmp_path, "a,b\nnan,1\n2,3\n"), "target": "b"})
    ragged = write_csv(tmp_path, "a,b\n1,2\n3\n", "ragged.csv")
    with pytest.raises(DataError, match="line 3 has 1 fields, expected 2"):
        load_file("csv", {"path": ragged, "target": "b"})


def test_csv_options_are_validated():
    with pytest.raises(pydantic.ValidationError):
        validate_options("csv", {"path": "t.csv"})  # target is required
    with pytest.raises(pydantic.ValidationError):
        validate_options("csv", {"path": "t.csv", "target": 0, "task": "clustering"})
    assert validate_options("csv", {"path": "t.csv", "target": "y"}).header is True


def test_npz_with_its_own_test_split(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "data.npz"
    x, y = rng.normal(size=(40, 2, 3)), rng.integers(0, 3, 40) * 2
    x_test, y_test = rng.normal(size=(10, 2, 3)), np.array([0, 2, 4] * 3 + [4])
    np.savez(path, x=x, y=y, x_test=x_test, y_test=y_test)
    s = load_file("npz", {"path": str(path)}, validation=0.25, test=0.5, normalize="standard")
    assert s.train.x.shape == (30, 6) and s.val.x.shape == (10, 6) and s.test.x.shape == (10, 6)
    assert s.classes == 3
    np.testing.assert_array_equal(s.test.y.argmax(axis=1), [0, 1, 2] * 3 + [2])
    np.testing.assert_allclose(s.train.x.mean(axis=0), 0, atol=1e-12)


def test_npz_one_hot_and_multi_output_regression(tmp_path):
    one_hot, values = tmp_path / "onehot.npz", tmp_path / "values.npz"
    np.savez(one_hot, x=np.arange(8.0).reshape(4, 2), y=np.eye(3)[[0, 2, 1, 2]])
    np.savez(values, x=np.arange(8.0).reshape(4, 2), y=np.arange(8.0).reshape(4, 2) / 3)
    s = load_file("npz", {"path": str(one_hot)})
    assert s.task == "classification" and s.classes == 3
    s = load_file("npz", {"path": str(values)})
    assert s.task == "regression" and s.train.y.shape == (4, 2)


def test_npz_errors(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, x=np.zeros((3, 2)))
    with pytest.raises(DataError, match="no array 'y'"):
        load_file("npz", {"path": str(path)})
    np.savez(path, x=np.array([{"a": 1}] * 3, dtype=object), y=np.zeros(3))
    with pytest.raises(DataError, match="bad.npz"):
        load_file("npz", {"path": str(path)})
    np.savez(path, x=np.zeros((3, 2)), y=np.zeros(4))
    with pytest.raises(DataError, match="3 examples but its targets have 4"):
        load_file("npz", {"path": str(path)})
    np.savez(path, x=np.array([[0.0], [np.nan], [1.0]]), y=np.arange(3.0))
    with pytest.raises(DataError, match="NaN"):
        load_file("npz", {"path": str(path)})
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(DataError, match="text.npz"):
        load_file("npz", {"path": str(tmp_path / "text.npz")})
