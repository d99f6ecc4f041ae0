"""Sweep folders for tests, built by hand in the format of dlcc/runs/sweepdir.py (what `dlcc sweep`
writes): sweep.yaml, one ordinary run folder per (point, seed), and results.csv.

    sweep_dir = make_sweep(tmp_path, {"optimizer.lr": [0.001, 0.01, 0.1]}, seeds=(0, 1))
    make_sweep(tmp_path, {"optimizer.lr": [0.1, 0.5]}, variants={"plain": {}, "momentum": {"optimizer.momentum": 0.9}})
    make_sweep(tmp_path, {...}, pending={"p002-s1"}, failed={"p001-s0"})   # runs not trained
"""

from __future__ import annotations

import itertools
from pathlib import Path

from dlcc import api
from dlcc import config as config_mod
from dlcc.runs import sweepdir
from dlcc.training import session
from tests.conftest import TINY


def make_sweep(runs_dir: Path, grid: dict[str, list] | None = None, *, seeds=(0, 1), base: dict = TINY,
               name: str = "lr", variants: dict[str, dict] | None = None, pending=(), failed=()) -> Path:
    """Train every (point, seed) of variants x grid into a new sweep folder; return its path.

    Runs named in `pending` are left untrained (status pending); those in `failed` are recorded as
    failed, as when a worker dies, with no run folder.
    """
    grid = grid or {}
    variants = variants or {}
    keys = list(grid)
    points = []
    for variant in list(variants) or [None]:
        for combo in itertools.product(*grid.values()):
            points.append({"id": f"p{len(points):03d}", "variant": variant, "values": dict(zip(keys, combo))})
    runs = [{"run": sweepdir.run_name(p["id"], s), "point": p["id"], "seed": s} for p in points for s in seeds]
    sweep_dir = sweepdir.create_sweep_dir(runs_dir, name)
    definition = {"name": name, "base": config_mod.to_dict(api.load_config(base, name=name)), "set": {},
                  "variants": variants, "grid": grid, "random": {}, "seeds": list(seeds), "keys": keys,
                  "points": points, "runs": runs, "executor": "local", "workers": 1}
    sweepdir.write_definition(sweep_dir, definition)  # first, as `dlcc sweep` does
    by_id = {p["id"]: p for p in points}
    rows = []
    for run in runs:
        point = by_id[run["point"]]
        run_dir = sweep_dir / run["run"]
        if run["run"] in failed:
            rows.append({**sweepdir.result_row(run_dir, point, run["seed"], keys), "status": "failed",
                         "error": "the worker died (killed by the test)"})
            continue
        if run["run"] not in pending:
            overrides = {**variants.get(point["variant"], {}), **point["values"]}
            cfg = api.load_config(base, overrides, name=f"{name}-{point['id']}", seed=run["seed"])
            session.train(cfg, sweep_dir, None, folder_name=run["run"])
        rows.append(sweepdir.result_row(run_dir, point, run["seed"], keys))
    sweepdir.write_results(sweep_dir, keys, rows)
    return sweep_dir
