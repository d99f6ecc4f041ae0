"""The config schema: pydantic models that turn a YAML document into typed, frozen objects.

Everything the rest of dlcc reads comes from a `Config` built from these models; nothing inside the
package re-checks values or reads raw dicts. Constraints are data (`Field(gt=0)`, `Literal[...]`),
not if-chains. Unknown keys are errors (`extra="forbid"`), so a misspelt key never passes silently.
The names of activations, initializers and losses come from the nn registries, so the schema
accepts exactly what the network can build.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

from dlcc.data import DATASETS, validate_options
from dlcc.nn import activations, initializers, losses

# Size limits keep a typo from asking for terabytes (a clear error instead of a memory blow-up).
MAX_UNITS = 65_536
MAX_LAYERS = 64
MAX_EPOCHS = 100_000
MAX_MEMBERS = 100
MAX_SNAPSHOTS = 200  # diagnostics.snapshots: epoch 0 plus at most this many

# Registry order is the order an "Input should be ..." message lists the choices in.
ACTIVATIONS = tuple(activations.ACTIVATIONS)
INITIALIZERS = tuple(initializers.INITIALIZERS)
LOSSES = tuple(losses.LOSSES)


class Frozen(BaseModel):
    """Base for every config section: immutable, and unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _name_shorthand(value: Any) -> Any:
    """Allow `optimizer: adam` as shorthand for `optimizer: {name: adam}`."""
    return {"name": value} if isinstance(value, str) else value


# --------------------------------------------------------------------------- model

class InitSpec(Frozen):
    """An initializer: a name, plus `std` (normal), `limit` (uniform) or `value` (constant)."""

    name: Literal[INITIALIZERS]  # type: ignore[valid-type]
    std: Annotated[float, Field(gt=0)] | None = None
    limit: Annotated[float, Field(gt=0)] | None = None
    value: float | None = None
    _PARAMS = {"normal": "std", "uniform": "limit", "constant": "value"}
    _shorthand = model_validator(mode="before")(lambda v: _name_shorthand(v))

    @model_validator(mode="after")
    def _params_match_name(self) -> InitSpec:
        allowed = self._PARAMS.get(self.name)
        for key in ("std", "limit", "value"):
            if getattr(self, key) is not None and key != allowed:
                raise ValueError(f"'{key}' does not apply to initializer '{self.name}'")
        if allowed is not None and getattr(self, allowed) is None:
            raise ValueError(f"initializer '{self.name}' needs '{allowed}', e.g. {{name: {self.name}, {allowed}: 0.01}}")
        return self

    @model_serializer(mode="wrap")
    def _compact(self, handler):
        data = {k: v for k, v in handler(self).items() if v is not None}
        return data["name"] if len(data) == 1 else data


class InitConfig(Frozen):
    weights: InitSpec = InitSpec(name="he_normal")
    biases: InitSpec = InitSpec(name="zeros")


class LayerInitConfig(Frozen):
    """Per-layer override of `model.init`; a missing key falls back to the model's default."""

    weights: InitSpec | None = None
    biases: InitSpec | None = None


class LayerConfig(Frozen):
    units: Annotated[int, Field(ge=1, le=MAX_UNITS)]
    activation: Literal[ACTIVATIONS] = "relu"  # type: ignore[valid-type]
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.0
    init: LayerInitConfig | None = None


class ModelConfig(Frozen):
    input_dropout: Annotated[float, Field(ge=0, lt=1)] = 0.0
    init: InitConfig = InitConfig()
    layers: Annotated[list[LayerConfig], Field(min_length=1, max_length=MAX_LAYERS)]

    @model_validator(mode="after")
    def _check_layers(self) -> ModelConfig:
        *hidden, last = self.layers
        for i, layer in enumerate(self.layers):
            if layer.activation == "step":
                raise ValueError(
                    f"layers.{i}.activation: 'step' has zero derivative almost everywhere, so it "
                    "cannot be trained by gradient descent; use sigmoid (its smooth version) or relu"
                )
        for i, layer in enumerate(hidden):
            if layer.activation == "softmax":
                raise ValueError(f"layers.{i}.activation: softmax is only allowed on the output layer")
        if last.activation == "softmax" and last.units == 1:
            raise ValueError(f"layers.{len(hidden)}: a softmax over one unit is always 1 and learns nothing; use 2+ "
                             "units for classes, sigmoid for two classes, or linear for regression")
        if last.dropout > 0:
            raise ValueError(f"layers.{len(hidden)}.dropout: dropout on the output layer is not allowed")
        return self


# --------------------------------------------------------------------------- optimizer
# One model per entry of dlcc.optim.OPTIMIZERS (tests/test_config_registries.py keeps them equal).

