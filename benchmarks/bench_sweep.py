"""How much a sweep saves: 40 spirals runs as one `dlcc sweep` against 40 `dlcc train` processes.

    python benchmarks/bench_sweep.py              # 8 learning rates x 5 seeds of configs/spirals.yaml
    python benchmarks/bench_sweep.py --epochs 50 --rounds 3

Prints, with the CPU model:
- the wall time of the 40 runs as sequential `dlcc train --quiet` processes (what a shell loop does),
- the wall time of `dlcc sweep ... --workers 2` and `--workers 1`, and each one's ratio to the loop,
- the sweep's overhead per run at one worker: (wall time - the runs' own training seconds from
  summary.json) / 40. That is everything around the epochs: starting the worker, building the data
  and network, the test evaluation, writing run folders and results.csv.
The medians over --rounds rounds are reported; every round runs the three side by side.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "spirals.yaml"
LRS = [0.01, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0]
SEEDS = 5


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def dlcc(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "dlcc", *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, cwd=ROOT)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def shell_loop(runs_dir: Path, epochs: int) -> None:
    for lr in LRS:
        for seed in range(SEEDS):
            dlcc("train", str(CONFIG), "--set", f"optimizer.lr={lr}", "--set", f"training.epochs={epochs}",
                 "--seed", str(seed), "--quiet", "--runs-dir", str(runs_dir))


def sweep(runs_dir: Path, epochs: int, workers: int) -> None:
    dlcc("sweep", str(CONFIG), "--grid", "optimizer.lr=" + ",".join(map(str, LRS)), "--set",
         f"training.epochs={epochs}", "--seeds", str(SEEDS), "--workers", str(workers), "--quiet",
         "--runs-dir", str(runs_dir))


def training_seconds(runs_dir: Path) -> float:
    return sum(json.loads(p.read_text())["seconds"] for p in runs_dir.rglob("summary.json"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100, help="epochs per run (default: the config's 100)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n = len(LRS) * SEEDS
    print(f"CPU: {cpu_model()} ({__import__('os').cpu_count()} cores); Python {platform.python_version()}")
    print(f"{n} runs: configs/spirals.yaml, {len(LRS)} learning rates x {SEEDS} seeds, {args.epochs} epochs each\n")
    loop, two, one, overhead = [], [], [], []
    for r in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            loop.append(timed(lambda: shell_loop(tmp / "loop", args.epochs)))
            two.append(timed(lambda: sweep(tmp / "two", args.epochs, 2)))
            one.append(timed(lambda: sweep(tmp / "one", args.epochs, 1)))
            overhead.append((one[-1] - training_seconds(tmp / "one")) / n)
        print(f"round {r}: loop {loop[-1]:.2f} s, sweep --workers 2 {two[-1]:.2f} s ({two[-1] / loop[-1]:.2f} x), "
              f"--workers 1 {one[-1]:.2f} s, overhead per run at 1 worker {overhead[-1]:.3f} s")
    med = statistics.median
    print(f"\nmedian of {args.rounds} rounds:")
    print(f"  {n} x dlcc train (sequential processes)   {med(loop):7.2f} s")
    print(f"  dlcc sweep --workers 2                    {med(two):7.2f} s   {med(two) / med(loop):.2f} x the loop")
    print(f"  dlcc sweep --workers 1                    {med(one):7.2f} s   {med(one) / med(loop):.2f} x the loop")
    print(f"  sweep overhead per run (1 worker)         {med(overhead):7.3f} s")


if __name__ == "__main__":
    main()
