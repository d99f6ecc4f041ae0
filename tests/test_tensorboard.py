"""TensorBoard logs (logging.tensorboard): written by tensorboardX, read back with TensorBoard's own reader."""

from __future__ import annotations

import csv
import os

import pytest

from tests.runs_helpers import dlcc, train_run

try:
    import tensorboardX  # noqa: F401
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
except ImportError:  # pragma: no cover - the dev extra installs both
    if os.environ.get("CI"):
        raise  # CI installs ".[dev]", which has them: a missing package there is a broken install
    pytest.skip("needs tensorboardX and tensorboard: pip install -e \".[dev]\"", allow_module_level=True)


def events(run_dir) -> EventAccumulator:
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "histograms": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def steps(acc, kind: str, tag: str) -> list[int]:
    return [e.step for e in getattr(acc, kind)(tag)]


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    base = tmp_path_factory.mktemp("tb")
    return train_run(base, "logging.tensorboard=true", "logging.every=2", "training.epochs=5")


def test_scalars_every_epoch_with_the_expected_tags(logged):
    acc = events(logged)
    tags = set(acc.Tags()["scalars"])
    assert {"loss/train", "loss/val", "accuracy/train", "accuracy/val", "lr", "time/epoch_seconds",
            "grad_norm/layer1", "grad_norm/layer2", "weight_norm/layer1", "dead/layer1"} <= tags
    assert steps(acc, "Scalars", "loss/val") == [0, 1, 2, 3, 4, 5]   # epoch 0: the untrained network
    assert steps(acc, "Scalars", "loss/train") == [1, 2, 3, 4, 5]
    with open(logged / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    logged_val = [e.value for e in acc.Scalars("accuracy/val")]
    assert logged_val == pytest.approx([float(r["val_accuracy"]) for r in rows])


def test_histograms_of_weights_and_gradients_every_n_epochs_and_the_last(logged):
    acc = events(logged)
    for tag in ("weights/layer1", "weights/layer2", "biases/layer1", "gradients/layer1", "gradients/layer2"):
        assert steps(acc, "Histograms", tag) == [0, 2, 4, 5], tag
    first = acc.Histograms("weights/layer1")[0].histogram_value
    assert first.num == 2 * 16  # a 2 -> 16 layer: every weight counted


def test_the_boundary_image_for_2d_data(logged):
    acc = events(logged)
    assert steps(acc, "Images", "boundary") == [0, 2, 4, 5]
    image = acc.Images("boundary")[-1]
    assert (image.width, image.height) == (300, 300)


def test_tensorboard_does_not_change_the_run(logged, tmp_path):
    plain = train_run(tmp_path, "training.epochs=5")

    def numbers(run):
        with open(run / "metrics.csv") as f:
            return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(f)]

    assert numbers(plain) == numbers(logged)
    assert not list(plain.glob("events.out.tfevents.*"))


def test_the_flag_on_dlcc_train_sets_the_config_key(write_config, tiny_raw, tmp_path):
    result = dlcc("train", write_config(tiny_raw), "--runs-dir", tmp_path, "--tensorboard", "-q")
    assert result.exit_code == 0, result.output
    run = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert "tensorboard: true" in (run / "config.yaml").read_text()
    assert steps(events(run), "Scalars", "loss/train") == [1, 2, 3]


def test_a_sweep_logs_hparams_per_run(write_config, tiny_raw, tmp_path):
    from tensorboard.plugins.hparams import plugin_data_pb2

    tiny_raw["logging"] = {"tensorboard": True}
    result = dlcc("sweep", write_config(tiny_raw), "--grid", "optimizer.lr=0.1,0.5", "--runs-dir", tmp_path,
                  "--workers", "1", "-q")
    assert result.exit_code == 0, result.output
    sweep = next(tmp_path.glob("sweep-*"))
    acc = events(sweep / "p001-s0")
    content = acc.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hparams = {k: v.number_value for k, v in start.session_start_info.hparams.items()}
    assert hparams == {"optimizer.lr": 0.5, "seed": 0.0}
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    assert {m.name.tag for m in experiment.metric_infos} == {"loss/val", "accuracy/val"}


def test_a_resumed_run_continues_its_logs(tiny_raw, tmp_path):
    """Interrupted after epoch 2, resumed: every epoch is logged once."""
    from dlcc.config import parse
    from dlcc.errors import InterruptedRun
    from dlcc.report.tensorboard import TensorBoardHook
    from dlcc.training import session
    from dlcc.training.trainer import Reporter

    class StopAfterTwo(Reporter):
        def epoch(self, row):
            if row["epoch"] == 2:
                raise KeyboardInterrupt

    cfg = parse(tiny_raw, source="t", overrides=["logging.tensorboard=true", "training.epochs=4"])
    with pytest.raises(InterruptedRun):
        session.train(cfg, tmp_path, StopAfterTwo(), hooks=[TensorBoardHook()])
    run = next(tmp_path.iterdir())
    assert steps(events(run), "Scalars", "loss/train") == [1, 2]
    session.resume(run, hooks=[TensorBoardHook()])
    assert len(list(run.glob("events.out.tfevents.*"))) == 2
    assert steps(events(run), "Scalars", "loss/train") == [1, 2, 3, 4]
    assert steps(events(run), "Histograms", "weights/layer1") == [0, 1, 2, 3, 4]
