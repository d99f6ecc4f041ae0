"""YAML in and out: reading a config file, and writing the resolved config back as YAML.

Every YAML document dlcc reads goes through `yaml_load` (safe_yaml.py: YAML 1.2 floats, no
duplicate keys, bounded nesting), so `1e-3` means the same number everywhere and no document can
run Python code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from dlcc.config.safe_yaml import problem, read_yaml_file, yaml_dump, yaml_load
from dlcc.config.schema import Config
from dlcc.errors import ConfigError

__all__ = ["read_yaml", "to_dict", "to_yaml", "yaml_load"]


def read_yaml(path: Path) -> Any:
    """The parsed document at `path`; an unreadable file or bad YAML is a one-line ConfigError."""
    try:
        text = read_yaml_file(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (OSError, ValueError) as exc:  # not a regular file, too large, not UTF-8, no permission
        raise ConfigError(f"{path}: cannot read config: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        # safe loading only: a config may come from anywhere, and !!python tags must never run code.
        return yaml_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML{problem(exc)}") from None


def to_dict(cfg: Config) -> dict:
    """The fully resolved config as plain data (every default filled in)."""
    return cfg.model_dump(mode="json")


def to_yaml(cfg: Config) -> str:
    """The fully resolved config as YAML; `parse(yaml_load(to_yaml(cfg)))` gives `cfg` back."""
    return yaml_dump(to_dict(cfg), sort_keys=False, default_flow_style=None, width=100)
