"""Error messages for config values, --set and sweep overrides: one plain line per problem that
names the file, flag or sweep-file key that gave the bad value, the key path, the value and what
is allowed (SPEC.md, "Every error is one or a few plain lines ...")."""

from __future__ import annotations

import pytest

import dlcc
from dlcc import config as config_mod
from tests.conftest import TINY
from tests.runs_helpers import dlcc as cli
from tests.runs_helpers import refused

# pydantic's own words and internals, which a user never typed
JARGON = ("instance of", "object to extract", "Input tag", "discriminator", "after validation", "type=",
          "https://", "literal_error", "(top level)", "constrained-", "InitSpec", "Config")


def one_line(stderr: str, *words) -> str:
    """The message is a single line holding every word, with no pydantic jargon."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    for word in words:
        assert word in lines[0], stderr
    assert not any(j in lines[0] for j in JARGON), stderr
    return lines[0]


# --------------------------------------------------------------------------- 1. a union-typed key

@pytest.mark.parametrize("value", ["abc", "0", "1.5", "Full", "[1]", "null", "true"])
def test_a_bad_batch_size_by_set_is_one_line_saying_what_is_allowed(write_config, value):
    line = one_line(refused(cli("validate", write_config(TINY), "--set", f"training.batch_size={value}")),
                    f"error: --set training.batch_size={value}: training.batch_size: "
                    "must be a positive integer or 'full'")
    if value == "Full":
        assert "did you mean 'full'?" in line


def test_a_bad_batch_size_in_a_config_file_is_one_line_too(write_config):
    path = write_config({**TINY, "training": {"epochs": 1, "batch_size": "all"}})
    one_line(refused(cli("validate", path)),
             f"{path}: training.batch_size: must be a positive integer or 'full' (got 'all')")


def test_a_union_inside_dataset_options_is_one_line(tmp_path, write_config):
    """csv's `target` is a column name or index (str | int); the dataset's options model is not
    in the config's schema, so what is allowed comes from pydantic's branch labels."""
    (tmp_path / "d.csv").write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20)))
    path = write_config({**TINY, "data": {"dataset": "csv", "options": {"path": str(tmp_path / "d.csv"),
                                                                         "target": 1.5}},
                         "model": {"layers": [{"units": 2, "activation": "softmax"}]}})
    one_line(refused(cli("validate", path)), "data.options.target: must be text or an integer (got 1.5)")


def test_a_union_in_a_sweep_file_is_one_line(write_config):
    write_config(TINY, "base.yaml")
    study = write_config("base: 3\n", "study.yaml")
    one_line(refused(cli("sweep", study)), f"{study}: base: must be text or a mapping (got 3)")


# --------------------------------------------------------------------------- 2./3. sweep overrides

def test_a_sweep_files_set_is_named_as_the_files_not_as_a_flag(tmp_path, write_config):
    write_config(TINY, "base.yaml")
    study = write_config({"base": "base.yaml", "set": {"training.batch_size": "abc"},
                          "grid": {"training.epochs": [1, 2]}}, "study.yaml")
    message = refused(cli("sweep", study, "--runs-dir", tmp_path / "runs"))
    assert message.splitlines()[0] == (f"error: {study}: set: training.batch_size=abc: training.batch_size: "
                                       "must be a positive integer or 'full' (got 'abc')"), message
    assert "--set" not in message and "applies to every point" in message
    assert not (tmp_path / "runs").exists()


def test_a_sweep_files_set_with_an_unknown_key_is_the_files(tmp_path, write_config):
    write_config(TINY, "base.yaml")
    study = write_config({"base": "base.yaml", "set": {"optimizer.lrr": 0.1}}, "study.yaml")
    message = refused(cli("sweep", study, "--runs-dir", tmp_path / "runs"),
                      f"{study}: set: optimizer.lrr=0.1: unknown config key 'optimizer.lrr'; did you mean 'lr'?")
    assert "--set" not in message


@pytest.mark.parametrize("where", ["file", "flag"])
def test_a_bad_combination_names_the_point_and_the_set_it_came_from(tmp_path, write_config, where):
    """momentum (set for every point) is fine for sgd and wrong for the adam point."""
    base = write_config(TINY, "base.yaml")
    if where == "file":
        study = write_config({"base": "base.yaml", "set": {"optimizer.momentum": 0.9},
                              "grid": {"optimizer.name": ["sgd", "adam"]}}, "study.yaml")
        args, origin = [study], "with set: optimizer.momentum=0.9"
    else:
        args, origin = [base, "--set", "optimizer.momentum=0.9", "--grid", "optimizer.name=sgd,adam"], \
            "with --set optimizer.momentum=0.9"
    message = refused(cli("sweep", *args, "--runs-dir", tmp_path / "runs"))
    assert message.splitlines()[0] == (f"error: {args[0]}: point p001 (optimizer.name=adam) {origin}: "
                                       "optimizer.momentum: unknown key here ('momentum' is a setting of "
                                       "another variant)"), message
    assert not (tmp_path / "runs").exists()


def test_a_points_error_of_several_lines_names_the_point_on_each(tmp_path, write_config):
    write_config(TINY, "base.yaml")
    study = write_config({"base": "base.yaml", "variants": {"a": {"optimizer.lr": -1, "training.epochs": 0}}},
                         "study.yaml")
    lines = refused(cli("sweep", study, "--runs-dir", tmp_path / "runs")).splitlines()
    assert lines[0] == f"error: {study}: point p000 (a): optimizer.lr: Input should be greater than 0 (got -1)"
    assert lines[1] == f"{study}: point p000 (a): training.epochs: Input should be greater than or equal to 1 (got 0)"


def test_a_set_and_a_section_it_combines_with_are_both_named(tmp_path, write_config):
    """min_lr comes from the file's set, lr from the grid: the line names the set as well."""
    write_config(TINY, "base.yaml")
    study = write_config({"base": "base.yaml", "set": {"schedule.name": "cosine", "schedule.min_lr": 0.05},
                          "grid": {"optimizer.lr": [0.5, 0.01]}}, "study.yaml")
    one_line(refused(cli("sweep", study, "--runs-dir", tmp_path / "runs")).split("\n(")[0],
             f"{study}: point p001 (optimizer.lr=0.01) with set: schedule.min_lr=0.05: schedule.min_lr: 0.05 is "
             "above optimizer.lr (0.01)")


