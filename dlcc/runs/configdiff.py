"""Which config keys tell runs apart: the dotted paths `dlcc compare`, `dlcc runs` and seed groups name.

    flatten      a config as {dotted path: value}, the paths --set takes (model.layers.0.units)
    config_diff  the paths whose values differ between configs (or that only some configs have)
    group_keys   per seed group, the few paths that tell the groups apart (its label)
"""

from __future__ import annotations

import json

LABEL_KEYS = ("name",)          # never a difference that matters
REPEAT_KEYS = ("name", "seed")  # runs equal apart from these are repeats of one experiment


def flatten(tree, prefix: str = "") -> dict:
    """{"optimizer": {"lr": 0.1}, "model": {"layers": [{"units": 3}]}} ->
    {"optimizer.lr": 0.1, "model.layers.0.units": 3} (the paths --set takes)."""
    if isinstance(tree, dict) and tree:
        items = tree.items()
    elif isinstance(tree, list) and tree:
        items = enumerate(tree)
    else:
        return {prefix: tree} if prefix else {}
    flat: dict = {}
    for key, value in items:
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def config_diff(flats: list[dict]) -> dict:
    keys: list[str] = []  # every run's keys in config order: one run's extra keys go after their neighbour
    for flat in flats:
        at = 0
        for key in flat:
            if key in keys:
                at = keys.index(key) + 1
            else:
                keys.insert(at, key)
                at += 1
    keys = [k for k in keys if k not in LABEL_KEYS]
    diff = {}
    for key in keys:
        values = [flat.get(key) for flat in flats]
        present = [key in flat for flat in flats]
        if len({json.dumps(v, sort_keys=True) for v in values}) > 1 or len(set(present)) > 1:
            diff[key] = values
    return diff


def group_keys(configs: list[dict]) -> list[dict]:
    """For each group (one flattened config each): the keys that tell the groups apart -> its value.

    A key is named when its value varies among the groups that have it: optimizer.lr, or
    optimizer.momentum between two sgd groups. A key that only comes with another difference
    (adam's beta1, present for adam alone) is left to that difference (optimizer.name=adam). If
    that leaves two labels equal, or one empty (early_stopping null against on: nothing varies),
    keys present in some groups only are added, in config order."""
    diff = [k for k in config_diff(configs) if k not in REPEAT_KEYS]

    def varies(key) -> bool:
        return len({json.dumps(c[key], default=str) for c in configs if key in c}) > 1

    def distinct(keys) -> int:
        return len({json.dumps([(k, c[k]) for k in keys if k in c], default=str) for c in configs})

    def unnamed(keys) -> list[dict]:
        return [c for c in configs if not any(k in c for k in keys)]

    chosen = [k for k in diff if varies(k)]
    for key in diff:
        if distinct(chosen) == len(configs) and not unnamed(chosen):
            break
        if key not in chosen and (distinct(chosen + [key]) > distinct(chosen)
                                  or any(key in c for c in unnamed(chosen))):
            chosen.append(key)
    return [{k: c[k] for k in diff if k in chosen and k in c} for c in configs]


def text(value) -> str:
    """A config value as YAML writes it: null, true/false, numbers and strings as they are."""
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
