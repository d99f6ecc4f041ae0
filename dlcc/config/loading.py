"""The way in: a YAML file or an already-parsed document, plus `--set` overrides -> `Config`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dlcc.config.messages import format_errors
from dlcc.config.overrides import apply_overrides
from dlcc.config.schema import Config
from dlcc.config.yamlio import read_yaml
from dlcc.errors import ConfigError


def load(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a YAML config, apply `--set KEY=VALUE` overrides, validate; name defaults to the stem."""
    path = Path(path)
    raw = read_yaml(path)
    if isinstance(raw, dict) and raw.get("name") is None:
        raw = {**raw, "name": re.sub(r"[^A-Za-z0-9._-]", "-", path.stem).lstrip("-._") or "run"}
    return parse(raw, source=str(path), overrides=overrides)


def parse(raw: Any, source: str = "config", overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Validate an already-parsed YAML document (plus overrides) into a `Config`."""
    if not isinstance(raw, dict):
        kind = "empty" if raw is None else f"a {type(raw).__name__}"
        raise ConfigError(f"{source}: the config must be a YAML mapping of keys (data, model, ...), got {kind}")
    if overrides:
        # Overrides are checked against the resolved original, so the original must be valid first.
        raw = apply_overrides(raw, _validate(raw, source), overrides, source)
    return _validate(raw, source)


def _validate(raw: dict, source: str) -> Config:
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, source)) from None
