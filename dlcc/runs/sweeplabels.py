"""Names for what a sweep varies: short key names and values as people read them.

    short_names(["optimizer.lr", "model.layers.0.units"]) -> {"optimizer.lr": "lr",
                                                              "model.layers.0.units": "units"}
    point_label(point, keys)  -> "variant=adam, lr=0.01"  (the point's swept values)
    label_for(run_dir)        -> "lr=0.01, seed=2" for a run inside a sweep folder, else None

Legends, table columns and `dlcc runs` use these, so a run of a sweep is called by what was
swept rather than by its folder's name or time stamp.
"""

from __future__ import annotations

import os
from pathlib import Path

from dlcc.config import yaml_dump
from dlcc.errors import RunError
from dlcc.runs.sweepdir import SWEEP_FILE, is_sweep_dir, read_definition

VARIANT = "variant"  # the pseudo-key of a sweep's named variants


def short_names(keys) -> dict[str, str]:
    """Each dotted key by its shortest tail that no other key ends with; a tail never starts
    with a list index (model.layers.0.units and model.layers.1.units -> layers.0.units, layers.1.units)."""
    keys = list(dict.fromkeys(keys))
    names = {}
    for key in keys:
        parts = key.split(".")
        for n in range(1, len(parts) + 1):
            tail = parts[-n:]
            if tail[0].isdigit() and n < len(parts):
                continue
            text = ".".join(tail)
            if not any(other != key and (other == text or other.endswith("." + text)) for other in keys):
                break
        names[key] = text
    return names


def format_value(value) -> str:
    """A swept value in a legend or a table cell: 0.001, 16, adam, true, null, {name: adam}."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return yaml_dump(value, default_flow_style=True, width=10**6).strip()
    return str(value)


def format_values(values: list) -> str:
    """A list of swept values in one cell: all of them when few, else the range and the count."""
    distinct = list(dict.fromkeys(format_value(v) for v in values))
    if len(distinct) <= 4:
        return ", ".join(distinct)
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) == len(values):
        return f"{format_value(min(numbers))}..{format_value(max(numbers))} ({len(distinct)})"
    return f"{len(distinct)} values"


def axis_value(point: dict, key: str):
    """The value a point takes for a swept key (or the pseudo-key `variant`); None when unset."""
    return point.get("variant") if key == VARIANT else (point.get("values") or {}).get(key)


def axis_keys(definition: dict) -> list[str]:
    """The sweep's swept keys, `variant` first when it has named variants."""
    keys = list(definition.get("keys") or [])
    if any(p.get("variant") is not None for p in definition.get("points") or []):
        keys.insert(0, VARIANT)
    return keys


def point_label(point: dict, keys, names: dict | None = None) -> str:
    """"variant=adam, lr=0.01": the point's value of each key, by the keys' short names."""
    names = names or short_names(keys)
    return ", ".join(f"{names[k]}={format_value(axis_value(point, k))}" for k in keys)


def label_for(run_dir: str | Path, *, seed: bool = True) -> str | None:
    """The swept values of a run inside a sweep folder ("lr=0.01", plus ", seed=2" when the sweep
    has several seeds and seed=True), read from the parent's sweep.yaml; None for any other run
    or when there is nothing to say."""
    run_dir = Path(run_dir)
    definition = _definition(run_dir.parent)
    if definition is None:
        return None
    entry = next((r for r in definition.get("runs") or [] if isinstance(r, dict) and r.get("run") == run_dir.name),
                 None)
    point = next((p for p in definition.get("points") or [] if entry and p.get("id") == entry.get("point")), None)
    if point is None:
        return None
    parts = [point_label(point, axis_keys(definition))] if axis_keys(definition) else []
    if seed and len(definition.get("seeds") or []) > 1:
        parts.append(f"seed={entry.get('seed')}")
    return ", ".join(p for p in parts if p) or None


_CACHE: dict[Path, tuple[int, dict | None]] = {}


def _definition(sweep_dir: Path) -> dict | None:
    """sweep.yaml of sweep_dir, read once per change (a legend asks for every run of the sweep)."""
    if not is_sweep_dir(sweep_dir):
        return None
    try:
        stamp = os.stat(sweep_dir / SWEEP_FILE).st_mtime_ns
    except OSError:
        return None
    key = sweep_dir.resolve()
    if key not in _CACHE or _CACHE[key][0] != stamp:
        try:
            _CACHE[key] = (stamp, read_definition(sweep_dir))
        except RunError:
            _CACHE[key] = (stamp, None)
    return _CACHE[key][1]
