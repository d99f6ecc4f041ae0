"""The config: YAML -> validated, typed, frozen objects, validated once at the edge.

    cfg = config.load("configs/spirals.yaml", overrides=["optimizer.lr=0.05"])
    config.to_yaml(cfg)   # the fully resolved config, every default filled in

schema.py holds the pydantic models, loading.py `load`/`parse`, overrides.py `--set`,
messages.py the one-line error text, yamlio.py the safe YAML loader and writer.
"""

from dlcc.config.loading import document, load, load_any, override_pairs, parse, plain, short_value
from dlcc.config.messages import format_errors
from dlcc.config.overrides import apply_overrides
from dlcc.config.schema import (
    ACTIVATIONS,
    INITIALIZERS,
    LOSSES,
    MAX_EPOCHS,
    MAX_LAYERS,
    MAX_MEMBERS,
    MAX_UNITS,
    AdaGradConfig,
    AdamConfig,
    Config,
    ConstantSchedule,
    CosineSchedule,
    DataConfig,
    DiagnosticsConfig,
    EarlyStoppingConfig,
    EnsembleConfig,
    ExponentialSchedule,
    Frozen,
    InitConfig,
    InitSpec,
    LayerConfig,
    LayerInitConfig,
    ModelConfig,
    OptimizerConfig,
    PlateauSchedule,
    RegularizationConfig,
    RMSPropConfig,
    ScheduleConfig,
    SGDConfig,
    StepSchedule,
    TrainingConfig,
)
from dlcc.config.safe_yaml import yaml_dump
from dlcc.config.yamlio import to_dict, to_yaml, yaml_load

__all__ = [
    "ACTIVATIONS", "INITIALIZERS", "LOSSES", "MAX_EPOCHS", "MAX_LAYERS", "MAX_MEMBERS", "MAX_UNITS",
    "AdaGradConfig", "AdamConfig", "Config", "ConstantSchedule", "CosineSchedule", "DataConfig",
    "DiagnosticsConfig", "EarlyStoppingConfig", "EnsembleConfig", "ExponentialSchedule", "Frozen",
    "InitConfig", "InitSpec", "LayerConfig", "LayerInitConfig", "ModelConfig", "OptimizerConfig",
    "PlateauSchedule", "RMSPropConfig", "RegularizationConfig", "SGDConfig", "ScheduleConfig",
    "StepSchedule", "TrainingConfig",
    "apply_overrides", "document", "format_errors", "load", "load_any", "override_pairs", "parse", "plain", "short_value", "to_dict", "to_yaml", "yaml_dump", "yaml_load",
]