class SGDConfig(Frozen):
    name: Literal["sgd"]
    lr: Annotated[float, Field(gt=0)] = 0.1
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.0
    nesterov: bool = False

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> SGDConfig:
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov: true needs momentum > 0 (e.g. momentum: 0.9)")
        return self


class AdaGradConfig(Frozen):
    name: Literal["adagrad"]
    lr: Annotated[float, Field(gt=0)] = 0.01
    eps: Annotated[float, Field(gt=0)] = 1e-7


class RMSPropConfig(Frozen):
    name: Literal["rmsprop"]
    lr: Annotated[float, Field(gt=0)] = 0.001
    rho: Annotated[float, Field(ge=0, lt=1)] = 0.9
    eps: Annotated[float, Field(gt=0)] = 1e-7


class AdamConfig(Frozen):
    name: Literal["adam"]
    lr: Annotated[float, Field(gt=0)] = 0.001
    beta1: Annotated[float, Field(ge=0, lt=1)] = 0.9
    beta2: Annotated[float, Field(ge=0, lt=1)] = 0.999
    eps: Annotated[float, Field(gt=0)] = 1e-8


OPTIMIZER_MODELS = (SGDConfig, AdaGradConfig, RMSPropConfig, AdamConfig)
OptimizerConfig = Annotated[Union[OPTIMIZER_MODELS], Field(discriminator="name")]

# --------------------------------------------------------------------------- schedule
# One model per entry of dlcc.optim.SCHEDULES.

class ConstantSchedule(Frozen):
    name: Literal["constant"]


class StepSchedule(Frozen):
    name: Literal["step"]
    step_size: Annotated[int, Field(ge=1)] = 10
    gamma: Annotated[float, Field(gt=0, le=1)] = 0.1


class ExponentialSchedule(Frozen):
    name: Literal["exponential"]
    gamma: Annotated[float, Field(gt=0, le=1)] = 0.95


class CosineSchedule(Frozen):
    name: Literal["cosine"]
    min_lr: Annotated[float, Field(ge=0)] = 0.0


class PlateauSchedule(Frozen):
    name: Literal["plateau"]
    factor: Annotated[float, Field(gt=0, lt=1)] = 0.5
    patience: Annotated[int, Field(ge=1)] = 3
    min_lr: Annotated[float, Field(ge=0)] = 0.0


SCHEDULE_MODELS = (ConstantSchedule, StepSchedule, ExponentialSchedule, CosineSchedule, PlateauSchedule)
ScheduleConfig = Annotated[Union[SCHEDULE_MODELS], Field(discriminator="name")]

# The `name` that selects each optimizer or schedule model: --set uses it to switch variants, and
# error messages use it to drop the branch label pydantic puts in a path (`optimizer.sgd.lr`).
VARIANTS = {
    model.model_fields["name"].annotation.__args__[0]: model for model in OPTIMIZER_MODELS + SCHEDULE_MODELS
}

# --------------------------------------------------------------------------- the rest

class RegularizationConfig(Frozen):
    """Penalties on weights only (never biases): L2 is l2/2 * sum(W**2), L1 is l1 * sum(|W|)."""

    l1: Annotated[float, Field(ge=0)] = 0.0
    l2: Annotated[float, Field(ge=0)] = 0.0
    max_norm: Annotated[float, Field(gt=0)] | None = None


class EarlyStoppingConfig(Frozen):
    monitor: str = "val_loss"
    patience: Annotated[int, Field(ge=1)] = 5
    min_delta: Annotated[float, Field(ge=0)] = 0.0
    restore_best: bool = True
    start_from_epoch: Annotated[int, Field(ge=0)] = 0

    @property
    def mode(self) -> str:
        """'max' for accuracy-like metrics, 'min' for losses and everything else."""
        return "max" if "accuracy" in self.monitor else "min"


