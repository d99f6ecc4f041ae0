"""Where an epoch's time goes: dlcc's training loop timed phase by phase, next to the matmul floor.

    python benchmarks/profile_epoch.py                 # 784-100-10, batch 128, 4 measured epochs
    python benchmarks/profile_epoch.py --hidden 800,800 --epochs 2

The loop is the one `Fit` runs (dlcc.training.trainer._EpochRunner.run), written out here with a
clock read between its steps: the shuffle's gather, each layer's matrix product, bias and
activation, the loss, the accuracy count, the backward products and the optimizer step (same
objects, same order, same results; the clock reads add about a microsecond each). After each
epoch it times the matmul floor (bench_mlp.py) in the same process.

Then the small operations, timed alone with timeit on arrays of a batch's shape, with the
rewrites one might try for them: what each would save per batch. Nothing here asserts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import timeit
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_mlp import config_dict, cpu_model, load_average, matmul_epoch  # noqa: E402

from dlcc import config  # noqa: E402
from dlcc.build import build_members, prepare  # noqa: E402
from dlcc.data.mnist import read_arrays  # noqa: E402
from dlcc.nn.metrics import n_correct  # noqa: E402
from dlcc.training.trainer import Fit  # noqa: E402


# dlcc's loop fuses the weight products x^T delta into SGD's update (dlcc.optim.blas), so this
# phase holds those products as well as the update.
STEP = "optimizer step (with the weight products x^T delta, fused)"


def profile(hidden, batch, epochs) -> tuple[int, float]:
    """Print the phase table; return (parameters, seconds per optimizer step in the loop)."""
    cfg = config.parse(config_dict(hidden, batch, epochs + 1, False), source="profile")
    splits, arrays = prepare(cfg)
    fit = Fit(cfg, build_members(cfg, arrays["train"], splits.train.pixels), arrays["val"], True)
    runner, net, optimizer = fit.runners[0], fit.members[0].net, fit.runners[0].optimizer
    pixels, decoded = fit.members[0].pixels, runner.shuffled.decoded  # the trainer's uint8 path
    spent: dict[str, float] = {}

    def tick(name: str, since: float) -> float:
        now = time.perf_counter()
        spent[name] = spent.get(name, 0.0) + now - since
        return now

    epochs_seen, floors = [], []
    for epoch in range(epochs + 1):  # the first is a warm-up
        spent.clear()
        start = t = time.perf_counter()
        x, y = runner.epoch_order()
        t = tick("gather (shuffle), uint8 pixels", t)
        for b in range(runner.n_batches):
            xb, yb = x[b * batch:(b + 1) * batch], y[b * batch:(b + 1) * batch]
            xb = pixels.decode(xb, out=decoded[:len(xb)])
            t = tick("decode batch: pixel / 255", t)
            a = xb
            for i, layer in enumerate(net.layers, start=1):
                layer.x = a
                z = a @ layer.W
                t = tick(f"forward {i}: x W", t)
                z += layer.b
                t = tick(f"forward {i}: + b", t)
                a = layer.f.forward(z)
                t = tick(f"forward {i}: {layer.activation}", t)
            net.data_loss(a, yb)
            t = tick("loss value", t)
            n_correct(a, yb)
            t = tick("accuracy count", t)
            grad = net.loss.delta(a, yb)
            t = tick("delta (a - y) / n", t)
            for i in range(len(net.layers), 0, -1):
                layer = net.layers[i - 1]
                delta = grad if i == len(net.layers) else layer.f.backward(grad)
                t = tick(f"backward {i}: activation", t)
                layer.delta = delta
                if not runner.factored:  # fused: the optimizer step multiplies x^T delta itself
                    np.matmul(layer.x.T, delta, out=layer.dW)
                    t = tick(f"backward {i}: x^T delta", t)
                if len(layer.ones) < len(delta):
                    layer.ones = np.ones(len(delta), dtype=delta.dtype)
                np.matmul(layer.ones[:len(delta)], delta, out=layer.db)
                t = tick(f"backward {i}: 1^T delta", t)
                if i > 1:
                    grad = delta @ layer.W.T
                    t = tick(f"backward {i}: delta W^T", t)
            if runner.factored:
                optimizer.step(net.params, net.grads, net.weight_factors())
            else:
                optimizer.step(net.params, net.grads)
            t = tick(STEP, t)
        total = time.perf_counter() - start
        if epoch:
            epochs_seen.append((total, dict(spent)))
            floors.append(matmul_epoch([x.shape[1], *hidden, y.shape[1]], batch, arrays["train"][0])[0])
    print(f"epochs: {', '.join(f'{e:.3f}' for e, _ in epochs_seen)} s; matmul floor: "
          f"{', '.join(f'{f:.3f}' for f in floors)} s")
    print()
    print("| phase | ms per epoch (median) |")
    print("|---|---:|")
    for name in epochs_seen[0][1]:
        print(f"| {name} | {1e3 * statistics.median(s[name] for _, s in epochs_seen):.1f} |")
    products = [sum(v for k, v in s.items() if any(m in k for m in ("x W", "x^T delta", "W^T")) and k != STEP)
                for _, s in epochs_seen]
    print(f"| all matrix products but the fused x^T delta | {1e3 * statistics.median(products):.1f} |")
    print(f"| the floor's matrix products, timed alone | {1e3 * statistics.median(floors):.1f} |")
    step = statistics.median(s[STEP] for _, s in epochs_seen) / runner.n_batches
    return sum(p.size for p in net.params.values()), step


def memory(n_params: int, step: float) -> None:
    """What bounds the momentum update: the bytes it must move, against what this machine moves.

    Per step an unfused update reads g, v and theta and writes v and theta: 5 x 4 bytes per
    parameter, however it is written in NumPy (the fused one skips g, but its step also holds the
    weight products, so its time is not a bandwidth). Next to it: a plain copy of 128 MB (np.copyto, read + write)
    from one thread and from two, and the CPU time OpenBLAS's worker threads take in the 0.3 s
    after one matrix product while this thread sleeps (they spin, waiting for the next product).
    """
    moved = 5 * 4 * n_params
    src, dst = np.ones(2**25, np.float32), np.empty(2**25, np.float32)
    half = len(src) // 2

    def copy_two() -> None:
        with ThreadPoolExecutor(1) as pool:
            other = pool.submit(np.copyto, dst[half:], src[half:])
            np.copyto(dst[:half], src[:half])
            other.result()

    one = min(timeit.repeat(lambda: np.copyto(dst, src), number=1, repeat=5))
    two = min(timeit.repeat(copy_two, number=1, repeat=5))
    a, w = np.ones((128, 784), np.float32), np.ones((784, 800), np.float32)
    a @ w
    before = _other_threads_cpu()
    time.sleep(0.3)
    spin = _other_threads_cpu() - before
    print()
    print("| memory | |")
    print("|---|---:|")
    print(f"| unfused momentum update: bytes per step (5 x 4 bytes x {n_params:,} parameters) | {moved / 1e6:.1f} MB |")
    print(f"| the loop's optimizer step, weight products included: ms per step | {1e3 * step:.3f} ms |")
    print(f"| np.copyto of 128 MB, one thread (read + write) | {2 * src.nbytes / one / 1e9:.1f} GB/s |")
    print(f"| the same in two halves on two threads | {2 * src.nbytes / two / 1e9:.1f} GB/s |")
    print(f"| CPU time of the other threads in the 0.3 s after one matrix product | {spin:.2f} s |")


def _other_threads_cpu() -> float:
    """CPU seconds used so far by this process's threads other than this one (Linux /proc)."""
    me, ticks = threading.get_native_id(), 0
    try:
        for tid in os.listdir("/proc/self/task"):
            if int(tid) != me:
                fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])  # utime + stime
    except OSError:
        return float("nan")
    return ticks / os.sysconf("SC_CLK_TCK")