@pytest.mark.parametrize("classes", ["3,5", "5,3"])
def test_a_check_failure_that_one_point_escapes_is_not_every_points(tmp_path, write_config, classes):
    """The output layer set to 5 units fits the 5-class point: the 3-class point is to blame (with
    the --set), not "every point of the sweep"."""
    message = refused(cli("sweep", write_config(TINY), "--set", "model.layers.1.units=5",
                          "--grid", f"data.options.classes={classes}", "--runs-dir", tmp_path / "runs"))
    point = "p000" if classes == "3,5" else "p001"
    assert message.startswith(f"error: {tmp_path / 'cfg.yaml'}: point {point} (data.options.classes=3) with --set "
                              "model.layers.1.units=5: model.layers.1.units: the output layer has 5 units"), message
    assert "every point of the sweep" not in message and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("args, words", [
    (["--grid", "optimizer.lr=0.1,0.1"], "--grid optimizer.lr=0.1,0.1: grid.optimizer.lr: 0.1 is listed twice"),
    (["--random", "optimizer.lr=logu(1,2)", "--trials", "2"], "--random optimizer.lr=logu(1,2): random.optimizer.lr: "
                                                              "'logu(1,2)' is not a distribution"),
])
def test_a_bad_grid_or_random_flag_is_the_flags_not_the_config_files(tmp_path, write_config, args, words):
    one_line(refused(cli("sweep", write_config(TINY), *args, "--runs-dir", tmp_path / "runs")), words)


# --------------------------------------------------------------------------- sweep files: wrong types

@pytest.mark.parametrize("text, words", [
    ("set: 3\n", "set: must be a mapping (got 3)"),
    ("set: [1]\n", "set: must be a mapping"),
    ("grid: [1, 2]\n", "grid: must be a mapping of keys to a list"),
    ("random: 3\n", "random: must be a mapping of keys to text (got 3)"),
    ("random: {optimizer.lr: [0.001, 1]}\ntrials: 2\n", "random.optimizer.lr: [0.001, 1] is not a distribution; "
                                                        "write one as text: uniform(a, b)"),
    ("variants: {Adam: 3}\n", "variants.Adam: must be a mapping (got 3)"),
])
def test_a_sweep_file_key_of_the_wrong_type_is_one_line(tmp_path, write_config, text, words):
    write_config(TINY, "base.yaml")
    study = write_config("base: base.yaml\n" + text, "study.yaml")
    # with flags too: they add to the file's set and grid
    for extra in ([], ["--set", "training.epochs=1", "--grid", "training.epochs=1,2"]):
        one_line(refused(cli("sweep", study, *extra, "--runs-dir", tmp_path / "runs")), f"{study}: {words}")


def test_a_flag_value_that_is_not_yaml_says_what_is_wrong(tmp_path, write_config):
    one_line(refused(cli("sweep", write_config(TINY), "--grid", "optimizer.lr=[1,2", "--runs-dir", tmp_path / "r")),
             "--grid optimizer.lr=[1,2: cannot parse '[1,2' as YAML (expected ',' or ']'")


# --------------------------------------------------------------------------- pydantic's words, reworded