class TrainingConfig(Frozen):
    epochs: Annotated[int, Field(ge=1, le=MAX_EPOCHS)] = 30
    batch_size: Annotated[int, Field(ge=1)] | Literal["full"] = 32
    shuffle: bool = True
    clip_grad_norm: Annotated[float, Field(gt=0)] | None = None
    early_stopping: EarlyStoppingConfig | None = None
    log_every: Annotated[int, Field(ge=1)] | None = None  # progress lines; null: about 100 per run
    # Stop (exit 3, status diverged) when the training loss stays far above the untrained
    # network's (training/divergence.py); false: only warn.
    stop_on_divergence: bool = True

    @field_validator("batch_size", mode="before")
    @classmethod
    def _no_bool_batch(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a positive integer or 'full'")
        return value

    log_interval = property(lambda self: self.log_every or _about(self.epochs, 100),
                            doc="Epochs between progress lines (null log_every: every epoch up to 100 epochs).")


class EnsembleConfig(Frozen):
    members: Annotated[int, Field(ge=1, le=MAX_MEMBERS)] = 1
    bagging: bool = False


class DiagnosticsConfig(Frozen):
    gradient_norms: bool = True
    probe_size: Annotated[int, Field(ge=1, le=100_000)] = 1000
    snapshots: Annotated[int, Field(ge=1)] | None = None  # keep the weights every N epochs (snapshots/)


class LoggingConfig(Frozen):
    """TensorBoard event files in the run folder (docs/report.md)."""

    tensorboard: bool = False
    every: Annotated[int, Field(ge=1)] | None = None  # histograms and boundary images; null: about 20 per run
    interval = lambda self, epochs: self.every or _about(epochs, 20)  # noqa: E731


def _about(epochs: int, times: int) -> int:
    return max(1, -(-epochs // times))  # an interval that comes round about `times` times


def _split_size(value: Any) -> float | int:
    """A split size is a fraction in [0, 1) or a whole count of examples."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a fraction in [0, 1) or a whole number of examples")
    if isinstance(value, float) and not (0 <= value < 1):
        # 1.0 could mean "all" or "one example"; neither is a sensible split, so say so.
        raise ValueError(f"{value} is not a fraction in [0, 1); for a number of examples write a whole "
                         "number without a decimal point (e.g. 10000)")
    if isinstance(value, int) and value < 0:
        raise ValueError(f"{value}: a count of examples cannot be negative")
    return value


class DataConfig(Frozen):
    dataset: str
    # validate_default: a config that leaves `options` out still gets its dataset name checked
    # (and the dataset's defaults filled in).
    options: Annotated[Any, Field(validate_default=True)] = None
    validation: float | int = 0.1
    test: float | int = 0.2
    subset: Annotated[int, Field(ge=1)] | None = None
    stratify: bool = False  # subset keeps each class in its training-split proportion
    normalize: Literal["none", "minmax", "standard"] = "none"
    standardize_targets: bool = True  # regression: train on (t - mean) / std of the train split's targets

    _sizes = field_validator("validation", "test", mode="before")(lambda v: _split_size(v))

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, dataset: str) -> str:
        if dataset not in DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}; valid: {', '.join(DATASETS)}")
        return dataset

    @field_validator("options", mode="before")
    @classmethod
    def _validate_options(cls, options: Any, info) -> Any:
        """Each dataset validates its own options; the typed result replaces the raw dict."""
        dataset = info.data.get("dataset")
        if dataset is None or isinstance(options, BaseModel):
            return options
        if options is not None and not isinstance(options, dict):
            raise ValueError("options must be a mapping of dataset options")
        return validate_options(dataset, options or {})

    @model_serializer(mode="wrap")
    def _dump_options(self, handler):
        data = handler(self)
        if isinstance(self.options, BaseModel):
            data["options"] = self.options.model_dump(mode="json")
        return data


class Config(Frozen):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")] | None = None
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    precision: Literal["float32", "float64"] = "float32"
    data: DataConfig
    model: ModelConfig
    loss: Literal[LOSSES] = "cross_entropy"  # type: ignore[valid-type]
    optimizer: OptimizerConfig = SGDConfig(name="sgd")
    schedule: ScheduleConfig = ConstantSchedule(name="constant")
    regularization: RegularizationConfig = RegularizationConfig()
    training: TrainingConfig = TrainingConfig()
    ensemble: EnsembleConfig = EnsembleConfig()
    diagnostics: DiagnosticsConfig = DiagnosticsConfig()
    logging: LoggingConfig = LoggingConfig()

    _shorthands = field_validator("optimizer", "schedule", mode="before")(lambda v: _name_shorthand(v))

    @model_validator(mode="after")
    def _loss_matches_output(self) -> Config:
        out = self.model.layers[-1].activation
        if self.loss == "cross_entropy" and out != "softmax":
            raise ValueError(
                f"loss: cross_entropy needs a softmax output layer (the last layer is '{out}'); "
                "use binary_cross_entropy for sigmoid outputs"
            )
        if self.loss == "binary_cross_entropy" and out != "sigmoid":
            raise ValueError(f"loss: binary_cross_entropy needs a sigmoid output layer (the last layer is '{out}')")
        if getattr(self.schedule, "min_lr", 0) > self.optimizer.lr:
            raise ValueError(f"schedule.min_lr: {self.schedule.min_lr:g} is above optimizer.lr ({self.optimizer.lr:g}); "
                             "the rate falls from lr towards min_lr, so min_lr must not be larger")
        every, epochs = self.diagnostics.snapshots, self.training.epochs
        if every is not None and epochs // every > MAX_SNAPSHOTS:
            raise ValueError(f"diagnostics.snapshots: every {every} epoch(s) of {epochs} would keep "
                             f"{epochs // every + 1} snapshots; at most {MAX_SNAPSHOTS + 1} are kept, "
                             f"so use {_about(epochs, MAX_SNAPSHOTS)} or more")
        return self
