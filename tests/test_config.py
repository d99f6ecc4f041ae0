"""Config validation: good configs resolve with defaults; each kind of bad config names its key."""

from __future__ import annotations

import pytest
import yaml

from dlcc import config
from dlcc.errors import ConfigError


def errors_for(raw: dict, *overrides: str) -> str:
    with pytest.raises(ConfigError) as info:
        config.parse(raw, source="cfg.yaml", overrides=list(overrides))
    return str(info.value)


def test_defaults_are_filled_in(tiny_raw):
    cfg = config.parse(tiny_raw)
    assert cfg.precision == "float32"
    assert cfg.model.init.weights.name == "he_normal"
    assert cfg.training.shuffle is True
    assert cfg.regularization.l2 == 0.0
    assert cfg.schedule.name == "constant"
    assert cfg.data.options.points_per_class == 40


def test_config_objects_are_frozen(tiny_raw):
    cfg = config.parse(tiny_raw)
    with pytest.raises(Exception):
        cfg.seed = 3


def test_resolved_yaml_round_trips(tiny_raw):
    cfg = config.parse(tiny_raw)
    again = config.parse(yaml.safe_load(config.to_yaml(cfg)))
    assert again == cfg
    assert config.to_yaml(again) == config.to_yaml(cfg)


def test_name_defaults_to_file_stem(tiny_raw, write_config):
    del tiny_raw["name"]
    cfg = config.load(write_config(tiny_raw, "my experiment.yaml"))
    assert cfg.name == "my-experiment"


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda r: r.update(optimzer={"name": "sgd"}), "optimzer: unknown key; did you mean 'optimizer'?"),
        (lambda r: r["training"].update(epochs="ten"), "training.epochs: Input should be a valid integer"),
        (lambda r: r["training"].update(epochs=0), "training.epochs: Input should be greater than or equal to 1"),
        (lambda r: r["training"].update(batch_size=0), "training.batch_size"),
        (lambda r: r["training"].update(batch_size="half"), "training.batch_size"),
        (lambda r: r["model"]["layers"][0].update(activation="relu6"), "model.layers.0.activation"),
        (lambda r: r["model"]["layers"][0].update(units=-3), "model.layers.0.units"),
        (lambda r: r["model"]["layers"][0].update(dropout=1.0), "model.layers.0.dropout"),
        (lambda r: r["model"].update(layers=[]), "model.layers"),
        (lambda r: r["optimizer"].update(lr=-0.1), "optimizer.lr: Input should be greater than 0"),
        (lambda r: r["optimizer"].update(momentum=1.0), "optimizer.momentum"),
        (lambda r: r["optimizer"].update(nesterov=True), "nesterov: true needs momentum > 0"),
        (lambda r: r.update(optimizer={"name": "adamw"}), "optimizer"),
        (lambda r: r.update(schedule={"name": "warmup"}), "schedule"),
        (lambda r: r.update(loss="hinge"), "loss"),
        (lambda r: r.update(precision="float16"), "precision"),
        (lambda r: r["data"].update(dataset="cifar"), "data"),
        (lambda r: r["data"].update(validation=1.5), "data.validation"),
        (lambda r: r["data"]["options"].update(noise=-1), "data.options.noise"),
        (lambda r: r["data"]["options"].update(classes=0), "data.options.classes"),
        (lambda r: r["model"]["layers"][-1].update(activation="sigmoid"), "cross_entropy needs a softmax output"),
        (lambda r: r["model"]["layers"][0].update(activation="softmax"), "softmax is only allowed on the output layer"),
        (lambda r: r["model"]["layers"][0].update(activation="step"), "cannot be trained by gradient descent"),
        (lambda r: r["model"]["layers"][-1].update(dropout=0.5), "dropout on the output layer"),
        (lambda r: r["model"].update(init={"weights": {"name": "normal"}}), "needs 'std'"),
        (lambda r: r["model"].update(init={"weights": {"name": "he_normal", "std": 1}}), "'std' does not apply"),
        (lambda r: r["model"]["layers"][0].update(units=10**9), "model.layers.0.units"),
    ],
)
def test_bad_configs_name_the_key(tiny_raw, mutate, expected):
    mutate(tiny_raw)
    message = errors_for(tiny_raw)
    assert expected in message
    assert message.startswith("cfg.yaml: ")


def test_binary_cross_entropy_needs_sigmoid(tiny_raw):
    tiny_raw["loss"] = "binary_cross_entropy"
    assert "binary_cross_entropy needs a sigmoid output" in errors_for(tiny_raw)


