"""A sweep: one base config, the settings to vary, and the seeds to repeat each point with.

As a file (SWEEP.yaml) or from `dlcc sweep CONFIG.yaml --grid ... --random ... --seeds ...`:

    name: optimizers
    base: ../spirals.yaml            # a config file (relative to this file) or an inline mapping
    set: {training.epochs: 30}       # applied to every run
    variants:                        # named points, each a set of overrides
      sgd: {optimizer: {name: sgd, lr: 0.3}}
      adam: {optimizer: {name: adam, lr: 0.01}}
    grid: {model.layers.0.units: [50, 100]}          # every combination
    random: {optimizer.lr: loguniform(1e-3, 1)}      # `trials` draws per grid point
    trials: 4
    seeds: 5                         # 5 -> 0..4; "3-7"; "0,2,9"; or a list
    executor: local                  # local | ray
    workers: 2

Points = variants x grid x trials; runs = points x seeds. A swept `optimizer.name` (or
`schedule.name`) starts that section afresh, so each optimizer gets its own defaults.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import Field, PrivateAttr, ValidationError, field_validator

from dlcc.config.messages import format_errors, shorten
from dlcc.config.safe_yaml import problem_text
from dlcc.config.schema import Frozen
from dlcc.config.yamlio import yaml_load
from dlcc.errors import ConfigError

DISTRIBUTIONS = ("uniform", "loguniform", "int", "choice")
MAX_RUNS_WITHOUT_YES = 10_000
MAX_SEED = 2**63 - 1
MAX_SEEDS = 10_000  # seeds a count or an A-B range may give


class SweepSpec(Frozen):
    """A sweep file, validated (the base config itself is validated point by point)."""

    model_config = Frozen.model_config | {"strict": False}

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")] | None = None
    base: str | dict
    set: dict[str, Any] = {}
    variants: dict[str, dict[str, Any]] = {}
    grid: dict[str, list] = {}
    random: dict[str, str] = {}
    trials: Annotated[int, Field(ge=1)] | None = None
    draw_seed: Annotated[int, Field(ge=0)] = 0
    seeds: list[int] | int | str = [0]
    executor: Literal["local", "ray"] = "local"
    workers: Annotated[int, Field(ge=1, le=256)] | None = None
    ray_address: str | None = None
    # The `set` keys given as --set flags (or sets= in Python) rather than in the file: errors name them so.
    _flag_sets: frozenset = PrivateAttr(frozenset())

    @field_validator("grid")
    @classmethod
    def _grids_not_empty(cls, grid: dict) -> dict:
        for key, values in grid.items():
            if not values:
                raise ValueError(f"{key}: an empty list of values; give at least one")
            twice = [v for i, v in enumerate(values) if v in values[:i]]
            if twice:  # the same point trained twice would count as two samples of it
                raise ValueError(f"{key}: {twice[0]!r} is listed twice; give each value once")
        return grid

    @field_validator("random", mode="before")  # before "Input should be a valid string" says less
    @classmethod
    def _distributions_parse(cls, random: Any) -> Any:
        for key, text in (random.items() if isinstance(random, dict) else ()):
            if not isinstance(text, str):
                raise ValueError(f"{key}: {shorten(repr(text))} is not a distribution; write one as text: "
                                 "uniform(a, b), loguniform(a, b), int(a, b) or choice(v1, v2, ...)")
            parse_distribution(key, text)
        return random

    @field_validator("seeds", mode="before")  # before pydantic makes `true` the seed 1
    @classmethod
    def _seeds_parse(cls, seeds) -> list[int]:
        return parse_seeds(seeds)


def parse_spec(raw: Any, source: str, flags: dict | None = None) -> SweepSpec:
    """flags: {key: "--name X"} for the keys a command-line flag set: their errors name the flag."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: a sweep file must be a YAML mapping (base, grid, seeds, ...)")
    try:
        spec = SweepSpec.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, source, flags, SweepSpec)) from None
    if spec.random and spec.trials is None:
        raise ConfigError(f"{source}: trials: how many random draws? `random` needs `trials: N` (--trials N)")
    if spec.trials is not None and not spec.random:
        raise ConfigError(f"{source}: trials: {spec.trials} draws of nothing; add a `random` key (--random KEY=DIST)")
    own = sorted({"seed", "name"} & {*spec.grid, *spec.random, *spec.set,
                                      *(k for variant in spec.variants.values() for k in variant)})
    if own:  # each run's seed and folder name are the sweep's to give (seeds, the point ids)
        raise ConfigError(f"{source}: {', '.join(own)}: a sweep sets each run's {' and '.join(own)} itself; "
                          "give seeds with `seeds:` (--seeds) and the sweep's name with `name:` (--name)")
    overlap = set(spec.grid) & set(spec.random)
    if overlap:
        raise ConfigError(f"{source}: {', '.join(sorted(overlap))}: swept by both grid and random; choose one")
    return spec


