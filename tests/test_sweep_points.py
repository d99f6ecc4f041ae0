"""What each point of a sweep trains, and what is refused before a sweep starts: bugs found by a hunt
through `dlcc sweep`, one test each (tiny configs, no long training)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

import dlcc
from dlcc import config
from dlcc.errors import ConfigError
from dlcc.runs import sweepdir
from dlcc.sweeps.plan import make_plan, sweep_spec
from tests.conftest import TINY, train
from tests.runs_helpers import dlcc as cli


def _plan(tmp_path: Path, study: dict, **flags):
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(TINY))
    (tmp_path / "study.yaml").write_text(yaml.safe_dump({"base": "base.yaml", **study}))
    spec, source, folder = sweep_spec(tmp_path / "study.yaml", **flags)
    return make_plan(spec, source, folder)


def test_a_variants_setting_does_not_leak_into_the_other_variants(tmp_path):
    # `set` gives the optimizer section; only the `momentum` variant sets a momentum. The plain
    # variant trained with momentum 0.9 too: apply_overrides writes into set's own dict.
    plan = _plan(tmp_path, {"set": {"optimizer": {"name": "sgd", "lr": 0.3}},
                            "variants": {"momentum": {"optimizer.momentum": 0.9}, "plain": {}}})
    by_variant = {r.point["variant"]: r.config.optimizer.momentum for r in plan.runs}
    assert by_variant == {"momentum": 0.9, "plain": 0.0}
    assert plan.spec.set["optimizer"] == {"name": "sgd", "lr": 0.3}  # sweep.yaml's `set` unchanged


def test_swept_section_values_are_neither_rewritten_nor_merged_away(tmp_path):
    # Two points that differ in the swept optimizer section's lr: both trained with the `set`
    # lr, and the points (results.csv, sweep.yaml) were rewritten to say lr 0.5 for both.
    grid = {"optimizer": [{"name": "adam", "lr": 0.01}, {"name": "adam", "lr": 0.1}]}
    plan = _plan(tmp_path, {"set": {"optimizer.lr": 0.5}, "grid": grid})
    assert [p["values"]["optimizer"]["lr"] for p in plan.points] == [0.01, 0.1]
    assert len({r.config.optimizer.lr for r in plan.runs}) == 2


def test_a_too_large_sweep_is_refused_before_drawing_its_values(tmp_path, monkeypatch):
    # make_plan draws every random value before it counts the runs: --trials 1000000 took
    # ~100 s of drawing just to be refused.
    import dlcc.config.sweep as sweep_mod

    def no_draw(*args):
        raise AssertionError("drew random values before checking the number of runs")

    monkeypatch.setattr(sweep_mod, "draw", no_draw)
    with pytest.raises(ConfigError, match="needs --yes"):
        _plan(tmp_path, {"random": {"optimizer.lr": "uniform(0.1, 0.2)"}, "trials": 10_001})


@pytest.mark.parametrize("args", [
    ["--grid", "optimizer.lr=[0.1"],
    ["--random", "optimizer.lr=choice([0.1)", "--trials", "2"],
    ["--set", "optimizer.lr=[0.1"],
])
def test_unparsable_yaml_in_a_sweep_flag_is_a_plain_error(tmp_path, write_config, args):
    result = cli("sweep", write_config(TINY), *args, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 2, (result.exit_code, repr(result.exception))
    assert "Traceback" not in result.stderr


def test_sweeping_the_seed_key_is_refused_or_honoured(tmp_path):
    # --grid seed=1,2 ran both points with seed 0 (identical metrics) while results.csv said
    # 1 and 2, in two columns both named `seed`.
    try:
        plan = _plan(tmp_path, {"grid": {"seed": [1, 2]}})
    except ConfigError:
        return
    assert [r.config.seed for r in plan.runs] == [1, 2]
    assert len(set(sweepdir.result_columns(plan.keys))) == len(sweepdir.result_columns(plan.keys))


def test_results_final_metrics_are_at_the_epoch_of_the_kept_weights(tmp_path):
    # docs/sweeps.md: `final_*` are at the epoch of the weights the run kept. With early stopping
    # restoring the best epoch, results.csv gave the last epoch's values instead.
    cfg = config.parse(copy.deepcopy(TINY), source="test", overrides=[
        "training.epochs=60", "training.early_stopping.patience=2", "optimizer.lr=2"])
    run_dir, summary = train(cfg, tmp_path / "runs")
    assert summary["status"] == "early_stopped" and summary["best_epoch"] < summary["epochs_completed"]
    row = sweepdir.result_row(run_dir, {"id": "p000", "values": {}}, 0, [])
    assert row["final_val_loss"] == pytest.approx(summary["best"]["val_loss"])
    assert row["final_val_accuracy"] == pytest.approx(summary["best"]["val_accuracy"])


def test_a_point_the_dataset_refuses_stops_the_sweep_before_anything_starts(tmp_path):
    # docs: "Every point is validated before anything starts ... nothing is created". An output
    # layer of 2 units for 3 classes (what `dlcc validate` refuses) started the sweep and failed
    # that run instead.
    with pytest.raises(ConfigError, match="output layer"):
        dlcc.sweep(copy.deepcopy(TINY), grid={"model.layers.1.units": [3, 2]}, sets={"training.epochs": 1},
                   runs_dir=tmp_path / "runs", workers=1, progress=False)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_a_point_error_names_the_key_after_the_point(tmp_path):
    # The message was "point p002 (...): optimizer: 0, name: adam}: optimizer.momentum: ...":
    # _plan split "--set optimizer={momentum: 0, name: adam}: ..." at the ': ' inside the value.
    with pytest.raises(ConfigError) as info:
        _plan(tmp_path, {"grid": {"optimizer.name": ["sgd", "adam"], "optimizer.momentum": [0, 0.9]}})
    first = str(info.value).splitlines()[0]
    assert first.split("): ", 1)[1].startswith("optimizer.momentum"), first


def test_seeds_true_is_not_one_seed(tmp_path):
    # parse_seeds refuses booleans, but pydantic turns `seeds: true` into 1 before it sees it.
    with pytest.raises(ConfigError, match="seeds"):
        _plan(tmp_path, {"seeds": True})


def test_runs_json_planned_epochs_of_a_sweep_follow_its_set(tmp_path):
    # `dlcc runs --json` gave planned_epochs 100 (the base's) for a sweep whose `set` trains 2.
    from dlcc.runs.listing import sweep_overview

    plan = _plan(tmp_path, {"set": {"training.epochs": 2}, "grid": {"optimizer.lr": [0.1, 0.2]}})
    base_epochs = plan.base["training"]["epochs"]
    assert base_epochs != 2
    sweep_dir = sweepdir.create_sweep_dir(tmp_path / "runs", plan.name)
    sweepdir.write_definition(sweep_dir, plan.definition() | {"executor": "local", "workers": 1, "ray_address": None})
    rows = [sweepdir.result_row(sweep_dir / r.name, r.point, r.seed, plan.keys) for r in plan.runs]
    sweepdir.write_results(sweep_dir, plan.keys, rows)
    assert sweep_overview(sweep_dir)["planned_epochs"] == 2


def test_a_grid_value_listed_twice_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="listed twice"):
        _plan(tmp_path, {"grid": {"optimizer.lr": [0.1, 0.1, 0.3]}})


def test_the_same_config_and_seed_twice_is_one_sample_in_compare(tmp_path):
    """choice(0.1) drawn twice makes two identical points; their runs are one sample each seed,
    not two (compare counted n = 4 for seeds 0, 0, 1, 1 and shrank the interval)."""
    sweep = dlcc.sweep(copy.deepcopy(TINY), random={"optimizer.lr": "choice(0.1)"}, trials=2, seeds=2,
                       sets={"training.epochs": 2}, runs_dir=tmp_path / "runs", workers=1, progress=False)
    (group,) = sweep.compare().groups
    assert sorted(group.seeds) == [0, 1]


def test_a_config_name_too_long_for_a_sweep_name_is_cut_not_blamed_on_the_user(tmp_path):
    # A run name may have 100 characters, a sweep's 81: a config `dlcc train` took was refused by
    # `dlcc sweep` with a `name:` error the user had not made.
    (tmp_path / "long.yaml").write_text(yaml.safe_dump({**TINY, "name": "n" * 95}))
    spec, _, _ = sweep_spec(tmp_path / "long.yaml")
    assert spec.name == "n" * 81
