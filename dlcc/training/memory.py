"""Will the run fit in memory? An estimate made before training, against a limit.

The training loop allocates, beyond the data already loaded (s = bytes per number, 4 for
float32; P = parameters per network; M = ensemble members; b = batch size; u_l = units of layer l):

    parameters and gradients     2 * P * M * s
    optimizer state              slots * P * M * s        (momentum, AdaGrad, RMSProp: 1; Adam: 2)
    checkpoints, best weights    (2 * (1 + slots) + best) * P * M * s   (a snapshot and its .npz copy)
    activations of a batch       3 * b * sum_l u_l * M * s (z, a and delta per layer; dropout: + mask)
    evaluation chunk             3 * min(8192, n) * max_l u_l * s
    data copies                  the shuffle buffer n_train * (d + k) * s, one bootstrap sample per
                                 member with bagging; image data shuffled as bytes (in float32,
                                 batches smaller than the split) instead: n_train * (d + k * s) +
                                 b * d * s, and each bootstrap sample keeps its bytes too
                                 (+ n_train * d per member)

The limit is $DLCC_MEMORY_LIMIT when set (bytes, or with a unit: 512M, 8G; 0 or "off" turns the
check off), else the memory this process can still get: the least of the system's available
memory (/proc/meminfo MemAvailable), the cgroup's limit minus its use (containers), and the address
space left under `ulimit -v`. A run whose estimate is above the limit is refused with a message that
names the biggest term and how to shrink it; where no limit can be found, nothing is checked.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from dlcc.errors import ConfigError
from dlcc.optim import build_optimizer

EVAL_CHUNK = 8192  # nn.metrics.evaluate's chunk


def estimate(cfg, n_inputs: int, n_train: int, n_targets: int, n_eval: int,
             image_bytes: bool = False) -> dict[str, tuple[int, str]]:
    """{term: (bytes, how to shrink it)} for a config and its data sizes (see the module doc);
    image_bytes: the trainer shuffles the training images as bytes (build.shuffled_pixels)."""
    s = 8 if cfg.precision == "float64" else 4
    sizes = [n_inputs] + [layer.units for layer in cfg.model.layers]
    P = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    M = cfg.ensemble.members
    slots = len(getattr(build_optimizer(cfg.optimizer), "slots", ()))
    stopping = cfg.training.early_stopping
    best = 1 if stopping is not None and stopping.restore_best else 0
    bs = cfg.training.batch_size
    b = n_train if bs == "full" else min(bs, n_train)
    per_unit = 3 + any(layer.dropout > 0 for layer in cfg.model.layers)
    widest = max(sizes[1:])
    smaller = "use fewer or smaller layers (model.layers)" + (", or fewer ensemble.members" if M > 1 else "")
    terms = {
        "parameters and gradients": (2 * P * M * s, smaller),
        "optimizer state": (slots * P * M * s, smaller),
        "checkpoints and best weights": ((2 * (1 + slots) + best) * P * M * s, smaller),
        f"activations of a batch of {b:,}" + (" (batch_size: full)" if bs == "full" else ""):
            (per_unit * b * sum(sizes[1:]) * M * s,
             f"lower training.batch_size (now {bs}), or the units of the widest layer ({widest:,})"),
        "evaluation chunk": (3 * min(EVAL_CHUNK, max(n_eval, 1)) * widest * s,
                             f"use a smaller widest layer ({widest:,} units)"),
        "shuffled copy of the training data": (
            (n_train * (n_inputs + n_targets * s) + b * n_inputs * s if image_bytes
             else n_train * (n_inputs + n_targets) * s) if cfg.training.shuffle else 0,
            "set data.subset, or training.shuffle: false"),
        "bootstrap samples": ((M * n_train * ((n_inputs + n_targets) * s + n_inputs * image_bytes))
                              if cfg.ensemble.bagging else 0,
                              "use fewer ensemble.members, or ensemble.bagging: false"),
    }
    return terms


def check_memory(cfg, arrays: dict, image_bytes: bool = False) -> None:
    """Refuse a run that would not fit in memory (ConfigError, exit 2); see the module doc."""
    limit, source = memory_limit()
    if limit is None:
        return
    x, y = arrays["train"]
    n_eval = max(len(v[0]) for v in arrays.values() if v is not None)
    terms = estimate(cfg, x.shape[1], len(x), y.shape[1], n_eval, image_bytes)
    total = sum(size for size, _ in terms.values())
    if total <= limit:
        return
    name, (size, fix) = max(terms.items(), key=lambda item: item[1][0])
    raise ConfigError(
        f"the run needs about {_gib(total)} of memory beyond its data, more than the {_gib(limit)} {source}; "
        f"the largest part is the {name}: {_gib(size)}. To shrink it, {fix}. "
        "(The estimate and DLCC_MEMORY_LIMIT, which sets the limit: docs/config.md, \"Memory\".)")


def memory_limit() -> tuple[int | None, str]:
    """(bytes this process may still allocate, where that number comes from); (None, "") if unknown."""
    setting = os.environ.get("DLCC_MEMORY_LIMIT", "").strip()
    if setting:
        value = parse_size(setting)
        return (None, "") if value == 0 else (value, "set by DLCC_MEMORY_LIMIT")
    found = [(v, why) for v, why in (_meminfo(), _cgroup(), _address_space()) if v is not None]
    return min(found) if found else (None, "")


def parse_size(text: str) -> int:
    """'2G', '512M', '1.5GiB', '1000000' (bytes) -> bytes; '0', 'off', 'none' -> 0."""
    if text.lower() in ("0", "off", "none", "no"):
        return 0
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?", text.strip().lower())
    if match is None:
        raise ConfigError(f"DLCC_MEMORY_LIMIT={text!r}: expected a size such as 8G, 512M or 1000000 (bytes), "
                          "or 0 / off to turn the memory check off")
    return int(float(match[1]) * 1024 ** "_kmgt".index(match[2] or "_"))


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def _meminfo():
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024, "available on this machine (MemAvailable)"
    except (OSError, ValueError, IndexError):
        pass
    return None, ""


def _cgroup():
    """cgroup v2: memory.max - memory.current of this process's group."""
    try:
        group = Path("/proc/self/cgroup").read_text().strip().splitlines()[0].split(":", 2)[2]
        base = Path("/sys/fs/cgroup") / group.lstrip("/")
        limit = (base / "memory.max").read_text().strip()
        if limit == "max":
            return None, ""
        used = int((base / "memory.current").read_text())
        return max(int(limit) - used, 0), "left under this container's memory limit (cgroup memory.max)"
    except (OSError, ValueError, IndexError):
        return None, ""


def _address_space():
    """ulimit -v: the address space left (what NumPy's allocations count against)."""
    try:
        import resource  # POSIX only

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY:
            return None, ""
        pages = int(Path("/proc/self/statm").read_text().split()[0])
        return max(soft - pages * os.sysconf("SC_PAGE_SIZE"), 0), "left under ulimit -v"
    except (ImportError, OSError, ValueError, IndexError, AttributeError):
        return None, ""
