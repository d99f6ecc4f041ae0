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
    spec["set"] = {**(spec.get("set") or {}), **(sets if isinstance(sets, dict) else _pairs(sets, "--set"))}
    spec["grid"] = {**(spec.get("grid") or {}), **grid}
    spec["random"] = {**(spec.get("random") or {}),
                      **(random if isinstance(random, dict) else _pairs(random, "--random", raw=True))}
    flags = {}
    for key, value in (("trials", trials), ("seeds", seeds), ("workers", workers), ("executor", executor),
                       ("ray_address", ray_address), ("name", name)):
        if value is not None:
            spec[key] = value
            flags[key] = f"--{key.replace('_', '-')} {value!r}" if isinstance(value, str) else f"--{key.replace('_', '-')}"
    return parse_spec(spec, source, flags), source, path.parent


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
    they depend on: a point that `dlcc validate` would refuse stops the sweep before it starts."""
    from dlcc.training import session

    first, checked = plan.runs[0].config, set()
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
        except ConfigError as exc:
            shared = _shared_check_error(plan.spec, plan.base, source, session.check, str(exc))
            if shared is not None:  # not this point's doing: the base config with the sweep's `set` fails too
                raise shared from None
            where = f"{source}: point {run.point['id']}" + (f" ({_describe(run.point)})" if _describe(run.point) else "")
            raise ConfigError(f"{where}: {exc}\n{NOTHING_STARTED}") from None


def plan_from_definition(definition: dict, source: str) -> Plan:
    """The plan a sweep.yaml describes (no new random draws)."""
    fields = {k: v for k, v in definition.items() if k in SweepSpec.model_fields}
    spec = parse_spec({**fields, "base": definition["base"]}, source)
    return _plan(spec, definition["name"], definition["base"], list(definition["keys"]), definition["points"], source)


def _plan(spec: SweepSpec, name: str, base: dict, keys: list[str], points: list[dict], source: str) -> Plan:
    runs = []
    for point in points:
        overrides = point_overrides(spec, point)
        where = f"{source}: point {point['id']}" + (f" ({_describe(point)})" if _describe(point) else "")
        try:
            cfg = config_mod.parse(base, source=where, overrides=[*overrides, ("name", f"{name}-{point['id']}")])
        except ConfigError as exc:
            raise _point_error(str(exc), spec, base, point, overrides, source, where) from None
        runs += [PlannedRun(run_name(point["id"], seed), point, seed, cfg.model_copy(update={"seed": seed}))
                 for seed in spec.seeds]
    return Plan(name, spec, base, keys, points, runs)


NOTHING_STARTED = "(nothing was started: every point is checked first)"
EVERY_POINT = "(it applies to every point of the sweep; nothing was started)"


def _point_error(message: str, spec: SweepSpec, base: dict, point: dict, overrides: list, source: str,
                 where: str) -> ConfigError:
    """A point's config that does not validate. The message names the override it blames (`--set
    KEY=VALUE: ...`). The point's own value (variant, grid, random) is said as the point's; a value
    of the sweep's `set` (--set, sets=) is the flag's alone when the base config refuses it without
    any point (it applies to every point), and the point's, flag named, when only this point's
    values make it wrong (momentum for an adam variant)."""
    key = next((k for k, _ in overrides if re.match(rf"--set {re.escape(k)}[=:]", message)), None)
    own = {k for k, _ in point_overrides(spec.model_copy(update={"set": {}}), point)}
    if key is not None and key not in own:
        shared = _shared_error(spec, base, source)
        return shared if shared is not None else ConfigError(f"{where}: {message}\n{NOTHING_STARTED}")
    if key is not None:  # the point's override, not a command-line flag: from its key on
        at = message.find(f": {key}", len(f"--set {key}="))  # past the value, which may hold ': '
        message = f"{where}: {message[at + 2:] if at >= 0 else message.removeprefix('--set ')}"
    return ConfigError(f"{message}\n{NOTHING_STARTED}")


def _shared_error(spec: SweepSpec, base: dict, source: str) -> ConfigError | None:
    """The error of what every point shares, the base config with the sweep's `set`, or None when
    that alone validates."""
    try:
        config_mod.parse(base, source=source, overrides=list(spec.set.items()))
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
            sets = " ".join(f"--set {k}={config_mod.short_value(v)}" for k, v in spec.set.items())
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
        raise ConfigError(f"{where}: cannot parse {text!r} as YAML ({str(exc).splitlines()[0]})") from None


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


def _describe(point: dict) -> str:
    values = " ".join(f"{k}={v}" for k, v in point["values"].items())
    return " ".join(x for x in (point.get("variant") or "", values) if x)
