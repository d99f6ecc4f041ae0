"""The config schema: YAML -> validated, typed, frozen objects.

Everything the rest of dlcc reads comes from a `Config` built here; nothing inside the package
re-checks values or reads raw dicts. Constraints are data (`Field(gt=0)`, `Literal[...]`), not
if-chains. Unknown keys are errors (`extra="forbid"`), so a misspelt key never passes silently.

Public functions: `load(path, overrides)`, `parse(raw, source, overrides)`, `to_yaml(cfg)`.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from dlcc.errors import ConfigError

# Size limits keep a typo from asking for terabytes (a clear error instead of a memory blow-up).
MAX_UNITS = 65_536
MAX_LAYERS = 64
MAX_EPOCHS = 100_000
MAX_MEMBERS = 100

ACTIVATIONS = ("linear", "sigmoid", "tanh", "relu", "leaky_relu", "softmax", "step")
INITIALIZERS = (
    "zeros", "constant", "normal", "uniform", "glorot_uniform", "glorot_normal",
    "he_normal", "he_uniform", "lecun_normal", "large_normal", "scaled_normal",
)
LOSSES = ("quadratic", "mse", "l1", "cross_entropy", "binary_cross_entropy")


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
        if last.dropout > 0:
            raise ValueError(f"layers.{len(hidden)}.dropout: dropout on the output layer is not allowed")
        return self


# --------------------------------------------------------------------------- optimizer

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


OptimizerConfig = Annotated[
    Union[SGDConfig, AdaGradConfig, RMSPropConfig, AdamConfig], Field(discriminator="name")
]

# --------------------------------------------------------------------------- schedule

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


ScheduleConfig = Annotated[
    Union[ConstantSchedule, StepSchedule, ExponentialSchedule, CosineSchedule, PlateauSchedule],
    Field(discriminator="name"),
]

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

    @field_validator("batch_size", mode="before")
    @classmethod
    def _no_bool_batch(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError('batch_size must be a positive integer or "full"')
        return value


class EnsembleConfig(Frozen):
    members: Annotated[int, Field(ge=1, le=MAX_MEMBERS)] = 1
    bagging: bool = False


class DiagnosticsConfig(Frozen):
    gradient_norms: bool = True
    probe_size: Annotated[int, Field(ge=1, le=100_000)] = 1000


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
    options: Any = None
    validation: float | int = 0.1
    test: float | int = 0.2
    subset: Annotated[int, Field(ge=1)] | None = None
    stratify: bool = False  # subset keeps each class in its training-split proportion
    normalize: Literal["none", "minmax", "standard"] = "none"

    _sizes = field_validator("validation", "test", mode="before")(lambda v: _split_size(v))

    @field_validator("options", mode="before")
    @classmethod
    def _validate_options(cls, options: Any, info) -> Any:
        """Each dataset validates its own options; the typed result replaces the raw dict."""
        dataset = info.data.get("dataset")
        if dataset is None or isinstance(options, BaseModel):
            return options
        from dlcc.data import validate_options  # late import: the data registry pulls in NumPy

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
        return self


# --------------------------------------------------------------------------- loading

class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader (no Python tags, ever), reading `1e-3` as a number.

    PyYAML follows YAML 1.1, where a float needs a dot (`1.0e-3`) and `1e-3` is a *string*; that
    surprises everyone who writes a learning rate, so we use YAML 1.2's float rule instead.
    """


_Loader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."),
)


def yaml_load(text: str):
    """Parse YAML safely (see _Loader)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a YAML config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    try:
        # safe_load only: a config may come from anywhere, and !!python tags must never run code.
        return yaml_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{line}: {problem}") from None


def load(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a YAML config, apply `--set KEY=VALUE` overrides, validate; name defaults to the stem."""
    path = Path(path)
    raw = _read_yaml(path)
    if isinstance(raw, dict) and raw.get("name") is None:
        raw = {**raw, "name": re.sub(r"[^A-Za-z0-9._-]", "-", path.stem).lstrip("-._") or "run"}
    return parse(raw, source=str(path), overrides=overrides)


