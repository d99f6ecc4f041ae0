"""The command line says what it means: --set grammar and variants, validate = train's checks,
divergence that stays finite, a repeated --seed."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import ROOT, TINY
from tests.runs_helpers import dlcc as cli
from tests.runs_helpers import in_terminal

SPIRALS = ROOT / "configs" / "spirals.yaml"


def resolved(*args) -> dict:
    result = cli("validate", *args)
    assert result.exit_code == 0, result.output
    return yaml.safe_load(result.stdout)


def test_switching_the_optimizer_gives_its_own_defaults_and_says_what_was_dropped():
    result = cli("validate", SPIRALS, "--set", "optimizer.name=adam")
    assert result.exit_code == 0
    assert yaml.safe_load(result.stdout)["optimizer"] == {"name": "adam", "lr": 0.001, "beta1": 0.9,
                                                          "beta2": 0.999, "eps": 1e-08}
    assert "note: --set optimizer.name=adam: optimizer starts from adam's defaults; dropped optimizer.lr=0.3" \
        in result.stderr


def test_settings_given_with_the_switch_stay_whatever_their_order():
    a = resolved(SPIRALS, "--set", "optimizer.lr=0.01", "--set", "optimizer.name=adam")
    b = resolved(SPIRALS, "--set", "optimizer.name=adam", "--set", "optimizer.lr=0.01")
    assert a == b and a["optimizer"]["lr"] == 0.01


@pytest.mark.parametrize("order", [["optimizer.momentum=0.9", "optimizer.name=adam"],
                                   ["optimizer.name=adam", "optimizer.momentum=0.9"]])
def test_a_setting_of_another_variant_is_the_same_error_in_either_order(order):
    result = cli("validate", SPIRALS, "--set", order[0], "--set", order[1])
    assert result.exit_code == 2
    assert "error: --set optimizer.momentum=0.9: optimizer.momentum: unknown key here ('momentum' is a " \
           "setting of another variant)" in result.stderr


def test_switching_the_dataset_drops_the_old_options():
    result = cli("validate", SPIRALS, "--set", "data.dataset=moons", "--set", "model.layers.1.units=2")
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(result.stdout)["data"]
    assert data["dataset"] == "moons" and "classes" not in data["options"]
    assert data["validation"] == 0.1  # splits are not the dataset's: they stay
    assert "dropped data.options.classes=3" in result.stderr


@pytest.mark.parametrize("value, message", [
    ("optimizer.lr=[0.01,0.1]", "error: --set optimizer.lr=[0.01,0.1]: optimizer.lr: Input should be a valid number"),
    ("optimizer={name: adam, lr: -1}", "error: --set optimizer={name: adam, lr: -1}: optimizer.lr: Input should be greater than 0"),
    ("data.dataset=fashion_mnist", "error: --set data.dataset=fashion_mnist: data.dataset: unknown dataset 'fashion_mnist'"),
])
def test_a_bad_set_value_is_exit_2_naming_the_flag(value, message):
    result = cli("validate", SPIRALS, "--set", value)
    assert result.exit_code == 2 and message in result.stderr and "Traceback" not in result.output


def test_a_mapping_value_sets_a_whole_section():
    assert resolved(SPIRALS, "--set", "optimizer={name: adam, lr: 0.01}")["optimizer"]["lr"] == 0.01


def test_validate_refuses_what_train_would_refuse(write_config):
    result = cli("validate", SPIRALS, "--set", "model.layers.1.units=4")
    assert result.exit_code == 2 and "the output layer has 4 units but dataset 'spirals' has 3 classes" in result.stderr
    config = write_config({**TINY, "data": {**TINY["data"], "validation": 0},
                           "training": {**TINY["training"], "early_stopping": {"monitor": "val_loss"}}})
    result = cli("validate", config)
    assert result.exit_code == 2 and "there is no validation split" in result.stderr


def test_a_repeated_seed_points_to_sweep(tmp_path):
    result = cli("train", SPIRALS, "--seed", "0", "--seed", "1", "--runs-dir", tmp_path)
    assert result.exit_code == 2
    assert "--seed is given 2 times (0, 1)" in result.stderr and "dlcc sweep" in result.stderr
    assert not tmp_path.joinpath("runs").exists() and not any(tmp_path.iterdir())


def test_a_far_too_large_learning_rate_stops_with_exit_3(tmp_path):
    result = cli("train", SPIRALS, "--set", "optimizer.lr=500", "--quiet", "--runs-dir", tmp_path)
    assert result.exit_code == 3, result.output
    assert "the training loss stayed above 3 x the untrained network's loss" in result.stderr
    (run,) = tmp_path.iterdir()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "diverged" and (run / "checkpoint.npz").exists()


def test_without_stop_on_divergence_it_trains_on_and_warns(tmp_path):
    result = cli("train", SPIRALS, "--set", "optimizer.lr=500", "--set", "training.stop_on_divergence=false",
                 "--set", "training.epochs=10", "--quiet", "--runs-dir", tmp_path)
    assert result.exit_code == 0
    assert "warning: diverging: the training loss stayed above" in result.stderr
    (run,) = tmp_path.iterdir()
    assert json.loads((run / "summary.json").read_text())["warnings"][0].startswith("diverging:")


def test_a_learning_rate_that_works_does_not_trip_the_rule(tmp_path):
    result = cli("train", SPIRALS, "--set", "training.epochs=20", "--quiet", "--runs-dir", tmp_path)
    assert result.exit_code == 0 and "diverging" not in result.stderr


COMMANDS = [["train"], ["validate"], ["eval"], ["predict"], ["runs"], ["compare"], ["plot"], ["report"], ["sweep"],
            ["gradcheck"], ["datasets"], ["data", "import"], ["data", "download"], []]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "dlcc")
def test_help_reads_cleanly(command, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    result = cli(*command, "-h")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "<bool>" not in text and "<path>" not in text and "<list" not in text
    assert '"dlcc"' not in text  # an extra in brackets, "dlcc[ray]", taken by Rich as markup
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    assert "...]..." not in usage and "[[" not in usage
    if command and command != ["datasets"]:
        assert "Example" in text  # every command shows an example that works when pasted


def test_runs_at_80_columns_prints_every_number_whole(tmp_path, monkeypatch):
    from dlcc.report.tables import fmt_metric, fmt_seconds
    from tests.runs_helpers import train_run
    from tests.sweep_helpers import make_sweep

    make_sweep(tmp_path, {"optimizer.lr": [0.001, 0.01]}, name="a-rather-long-sweep-name-for-a-narrow-terminal")
    train_run(tmp_path, "name=an-equally-long-run-name-that-will-not-fit-in-80-columns")
    rows = json.loads(cli("runs", tmp_path, "--json").stdout)
    text = in_terminal("runs", tmp_path, columns=80)  # `COLUMNS=80 dlcc runs` in a real (pseudo) terminal
    assert "─" in text and "\t" not in text  # the table, not the pipe's text
    assert max(len(line) for line in text.splitlines()) <= 80
    for row in rows:
        assert fmt_seconds(row["seconds"]) in text
        assert fmt_metric(row["best_val"]["metric"], row["best_val"]["value"]) in text


def test_runs_into_a_pipe_is_tab_separated_with_every_key(tmp_path):
    from tests.runs_helpers import train_run

    for i in range(3):
        train_run(tmp_path, f"name=run{i}", f"optimizer.lr={0.1 * (i + 1)}", f"model.layers.0.units={5 + i}")
    rows = json.loads(cli("runs", tmp_path, "--json").stdout)
    lines = cli("runs", tmp_path).stdout.splitlines()  # CliRunner's stdout is not a terminal
    header = lines[0].split("\t")
    assert header[:7] == ["run", "dataset", "status", "epochs", "best_val", "test", "time"]
    assert set(header[7:]) == {"optimizer.lr", "model.layers.0.units"}  # full dotted paths, none hidden
    assert len(lines) == 1 + len(rows)
    for line, row in zip(lines[1:], rows):
        cells = dict(zip(header, line.split("\t")))
        assert cells["run"] == row["run"] and cells["status"] == "completed"
        assert cells["best_val"] == f"{100 * row['best_val']['value']:.2f}%"
        assert float(cells["optimizer.lr"]) == pytest.approx(row["differs"]["optimizer.lr"])
    wide = cli("runs", tmp_path, "--wide").stdout  # the table, as wide as it needs
    assert "─" in wide and "optimizer.lr" in wide.replace("lr ", "optimizer.lr ") and "\t" not in wide


def test_compare_into_a_pipe_cuts_no_number_and_no_key(tmp_path, monkeypatch):
    """12 runs differing in long key paths at 80 columns: keys by their tails (…patience), the
    runs in as many config tables as it takes, every value and metric whole."""
    from tests.runs_helpers import train_run

    runs = [train_run(tmp_path, f"name=a-long-run-name-{i:02d}", f"optimizer.lr={0.01 * (i + 1):.2f}",
                      f"training.early_stopping.patience={100 + i}", f"optimizer.momentum=0.{i:02d}5")
            for i in range(12)]
    monkeypatch.setenv("COLUMNS", "80")
    data = json.loads(cli("compare", *runs, "--json").stdout)
    text = cli("compare", *runs).stdout
    assert max(len(line) for line in text.splitlines()) <= 80, text
    assert "…" not in text.replace("…patience", "").replace("…momentum", "").replace("…lr", "")  # only keys
    assert "…patience" in text and "config differences (#1-#" in text
    words = set(text.split())
    for i in range(12):
        assert str(100 + i) in words and f"0.{i:02d}5" in words
        for metric, r in data["runs"][i]["metrics"].items():
            from dlcc.report.tables import fmt_metric

            if r["best"] is not None:
                assert fmt_metric(metric, r["best"]) in text
