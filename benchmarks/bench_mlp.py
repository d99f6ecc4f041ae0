"""How fast dlcc trains MNIST MLPs, next to the matmul floor and (when installed) PyTorch.

    python benchmarks/bench_mlp.py                 # the full table, a few minutes
    python benchmarks/bench_mlp.py --quick         # fewer epochs and one round, for a rough look

For each network and batch size it prints:

- dlcc s/epoch: the median wall time of one training epoch over 60,000 MNIST images
  (validation 0, diagnostics off), measured through dlcc's own code path: dlcc.config.parse ->
  dlcc.build.prepare / build_members -> dlcc.training.trainer.Fit.run.
- matmul floor: one epoch of exactly the matrix products dlcc's Dense layers make (forward
  z = x W, backward dC/dW = x^T delta and dC/dx = delta W^T), at the same shapes, timed on this
  machine in the same process between dlcc's epochs, so both see the same machine state.
  FLOPs / floor = the GEMM throughput reached at those shapes.
- peak RSS: the worker process's peak resident memory (VmHWM), one process per configuration.
- PyTorch s/epoch, if `import torch` works in this interpreter: the same network, batch size,
  SGD with momentum, float32 and thread count, trained by the same algorithm (one permutation and
  one gather per epoch, contiguous batches, running loss and accuracy). torch is never a
  dependency of dlcc; install it in a separate virtual environment (see benchmarks/README.md).

Each configuration runs in fresh subprocesses, dlcc and PyTorch alternating for --rounds rounds,
so that slow phases of a shared machine hit both; medians are over all measured epochs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (hidden layer sizes, batch size): the networks of the table, 784 inputs and 10 softmax outputs.
TABLE = [((100,), 32), ((100,), 128), ((100,), 512), ((800, 800), 128)]
HEADLINE = ((100,), 128)  # the diagnostics line uses this one
LR, MOMENTUM = 0.1, 0.9


# ----------------------------------------------------------------------------- workers

def config_dict(hidden: tuple[int, ...], batch: int, epochs: int, diagnostics: bool) -> dict:
    """A dlcc config: 784-hidden-10 ReLU/softmax, cross-entropy, SGD with momentum, all 60k images."""
    layers = [{"units": units, "activation": "relu"} for units in hidden]
    layers.append({"units": 10, "activation": "softmax"})
    return {
        "name": "bench",
        "seed": 0,
        "precision": "float32",
        "data": {"dataset": "mnist", "validation": 0},
        "model": {"init": {"weights": "he_normal", "biases": "zeros"}, "layers": layers},
        "loss": "cross_entropy",
        "optimizer": {"name": "sgd", "lr": LR, "momentum": MOMENTUM},
        "training": {"epochs": epochs, "batch_size": batch},
        "diagnostics": {"gradient_norms": diagnostics},
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (Linux VmHWM; ru_maxrss elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / 2**20 if sys.platform == "darwin" else maxrss / 1024


def matmul_epoch(sizes: list[int], batch: int, x) -> tuple[float, float]:
    """(seconds, FLOPs) of one epoch of exactly the matrix products of dlcc's Dense layers.

    Per batch, as dlcc.nn.layers.Dense does them:
        forward   z_l = a_{l-1} @ W_l                                  2 n n_in n_out FLOPs each
        backward  np.matmul(a_{l-1}.T, delta_l, out=dW_l)              2 n n_in n_out
                  delta_l @ W_l.T  (not for the first layer)           2 n n_in n_out
    The values do not matter for the cost; they are kept of order 1 (no overflow, no denormals).
    """
    import numpy as np

    rng = np.random.default_rng(0)
    Ws = [(rng.standard_normal((i, o)) / np.sqrt(i)).astype(np.float32) for i, o in zip(sizes, sizes[1:])]
    dWs = [np.empty_like(W) for W in Ws]
    flops = sum(2.0 * len(x) * W.size * (3 if layer > 0 else 2) for layer, W in enumerate(Ws))
    start = time.perf_counter()
    for first in range(0, len(x), batch):
        a = x[first:first + batch]
        inputs = []
        for W in Ws:
            inputs.append(a)
            a = a @ W
        delta = a
        for layer in reversed(range(len(Ws))):
            np.matmul(inputs[layer].T, delta, out=dWs[layer])
            if layer > 0:
                delta = delta @ Ws[layer].T
    return time.perf_counter() - start, flops


def dlcc_worker(hidden, batch, warmup, epochs, diagnostics, floor, flush=True) -> dict:
    """Train through dlcc's own code path; time every epoch, and the matmul floor between epochs."""
    from dlcc import config
    from dlcc.build import build_members, prepare
    from dlcc.training.trainer import Fit

    cfg = config.parse(config_dict(hidden, batch, warmup + epochs, diagnostics), source="benchmark")
    splits, arrays = prepare(cfg)
    fit = Fit(cfg, build_members(cfg, arrays["train"], splits.train.pixels), arrays["val"], splits.task == "classification")
    if not flush:  # --no-flush: what the optimizer's subnormal flush buys on this CPU
        fit.runners[0].optimizer.flush_every = None
    x = arrays["train"][0]
    sizes = [x.shape[1], *hidden, 10]
    result = {"epoch": [], "train": [], "floor": [], "flops": None, "examples": len(x)}
    last = [time.perf_counter()]

    def on_epoch(row: dict) -> None:
        # Wall time from the end of the previous callback: the whole epoch, diagnostics included.
        if row["epoch"] > warmup:
            result["epoch"].append(time.perf_counter() - last[0])
            result["train"].append(row["seconds"])
            if floor:
                seconds, result["flops"] = matmul_epoch(sizes, batch, x)
                result["floor"].append(seconds)
        result["train_loss"] = row["train_loss"]
        last[0] = time.perf_counter()

    fit.run(on_epoch)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def torch_worker(hidden, batch, warmup, epochs, threads, dataloader=False) -> dict:
    """The same training in PyTorch, written as efficiently as dlcc's loop.

    With `dataloader`, batches come from torch.utils.data.DataLoader(TensorDataset(x, labels),
    shuffle=True) instead, the way PyTorch's tutorials write the loop; everything else is equal.
    """
    import torch

    from dlcc import config
    from dlcc.build import prepare

    torch.set_num_threads(threads)
    cfg = config.parse(config_dict(hidden, batch, 1, False), source="benchmark")
    _, arrays = prepare(cfg)  # the same images, loaded and verified by dlcc
    x = torch.from_numpy(arrays["train"][0])
    labels = torch.from_numpy(arrays["train"][1].argmax(axis=1))
    sizes = [x.shape[1], *hidden, 10]
    modules = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        modules.append(torch.nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            modules.append(torch.nn.ReLU())
    torch.manual_seed(0)
    model = torch.nn.Sequential(*modules)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(0)
    n = len(x)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, labels), batch_size=batch,
                                         shuffle=True, generator=generator) if dataloader else None

    def batches():
        if loader is not None:
            yield from loader
            return
        order = torch.randperm(n, generator=generator)
        xs, ts = x[order], labels[order]
        for first in range(0, n, batch):
            yield xs[first:first + batch], ts[first:first + batch]

    times = []
    for epoch in range(warmup + epochs):
        start = time.perf_counter()
        loss_sum, correct = torch.zeros(()), torch.zeros((), dtype=torch.long)
        for xb, tb in batches():
            out = model(xb)
            loss = loss_fn(out, tb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                loss_sum += loss * len(xb)
                correct += (out.argmax(dim=1) == tb).sum()
        train_loss = float(loss_sum) / n
        if epoch >= warmup:
            times.append(time.perf_counter() - start)
    return {"epoch": times, "train_loss": train_loss, "peak_rss_mb": peak_rss_mb(),
            "version": torch.__version__, "threads": torch.get_num_threads()}


# ----------------------------------------------------------------------------- driver

def run_worker(args: list[str]) -> dict:
    """Run this script as a worker in a fresh process; its last stdout line is the JSON result."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, __file__, "--worker", *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"worker {' '.join(args)} failed:\n{proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def blas_info() -> dict:
    """NumPy's BLAS as threadpoolctl sees it (kernel, threads), when threadpoolctl is installed."""
    import numpy as np

    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {"numpy": np.__version__, "blas": "unknown (pip install threadpoolctl to see it)", "threads": None}
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not blas:
        return {"numpy": np.__version__, "blas": "unknown", "threads": None}
    b = blas[0]
    return {"numpy": np.__version__, "blas": f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')})",
            "threads": b.get("num_threads")}


def load_average() -> str:
    """The 1-minute load average (Unix), to show whether other processes shared the machine."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except (AttributeError, OSError):
        return "unknown"


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo, else the platform module), so every table says
    which machine it came from: Intel CPUs, for one, pay far more than AMD ones for subnormal floats."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model")) and ":" in line:
                return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine() or "unknown CPU"


def torch_available() -> bool:
    try:
        import importlib.util

        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


def startup_seconds(command: list[str], repeats: int = 7) -> float:
    """Median wall time of a short command (CLI start-up)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def torch_cells(tc: dict, dlcc_seconds: float, stat, args) -> str:
    """'seconds | ratio' for the PyTorch columns, or why they are empty."""
    if not tc["epoch"]:
        return ("skipped" if args.no_torch else "not installed") + " | -"
    seconds = stat(tc["epoch"])
    return f"{seconds:.3f} | {dlcc_seconds / seconds:.2f}"


def network(hidden) -> str:
    return "-".join(map(str, (784, *hidden, 10)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=4, help="measured epochs per process (default 4)")
    parser.add_argument("--warmup", type=int, default=1, help="epochs run first and not measured (default 1)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating dlcc/PyTorch processes per row (default 3)")
    parser.add_argument("--quick", action="store_true", help="3 epochs, 1 round")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if it is installed")
    parser.add_argument("--no-flush", action="store_true",
                        help="turn off the optimizer's subnormal flush in dlcc (docs/optimizers.md), to see what it buys")
    parser.add_argument("--only", metavar="NETWORK/BATCH", action="append",
                        help="measure only this row, e.g. --only 784-100-10/128 (repeatable; skips the extra lines)")
    parser.add_argument("--worker", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker_main(args.worker)
    if args.quick:
        args.epochs, args.rounds = 3, 1
    if not (os.environ.get("DLCC_DATA_DIR") or (Path.home() / ".cache" / "dlcc" / "mnist").exists()):
        print("note: DLCC_DATA_DIR is not set; dlcc looks for MNIST in its per-user cache", file=sys.stderr)

    info = blas_info()
    threads = info["threads"] or os.cpu_count() or 1
    use_torch = not args.no_torch and torch_available()
    env = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                                      "OMP_NUM_THREADS") if k in os.environ}
    print(f"# CPU: {cpu_model()}")
    print(f"# dlcc MNIST benchmark: {os.cpu_count()} CPUs, numpy {info['numpy']}, BLAS {info['blas']}, "
          f"BLAS threads {info['threads'] or '?'}" + (f", env {env}" if env else ""))
    print(f"# median over {args.rounds} x {args.epochs} epochs (after {args.warmup} warm-up epoch(s) per process), "
          "60,000 training images, float32, SGD lr 0.1 momentum 0.9, diagnostics off"
          + (", dlcc WITHOUT its subnormal flush (--no-flush)" if args.no_flush else ""), flush=True)

    load_before = load_average()
    rows = []
    for hidden, batch in TABLE:
        if not args.only or f"{network(hidden)}/{batch}" in args.only:
            rows.append(measure_row(hidden, batch, args, threads if use_torch else None))
            print(f"  measured {network(hidden)} batch {batch}", file=sys.stderr, flush=True)
    print(f"# 1-minute load average before the table {load_before} (this script's own threads raise it "
          f"while it runs: {load_average()} now); other processes' load slows both columns, so above "
          "~0.7 before, on 2 cores, rerun")
    print_tables(rows, args)
    if not args.only:
        print()
        print(diagnostics_line(rows, args))
        if torch_available() and not args.no_torch:
            print(tutorial_torch_line(rows, args, threads))
        print(startup_line())


def worker_args(hidden, batch, args) -> list[str]:
    return ["--hidden", ",".join(map(str, hidden)), "--batch", str(batch),
            "--warmup", str(args.warmup), "--epochs", str(args.epochs)]


def measure_row(hidden, batch, args, torch_threads: int | None) -> tuple:
    """(hidden, batch, dlcc samples, PyTorch samples): dlcc and PyTorch processes take turns."""
    dl = {"epoch": [], "floor": [], "peak": [], "flops": None, "rounds": []}
    tc = {"epoch": [], "version": None, "threads": None, "rounds": []}
    for _ in range(args.rounds):
        r = run_worker(["dlcc", *worker_args(hidden, batch, args), "--floor", *(["--no-flush"] if args.no_flush else [])])
        dl["epoch"] += r["epoch"]
        dl["floor"] += r["floor"]
        dl["peak"].append(r["peak_rss_mb"])
        dl["flops"] = r["flops"]
        dl["rounds"].append((statistics.median(r["epoch"]), statistics.median(r["floor"])))
        if torch_threads is not None:
            t = run_worker(["torch", *worker_args(hidden, batch, args), "--threads", str(torch_threads)])
            tc["epoch"] += t["epoch"]
            tc["version"], tc["threads"] = t["version"], t["threads"]
            tc["rounds"].append(statistics.median(t["epoch"]))
    return hidden, batch, dl, tc


def print_tables(rows: list[tuple], args) -> None:
    tc0 = rows[0][3]
    torch_name = f"PyTorch {tc0['version']} ({tc0['threads']} threads)" if tc0["version"] else "PyTorch"
    print()
    print(f"| network | batch | dlcc s/epoch | matmul floor s/epoch | GEMM GFLOP/s | dlcc / floor "
          f"| peak RSS MB | {torch_name} s/epoch | dlcc / PyTorch |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for hidden, batch, dl, tc in rows:
        epoch, floor = statistics.median(dl["epoch"]), statistics.median(dl["floor"])
        print(f"| {network(hidden)} | {batch} | {epoch:.3f} | {floor:.3f} | {dl['flops'] / floor / 1e9:.0f} "
              f"| {epoch / floor:.2f} | {max(dl['peak']):.0f} | {torch_cells(tc, epoch, statistics.median, args)} |")
    # Other load on a shared machine only ever adds time, so the fastest epochs show the code's own speed.
    print()
    print("Fastest epoch of each (less sensitive to other load on the machine):")
    print()
    print("| network | batch | dlcc s | floor s | dlcc / floor | PyTorch s | dlcc / PyTorch |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for hidden, batch, dl, tc in rows:
        epoch, floor = min(dl["epoch"]), min(dl["floor"])
        print(f"| {network(hidden)} | {batch} | {epoch:.3f} | {floor:.3f} | {epoch / floor:.2f} "
              f"| {torch_cells(tc, epoch, min, args)} |")
    # The same ratios round by round: how much the machine's state moved them during the run.
    print()
    print("Round by round (medians of each process; a shared machine's slow phases show up here):")
    print()
    print("| network | batch | dlcc s | dlcc / floor | PyTorch s | dlcc / PyTorch |")
    print("|---|---:|---:|---:|---:|---:|")
    for hidden, batch, dl, tc in rows:
        dlcc_s = ", ".join(f"{e:.3f}" for e, _ in dl["rounds"])
        to_floor = ", ".join(f"{e / f:.2f}" for e, f in dl["rounds"])
        torch_s = ", ".join(f"{t:.3f}" for t in tc["rounds"]) or "-"
        to_torch = ", ".join(f"{e / t:.2f}" for (e, _), t in zip(dl["rounds"], tc["rounds"])) or "-"
        print(f"| {network(hidden)} | {batch} | {dlcc_s} | {to_floor} | {torch_s} | {to_torch} |")


def diagnostics_line(rows: list[tuple], args) -> str:
    """What diagnostics.gradient_norms adds to an epoch of the headline configuration.

    Measured inside one process: the whole epoch (from one epoch's end to the next) minus the
    training loop's own `seconds`, i.e. the probe's forward/backward pass and the weight copy.
    """
    hidden, batch = HEADLINE
    epochs, extras = [], []
    for _ in range(args.rounds):
        r = run_worker(["dlcc", *worker_args(hidden, batch, args), "--diagnostics"])
        epochs += r["epoch"]
        extras += [e - t for e, t in zip(r["epoch"], r["train"])]
    without = next((statistics.median(dl["epoch"]) for h, b, dl, _ in rows if (h, b) == HEADLINE), None)
    extra = statistics.median(extras)
    with_ = statistics.median(epochs)
    return (f"Diagnostics ({network(hidden)}, batch {batch}): an epoch takes {with_:.3f} s with "
            f"diagnostics.gradient_norms (probe of 1000 images), {without:.3f} s without (the table); "
            f"the diagnostics themselves take {1000 * extra:.1f} ms = {100 * extra / (with_ - extra):.1f}% "
            "of the epoch's training.")


def tutorial_torch_line(rows: list[tuple], args, threads: int) -> str:
    """The headline network in PyTorch written the way its tutorials do (a DataLoader)."""
    hidden, batch = HEADLINE
    epochs = []
    for _ in range(args.rounds):
        t = run_worker(["torch", *worker_args(hidden, batch, args), "--threads", str(threads), "--dataloader"])
        epochs += t["epoch"]
    tutorial = statistics.median(epochs)
    without = next(statistics.median(dl["epoch"]) for h, b, dl, _ in rows if (h, b) == HEADLINE)
    return (f"PyTorch as its tutorials write the loop ({network(hidden)}, batch {batch}: "
            f"DataLoader(TensorDataset(x, labels), shuffle=True), same model and optimizer): "
            f"{tutorial:.3f} s/epoch; dlcc / that = {without / tutorial:.2f}. The table's PyTorch column "
            "uses a loop written like dlcc's (one permutation and one gather per epoch), the faster way.")


def startup_line() -> str:
    commands = []
    if shutil.which("dlcc"):
        commands.append(("dlcc --help", [shutil.which("dlcc"), "--help"]))
    commands.append(("python -m dlcc --help", [sys.executable, "-m", "dlcc", "--help"]))
    commands.append(("python -m dlcc validate configs/mnist-mlp.yaml",
                     [sys.executable, "-m", "dlcc", "validate", "configs/mnist-mlp.yaml"]))
    timed = ", ".join(f"`{name}` {startup_seconds(cmd):.2f} s" for name, cmd in commands)
    return f"Start-up (wall time, median of 7): {timed}."


def worker_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["dlcc", "torch"])
    parser.add_argument("--hidden", required=True)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--warmup", type=int, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--floor", action="store_true")
    parser.add_argument("--diagnostics", action="store_true")
    parser.add_argument("--dataloader", action="store_true")
    parser.add_argument("--no-flush", action="store_true")
    a = parser.parse_args(argv)
    hidden = tuple(int(u) for u in a.hidden.split(","))
    if a.kind == "dlcc":
        result = dlcc_worker(hidden, a.batch, a.warmup, a.epochs, a.diagnostics, a.floor, not a.no_flush)
    else:
        result = torch_worker(hidden, a.batch, a.warmup, a.epochs, a.threads, a.dataloader)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
