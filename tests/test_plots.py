"""How the figures read: size and fonts, whole-number epoch ticks, legends off the data, boundary grids;
and the decision boundary over time (`--animate`) from weight snapshots."""

from __future__ import annotations

import numpy as np
import pytest

import dlcc
from dlcc.runs import snapshots
from tests.runs_helpers import dlcc as cli
from tests.runs_helpers import train_run

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("plots")
    return {
        "short": train_run(base, "training.epochs=3"),
        "snap": train_run(base, "diagnostics.snapshots=2", "training.epochs=9", "name=snap",
                          "optimizer.lr=0.3"),
    }


def test_epoch_ticks_are_whole_numbers_and_the_legend_is_below_the_panels(runs):
    fig = dlcc.plot([runs["short"]], "curves")
    fig.canvas.draw()
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
        assert ax.get_legend() is None  # nothing drawn over the curves
    (legend,) = fig.legends
    legend_top = legend.get_window_extent().y1
    assert all(legend_top <= ax.get_window_extent().y0 for ax in fig.axes)


def test_readable_size_and_fonts(runs, tmp_path):
    out = tmp_path / "c.png"
    assert cli("plot", runs["short"], "--out", out).exit_code == 0
    width, height = Image.open(out).size
    assert width >= 1000 and height >= 450  # two panels
    fig = dlcc.plot([runs["short"]], "curves")
    assert fig.axes[0].xaxis.label.get_fontsize() >= 11


def test_several_boundaries_are_a_grid(runs):
    fig = dlcc.plot([runs["short"]] * 4, "boundary")
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 4
    rows = {round(ax.get_position().y0, 2) for ax in shown}
    assert len(rows) == 2  # 3 + 1, not one strip of 4


def test_snapshots_are_kept_every_n_epochs(runs):
    assert snapshots.epochs(runs["snap"]) == [0, 2, 4, 6, 8]
    with np.load(snapshots.path(runs["snap"], 4), allow_pickle=False) as npz:
        assert sorted(npz.files) == ["W1", "W2", "b1", "b2"]


def test_too_many_snapshots_is_a_config_error(write_config, tiny_raw, tmp_path):
    tiny_raw["training"]["epochs"] = 1000
    tiny_raw["diagnostics"] = {"snapshots": 1}
    result = cli("train", write_config(tiny_raw), "--runs-dir", tmp_path)
    assert result.exit_code == 2
    assert "diagnostics.snapshots" in result.stderr and "use 5 or more" in result.stderr


def frames(path) -> list[np.ndarray]:
    gif = Image.open(path)
    out = []
    for i in range(gif.n_frames):
        gif.seek(i)
        out.append(np.asarray(gif.convert("RGB"), dtype=np.int16))
    return out


def test_animate_writes_a_gif_whose_frames_differ_and_whose_last_frame_is_the_boundary(runs, tmp_path):
    gif, png = tmp_path / "boundary.gif", tmp_path / "boundary.png"
    result = cli("plot", runs["snap"], "--kind", "boundary", "--animate", "--out", gif)
    assert result.exit_code == 0, result.output
    assert cli("plot", runs["snap"], "--kind", "boundary", "--out", png).exit_code == 0
    shots = frames(gif)
    assert len(shots) >= 5  # epochs 0, 2, 4, 6, 8 and the final model (epoch 9); equal frames may merge
    assert all(np.abs(a - b).mean() > 0 for a, b in zip(shots, shots[1:]))
    still = np.asarray(Image.open(png).convert("RGB"), dtype=np.int16)
    assert still.shape == shots[-1].shape
    last, first = np.abs(shots[-1] - still).mean(), np.abs(shots[0] - still).mean()
    assert last < 2.0 and last < first / 5, (last, first)  # only the title and GIF colours differ


def test_the_last_frame_is_the_kept_model_exactly(runs):
    from dlcc.runs.boundary import over_time, surface
    from dlcc.runs.model import load_model

    folder = dlcc.load(runs["snap"]).folder
    timeline = over_time(load_model(folder))
    assert [epoch for epoch, _ in timeline] == [0, 2, 4, 6, 8, 9]
    assert np.array_equal(timeline[-1][1].values, surface(load_model(folder)).values)
    assert not np.array_equal(timeline[0][1].values, timeline[-1][1].values)


def test_animate_needs_snapshots_and_the_boundary_kind(runs, tmp_path):
    result = cli("plot", runs["short"], "--kind", "boundary", "--animate", "--out", tmp_path / "a.gif")
    assert result.exit_code == 2 and "diagnostics.snapshots" in result.stderr
    result = cli("plot", runs["snap"], "--animate", "--out", tmp_path / "a.gif")
    assert result.exit_code == 2 and "--kind boundary" in result.stderr
    result = cli("plot", runs["snap"], "--kind", "boundary", "--animate", "--out", tmp_path / "a.png")
    assert result.exit_code == 2 and "GIF" in result.stderr
