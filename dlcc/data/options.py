"""Base class of every dataset's options model (SPEC.md: validate once, at the edge)."""

from pydantic import BaseModel, ConfigDict


class Options(BaseModel):
    """Unknown keys, wrong types (no "3" for 3, no true for 1) and NaN/inf are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class NoOptions(Options):
    """For datasets without options (MNIST): only `options: {}` or no options at all."""
