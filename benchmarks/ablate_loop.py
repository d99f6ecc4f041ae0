"""Alternatives to dlcc's hot loop that looked faster on paper, measured against what dlcc does.

    python benchmarks/ablate_loop.py                    # 784-800-800-10 and 784-100-10, batch 128
    python benchmarks/ablate_loop.py --hidden 100       # one network
    python benchmarks/ablate_loop.py --hidden 100 --only flush --epochs 6

Why this exists: the rest of an epoch beyond the matrix products is memory-bound NumPy passes,
mostly the SGD-momentum update (v = mu v - lr g; theta += v: four passes over every weight matrix
per batch) and the per-epoch shuffle. These are the rewrites one reaches for first; this script
shows what each buys on the machine it runs on, so the loop stays simple unless one of them wins.

Variants of the weight-gradient products and the momentum update, timed together (A/B inside one
process: the variants take turns batch by batch on the same network, so a slow phase of a shared
machine hits all of them alike):

    fused      dlcc: no dW; SGD.step multiplies each weight's factors inside the update, one BLAS
               call v = (-lr) x^T delta + mu v per weight matrix, then theta += v by BLAS's axpy,
               on BLAS's threads (dlcc.optim.blas)
    numpy-add  the same, with theta += v made by NumPy on one thread (dlcc before blas.add)
    blocked    dW = x^T delta (np.matmul), then v *= mu; v -= lr * g; theta += v, a parameter of
               more than 4 x 32k elements in slices of 32k elements so that the four passes over
               a slice stay in cache (dlcc.optim.optimizers.blocks; dlcc before the fused update)
    whole      dW, then the update on whole arrays, as dlcc did before the slices
    scratch    whole arrays, with lr * g written into a buffer allocated once (no temporary)
    threads    whole arrays, large parameters split in two halves, one updated on a second thread
               (NumPy releases the GIL inside ufuncs, and BLAS has no work between the products)

Variants of batching (epochs alternate):

    uint8-gather   dlcc: the pixels kept as uint8 through the shuffle (a quarter of the bytes to
                   move), one permutation and one gather per epoch, each batch decoded into a
                   float32 buffer allocated once, x = pixel / 255 (dlcc.data.pixels)
    epoch-gather   the float32 split gathered once per epoch, contiguous slices (dlcc before
                   2026-12-01): the same batches bit for bit
    batch-gather   one permutation per epoch, each batch gathered into a buffer allocated once
    uint8-batch    one permutation per epoch, each batch's bytes gathered into a small buffer and
                   decoded from there (no epoch-sized buffer; the decode reads bytes just gathered)

The fused update in the whole loop (epochs take turns between three identical networks):

    dlcc       the fused update, theta += v by BLAS's axpy
    numpy-add  the fused update, theta += v by NumPy
    unfused    dW = x^T delta by np.matmul, then the update (BLAS declines every product)

The subnormal flush (epochs alternate between two identical networks):

    flush          dlcc: optimizer state below 2**-102 set to 0 every 16 steps (docs/optimizers.md)
    no-flush       the same optimizer with flush_every = None: decaying velocities go subnormal

And the whole loop (epochs alternate):

    dlcc           Fit's epoch: layers, loss and optimizer objects, parameters in a dict by name
    inline         the same algorithm as one flat function: all parameters in one vector (one
                   update for the whole network), no objects, no dicts, and dlcc's forms of the
                   bias gradient and ReLU; what a rewrite of the loop's Python structure could win
                   (it shuffles the float32 split, as dlcc did before it shuffled the bytes, and
                   computes dW before one unfused update, as dlcc did before the fused update)

Prints milliseconds per update and seconds per epoch; lower is better. Nothing here asserts.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_mlp import config_dict, cpu_model  # noqa: E402  (the same networks as the speed table)

from dlcc import config  # noqa: E402
from dlcc.nn.metrics import n_correct  # noqa: E402
from dlcc.build import build_members, prepare  # noqa: E402
from dlcc.optim import blas  # noqa: E402
from dlcc.training.trainer import Fit, Reporter  # noqa: E402

BATCH, LR, MU, HALVES_ABOVE = 128, 0.1, 0.9, 65536


def build(hidden: tuple[int, ...]):
    cfg = config.parse(config_dict(hidden, BATCH, 1, False), source="ablation")
    splits, arrays = prepare(cfg)
    members = build_members(cfg, arrays["train"], splits.train.pixels)
    fit = Fit(cfg, members, arrays["val"], True)
    return fit.runners[0], members[0]


@contextlib.contextmanager
def patched(module, name: str, value):
    """module.name = value while the block runs."""
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)


def update_variants(net, optimizer) -> dict:
    """name -> function() that applies one momentum step to net.params, after a backward pass that
    left the weight gradients as their factors (each variant but `fused` multiplies them first)."""
    optimizer.step(net.params, net.grads)  # creates the velocity arrays
    P, G, V = net.params, net.grads, optimizer.state["v"]
    S = {k: np.empty_like(p) for k, p in P.items()}
    pool = ThreadPoolExecutor(1)

    def one(p, g, v):
        v *= MU
        v -= LR * g
        p += v

    def scratch():
        for k, p in P.items():
            np.multiply(G[k], LR, out=S[k])
            V[k] *= MU
            V[k] -= S[k]
            p += V[k]

    def threads():
        pending = []
        for k, p in P.items():
            if p.size >= HALVES_ABOVE:
                h = len(p) // 2
                pending.append(pool.submit(one, p[:h], G[k][:h], V[k][:h]))
                one(p[h:], G[k][h:], V[k][h:])
            else:
                one(p, G[k], V[k])
        for f in pending:
            f.result()

    def whole():
        for k, p in P.items():
            one(p, G[k], V[k])

    def products(update):
        def variant():
            for name, (x, delta) in net.weight_factors().items():
                np.matmul(x.T, delta, out=G[name])
            update()
        return variant

    def numpy_add():  # fused products, then theta += v by NumPy on one thread (dlcc before blas.add)
        with patched(blas, "add", lambda y, x: False):
            optimizer.step(P, G, net.weight_factors())

    return {"fused": lambda: optimizer.step(P, G, net.weight_factors()),
            "numpy-add": numpy_add,
            "blocked": products(lambda: optimizer.step(P, G)),
            **{name: products(update) for name, update in (("whole", whole), ("scratch", scratch), ("threads", threads))}}


def ablate_update(hidden, epochs: int) -> None:
    runner, member = build(hidden)
    net = member.net
    variants = update_variants(net, runner.optimizer)
    names = list(variants)
    spent = {name: [] for name in names}
    for _ in range(epochs):
        for b, (xb, yb) in enumerate(runner.batches()):
            net.backward(net.forward(xb, training=True), yb, weight_grads=False)
            name = names[b % len(names)]
            start = time.perf_counter()
            variants[name]()
            spent[name].append(time.perf_counter() - start)
    cells = ", ".join(f"{name} {1e3 * statistics.median(t):.3f}" for name, t in spent.items())
    print(f"  weight-gradient products + momentum update, median ms per batch: {cells}")


def ablate_gather(hidden, epochs: int) -> None:
    runner, member = build(hidden)
    net, optimizer = member.net, runner.optimizer
    x_all, y_all = member.train
    x_shuffled, y_shuffled = np.empty_like(x_all), np.empty_like(y_all)
    xbuf = np.empty((BATCH, x_all.shape[1]), x_all.dtype)
    ybuf = np.empty((BATCH, y_all.shape[1]), y_all.dtype)
    assert member.pixels is not None, "MNIST in float32 trains from its pixels' bytes"

    def train_batch(xb, yb):
        a = net.forward(xb, training=True)
        net.data_loss(a, yb)
        n_correct(a, yb)
        net.backward(a, yb, weight_grads=False)  # as dlcc's loop: the update multiplies the factors
        optimizer.step(net.params, net.grads, net.weight_factors())

    def uint8_gather():  # what dlcc's trainer does
        for xb, yb in runner.batches():
            train_batch(xb, yb)

    def epoch_gather():
        order = member.rng.permutation(len(x_all))
        np.take(x_all, order, axis=0, out=x_shuffled, mode="clip")
        np.take(y_all, order, axis=0, out=y_shuffled, mode="clip")
        for b in range(runner.n_batches):
            train_batch(x_shuffled[b * BATCH:(b + 1) * BATCH], y_shuffled[b * BATCH:(b + 1) * BATCH])

    bytes_all = member.pixels.bytes
    bbuf = np.empty((BATCH, bytes_all.shape[1]), bytes_all.dtype)

    def per_batch(source, buf, decode):
        """One permutation per epoch, each batch's rows of `source` gathered into `buf`."""
        def run():
            order = member.rng.permutation(len(x_all))
            for b in range(runner.n_batches):
                idx = order[b * BATCH:(b + 1) * BATCH]
                rows, yb = buf[:len(idx)], ybuf[:len(idx)]
                np.take(source, idx, axis=0, out=rows, mode="clip")
                np.take(y_all, idx, axis=0, out=yb, mode="clip")
                train_batch(decode(rows), yb)
        return run

    batch_gather = per_batch(x_all, xbuf, lambda rows: rows)
    uint8_batch = per_batch(bytes_all, bbuf, lambda rows: member.pixels.decode(rows, out=xbuf[:len(rows)]))

    variants = (("uint8-gather", uint8_gather), ("epoch-gather", epoch_gather), ("batch-gather", batch_gather),
                ("uint8-batch", uint8_batch))
    spent = {name: [] for name, _ in variants}
    epoch_gather()  # warm-up: first touch of the shuffle buffers
    uint8_gather()
    for _ in range(epochs):
        for name, run in variants:
            start = time.perf_counter()
            run()
            spent[name].append(time.perf_counter() - start)
    cells = ", ".join(f"{name} {statistics.median(t):.3f}" for name, t in spent.items())
    print(f"  batching, median s per epoch: {cells}")