def test_not_a_mapping():
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        config.parse([1, 2], source="cfg.yaml")


def test_unreadable_files(tmp_path, write_config):
    with pytest.raises(ConfigError, match="no such config file"):
        config.load(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        config.load(write_config("data: [unclosed\n"))
    with pytest.raises(ConfigError, match="not valid YAML"):
        config.load(write_config("!!python/object/apply:os.system ['echo hi']\n"))


# ----------------------------------------------------------------------------- --set


def test_set_overrides_nested_values(tiny_raw):
    cfg = config.parse(
        tiny_raw,
        overrides=["optimizer.lr=0.05", "model.layers.0.units=200", "training.epochs=5",
                   "training.batch_size=full", "model.layers.0.dropout=0.5"],
    )
    assert cfg.optimizer.lr == 0.05
    assert cfg.model.layers[0].units == 200
    assert cfg.training.epochs == 5
    assert cfg.training.batch_size == "full"
    assert cfg.model.layers[0].dropout == 0.5


def test_set_can_fill_a_null_section_and_switch_optimizer(tiny_raw):
    cfg = config.parse(tiny_raw, overrides=["training.early_stopping.patience=2", "optimizer.momentum=0.9"])
    assert cfg.training.early_stopping.patience == 2
    assert cfg.optimizer.momentum == 0.9
    cfg = config.parse(tiny_raw, overrides=["optimizer.name=adam", "optimizer.lr=0.01"])
    assert cfg.optimizer.name == "adam"


def test_set_into_a_section_the_config_leaves_out_keeps_its_default_variant(tiny_raw):
    """A config without `optimizer:` trains with SGD; `--set optimizer.lr=...` used to build the
    section as {lr: ...} alone, which names no variant ("Unable to extract tag using discriminator")."""
    del tiny_raw["optimizer"]
    cfg = config.parse(tiny_raw, overrides=["optimizer.lr=0.5", "optimizer.momentum=0.9"])
    assert (cfg.optimizer.name, cfg.optimizer.lr, cfg.optimizer.momentum) == ("sgd", 0.5, 0.9)
    assert "optimizer.lr: Input should be greater than 0" in errors_for(tiny_raw, "optimizer.lr=-1")
    tiny_raw["model"].pop("init", None)
    cfg = config.parse(tiny_raw, overrides=["model.init.weights=normal", "model.init.weights.std=0.5"])
    assert cfg.model.init.weights.std == 0.5
    message = errors_for(tiny_raw, "model.init.biases.value=0.1")  # biases default to zeros, by name
    assert "model.init.biases: 'value' does not apply to initializer 'zeros'" in message


@pytest.mark.parametrize(
    "override, expected",
    [
        ("optimizer.learning_rate=0.1", "unknown config key 'optimizer.learning_rate'"),
        ("model.layers.5.units=3", "'model.layers.5' is not an index of a 2-item list"),
        ("trainig.epochs=3", "did you mean 'training'"),
        ("optimizer.lr", "expected KEY=VALUE"),
        ("optimizer.lr=-1", "optimizer.lr: Input should be greater than 0"),
    ],
)
def test_bad_overrides(tiny_raw, override, expected):
    assert expected in errors_for(tiny_raw, override)


def test_switching_variant_drops_the_old_variants_keys(tiny_raw):
    saved = yaml.safe_load(config.to_yaml(config.parse(tiny_raw, overrides=["optimizer.momentum=0.9"])))
    cfg = config.parse(saved, overrides=["optimizer.name=adam", "schedule.name=step", "schedule.step_size=3"])
    assert cfg.optimizer.name == "adam" and cfg.optimizer.lr == 0.001  # Adam's own default, not SGD's rate
    assert cfg.schedule.step_size == 3
    message = errors_for(tiny_raw, "optimizer.name=adam", "optimizer.momentum=0.9")
    assert "optimizer.momentum: unknown key here ('momentum' is a setting of another variant)" in message


@pytest.mark.parametrize("name", ["sgd", "adam", "step", "constant"])
def test_a_run_name_that_is_also_a_variant_name(tiny_raw, name):
    assert config.parse(tiny_raw, overrides=[f"name={name}"]).name == name


def test_a_float_split_of_one_or_more_is_refused(tiny_raw):
    tiny_raw["data"]["validation"] = 1.0
    assert "not a fraction in [0, 1)" in errors_for(tiny_raw)
    tiny_raw["data"]["validation"] = 100
    assert config.parse(tiny_raw).data.validation == 100