@pytest.mark.parametrize("flag, words", [
    ("optimizer=3", "--set optimizer=3: optimizer: must be a name ('sgd', 'adagrad', 'rmsprop' or 'adam') or a "
                    "mapping with a name and its settings (got 3)"),
    ("optimizer.name=adma", "--set optimizer.name=adma: optimizer.name: Input should be 'sgd', 'adagrad', 'rmsprop' "
                            "or 'adam' (got 'adma'); did you mean 'adam'?"),
    ("schedule=cosin", "--set schedule=cosin: schedule.name: Input should be 'constant', 'step', 'exponential', "
                       "'cosine' or 'plateau' (got 'cosin'); did you mean 'cosine'?"),
    ("optimizer={lr: 1}", "--set optimizer={lr: 1}: optimizer.name: Field required: one of 'sgd', 'adagrad', "
                          "'rmsprop' or 'adam'"),
    ("model.layers=[]", "--set model.layers=[]: model.layers: needs at least 1 item(s) (got 0)"),
    ("model.init.weights=3", "model.init.weights: must be a name ('zeros', "),
    ("model.layers.0.init=3", "model.layers.0.init: must be a mapping with the keys weights, biases or null (got 3)"),
    ("training.early_stopping=3", "training.early_stopping: must be a mapping with the keys monitor, patience, "),
    ("data=3", "data: must be a mapping with the keys dataset, options, "),
    ("training.shuffle=3", "training.shuffle: Input should be true or false (got 3)"),
    ("training.epochs=null", "training.epochs: Input should be a valid integer from 1 to 100000 (got null)"),
    ("optimizer.momentum=high", "optimizer.momentum: Input should be a valid number in [0, 1) (got 'high')"),
    ("training.clip_grad_norm=x", "training.clip_grad_norm: Input should be a valid number > 0 (got 'x')"),
    ("loss=mse2", "(got 'mse2'); did you mean 'mse'?"),
])
def test_pydantic_jargon_is_said_in_the_users_words(write_config, flag, words):
    one_line(refused(cli("validate", write_config(TINY), "--set", flag)), words)


@pytest.mark.parametrize("flag, words", [
    # these failed a model's own check and were blamed on the config file the flag overrode
    ("model.layers.0.activation=step", "--set model.layers.0.activation=step: model.layers.0.activation: 'step' has"),
    ("model.layers.1.dropout=0.5", "--set model.layers.1.dropout=0.5: model.layers.1.dropout: dropout on the output"),
    ("optimizer.nesterov=true", "--set optimizer.nesterov=true: optimizer.nesterov: true needs momentum > 0"),
    ("loss=binary_cross_entropy", "--set loss=binary_cross_entropy: loss: binary_cross_entropy needs a sigmoid"),
    ("schedule={name: cosine, min_lr: 1}", "--set schedule={name: cosine, min_lr: 1}: schedule.min_lr: 1 is above"),
    ("model.layers.1.units=1", "--set model.layers.1.units=1: model.layers.1: a softmax over one unit"),
    ("model.init.weights.name=normal", "--set model.init.weights.name=normal: model.init.weights: initializer "
                                       "'normal' needs 'std'"),
])
def test_a_cross_field_check_names_the_flag_and_the_key(write_config, flag, words):
    one_line(refused(cli("validate", write_config(TINY), "--set", flag)), words)


def test_the_python_api_reads_the_same(write_config):
    with pytest.raises(dlcc.ConfigError) as info:
        dlcc.load_config(write_config(TINY), {"training.batch_size": "abc"})
    assert str(info.value) == ("--set training.batch_size=abc: training.batch_size: must be a positive integer "
                               "or 'full' (got 'abc')")


def test_config_text_that_is_not_yaml_says_where_and_what():
    with pytest.raises(dlcc.ConfigError) as info:
        dlcc.load_config("name: a\nname: b\n")
    assert str(info.value) == ("config text: not valid YAML (line 2, column 1): duplicate key 'name' (first on "
                               "line 1); a key may appear once per mapping")


def test_a_caller_may_name_its_overrides_itself(write_config):
    """parse(..., flags={key: label}): how the Python API could name `overrides=` its own way."""
    label = "overrides['optimizer.lrr']"
    for key in ("optimizer.lrr", "optimizer.lr"):
        with pytest.raises(dlcc.ConfigError) as info:
            config_mod.load_any(write_config(TINY), [(key, -1)], [], {key: label})
        assert str(info.value).startswith(label + ": ") and "--set" not in str(info.value)


def test_a_tab_in_a_config_says_to_indent_with_spaces(tmp_path):
    path = tmp_path / "tab.yaml"
    path.write_text("name: x\ndata:\n\tdataset: spirals\n")
    one_line(refused(cli("validate", str(path))), "(line 3, column 1)", "(a tab: indent with spaces)")


def test_a_check_across_keys_that_an_override_broke_names_the_override(write_config):
    # The file is valid alone: the error was the --set's, not the file's ("FILE: loss: ...").
    path = write_config(TINY)
    line = one_line(refused(cli("validate", path, "--set", "model.layers.1.activation=relu")),
                    f"error: {path} with --set model.layers.1.activation=relu: loss: cross_entropy needs a softmax")
    assert line.count("--set") == 1
