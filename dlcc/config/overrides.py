"""`--set KEY=VALUE`: overrides applied to the raw YAML document before it is validated.

KEY is a dotted path with list indices as numbers (`model.layers.0.units`); VALUE is parsed as a
YAML scalar (`0.05`, `true`, `null`, `full`). A path must exist in the *resolved* config, so users
can set keys they left at their defaults while typos are still caught.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml
from pydantic import ValidationError

from dlcc.config.messages import did_you_mean, shorten
from dlcc.config.safe_yaml import problem_text
from dlcc.config.schema import VARIANTS, Config, InitSpec
from dlcc.data import DATASETS
from dlcc.config.yamlio import to_dict, yaml_load
from dlcc.errors import ConfigError

# Every field of any optimizer, schedule or initializer variant: after `--set schedule.name=step`
# the resolved config still shows the old variant's keys, so `schedule.step_size` must be allowed.
_VARIANT_FIELDS = {name for model in (*VARIANTS.values(), InitSpec) for name in model.model_fields}


# Keys that choose a variant: setting one starts its section afresh, from that variant's defaults.
SWITCHES = {"optimizer.name": ("optimizer", "name"), "schedule.name": ("schedule", "name"),
            "data.dataset": ("data", "dataset")}


def apply_overrides(raw: dict, resolved: Config, overrides, source: str, notes: list | None = None,
                    names: dict | None = None) -> dict:
    """A copy of `raw` with each override applied: `KEY=VALUE` text (the value parsed as YAML) or
    a (key, value) pair (the value as it is); a path must exist in the config. names: {key: what
    to call that override in an error} for those that are not a `--set` flag (a sweep file's `set:`).

    Choosing a variant (`optimizer.name`, `schedule.name`, `data.dataset`) is applied first and
    gives that variant its own defaults: the old variant's settings (its lr, momentum, dataset
    options, ...) are dropped, except those set by the same overrides, and `notes` gets one line
    naming what was dropped. The other overrides then apply in order, so the result does not
    depend on the order of overrides that touch different keys.
    """
    raw = copy.deepcopy(raw)
    pairs = [item if isinstance(item, tuple) else _parse_item(item) for item in overrides]
    explicit = {key for key, _ in pairs}
    switched = []
    for key, value in pairs:
        if key in SWITCHES and isinstance(value, str):
            dropped = _switch(raw, key, value, explicit)
            switched.append(SWITCHES[key][0])
            if dropped and notes is not None:
                notes.append(f"--set {key}={value}: {SWITCHES[key][0]} starts from {value}'s defaults; "
                             f"dropped {', '.join(dropped)} (set again with --set what should stay)")
    if switched:
        try:  # check the other paths against the switched config (moons has no `classes` option)
            resolved = Config.model_validate(raw)
        except ValidationError:
            pass  # e.g. a csv dataset whose path comes later: the schema judges at the end
    full = to_dict(resolved)
    dataset = (raw.get("data") or {}).get("dataset") if isinstance(raw.get("data"), dict) else None
    if "data" in switched and dataset in DATASETS and isinstance(full.get("data"), dict):
        # The new dataset's options are settable even while the config is not valid yet (a csv
        # dataset needs its path, which a later --set gives).
        full["data"]["options"] = {k: None for k in DATASETS[dataset].options_model.model_fields}
    for key, value in pairs:
        if key in SWITCHES and isinstance(value, str):
            continue
        parts = key.split(".")
        node, known = raw, full
        name = (names or {}).get(key) or f"--set {shorten(key)}"
        for depth, part in enumerate(parts):
            here = ".".join(parts[: depth + 1])
            index: Any = part
            if isinstance(known, list):
                # ASCII digits only: str.isdigit() also accepts '²', which int() does not
                if not (part.isascii() and part.isdigit()) or int(part) >= len(known):
                    raise ConfigError(f"{name}: '{shorten(here)}' is not an index of a "
                                      f"{len(known)}-item list (0..{len(known) - 1})")
                index = int(part)
            elif isinstance(known, dict) and part in known:
                pass
            elif isinstance(known, dict) and "name" in known and part in _VARIANT_FIELDS:
                pass  # a field of another variant (--set schedule.name=step --set schedule.step_size=2)
            elif isinstance(known, str) and depth > 0:
                known = {"name": known}  # an initializer given by name: its parameters may be set
                if part not in InitSpec.model_fields:  # name, std, limit, value
                    raise ConfigError(_unknown_path(name, here, list(known)))
            elif known is None and depth > 0:
                known = {}  # a section left null (e.g. training.early_stopping): let the schema judge
            else:
                choices = list(known) if isinstance(known, dict) else []
                raise ConfigError(_unknown_path(name, here, choices))
            last = depth == len(parts) - 1
            if last:
                node[index] = copy.deepcopy(value)  # never the caller's own dict: later keys write into it
                break
            child = node[index] if _has(node, index) else None
            default = known[index] if isinstance(known, (list, dict)) and _has(known, index) else None
            if child is None and isinstance(default, dict) and "name" in default:
                child = {"name": default["name"]}  # a variant left at its default: keep which one it is
            elif child is None and isinstance(default, str):
                child = default  # an initializer left at its default, by name
            if isinstance(child, str):
                child = {"name": child}
            elif child is None:
                child = {}
            elif isinstance(child, list) and isinstance(known[index], list):
                child = list(child)
            node[index] = child
            node, known = child, (known[index] if isinstance(known, (list, dict)) and _has(known, index) else None)
    return raw


def _parse_item(item: str) -> tuple[str, Any]:
    """`KEY=VALUE` text -> (key, value), VALUE parsed as YAML."""
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set {shorten(repr(item))}: expected KEY=VALUE, e.g. --set optimizer.lr=0.05")
    try:
        return key, yaml_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {shorten(key)}: cannot parse value {shorten(repr(text))} as YAML "
                          f"({shorten(problem_text(exc))})") from None


def _switch(raw: dict, key: str, value: str, explicit: set) -> list[str]:
    """Put variant `value` in its section, dropping the old variant's own settings; returns them
    as `key=value` texts (those the same overrides set again are not dropped, just replaced)."""
    section, field = SWITCHES[key]
    old = raw.get(section)
    old = {"name": old} if isinstance(old, str) else dict(old or {})
    if old.get(field) == value:
        return []
    if section == "data":  # only the options belong to the dataset; splits and normalization stay
        options = old.pop("options", None) or {}
        dropped = [f"data.options.{k}={v}" for k, v in options.items() if f"data.options.{k}" not in explicit]
        raw[section] = {**old, field: value}
        return dropped
    dropped = [f"{section}.{k}={v}" for k, v in old.items() if k != field and f"{section}.{k}" not in explicit]
    raw[section] = {field: value}
    return dropped


def _has(container: Any, index: Any) -> bool:
    if isinstance(container, list):
        return isinstance(index, int) and index < len(container)
    return isinstance(container, dict) and index in container


def _unknown_path(name: str, here: str, choices: list[str]) -> str:
    maybe = did_you_mean(here.rsplit(".", 1)[-1], choices)
    allowed = f" (allowed here: {', '.join(map(str, choices))})" if choices else ""
    return f"{name}: unknown config key '{shorten(here)}'{maybe}{allowed}"