def parse_seeds(seeds) -> list[int]:
    """5 -> [0..4]; "3-7" -> [3..7]; "0,2,9" or [0, 2, 9] -> as given (no repeats)."""
    if isinstance(seeds, bool):
        raise ValueError("a count, A-B, A,B,... or a list of integers")
    if isinstance(seeds, int):
        if not 1 <= seeds <= MAX_SEEDS:
            raise ValueError(f"a count of seeds must be 1..{MAX_SEEDS}")
        return list(range(seeds))
    if isinstance(seeds, str):
        text = seeds.strip()
        if re.fullmatch(r"\d+", text):
            return parse_seeds(int(text))
        match = re.fullmatch(r"(\d+)\s*-\s*(\d+)", text)
        if match:
            a, b = int(match[1]), int(match[2])
            if b < a:
                raise ValueError("the range A-B runs backwards")
            if b - a >= MAX_SEEDS:  # before the list is made: 0-99999999999999 would fill the memory
                raise ValueError(f"a range A-B holds at most {MAX_SEEDS} seeds")
            return parse_seeds(list(range(a, b + 1)))
        if re.fullmatch(r"\d+(\s*,\s*\d+)*", text):
            return parse_seeds([int(s) for s in text.split(",")])
        raise ValueError("write a count (5), a range (3-7) or a list (0,2,9)")
    if isinstance(seeds, list):
        if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED for s in seeds):
            raise ValueError("a non-empty list of integers >= 0")
        if len(set(seeds)) != len(seeds):
            raise ValueError("a seed is repeated")
        return list(seeds)
    raise ValueError("a count, A-B, A,B,... or a list of integers")


def parse_distribution(key: str, text: str) -> tuple[str, list]:
    """'loguniform(1e-4, 1e-1)' -> ("loguniform", [0.0001, 0.1]); errors name the key."""
    match = re.fullmatch(r"\s*([a-z]+)\s*\((.*)\)\s*", str(text))
    if not match or match[1] not in DISTRIBUTIONS:
        raise ValueError(f"{key}: {text!r} is not a distribution; use one of uniform(a, b), loguniform(a, b), "
                         "int(a, b), choice(v1, v2, ...)")
    kind = match[1]
    try:
        args = [yaml_load(part.strip()) for part in match[2].split(",")] if match[2].strip() else []
    except yaml.YAMLError as exc:
        raise ValueError(f"{key}: cannot read the values of {text!r} ({problem_text(exc)})") from None
    if kind == "choice":
        if not args:
            raise ValueError(f"{key}: choice() needs at least one value")
        return kind, args
    if len(args) != 2 or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
        raise ValueError(f"{key}: {kind}(a, b) takes two numbers, got {text!r}")
    low, high = args
    if not _drawable(kind, low, high):
        raise ValueError(f"{key}: {kind}({low}, {high}) is beyond what NumPy draws from: "
                         + ("whole numbers from -2**63 to 2**63-1" if kind == "int" else "finite numbers whose "
                            "difference is below 1.8e308"))
    if not low < high:
        raise ValueError(f"{key}: {kind}({low}, {high}): the low end must be below the high end")
    if kind == "loguniform" and low <= 0:
        raise ValueError(f"{key}: loguniform({low}, {high}) needs a > 0 (it draws log-uniformly)")
    if kind == "int" and not (float(low).is_integer() and float(high).is_integer()):
        raise ValueError(f"{key}: int({low}, {high}) takes whole numbers")
    return kind, [low, high]


