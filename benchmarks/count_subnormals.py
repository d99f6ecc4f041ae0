"""Count subnormal floats in everything the training loop touches, during a few MNIST epochs.

    python benchmarks/count_subnormals.py                        # 784-100-10, SGD momentum 0.9, 10 epochs
    python benchmarks/count_subnormals.py --optimizer adam --epochs 3
    python benchmarks/count_subnormals.py --no-flush             # what the state holds without the flush
    python benchmarks/count_subnormals.py --hidden 800,800 --every 8 --epochs 3

Why: a float32 whose magnitude is below 2**-126 (about 1.2e-38) is subnormal, and on many Intel
CPUs an arithmetic operation that reads or writes one takes tens of times longer than usual
(`np.multiply` over 78,400 subnormal floats: about 20-50x the time over normal ones). The momentum
velocity of a weight whose input pixel is almost always 0 gets a rare kick and then decays as
mu**t, through the subnormal range on its way to zero, unless the optimizer flushes it (docs/
optimizers.md, "Subnormal numbers").

After every `--every`-th optimizer step (and after the last step of each epoch) it counts, in
float32 (or float64 with --precision float64):

    parameters   W_l, b_l after the step
    state        every optimizer state array (velocity, accumulators, moments) after the step
    gradients    dW_l (multiplied from its factors x^T delta_l when the loop fuses it into the update), db_l
                 and every layer's delta_l = dC/dz_l of that step
    activations  each layer's input and the network's output for that batch

and prints, per epoch, the largest count seen at any sampled step and the count after the epoch's
last step (exact zeros are not subnormal and are not counted). The CPU model is printed first.
Nothing here is timed; it only counts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_mlp import config_dict, cpu_model  # noqa: E402  (the same networks as the speed table)

from dlcc import config  # noqa: E402
from dlcc.build import build_members, prepare  # noqa: E402
from dlcc.optim.optimizers import flush_below  # noqa: E402
from dlcc.training.trainer import Fit, Reporter  # noqa: E402

GROUPS = ("parameters", "state", "gradients", "activations")
OPTIMIZERS = {  # the learning rates the optimizer docs suggest for MNIST
    "sgd": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
    "nesterov": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True},
    "adagrad": {"name": "adagrad", "lr": 0.01},
    "rmsprop": {"name": "rmsprop", "lr": 0.001},
    "adam": {"name": "adam", "lr": 0.001},
}


def subnormal_penalty(n: int = 78_400, repeats: int = 200) -> tuple[float, float]:
    """(microseconds, microseconds): np.multiply over n float32 that are normal, then subnormal."""
    import timeit

    out = np.empty(n, np.float32)
    times = []
    for value in (1e-3, 1e-40):  # 1e-40 is subnormal in float32
        v = np.full(n, value, np.float32)
        best = min(timeit.repeat(lambda: np.multiply(v, np.float32(1.0), out=out), number=repeats, repeat=5))
        times.append(1e6 * best / repeats)
    return times[0], times[1]


def subnormals(array: np.ndarray) -> int:
    """How many entries are subnormal: 0 < |x| < the dtype's smallest normal number."""
    tiny = np.finfo(array.dtype).smallest_normal
    magnitude = np.abs(array)
    return int(np.count_nonzero((magnitude < tiny) & (magnitude > 0)))


def count(net, optimizer, factored: bool) -> dict[str, int]:
    """Subnormal counts by group, right after an optimizer step."""
    a = net.layers[-1].f.a  # the output of this batch's forward pass
    grads = dict(net.grads)
    if factored:  # the loop left dW as its factors x^T delta (dlcc.optim.blas): multiply them here
        grads.update({name: np.matmul(x.T, delta) for name, (x, delta) in net.weight_factors().items()})
    return {
        "parameters": sum(subnormals(p) for p in net.params.values()),
        "state": sum(subnormals(s) for arrays in optimizer.state.values() for s in arrays.values()),
        "gradients": sum(subnormals(g) for g in grads.values()) + sum(subnormals(layer.delta) for layer in net.layers),
        "activations": sum(subnormals(layer.x) for layer in net.layers) + subnormals(a),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", default="100", help="hidden layer sizes, e.g. 800,800 (default 100)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd")
    parser.add_argument("--precision", choices=["float32", "float64"], default="float32")
    parser.add_argument("--every", type=int, default=1, help="count after every N-th step (default 1)")
    parser.add_argument("--no-flush", action="store_true", help="turn the optimizer's subnormal flush off")
    args = parser.parse_args()

    hidden = tuple(int(u) for u in args.hidden.split(","))
    raw = config_dict(hidden, args.batch, args.epochs, False)
    raw["optimizer"], raw["precision"] = OPTIMIZERS[args.optimizer], args.precision
    cfg = config.parse(raw, source="count_subnormals")
    splits, arrays = prepare(cfg)
    fit = Fit(cfg, build_members(cfg, arrays["train"], splits.train.pixels), arrays["val"], True)
    runner, net = fit.runners[0], fit.members[0].net
    optimizer = runner.optimizer
    if args.no_flush:
        optimizer.flush_every = None
    sizes = [arrays["train"][0].shape[1], *hidden, 10]
    state_size = sum(p.size for p in net.params.values()) * len(optimizer.slots)
    print(f"# CPU: {cpu_model()}; numpy {np.__version__}")
    normal, subnormal = subnormal_penalty()
    print(f"# this CPU: np.multiply over 78,400 float32 takes {normal:.1f} us on normal numbers, "
          f"{subnormal:.1f} us on subnormal ones ({subnormal / normal:.0f}x)")
    flush = (f"state flushed every {optimizer.flush_every} steps below {flush_below(net.dtype):.3g}"
             if optimizer.flush_every else "no flush")
    print(f"# {'-'.join(map(str, sizes))}, batch {args.batch}, {args.precision}, {OPTIMIZERS[args.optimizer]}, {flush}")
    print(f"# counted after every {args.every} step(s) of {runner.n_batches} per epoch; "
          f"{state_size:,} optimizer state entries in all")
    print()
    print("| epoch | " + " | ".join(f"{g}: max / last" for g in GROUPS) + " |")
    print("|---:|" + "---:|" * len(GROUPS))

    seen = {g: 0 for g in GROUPS}
    step = [0]
    last: dict[str, int] = {}
    original_step = optimizer.step

    def counting_step(params, grads, factors=None):
        original_step(params, grads, factors) if factors is not None else original_step(params, grads)
        step[0] += 1
        if step[0] % args.every == 0 or step[0] % runner.n_batches == 0:
            counts = count(net, optimizer, runner.factored)
            last.update(counts)
            for g in GROUPS:
                seen[g] = max(seen[g], counts[g])

    optimizer.step = counting_step
    worst = {g: 0 for g in GROUPS}
    for epoch in range(1, args.epochs + 1):
        seen.update({g: 0 for g in GROUPS})
        runner.run(epoch, Reporter())
        print(f"| {epoch} | " + " | ".join(f"{seen[g]:,} / {last[g]:,}" for g in GROUPS) + " |", flush=True)
        worst = {g: max(worst[g], seen[g]) for g in GROUPS}
    print()
    print("Largest count at any counted step: " + ", ".join(f"{g} {worst[g]:,}" for g in GROUPS) + ".")


if __name__ == "__main__":
    main()
