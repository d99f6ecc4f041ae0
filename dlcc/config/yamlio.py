"""YAML in and out: the safe loader (with YAML 1.2 floats), reading a config file, and writing
the resolved config back as YAML.

Every YAML document dlcc reads goes through `yaml_load` (config files, `--set` values, saved run
folders), so `1e-3` means the same number everywhere and no document can run Python code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from dlcc.config.schema import Config
from dlcc.errors import ConfigError


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


def read_yaml(path: Path) -> Any:
    """The parsed document at `path`; an unreadable file or bad YAML is a one-line ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a YAML config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    try:
        # safe loading only: a config may come from anywhere, and !!python tags must never run code.
        return yaml_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{line}: {problem}") from None


def to_dict(cfg: Config) -> dict:
    """The fully resolved config as plain data (every default filled in)."""
    return cfg.model_dump(mode="json")


def to_yaml(cfg: Config) -> str:
    """The fully resolved config as YAML; `parse(yaml_load(to_yaml(cfg)))` gives `cfg` back."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, default_flow_style=None, width=100)