def parse(raw: Any, source: str = "config", overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Validate an already-parsed YAML document (plus overrides) into a `Config`."""
    if not isinstance(raw, dict):
        kind = "empty" if raw is None else f"a {type(raw).__name__}"
        raise ConfigError(f"{source}: the config must be a YAML mapping of keys (data, model, ...), got {kind}")
    if overrides:
        raw = apply_overrides(raw, _validate(raw, source), overrides, source)
    return _validate(raw, source)


def _validate(raw: dict, source: str) -> Config:
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, source)) from None


def to_dict(cfg: Config) -> dict:
    """The fully resolved config as plain data (every default filled in)."""
    return cfg.model_dump(mode="json")


def to_yaml(cfg: Config) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, default_flow_style=None, width=100)


# --------------------------------------------------------------------------- --set

def apply_overrides(raw: dict, resolved: Config, overrides, source: str) -> dict:
    """Apply `KEY=VALUE` overrides to the raw document; a path must exist in the resolved config.

    KEY is a dotted path with list indices as numbers (`model.layers.0.units`); VALUE is parsed as a
    YAML scalar (`0.05`, `true`, `null`, `full`). Checking the path against the *resolved* config
    lets users set keys they left at their defaults, while typos are still caught.
    """
    import copy

    raw = copy.deepcopy(raw)
    full = to_dict(resolved)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set optimizer.lr=0.05")
        try:
            value = yaml_load(text)
        except yaml.YAMLError:
            raise ConfigError(f"--set {key}: cannot parse value {text!r} as a YAML scalar") from None
        parts = key.split(".")
        node, known = raw, full
        for depth, part in enumerate(parts):
            here = ".".join(parts[: depth + 1])
            index: Any = part
            if isinstance(known, list):
                if not part.isdigit() or int(part) >= len(known):
                    raise ConfigError(f"--set {key}: '{here}' is not an index of a {len(known)}-item list")
                index = int(part)
            elif isinstance(known, dict) and part in known:
                pass
            elif isinstance(known, dict) and "name" in known and part in _VARIANT_FIELDS:
                pass  # a field of another variant (--set schedule.name=step --set schedule.step_size=2)
            elif isinstance(known, str) and depth > 0:
                known = {"name": known}  # an initializer given by name: its parameters may be set
                if part not in ("std", "limit", "value"):
                    raise ConfigError(_unknown_path(key, here, list(known)))
            elif known is None and depth > 0:
                known = {}  # a section left null (e.g. training.early_stopping): let the schema judge
            else:
                choices = list(known) if isinstance(known, dict) else []
                raise ConfigError(_unknown_path(key, here, choices))
            last = depth == len(parts) - 1
            if last:
                node[index] = value
                if parts[:-1] in (["optimizer"], ["schedule"]) and value in _VARIANTS:
                    _drop_foreign_fields(node, _VARIANTS[value])
                break
            child = node[index] if _has(node, index) else None
            if isinstance(child, str):
                child = {"name": child}
            elif child is None:
                child = {}
            elif isinstance(child, list) and isinstance(known[index], list):
                child = list(child)
            node[index] = child
            node, known = child, (known[index] if isinstance(known, (list, dict)) and _has(known, index) else None)
    return raw


_VARIANT_FIELDS = {
    name
    for model in (SGDConfig, AdaGradConfig, RMSPropConfig, AdamConfig, StepSchedule, ExponentialSchedule,
                  CosineSchedule, PlateauSchedule, InitSpec)
    for name in model.model_fields
}


_VARIANTS = {
    model.model_fields["name"].annotation.__args__[0]: model
    for model in (SGDConfig, AdaGradConfig, RMSPropConfig, AdamConfig, ConstantSchedule, StepSchedule,
                  ExponentialSchedule, CosineSchedule, PlateauSchedule)
}


def _drop_foreign_fields(section: dict, model: type[BaseModel]) -> None:
    """Switching `optimizer.name` (or `schedule.name`) drops the old variant's own keys, so that
    `--set optimizer.name=adam` works on a saved config that spells out `momentum: 0.0`."""
    for key in [k for k in section if k not in model.model_fields]:
        del section[key]


def _has(container: Any, index: Any) -> bool:
    if isinstance(container, list):
        return isinstance(index, int) and index < len(container)
    return isinstance(container, dict) and index in container


def _unknown_path(key: str, here: str, choices: list[str]) -> str:
    hint = difflib.get_close_matches(here.rsplit(".", 1)[-1], choices, n=1)
    maybe = f"; did you mean '{hint[0]}'?" if hint else ""
    allowed = f" (allowed here: {', '.join(map(str, choices))})" if choices else ""
    return f"--set {key}: unknown config key '{here}'{maybe}{allowed}"


# --------------------------------------------------------------------------- messages

def _all_field_names(model: type[BaseModel] = Config, seen: set | None = None) -> set[str]:
    """Every key the schema knows, for 'did you mean' hints on misspelt keys."""
    seen = set() if seen is None else seen
    if model in seen:
        return set()
    seen.add(model)
    names = set(model.model_fields)
    for field in model.model_fields.values():
        for sub in _models_in(field.annotation):
            names |= _all_field_names(sub, seen)
    return names


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found = []
    for arg in getattr(annotation, "__args__", ()) or ():
        found += _models_in(arg)
    for meta in getattr(annotation, "__metadata__", ()) or ():
        found += _models_in(meta)
    return found




def format_errors(exc: ValidationError, source: str) -> str:
    """One line per problem: `source: key.path: what is wrong (got VALUE)`."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = _user_path(err["loc"])
        path = ".".join(loc) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and loc:
            hint = difflib.get_close_matches(loc[-1], sorted(_all_field_names()), n=1)
            msg = "unknown key" + (f"; did you mean '{hint[0]}'?" if hint else "")
        elif err["type"] not in ("missing",) and "input" in err and not isinstance(err["input"], (dict, list)):
            msg += f" (got {err['input']!r})"
        lines.append(f"{source}: {path}: {msg}")
    # pydantic reports one error per union branch for `int | "full"`; keep the lines unique.
    return "\n".join(dict.fromkeys(lines))


def _user_path(loc: tuple) -> list[str]:
    """The key path a user wrote, without pydantic's union-branch labels.

    Pydantic adds a label for the branch it tried: the tag of a discriminated union
    (`optimizer.sgd.lr`), or a type name for a plain union (`batch_size.int`,
    `batch_size.literal['full']`, `init.InitSpec`). Field names are never such labels.
    """
    path: list[str] = []
    for part in loc:
        text = str(part)
        if path and path[-1] in ("optimizer", "schedule") and text in _VARIANTS:
            continue
        if text[:1].isupper() or text.startswith(_TYPE_LABELS) or text in ("int", "float", "str", "bool"):
            continue
        path.append(text)
    return path


_TYPE_LABELS = ("function-", "literal[", "constrained-", "list[", "dict[", "union[", "nullable[")
