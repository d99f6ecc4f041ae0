"""Learning-rate schedules: values per epoch (1-based) against numbers worked out by hand."""

import io
import math
from typing import Literal

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict

from dlcc import config
from dlcc.optim import SCHEDULES, build_schedule
from dlcc.optim.schedules import Constant, Cosine, Exponential, Plateau, StepDecay
from tests.conftest import TINY


def lrs(schedule, epochs):
    return [schedule.lr(epoch) for epoch in range(1, epochs + 1)]


def test_constant():
    assert lrs(Constant(0.1, 5), 5) == [0.1] * 5


def test_step_decay():
    schedule = StepDecay(0.1, 8, step_size=3, gamma=0.5)
    assert lrs(schedule, 8) == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025])


def test_exponential():
    assert lrs(Exponential(0.8, 4, gamma=0.5), 4) == pytest.approx([0.8, 0.4, 0.2, 0.1])


def test_cosine_goes_from_lr0_to_min_lr():
    half = math.sqrt(2) / 2  # cos(pi/4)
    expected = [1.0, 0.2 + 0.4 * (1 + half), 0.6, 0.2 + 0.4 * (1 - half), 0.2]
    assert lrs(Cosine(1.0, 5, min_lr=0.2), 5) == pytest.approx(expected, rel=1e-12)


def test_cosine_defaults_to_zero_and_handles_one_epoch():
    assert Cosine(0.5, 3).lr(3) == pytest.approx(0.0, abs=1e-15)
    assert Cosine(0.5, 1, min_lr=0.1).lr(1) == 0.5


def run_plateau(schedule, observed):
    """The trainer's order: lr for the epoch, train, then observe the epoch's metric."""
    used = []
    for value in observed:
        used.append(schedule.lr(len(used) + 1))
        schedule.observe(value)
    return used


def test_plateau_reduces_after_exactly_patience_epochs_without_improvement():
    observed = [1.0, 0.9, 0.95, 0.9, 0.8, 0.85, 0.85, 0.85, 0.85, 0.7]
    #  wait:    0    0    1     2->0 0    1     2->0  1     2->0  0
    # 0.9 at epoch 4 ties the best (0.9): a tie is no improvement.
    schedule = Plateau(1.0, 10, factor=0.5, patience=2)
    used = run_plateau(schedule, observed)
    assert used == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.125]
    assert schedule.lr(11) == 0.125


def test_plateau_respects_min_lr_and_counts_nan_as_no_improvement():
    schedule = Plateau(1.0, 5, factor=0.1, patience=1, min_lr=0.05)
    used = run_plateau(schedule, [1.0, float("nan"), 1.0, 1.0, 1.0])
    assert used == pytest.approx([1.0, 1.0, 0.1, 0.05, 0.05])


def save_and_load(state):
    """Through numpy.savez, like checkpoint.npz (no pickles)."""
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as saved:
        return dict(saved)


def test_plateau_state_round_trip():
    observed = [1.0, 0.9, 0.95, 0.97, 0.99, 0.92, 0.8, 0.85, 0.9, 0.95]
    uninterrupted = Plateau(1.0, 10, factor=0.5, patience=2)
    expected = run_plateau(uninterrupted, observed)

    # Interrupted after epoch 5 with lr = 0.5, best = 0.9, wait = 1: epoch 6 (0.92) must then
    # count as the second epoch without improvement, which needs all three restored.
    first = Plateau(1.0, 10, factor=0.5, patience=2)
    used = run_plateau(first, observed[:5])
    resumed = Plateau(1.0, 10, factor=0.5, patience=2)
    resumed.load_state_dict(save_and_load(first.state_dict()))
    for epoch, value in enumerate(observed[5:], start=6):
        used.append(resumed.lr(epoch))
        resumed.observe(value)
    assert used == expected
    assert resumed.state_dict().keys() == uninterrupted.state_dict().keys()
    for key, value in uninterrupted.state_dict().items():
        assert resumed.state_dict()[key] == value


@pytest.mark.parametrize(
    "schedule",
    [
        Constant(0.1, 5),
        StepDecay(0.1, 5, step_size=2, gamma=0.5),
        Exponential(0.1, 5, gamma=0.9),
        Cosine(0.1, 5, min_lr=0.01),
    ],
)
def test_epoch_schedules_have_empty_state(schedule):
    assert schedule.state_dict() == {}
    schedule.load_state_dict(save_and_load({}))
    with pytest.raises(KeyError):
        schedule.load_state_dict({"lr": np.array(0.5)})


class ScheduleConfig(BaseModel):
    """A stand-in for the config's schedule section: a name plus that schedule's fields."""

    model_config = ConfigDict(frozen=True, extra="allow")
    name: Literal["constant", "step", "exponential", "cosine", "plateau"]


@pytest.mark.parametrize(
    ("name", "fields", "expected"),
    [
        ("constant", {}, [0.2, 0.2, 0.2, 0.2]),
        ("step", {"step_size": 2, "gamma": 0.1}, [0.2, 0.2, 0.02, 0.02]),
        ("exponential", {"gamma": 0.5}, [0.2, 0.1, 0.05, 0.025]),
        ("cosine", {"min_lr": 0.05}, [0.2, 0.1625, 0.0875, 0.05]),
        ("plateau", {"factor": 0.5, "patience": 3}, [0.2, 0.2, 0.2, 0.2]),
    ],
)
def test_build_schedule(name, fields, expected):
    schedule = build_schedule(ScheduleConfig(name=name, **fields), lr0=0.2, epochs=4)
    assert isinstance(schedule, SCHEDULES[name])
    assert lrs(schedule, 4) == pytest.approx(expected, rel=1e-12)


def test_every_schedule_the_schema_accepts_is_registered_and_builds():
    """build_schedule does not check the name: the schema's choices must be the registry's."""
    schema = config.Config.model_json_schema()["properties"]["schedule"]["discriminator"]
    assert sorted(schema["mapping"]) == sorted(SCHEDULES)
    for name, cls in SCHEDULES.items():
        cfg = config.parse({**TINY, "schedule": name})  # every default of that section
        assert type(build_schedule(cfg.schedule, lr0=0.1, epochs=3)) is cls