def _drawable(kind: str, low, high) -> bool:
    """Whether draw() can draw between these ends: YAML reads 1e400 as inf and 10**400 as an int
    no float holds, and NumPy refuses a span beyond float64 (or int64 for int) with an
    OverflowError or ValueError, so such ends are refused here, where the key is known."""
    if kind == "int":
        return all(-2**63 <= end <= MAX_SEED for end in (low, high))
    try:
        return math.isfinite(float(high) - float(low))
    except OverflowError:  # an int too large for a float
        return False


def draw(kind: str, args: list, rng: np.random.Generator):
    """One value: uniform U(a, b); loguniform exp(U(ln a, ln b)); int uniform on a..b inclusive;
    choice: one of the values, equally likely."""
    if kind == "uniform":
        return float(rng.uniform(*args))
    if kind == "loguniform":
        return float(math.exp(rng.uniform(math.log(args[0]), math.log(args[1]))))
    if kind == "int":
        return int(rng.integers(int(args[0]), int(args[1]), endpoint=True))
    return args[int(rng.integers(len(args)))]


def count_points(spec: SweepSpec) -> int:
    """How many points expand(spec) makes, without drawing anything."""
    return max(len(spec.variants), 1) * math.prod(len(v) for v in spec.grid.values()) * (spec.trials or 1)


def expand(spec: SweepSpec) -> tuple[list[str], list[dict]]:
    """(swept keys in column order, points), a point = {id, variant, values: {key: value}}.

    Random values are drawn here, once, from draw_seed: the resolved points are saved in
    sweep.yaml, so resuming a sweep never draws again.
    """
    rng = np.random.default_rng(spec.draw_seed)
    keys = [*spec.grid, *spec.random]
    variants = list(spec.variants) or [None]
    combos = list(itertools.product(*spec.grid.values())) or [()]
    points = []
    for variant in variants:
        for combo in combos:
            for _ in range(spec.trials or 1):
                values = dict(zip(spec.grid, combo))
                values |= {k: draw(*parse_distribution(k, text), rng) for k, text in spec.random.items()}
                points.append({"id": f"p{len(points):03d}", "variant": variant, "values": values})
    return keys, points


def point_overrides(spec: SweepSpec, point: dict) -> list[tuple[str, Any]]:
    """The overrides of one point, in the order they apply: set, the variant's, the swept values.

    Choosing a variant (`optimizer.name`, `schedule.name`, or a whole `optimizer: {...}` section)
    starts that section afresh, before everything else, so it gets that variant's own defaults
    plus whatever this point sets explicitly.
    """
    pairs = [*spec.set.items(), *(spec.variants.get(point["variant"]) or {}).items(), *point["values"].items()]
    resets, ordered = [], []
    for key, value in copy.deepcopy(pairs):  # the spec's own values stay as they are
        if key in ("optimizer.name", "schedule.name"):
            resets.append((key.split(".")[0], {"name": value}))
            ordered.append((key, value))
        elif key in ("optimizer", "schedule") and isinstance(value, dict):
            resets.append((key, value))
            # its fields keep their place in the order, so a swept section beats `set`
            ordered += [(f"{key}.{field}", v) for field, v in value.items() if field != "name"]
        else:
            ordered.append((key, value))
    return [*resets, *ordered]