def micro(batch: int, hidden: int) -> None:
    """Small operations of one batch, timed alone (best of 7 x 2000), with rewrites one might try."""
    rng = np.random.default_rng(0)
    z = (rng.standard_normal((batch, 10)) * 5).astype(np.float32)
    h = rng.standard_normal((batch, hidden)).astype(np.float32)
    g = rng.standard_normal((batch, hidden)).astype(np.float32)
    zeros, ones = np.zeros(hidden, np.float32), np.ones(batch, np.float32)
    a = np.maximum(h, zeros)
    rows = np.arange(batch)
    pixels = read_arrays("mnist")["train-images-idx3-ubyte"].reshape(60_000, -1)
    x = pixels / np.float32(255)
    order = rng.permutation(len(x))
    x_out, p_out, buf = np.empty_like(x), np.empty_like(pixels), np.empty((batch, x.shape[1]), np.float32)
    cases = {
        "softmax row maximum, dlcc: z[rows, z.argmax(axis=1)]": lambda: z[rows, z.argmax(axis=1)][:, None],
        "  before: z.max(axis=1) (the same numbers)": lambda: z.max(axis=1, keepdims=True),
        "ReLU forward, dlcc: np.maximum(z, row of zeros, out=z)": lambda: np.maximum(h, zeros, out=h),
        "  before: the same into a new array": lambda: np.maximum(h, zeros),
        "ReLU backward, dlcc: np.multiply(grad, a > 0, out=grad)": lambda: np.multiply(g, a > 0, out=g),
        "  before: grad * (a > 0)": lambda: g * (a > 0),
        "bias gradient: 1^T delta (BLAS)": lambda: np.matmul(ones, g),
        "  rewrite: delta.sum(axis=0)": lambda: g.sum(axis=0),
        "uint8 batch to float32: pixel / 255": lambda: np.divide(pixels[:batch], np.float32(255), out=buf),
    }
    print()
    print(f"| operation, batch {batch} (hidden {hidden}) | us |")
    print("|---|---:|")
    for name, run in cases.items():
        print(f"| {name} | {1e6 * min(timeit.repeat(run, number=2000, repeat=7)) / 2000:.2f} |")
    for name, run in {
        "shuffle's gather of the 60,000 images, float32": lambda: np.take(x, order, axis=0, out=x_out, mode="clip"),
        "  the same as uint8": lambda: np.take(pixels, order, axis=0, out=p_out, mode="clip"),
    }.items():
        print(f"| {name} | {1e6 * min(timeit.repeat(run, number=1, repeat=7)):.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", default="100", help="hidden layer sizes, e.g. 800,800 (default 100)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=4, help="measured epochs, after one warm-up (default 4)")
    args = parser.parse_args()
    hidden = tuple(int(u) for u in args.hidden.split(","))
    print(f"# CPU: {cpu_model()}; numpy {np.__version__}; 1-minute load average {load_average()}")
    print(f"# 784-{'-'.join(map(str, hidden))}-10, batch {args.batch}, float32, SGD lr 0.1 momentum 0.9")
    n_params, step = profile(hidden, args.batch, args.epochs)
    memory(n_params, step)
    micro(args.batch, hidden[0])


if __name__ == "__main__":
    main()
