"""Training techniques end to end on small data: optimizers, early stopping, schedules,
max-norm, clipping, ensembles. The math of each piece is tested in its own file; here we check
that the trainer wires it in the way the docs say."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from dlcc import config
from dlcc.nn import Network
from dlcc.nn.ensemble import Ensemble
from dlcc.nn.metrics import evaluate
from dlcc.build import prepare
from tests.conftest import train
from tests.conftest import ROOT

SPIRALS = ROOT / "configs" / "spirals.yaml"


def rows(run_dir):
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def saved_network(run_dir, cfg) -> Network:
    net = Network.from_config(cfg, prepare(cfg)[1]["train"][0].shape[1], np.random.default_rng(0))
    with np.load(run_dir / "model.npz", allow_pickle=False) as model:
        net.load_state({k: model[k] for k in net.params})
    return net


@pytest.mark.parametrize(
    "overrides",
    [
        ["optimizer.lr=0.5"],
        ["optimizer.lr=0.05", "optimizer.momentum=0.9"],
        ["optimizer.lr=0.05", "optimizer.momentum=0.9", "optimizer.nesterov=true"],
        ["optimizer.name=adagrad", "optimizer.lr=0.1"],
        ["optimizer.name=rmsprop", "optimizer.lr=0.01"],
        ["optimizer.name=adam", "optimizer.lr=0.01"],
    ],
    ids=["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"],
)
def test_every_optimizer_learns_the_spirals(tmp_path, overrides):
    cfg = config.load(SPIRALS, overrides)
    _, summary = train(cfg, tmp_path)
    assert summary["test"]["accuracy"] >= 0.95, summary["test"]


def early_stopping_config(restore_best: bool, patience: int = 3):
    # A high learning rate makes validation loss bounce, so the best epoch is not the last.
    return config.load(SPIRALS, [
        "optimizer.lr=2.0", "training.epochs=40", "data.options.points_per_class=60",
        f"training.early_stopping.patience={patience}", f"training.early_stopping.restore_best={str(restore_best).lower()}",
    ])


def test_early_stopping_stops_and_restores_the_best_weights(tmp_path):
    cfg = early_stopping_config(restore_best=True)
    run_dir, summary = train(cfg, tmp_path)
    assert summary["status"] == "early_stopped"
    assert summary["epochs_completed"] == summary["best_epoch"] + 3
    assert "did not improve" in summary["stop_reason"]
    assert len(rows(run_dir)) == summary["epochs_completed"] + 1  # plus epoch 0

    val = prepare(cfg)[1]["val"]
    restored = evaluate(saved_network(run_dir, cfg), *val, True)
    assert restored["loss"] == pytest.approx(summary["best"]["val_loss"], rel=1e-6)
    last = float(rows(run_dir)[-1]["val_loss"])
    assert last != pytest.approx(summary["best"]["val_loss"], rel=1e-6)


def test_restore_best_applies_even_when_patience_never_ran_out(tmp_path):
    cfg = early_stopping_config(restore_best=True, patience=1000)
    run_dir, summary = train(cfg, tmp_path)
    assert summary["status"] == "completed" and summary["epochs_completed"] == 40
    restored = evaluate(saved_network(run_dir, cfg), *prepare(cfg)[1]["val"], True)
    assert restored["loss"] == pytest.approx(summary["best"]["val_loss"], rel=1e-6)


def test_without_restore_best_the_last_weights_are_kept(tmp_path):
    cfg = early_stopping_config(restore_best=False)
    run_dir, summary = train(cfg, tmp_path)
    restored = evaluate(saved_network(run_dir, cfg), *prepare(cfg)[1]["val"], True)
    assert restored["loss"] == pytest.approx(float(rows(run_dir)[-1]["val_loss"]), rel=1e-6)


def test_early_stopping_can_monitor_accuracy_and_start_late(tmp_path):
    cfg = config.load(SPIRALS, [
        "training.epochs=30", "training.early_stopping.monitor=val_accuracy",
        "training.early_stopping.patience=2", "training.early_stopping.start_from_epoch=20",
    ])
    _, summary = train(cfg, tmp_path)
    assert summary["best_epoch"] >= 20


def test_schedule_lr_is_written_per_epoch(tmp_path):
    cfg = config.load(SPIRALS, ["training.epochs=6", "optimizer.lr=0.5", "schedule.name=step", "schedule.step_size=2", "schedule.gamma=0.5"])
    run_dir, _ = train(cfg, tmp_path)
    assert [float(r["lr"]) for r in rows(run_dir)[1:]] == [0.5, 0.5, 0.25, 0.25, 0.125, 0.125]


def test_max_norm_bounds_every_unit(tmp_path):
    cfg = config.load(SPIRALS, ["training.epochs=5", "regularization.max_norm=0.5"])
    run_dir, _ = train(cfg, tmp_path)
    with np.load(run_dir / "model.npz", allow_pickle=False) as model:
        for name in ("W1", "W2"):
            assert np.linalg.norm(model[name], axis=0).max() <= 0.5 + 1e-6


def test_penalty_is_part_of_the_reported_training_loss(tmp_path):
    base = config.load(SPIRALS, ["training.epochs=1", "optimizer.lr=1e-12"])
    l2 = config.load(SPIRALS, ["training.epochs=1", "optimizer.lr=1e-12", "regularization.l2=0.1"])
    (d0, _), (d1, _) = train(base, tmp_path), train(l2, tmp_path)
    net = saved_network(d1, l2)
    expected = 0.05 * sum(float((net.params[k].astype(float) ** 2).sum()) for k in ("W1", "W2"))
    gap = float(rows(d1)[1]["train_loss"]) - float(rows(d0)[1]["train_loss"])
    assert gap == pytest.approx(expected, rel=1e-3)


def test_clipping_keeps_a_huge_learning_rate_finite(tmp_path):
    cfg = config.load(SPIRALS, ["training.epochs=3", "optimizer.lr=50", "training.clip_grad_norm=0.01"])
    _, summary = train(cfg, tmp_path)
    assert summary["status"] == "completed"


def test_ensemble_averages_member_probabilities():
    cfg = config.load(SPIRALS)
    rng = np.random.default_rng(0)
    nets = [Network.from_config(cfg, 2, rng) for _ in range(3)]
    x = rng.normal(size=(7, 2)).astype(np.float32)
    expected = np.mean([net.forward(x) for net in nets], axis=0)
    np.testing.assert_allclose(Ensemble(nets).forward(x), expected, rtol=1e-6)


def test_ensemble_members_differ_and_bagging_changes_their_data(tmp_path):
    cfg = config.load(SPIRALS, ["training.epochs=2", "ensemble.members=3", "ensemble.bagging=true"])
    run_dir, summary = train(cfg, tmp_path)
    with np.load(run_dir / "model.npz", allow_pickle=False) as model:
        assert not np.array_equal(model["m1.W1"], model["m2.W1"])
    first = rows(run_dir)[1]
    assert len({first["m1_train_loss"], first["m2_train_loss"], first["m3_train_loss"]}) == 3


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["training.early_stopping.monitor=bogus"], "'bogus' is not a metric this run records"),
        (["data.validation=0", "training.early_stopping.monitor=val_loss"], "there is no validation split"),
    ],
)
def test_early_stopping_on_a_metric_that_never_exists_is_refused(tmp_path, overrides, message):
    from dlcc.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        train(config.load(SPIRALS, overrides), tmp_path)
    assert not any(tmp_path.iterdir())  # refused before a run folder was made


def test_the_early_stopping_reason_shows_an_accuracy_as_the_tables_do():
    """It read "val_accuracy did not improve by more than 0.0 for 2 epochs (best 0.944444 ...)"."""
    from types import SimpleNamespace

    from dlcc.training.callbacks import EarlyStopping

    stopper = EarlyStopping(SimpleNamespace(monitor="val_accuracy", mode="max", min_delta=0.0, patience=2,
                                            start_from_epoch=0))
    for epoch, value in enumerate([0.9, 17 / 18, 0.9, 0.9], start=1):
        stopper.update(epoch, {"val_accuracy": value})
    assert stopper.reason == "val_accuracy did not improve by more than 0 for 2 epochs (best 94.44% at epoch 2)"
