"""The training progress display: a truthful ETA (fake clock), plain lines off a terminal, log_every."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from dlcc.config import parse
from dlcc.report.progress import ProgressState, RichReporter, clock_time
from tests.conftest import TINY
from tests.runs_helpers import dlcc

CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # anything but printable text and \n


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def simulate(state: ProgressState, clock: FakeClock, batch_seconds, overhead: float, epochs: int, batches: int,
             check_at: list[tuple[int, int]]):
    """Drive `state` through a run; at (epoch, batches done) points record (eta shown, true time left)."""
    seen = []
    total_time = sum(sum(batch_seconds(e, b) for b in range(batches)) + overhead for e in range(1, epochs + 1))
    start = clock.now
    state.start(epochs, batches)
    for e in range(1, epochs + 1):
        for b in range(batches):
            if (e, b) in check_at:
                seen.append((state.eta(), start + total_time - clock.now))
            clock.now += batch_seconds(e, b)
            state.batch(32, 0.5, 16)
        clock.now += overhead  # validation, diagnostics, checkpoint: not part of any batch
        state.epoch({"epoch": e, "train_loss": 0.5, "val_loss": 0.4, "val_accuracy": 0.9})
    return seen


@pytest.mark.parametrize("overhead", [0.0, 3.0])
def test_eta_is_within_20_percent_after_the_first_epoch(overhead):
    clock = FakeClock()
    checks = [(e, b) for e in range(2, 11) for b in (0, 50, 99)]
    seen = simulate(ProgressState(clock), clock, lambda e, b: 0.04, overhead, 10, 100, checks)
    for eta, truth in seen:
        assert abs(eta - truth) <= 0.2 * truth, (eta, truth)


def test_eta_stays_within_20_percent_when_epochs_vary():
    """Every other epoch 30% slower (a shared machine): the mean over finished epochs still tracks."""
    clock = FakeClock()
    checks = [(e, 0) for e in range(2, 10)]
    seen = simulate(ProgressState(clock), clock, lambda e, b: 0.05 * (1.3 if e % 2 else 1.0), 1.0, 10, 40, checks)
    for eta, truth in seen:
        assert abs(eta - truth) <= 0.2 * truth, (eta, truth)


def test_a_slow_start_of_the_first_epoch_does_not_inflate_the_eta():
    """The first quarter of epoch 1 at 1/5 of the speed (cold caches, first-touched memory), as seen
    on MNIST: from the end of epoch 1 on, the ETA is still within 20%."""
    clock = FakeClock()
    checks = [(e, b) for e in range(2, 11) for b in (0, 50, 99)]
    seen = simulate(ProgressState(clock), clock, lambda e, b: 0.05 if e == 1 and b < 25 else 0.01, 0.3, 10, 100,
                    checks)
    for eta, truth in seen:
        assert abs(eta - truth) <= 0.2 * truth, (eta, truth)


def test_eta_in_the_first_epoch_comes_from_the_batches_and_ends_at_zero():
    clock = FakeClock()
    state = ProgressState(clock)
    state.start(4, 10)
    assert state.eta() is None  # nothing measured yet
    for _ in range(5):
        clock.now += 1.0
        state.batch(8, 1.0, None)
    assert state.eta() == pytest.approx(35.0)  # 35 batches left at 1 s
    assert state.running_loss == 1.0 and state.running_accuracy is None  # regression: no accuracy
    for e in range(1, 5):
        state.epoch({"epoch": e})
    assert state.eta() == 0.0


def test_a_resumed_run_counts_from_its_first_epoch():
    clock = FakeClock()
    state = ProgressState(clock)
    state.start(10, 5, first_epoch=8)
    clock.now += 6.0
    state.epoch({"epoch": 8})
    assert state.eta() == pytest.approx(12.0)  # epochs 9 and 10 at 6 s each


def test_running_loss_and_accuracy_are_means_over_the_epoch_so_far():
    state = ProgressState(FakeClock())
    state.start(3, 4)
    state.batch(10, 1.0, 5)
    state.batch(30, 0.2, 30)
    assert state.running_loss == pytest.approx((10 * 1.0 + 30 * 0.2) / 40)
    assert state.running_accuracy == pytest.approx(35 / 40)
    state.epoch({"epoch": 1})
    assert state.running_loss is None  # a new epoch starts from nothing


def test_the_live_display_labels_the_epoch_the_bar_and_the_times():
    clock = FakeClock()
    reporter = RichReporter(stream=io.StringIO(), clock=clock, terminal=False)
    reporter.start(10, 200)
    for _ in range(200):
        clock.now += 0.011
        reporter.batch(32, 0.25, 30)
    reporter.epoch({"epoch": 1, "train_loss": 0.3, "train_accuracy": 0.9, "val_loss": 0.2, "val_accuracy": 0.95})
    for _ in range(50):
        reporter.batch(32, 0.25, 30)
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(reporter._render())
    text = out.getvalue()
    assert "epoch 2/10" in text and "50/200 batches" in text
    assert "loss 0.2500" in text and "acc 93.75%" in text
    assert "last epoch: val_loss 0.2000  val_acc 95.00%" in text
    assert "elapsed 0:02" in text and "ETA 0:19" in text  # 8 epochs of 2.2 s, and 3/4 of this one


def test_clock_time():
    assert [clock_time(s) for s in (None, 0, 7.4, 125, 3725)] == ["-:--", "0:00", "0:07", "2:05", "1:02:05"]


def test_off_a_terminal_stderr_has_plain_epoch_lines_only(write_config, tiny_raw, tmp_path):
    result = dlcc("train", write_config(tiny_raw), "--runs-dir", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert all(re.search(r"loss \d\.\d{4}  acc [\d.]+%  val_loss .*  time \d+\.\d\ds  elapsed \d+:\d\d  "
                         r"ETA \d+:\d\d$", line) for line in lines), lines
    assert not CONTROL.search(result.stderr)


def test_log_every_prints_every_nth_epoch_the_first_and_the_last(write_config, tiny_raw, tmp_path):
    tiny_raw["training"]["epochs"] = 7
    result = dlcc("train", write_config(tiny_raw), "--runs-dir", tmp_path / "runs", "--log-every", "3")
    assert result.exit_code == 0, result.output
    assert [line.split("  ")[0] for line in result.stderr.splitlines()] == \
        ["epoch 1/7", "epoch 3/7", "epoch 6/7", "epoch 7/7"]
    saved = (next((tmp_path / "runs").iterdir()) / "config.yaml").read_text()
    assert "log_every: 3" in saved


def test_an_early_stop_between_logged_epochs_still_prints_the_last_epoch():
    out = io.StringIO()
    reporter = RichReporter(stream=out, terminal=False)
    reporter.start(100, 1, log_every=10)
    for e in range(1, 14):
        reporter.epoch({"epoch": e, "train_loss": 1.0})
    reporter.close()
    assert re.findall(r"^epoch +(\d+)/100", out.getvalue(), re.M) == ["1", "10", "13"]


@pytest.mark.parametrize("epochs, every", [(30, 1), (100, 1), (101, 2), (400, 4), (10_000, 100)])
def test_by_default_long_runs_print_about_100_lines(tiny_raw, epochs, every):
    tiny_raw["training"]["epochs"] = epochs
    assert parse(tiny_raw, source="t").training.log_interval == every


def test_log_every_must_be_positive(write_config, tiny_raw, tmp_path):
    result = dlcc("train", write_config(tiny_raw), "--runs-dir", tmp_path, "--set", "training.log_every=0")
    assert result.exit_code == 2 and "training.log_every" in result.stderr
    assert TINY["training"].get("log_every") is None
