"""The Python API's own arguments, as a notebook passes them (docs/python.md): NumPy values, Runs
and single paths are taken; bad input raises a dlcc.DlccError subclass, never another exception;
nothing outside a run folder is touched. Found by using the API as a notebook would; each test
failed before its fix."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import dlcc
from tests.conftest import TINY


def _tiny(**data):
    raw = copy.deepcopy(TINY)
    raw["data"].update(data)
    return raw


# --------------------------------------------------------------------------- NumPy values

def test_a_numpy_seed_is_accepted_like_an_int():
    # for seed in np.arange(3): dlcc.train(..., seed=seed) is the notebook idiom; it raised
    # yaml.representer.RepresenterError from config/loading.py _short (the --seed blame text).
    cfg = dlcc.load_config(TINY, seed=np.int64(3))
    assert cfg.seed == 3


def test_an_override_value_that_yaml_cannot_represent_is_a_config_error():
    for value in (np.array([0.1, 0.2]), object(), 1j):
        with pytest.raises(dlcc.ConfigError):
            dlcc.load_config(TINY, {"optimizer.lr": value})


def test_a_sweep_grid_of_numpy_values_is_accepted(tmp_path, write_config):
    # grid={"optimizer.lr": np.logspace(...)} raised RepresenterError while planning the sweep.
    sweep = dlcc.sweep(write_config(TINY), grid={"optimizer.lr": list(np.array([0.1, 0.2]))}, runs_dir=tmp_path, workers=1,
                       sets={"training.epochs": 1}, progress=False)
    assert sweep.counts == {"completed": 2}


# --------------------------------------------------------------------------- arguments of the API itself

def test_gradcheck_refuses_a_batch_the_cli_refuses():
    # `dlcc gradcheck --batch 0` is a usage error; dlcc.gradcheck(batch=0) raised ZeroDivisionError,
    # batch=-1 silently checked all but the last example, batch="8" raised TypeError.
    for batch in (0, -1, "8"):
        with pytest.raises(dlcc.DlccError):
            dlcc.gradcheck(TINY, batch=batch)
    with pytest.raises(dlcc.DlccError):
        dlcc.gradcheck(TINY, max_elements=-1)


def test_sweep_workers_are_validated_before_a_folder_is_made(tmp_path, write_config):
    # sweep_spec validates workers, but run_sweep is given the raw argument: "2" raised TypeError
    # (after writing a sweep folder), np.int64(1) raised RepresenterError (leaving an empty folder).
    for workers in ("2", np.int64(1)):
        try:
            dlcc.sweep(write_config(TINY), runs_dir=tmp_path / "runs", workers=workers, sets={"training.epochs": 1}, progress=False)
        except dlcc.DlccError:
            pass
    leftovers = [p for p in (tmp_path / "runs").glob("sweep-*") if not (p / "sweep.yaml").exists()]
    assert not leftovers
    for sweep_dir in (tmp_path / "runs").glob("sweep-*"):
        assert dlcc.Sweep(sweep_dir).counts == {"completed": 1}


def test_sweep_takes_a_dict_or_yaml_text_like_train(tmp_path):
    # dlcc.train takes a path, YAML text or a dict; dlcc.sweep(dict) raised TypeError in sweeps/plan.py
    # and dlcc.sweep(yaml_text) said "<the whole text>: no such config file".
    try:
        dlcc.sweep(TINY, runs_dir=tmp_path, workers=1, sets={"training.epochs": 1}, progress=False)
    except dlcc.DlccError:
        pass  # refusing a dict is acceptable; a TypeError is not


def test_load_and_resume_take_a_run_object(tmp_path):
    # compare, plot and html_report take Run objects; load(run) and resume(run) raised TypeError.
    run = dlcc.train(TINY, runs_dir=tmp_path, progress=False)
    assert dlcc.resume(run, progress=False).path == run.path
    assert dlcc.load(run).path == run.path


def test_none_where_a_path_goes_is_a_dlcc_error(tmp_path):
    calls = [lambda: dlcc.load(None), lambda: dlcc.resume(None), lambda: dlcc.list_runs(None),
             lambda: dlcc.Sweep(None), lambda: dlcc.train(TINY, runs_dir=None, progress=False)]
    for call in calls:
        with pytest.raises(dlcc.DlccError):
            call()


def test_evaluate_data_given_an_array_is_a_dlcc_error(tmp_path):
    run = dlcc.train(TINY, runs_dir=tmp_path, progress=False)
    x, _ = run.data("test")
    with pytest.raises(dlcc.DlccError):
        run.evaluate(data=x)


# --------------------------------------------------------------------------- wrong results

def test_resume_of_a_folder_that_is_not_a_run_deletes_nothing(tmp_path):
    # session.resume takes the lock (.lock) and removes `.*.tmp` files before it checks that the
    # folder is a run folder: dlcc.resume("~") or a typo deletes the user's files.
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / ".draft.tmp").write_text("mine")
    (folder / ".lock").write_text("mine too")
    with pytest.raises(dlcc.RunError):
        dlcc.resume(folder, progress=False)
    assert (folder / ".draft.tmp").read_text() == "mine"
    assert (folder / ".lock").read_text() == "mine too"


def test_report_of_a_run_without_validation_or_test_split(tmp_path):
    # report/page.py _confusion falls back to the val split without checking it exists.
    run = dlcc.train(_tiny(validation=0, test=0), runs_dir=tmp_path, progress=False)
    page = dlcc.html_report([run], tmp_path / "report.html")
    assert page.stat().st_size > 0


def test_a_single_path_string_is_not_read_as_a_list_of_one_letter_paths(tmp_path):
    # dlcc.plot("runs/x") iterated the string: "r: not a run folder ...".
    run = dlcc.train(TINY, runs_dir=tmp_path, progress=False)
    try:
        dlcc.plot(str(run.path))
    except dlcc.DlccError as error:
        assert str(run.path) in str(error)
    assert dlcc.expand_runs(str(run.path)) == [run.path]


def test_a_dataframe_with_named_columns_is_not_read_by_position(tmp_path):
    # A CSV file is matched by column name (data/inputs.py); a pandas DataFrame with the same named
    # columns in another order was used position by position: a silently wrong prediction.
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 1, 60), rng.uniform(0, 10, 60)
    pd.DataFrame({"a": a, "b": b, "t": 3 * a - b}).to_csv(tmp_path / "t.csv", index=False)
    run = dlcc.train({"data": {"dataset": "csv", "options": {"path": str(tmp_path / "t.csv"), "target": "t"}},
                      "model": {"layers": [{"units": 1, "activation": "linear"}]}, "loss": "mse",
                      "training": {"epochs": 2}}, runs_dir=tmp_path / "runs", progress=False)
    frame = pd.DataFrame({"a": [0.5], "b": [2.0]})
    expected = run.predict(frame)
    try:
        swapped = run.predict(frame[["b", "a"]])
    except dlcc.DlccError:
        return  # refusing is fine
    assert np.allclose(swapped, expected)


def test_inputs_too_large_for_float32_arithmetic_are_refused_not_predicted_as_nan(tmp_path):
    run = dlcc.train(TINY, runs_dir=tmp_path, progress=False)
    with pytest.raises(dlcc.DataError, match="outputs overflowed"):
        run.predict_proba(np.array([[-1e38, 1e38]]))


def test_a_model_npz_that_does_not_match_the_config_is_run_damaged(tmp_path):
    run = dlcc.train(TINY, runs_dir=tmp_path, progress=False)
    np.savez(run.path / "model.npz", W1=np.zeros((2, 3)), b1=np.zeros(3))  # the wrong shapes, a layer missing
    with pytest.raises(dlcc.RunDamaged):
        dlcc.load(run.path).predict(np.zeros((1, 2)))
