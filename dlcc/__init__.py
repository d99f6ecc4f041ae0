"""dlcc: train and compare small neural networks from YAML configs, every formula in NumPy.

    import dlcc
    run = dlcc.train("configs/spirals.yaml", overrides={"training.epochs": 20})
    run.summary, run.metrics, run.predict(x), run.evaluate("test"), run.plot("curves")

The API lives in dlcc.api (see docs/python.md); it is imported on first use, so that
`import dlcc` and `dlcc --help` stay fast.
"""

from dlcc.errors import (ConfigError, DataError, DivergedError, DlccError, InterruptedRun, PathError, RunDamaged,
                         RunError, WriteFailed)
from dlcc.version import __version__

_API = ("train", "train_config", "resume", "load", "load_config", "validate", "list_runs", "compare", "plot",
        "gradcheck", "sweep", "resume_sweep", "expand_runs", "html_report", "Run", "Sweep")

__all__ = ["__version__", "ConfigError", "DataError", "DivergedError", "DlccError", "InterruptedRun",
           "PathError", "RunDamaged", "RunError", "WriteFailed", *_API]


def __getattr__(name: str):
    if name in _API:
        from dlcc import api

        return getattr(api, name)
    raise AttributeError(f"module 'dlcc' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