def ablate_inline(hidden, epochs: int) -> None:
    """dlcc's epoch against the same training written inline with one flat parameter vector."""
    runner, member = build(hidden)
    x_all, y_all = member.train
    sizes = [x_all.shape[1], *hidden, y_all.shape[1]]
    shapes = [s for n_in, n_out in zip(sizes, sizes[1:]) for s in ((n_in, n_out), (n_out,))]
    theta = np.concatenate([p.ravel() for p in member.net.params.values()])  # W1, b1, W2, ...
    grad, velocity = np.zeros_like(theta), np.zeros_like(theta)

    def views(flat):
        out, start = [], 0
        for shape in shapes:
            size = int(np.prod(shape))
            out.append(flat[start:start + size].reshape(shape))
            start += size
        return out

    params, grads = views(theta), views(grad)
    Ws, bs_, dWs, dbs = params[0::2], params[1::2], grads[0::2], grads[1::2]
    xs, ys = np.empty_like(x_all), np.empty_like(y_all)
    ones = np.ones(BATCH, x_all.dtype)
    zero_rows = [np.zeros(n, x_all.dtype) for n in hidden]
    rng = np.random.default_rng(0)

    def inline_epoch():
        order = rng.permutation(len(x_all))
        np.take(x_all, order, axis=0, out=xs, mode="clip")
        np.take(y_all, order, axis=0, out=ys, mode="clip")
        loss_sum, correct = 0.0, 0
        for first in range(0, len(xs), BATCH):
            x, y = xs[first:first + BATCH], ys[first:first + BATCH]
            acts = [x]
            for W, b, zeros in zip(Ws[:-1], bs_[:-1], zero_rows):
                h = acts[-1] @ W
                h += b
                acts.append(np.maximum(h, zeros))
            z = acts[-1] @ Ws[-1]
            z += bs_[-1]
            z -= z.max(axis=1, keepdims=True)
            np.exp(z, out=z)
            z /= z.sum(axis=1, keepdims=True)
            loss_sum -= float(np.vdot(y, np.log(np.maximum(z, 1e-12))))
            correct += int(np.count_nonzero(z.argmax(axis=1) == y.argmax(axis=1)))
            delta = z - y
            delta *= 1.0 / len(x)
            for layer in range(len(Ws) - 1, -1, -1):
                np.matmul(acts[layer].T, delta, out=dWs[layer])
                np.matmul(ones[:len(x)], delta, out=dbs[layer])
                if layer:
                    delta = (delta @ Ws[layer].T) * (acts[layer] > 0)
            np.multiply(velocity, MU, out=velocity)  # v = mu v - lr g; theta += v, once for all
            np.subtract(velocity, LR * grad, out=velocity)
            np.add(theta, velocity, out=theta)

    spent = {"dlcc": [], "inline": []}
    inline_epoch()
    runner.run(1, Reporter())
    for epoch in range(epochs):
        for name, run in (("dlcc", lambda: runner.run(epoch + 2, Reporter())), ("inline", inline_epoch)):
            start = time.perf_counter()
            run()
            spent[name].append(time.perf_counter() - start)
    cells = ", ".join(f"{name} {statistics.median(t):.3f}" for name, t in spent.items())
    print(f"  whole epoch, median s: {cells}")


