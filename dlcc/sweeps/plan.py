"""From a sweep spec to the list of runs, every one of them validated before anything starts.

    spec = sweep_spec("configs/sweeps/optimizers.yaml", grid=["optimizer.lr=0.01,0.1"], seeds="5")
    plan = make_plan(spec, source)     # ConfigError naming the point, key and value if one is bad
    plan.runs[0].name, plan.runs[0].config                   # "p000-s0", a validated Config

The plan's `definition()` is what sweep.yaml stores; `plan_from_definition` rebuilds the same
plan from it (for --resume), without drawing random values again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from dlcc import config as config_mod
from dlcc.config.sweep import MAX_RUNS_WITHOUT_YES, SweepSpec, count_points, expand, parse_spec, point_overrides
from dlcc.config.messages import shorten
from dlcc.config.safe_yaml import problem_text
from dlcc.config.yamlio import read_yaml
from dlcc.errors import ConfigError
from dlcc.runs.sweepdir import run_name


@dataclass(frozen=True)
class PlannedRun:
    name: str           # the run folder's name inside the sweep folder: <point>-s<seed>
    point: dict         # {id, variant, values}
    seed: int
    config: object      # the validated Config of this run


@dataclass(frozen=True)
class Plan:
    name: str
    spec: SweepSpec
    base: dict          # the base config, fully resolved
    keys: list[str]     # the swept config keys, in results.csv's column order
    points: list[dict]
    runs: list[PlannedRun]

    def definition(self) -> dict:
        """sweep.yaml: everything needed to rebuild this plan, resolved."""
        spec = self.spec.model_dump(mode="json", exclude={"base", "name"})
        return {"name": self.name, "base": self.base, **spec, "keys": self.keys, "points": self.points,
                "runs": [{"run": r.name, "point": r.point["id"], "seed": r.seed} for r in self.runs]}


def sweep_spec(path: str | Path, *, sets=(), grid=(), random=(), trials=None, seeds=None, workers=None,
               executor=None, ray_address=None, name=None) -> tuple[SweepSpec, str, Path]:
    """(spec, source, folder for relative paths) from a sweep file or a config file plus CLI flags.

    A file with a `base` key is a sweep file; any other config is the base of a new sweep. Flags
    add to the file's `set`, `grid` and `random`, and replace its trials, seeds and executor settings.
    sets, grid and random are "KEY=VALUE" strings as on the command line, or dicts of Python values
    (grid: {key: [values]}; random: {key: "loguniform(1e-3, 1)"}).
    """
    raw, file = config_mod.document(path)  # a file, YAML text or a dict
    source = str(file) if file is not None else "sweep (dict or text)"
    path = file if file is not None else Path.cwd() / "sweep"  # relative paths: from the current folder
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a config or a sweep file (a YAML mapping)")
    is_sweep = "base" in raw
    spec = dict(raw) if is_sweep else {"base": str(file.resolve()) if file is not None else raw}
    if not is_sweep:
        stem = re.sub(r"[^A-Za-z0-9._-]", "-", path.stem).lstrip("-._") or "sweep"
        own = raw.get("name")  # a run name may be 100 characters, a sweep's 81 (its folder adds a stamp)
        spec["name"] = own[:81] if isinstance(own, str) and own else stem
    elif spec.get("name") is None:
        spec["name"] = re.sub(r"[^A-Za-z0-9._-]", "-", path.stem).lstrip("-._") or "sweep"
    grid = grid if isinstance(grid, dict) else {k: _list(k, v) for k, v in _pairs(grid, "--grid", raw=True).items()}
    sets = sets if isinstance(sets, dict) else _pairs(sets, "--set")
    random = random if isinstance(random, dict) else _pairs(random, "--random", raw=True)
    flags = {}  # what to call a flag's key in an error: `--grid optimizer.lr=0.1,-1`, not the file
    for key, given in (("set", sets), ("grid", grid), ("random", random)):
        if isinstance(spec.get(key) or {}, dict):  # not a mapping: the spec's validation says so
            spec[key] = {**(spec.get(key) or {}), **given}
            if key != "set":  # (the set's values are checked with each point, see _labels)
                flags |= {f"{key}.{k}": f"--{key} {k}={shorten(_flag_text(v))}" for k, v in given.items()}
    for key, value in (("trials", trials), ("seeds", seeds), ("workers", workers), ("executor", executor),
                       ("ray_address", ray_address), ("name", name)):
        if value is not None:
            spec[key] = value
            flags[key] = f"--{key.replace('_', '-')} {value!r}" if isinstance(value, str) else f"--{key.replace('_', '-')}"
    parsed = parse_spec(spec, source, flags)
    parsed._flag_sets = frozenset(sets)  # their problems are said as --set's, the file's as its `set:`'s
    return parsed, source, path.parent


def make_plan(spec: SweepSpec, source: str, folder: Path, yes: bool = False) -> Plan:
    """Every (point, seed) run, validated; nothing is written."""
    base = _base(spec, source, folder)
    n_points = count_points(spec)  # before drawing a million random values only to refuse them
    total = n_points * len(spec.seeds)
    if total > MAX_RUNS_WITHOUT_YES and not yes:
        raise ConfigError(f"{source}: the sweep has {total:,} runs ({n_points:,} points x {len(spec.seeds)} seeds); "
                          f"more than {MAX_RUNS_WITHOUT_YES:,} needs --yes")
    keys, points = expand(spec)
    plan = _plan(spec, spec.name or base.get("name") or "sweep", base, keys, points, source)
    check_runs(plan, source)
    return plan


def check_runs(plan: Plan, source: str) -> None:
    """Every check `train` makes before its first epoch (the data loads and fits the output layer,
    the network's size, memory, the early-stopping monitor), once per distinct setting of what
    they depend on: a point that `dlcc validate` would refuse stops the sweep before it starts.
    A failure is the sweep's `set`'s only when every point fails it, and the base config with the
    `set` alone fails the same way; otherwise it is the first failing point's."""
    from dlcc.training import session

    first, checked, failed, passed = plan.runs[0].config, set(), None, False
    for run in plan.runs[::len(plan.spec.seeds)]:  # the first run of each point (runs are point by point)
        # The checks do not depend on a run's name, seed or optimizer settings (only on its kind:
        # Adam keeps twice the state): a grid over the learning rate is checked once.
        same = run.config.model_copy(update={"name": first.name, "seed": first.seed, "optimizer": first.optimizer})
        key = (run.config.optimizer.name, same.model_dump_json())
        if key in checked:
            continue
        checked.add(key)
        try:
            session.check(run.config)
            passed = True
        except ConfigError as exc:
            failed = failed or (run, str(exc))
        if failed and passed:  # a point's own doing: no need to check the rest
            break
    if failed is None:
        return
    run, message = failed
    shared = None if passed else _shared_check_error(plan.spec, plan.base, source, session.check, message)
    if shared is not None:  # not a point's doing: the base config with the sweep's `set` fails too
        raise shared from None
    # the key a check names first (`model.layers.1.units: ...`) may be the set's: name it with the point
    labels = _labels(plan.spec, run.point, [(message.split(": ", 1)[0], None)], _where(source, run.point))
    raise ConfigError(f"{next(iter(labels.values()))}: {message}\n{NOTHING_STARTED}") from None


def plan_from_definition(definition: dict, source: str) -> Plan:
    """The plan a sweep.yaml describes (no new random draws)."""
    fields = {k: v for k, v in definition.items() if k in SweepSpec.model_fields}
    spec = parse_spec({**fields, "base": definition["base"]}, source)
    return _plan(spec, definition["name"], definition["base"], list(definition["keys"]), definition["points"], source)


def _plan(spec: SweepSpec, name: str, base: dict, keys: list[str], points: list[dict], source: str) -> Plan:
    runs = []
    for point in points:
        overrides = point_overrides(spec, point)
        where = _where(source, point)
        labels = {**_labels(spec, point, overrides, where), "name": where}
        try:
            cfg = config_mod.parse(base, source=where, overrides=[*overrides, ("name", f"{name}-{point['id']}")],
                                   flags=labels)
        except ConfigError as exc:
            raise _point_error(exc, spec, base, point, source) from None
        runs += [PlannedRun(run_name(point["id"], seed), point, seed, cfg.model_copy(update={"seed": seed}))
                 for seed in spec.seeds]
    return Plan(name, spec, base, keys, points, runs)


NOTHING_STARTED = "(nothing was started: every point is checked first)"
EVERY_POINT = "(it applies to every point of the sweep; nothing was started)"


def _labels(spec: SweepSpec, point: dict, overrides: list, where: str) -> dict:
    """{key: what to call it in an error}. The point's own values (its variant, grid and random
    values) are the point's, said by `where`; a value of the sweep's `set` is named with the point,
    `where with --set KEY=VALUE` (or `with set: KEY=VALUE` from the file), so a combination that
    only this point makes wrong (momentum with an adam point) names both halves."""
    own = {key for key, _ in point_overrides(spec.model_copy(update={"set": {}}), point)}
    return {key: where if key in own or _set_key(spec, key) not in spec.set
            else f"{where} with {_set_label(spec, _set_key(spec, key))}" for key, _ in overrides}


def _set_key(spec: SweepSpec, key: str) -> str:
    """The key of the sweep's `set` an override comes from: itself, its section (`optimizer.lr`
    from `set: {optimizer: {...}}`), or the name that reset its section (`optimizer` from `optimizer.name`)."""
    return next((k for k in (key, key.split(".")[0], f"{key}.name") if k in spec.set), key)


def _set_label(spec: SweepSpec, key: str, source: str | None = None) -> str:
    """`--set KEY=VALUE` for a flag's (or sets='s) value, `SOURCE: set: KEY=VALUE` for the file's."""
    text = f"{key}={shorten(config_mod.short_value(spec.set.get(key)), 60)}"
    if key in spec._flag_sets:
        return f"--set {text}"
    return f"{source}: set: {text}" if source else f"set: {text}"


def _where(source: str, point: dict) -> str:
    return f"{source}: point {point['id']}" + (f" ({_describe(point)})" if _describe(point) else "")


def _point_error(exc: ConfigError, spec: SweepSpec, base: dict, point: dict, source: str) -> ConfigError:
    """A point's config that does not validate (its message names the point, and the `set` value
    it combines with). When the base config with the sweep's `set` fails by itself while the
    point's own values are fine, the `set` is wrong for every point: said once, as the set's."""
    if spec.set:
        try:
            config_mod.parse(base, source=source, overrides=point_overrides(spec.model_copy(update={"set": {}}), point))
        except ConfigError:
            pass  # the point's own values are wrong (too): its error says which
        else:
            shared = _shared_error(spec, base, source)
            if shared is not None:
                return shared
    return ConfigError(f"{exc}\n{NOTHING_STARTED}")


def _shared_error(spec: SweepSpec, base: dict, source: str) -> ConfigError | None:
    """The error of what every point shares, the base config with the sweep's `set`, or None when
    that alone validates."""
    try:
        config_mod.parse(base, source=source, overrides=list(spec.set.items()),
                         flags={key: _set_label(spec, key, source) for key in spec.set if key not in spec._flag_sets})
    except ConfigError as exc:
        return ConfigError(f"{exc}\n{EVERY_POINT}")
    return None


def _shared_check_error(spec: SweepSpec, base: dict, source: str, check, message: str) -> ConfigError | None:
    """A point failed check() with `message`: the same failure of the base config with the sweep's
    `set` (the output layer set to the wrong size by --set), said once for the whole sweep; None
    when the shared settings pass, or fail otherwise (then the point's values matter)."""
    try:
        check(config_mod.parse(base, source=source, overrides=list(spec.set.items())))
    except ConfigError as exc:
        if str(exc) == message:
            sets = " ".join(_set_label(spec, key) for key in spec.set)
            return ConfigError(f"{source}{' with ' + sets if sets else ''}: {exc}\n{EVERY_POINT}")
    return None


def _base(spec: SweepSpec, source: str, folder: Path) -> dict:
    """The base config, validated and fully resolved (every default filled in)."""
    if isinstance(spec.base, dict):
        raw, where = spec.base, f"{source}: base"
    else:
        path = Path(spec.base) if Path(spec.base).is_absolute() else folder / spec.base
        raw, where = read_yaml(path), str(path)
    if isinstance(raw, dict) and raw.get("name") is None:
        raw = {**raw, "name": spec.name or "sweep"}
    return config_mod.to_dict(config_mod.parse(raw, source=where))


def _pairs(items, flag: str, raw: bool = False) -> dict:
    """["k=v", ...] -> {k: v}, v parsed as YAML (or kept as text with raw=True)."""
    pairs = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag} {item!r}: expected KEY=VALUE")
        pairs[key] = text if raw else _value(f"{flag} {item}", text)
    return pairs


def _value(where: str, text: str):
    """One YAML value of a flag; text that is not YAML is a ConfigError naming the flag."""
    try:
        return config_mod.yaml_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: cannot parse {text!r} as YAML ({problem_text(exc)})") from None


def _list(key: str, text: str) -> list:
    """--grid values: comma-separated YAML scalars; brackets and braces may hold commas."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch in "[{" and 1 or 0
        depth -= ch in "]}" and 1 or 0
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    if any(not p.strip() for p in parts):
        raise ConfigError(f"--grid {key}={text}: an empty value; write --grid {key}=V1,V2,...")
    return [_value(f"--grid {key}={text}", p.strip()) for p in parts]


def _flag_text(value) -> str:
    """A --grid or --random value as typed: `0.1,1` for a list, the distribution's text as it is."""
    return ",".join(map(config_mod.short_value, value)) if isinstance(value, list) else str(value)


def _describe(point: dict) -> str:
    values = " ".join(f"{k}={v}" for k, v in point["values"].items())
    return " ".join(x for x in (point.get("variant") or "", values) if x)
