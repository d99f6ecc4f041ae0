"""The way in: a YAML file, YAML text, a dict or an already-parsed document, plus `--set`
overrides (text or (key, value) pairs) -> `Config`."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError

from dlcc.config.messages import format_errors
from dlcc.config.overrides import apply_overrides
from dlcc.config.schema import Config
from dlcc.config.safe_yaml import problem, yaml_dump
from dlcc.config.yamlio import read_yaml, to_dict, yaml_load
from dlcc.errors import ConfigError


def load(path: str | Path, overrides=(), notes: list | None = None, flags: dict | None = None) -> Config:
    """Read a YAML config, apply `--set KEY=VALUE` overrides, validate; name defaults to the stem."""
    path = Path(path)
    raw = read_yaml(path)
    if isinstance(raw, dict) and "base" in raw and "model" not in raw:
        raise ConfigError(f"{path}: this is a sweep file (it has `base:`), not a config; run it with "
                          f"`dlcc sweep {path}`")
    if isinstance(raw, dict) and raw.get("name") is None:
        raw = {**raw, "name": re.sub(r"[^A-Za-z0-9._-]", "-", path.stem).lstrip("-._") or "run"}
    return parse(raw, source=str(path), overrides=overrides, notes=notes, flags=flags)


def parse(raw: Any, source: str = "config", overrides=(), notes: list | None = None,
          flags: dict | None = None) -> Config:
    """Validate an already-parsed YAML document (plus overrides) into a `Config`.

    overrides: `KEY=VALUE` strings as `--set` takes them, or (key, value) pairs; a problem with
    an overridden value is reported as that `--set` flag's. notes: gets a line for each variant
    switch that dropped settings (see apply_overrides). flags: {key: what to call that override}
    for overrides that are not a --set flag: a flag of their own (`--name 'x'`), a sweep file's
    `set:`, a sweep point's value; their problems are named that way instead.
    """
    if not isinstance(raw, dict):
        kind = "empty" if raw is None else f"a {type(raw).__name__}"
        raise ConfigError(f"{source}: the config must be a YAML mapping of keys (data, model, ...), got {kind}")
    if not overrides:
        return _validate(raw, source)
    # Overrides are checked against the resolved original, so the original must be valid first.
    raw = apply_overrides(raw, _validate(raw, source), overrides, source, notes, flags)
    blame = {}
    for item in overrides:
        key, _, text = item.partition("=") if isinstance(item, str) else (item[0], "=", short_value(item[1]))
        blame[key] = (flags or {}).get(key) or f"--set {key}={text[:60] + '...' if len(text) > 60 else text}"
        if key == "data.dataset":  # the new dataset's options start afresh: a missing one is this flag's
            blame.setdefault("data.options", blame[key])
    return _validate(raw, source, {**blame, **(flags or {})}, base_valid=True)


def short_value(value) -> str:
    """A value as a --set flag would show it: one line of flow-style YAML."""
    text = yaml_dump(value, default_flow_style=True, width=10**6, sort_keys=False)  # keys in the order given
    return text.strip().removesuffix("...").strip()


def _validate(raw: dict, source: str, blame: dict | None = None, base_valid: bool = False) -> Config:
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, source, blame, base_valid=base_valid)) from None


def load_any(config, overrides=(), notes: list | None = None, flags: dict | None = None) -> Config:
    """A Config from a path, YAML text (several lines, or one line holding a mapping), a dict or a
    Config (validated already: overrides still apply). A config without a name is named after its
    file, or "run" when it came as text or a dict."""
    if isinstance(config, Config):
        return config if not overrides else parse(to_dict(config), "config", overrides, notes, flags)
    if isinstance(config, (str, os.PathLike)) and not _is_text(config):
        return load(config, overrides, notes, flags)  # a file: named after it, sweep files refused
    raw, _ = document(config)
    source = "config (dict)" if isinstance(config, Mapping) else "config text"
    return parse(_named(raw), source=source, overrides=overrides, notes=notes, flags=flags)


def document(config) -> tuple[Any, Path | None]:
    """(the parsed document, its file or None) from a path, YAML text or a dict."""
    if isinstance(config, Mapping):
        return plain(config, "config (dict)"), None
    if _is_text(config):
        return _yaml_text(config), None
    if isinstance(config, (str, os.PathLike)):
        return read_yaml(Path(config)), Path(config)
    raise ConfigError(f"config: expected a path, YAML text, a dict or a Config, got {type(config).__name__}")


def _is_text(config) -> bool:
    """YAML text rather than a file name: several lines, or one line holding a mapping."""
    return isinstance(config, str) and ("\n" in config or _is_yaml_mapping(config))


def _is_yaml_mapping(text: str) -> bool:
    """One line that is a YAML mapping (`{data: ...}`) rather than a file name."""
    try:
        return isinstance(yaml_load(text), dict)
    except yaml.YAMLError:
        return False


def _yaml_text(text: str):
    try:
        return yaml_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config text: not valid YAML{problem(exc)}") from None


def _named(raw):
    return {**raw, "name": "run"} if isinstance(raw, dict) and raw.get("name") is None else raw


def override_pairs(overrides) -> list:
    """(key, value) pairs from a dict, or `KEY=VALUE` strings kept as text for the YAML parser."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [(str(key), plain(value, f"overrides[{key!r}]")) for key, value in overrides.items()]
    if isinstance(overrides, str) or not isinstance(overrides, Iterable):
        raise ConfigError("overrides: expected a dict {'optimizer.lr': 0.05} or a list ['optimizer.lr=0.05']")
    return [item if isinstance(item, str) else _pair(item) for item in overrides]


def _pair(item):
    if isinstance(item, tuple) and len(item) == 2:
        return str(item[0]), plain(item[1], f"overrides: {item[0]}")
    raise ConfigError(f"overrides: {item!r} is neither 'KEY=VALUE' nor a (key, value) pair")


def plain(value, where: str = "value"):
    """NumPy scalars and arrays, paths and tuples as the plain values a YAML file would hold; a
    value no YAML file could hold (an object, a complex number) is a ConfigError naming `where`."""
    if isinstance(value, (np.generic, np.ndarray)):
        value = value.tolist()  # np.int64(3) -> 3, np.array([0.1, 0.2]) -> [0.1, 0.2]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (list, tuple)):
        return [plain(v, where) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v, f"{where}.{k}") for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ConfigError(f"{where}: {type(value).__name__} {value!r:.60} is not a value a config can hold "
                      "(numbers, text, true/false, null, lists and mappings of them)")