def ablate_flush(hidden, epochs: int) -> None:
    """Two identical networks (same seed), one whose optimizer never flushes; epochs alternate.

    Subnormal velocities build up over the first epochs, so the per-epoch times are printed too.
    """
    runs = {"flush": build(hidden), "no-flush": build(hidden)}
    runs["no-flush"][0].optimizer.flush_every = None
    spent = {name: [] for name in runs}
    for epoch in range(1, epochs + 1):
        for name, (runner, _) in runs.items():
            spent[name].append(runner.run(epoch, Reporter())["seconds"])
    cells = ", ".join(f"{name} {statistics.median(t[1:]):.3f}" for name, t in spent.items())
    print(f"  subnormal flush, median s per epoch after the first: {cells}")
    for name, t in spent.items():
        print(f"    {name:8s} epochs 1..{epochs}: " + " ".join(f"{s:.3f}" for s in t))


def ablate_fusing(hidden, epochs: int) -> None:
    """Three identical networks (same seed), epochs taking turns in a shuffled order: dlcc, dlcc
    with theta += v by NumPy (before blas.add), and dlcc with nothing fused (dW, then the update)."""
    variants = {"dlcc": ({}, build(hidden)), "numpy-add": ({"add": lambda y, x: False}, build(hidden)),
                "unfused": ({"gemm_tn": lambda *args, **kwargs: False}, build(hidden))}
    spent = {name: [] for name in variants}
    order = list(variants)
    for epoch in range(1, epochs + 1):
        np.random.default_rng(epoch).shuffle(order)  # whoever goes first after a slow phase pays for it
        for name in order:
            changes, (runner, _) = variants[name]
            with contextlib.ExitStack() as stack:
                for attr, value in changes.items():
                    stack.enter_context(patched(blas, attr, value))
                spent[name].append(runner.run(epoch, Reporter())["seconds"])
    cells = ", ".join(f"{name} {statistics.median(t):.3f} (min {min(t):.3f})" for name, t in spent.items())
    print(f"  fused update, median s per epoch: {cells}")


ABLATIONS = {"update": ablate_update, "gather": ablate_gather, "inline": ablate_inline, "flush": ablate_flush,
             "fusing": ablate_fusing}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", action="append", help="hidden sizes, e.g. 800,800 (repeatable)")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per comparison (default 4)")
    parser.add_argument("--only", choices=ABLATIONS, action="append", help="run only this comparison (repeatable)")
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the flush comparison leaves out each variant's first epoch)")
    print(f"# CPU: {cpu_model()}; numpy {np.__version__}")
    for spec in args.hidden or ["800,800", "100"]:
        hidden = tuple(int(u) for u in spec.split(","))
        print(f"784-{'-'.join(map(str, hidden))}-10, batch {BATCH}, float32, SGD lr {LR} momentum {MU}:")
        for name in args.only or ABLATIONS:
            ABLATIONS[name](hidden, args.epochs)


if __name__ == "__main__":
    main()
