"""Defects found in `dlcc compare`, `dlcc report` and `dlcc plot`, each pinned by a test that failed
before its fix: the sweep plot's star against compare's best group on a float-noise tie, the
report's p-values, pages and figures with very long run names, a one-epoch curve."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dlcc.report import html, page, plots
from dlcc.report.figtext import MAX_LABEL, shorten
from dlcc.runs import stats
from dlcc.runs.folder import Summary
from dlcc.runs.read import RunFolder
from dlcc.runs.sweepstats import sweep_stats

LONG = "r<img src=x onerror=alert(1)>\"'é-" + "L" * 200


def memory_run(where, name: str, seed: int, accuracies, losses=None, lr: float = 0.1, train=True) -> RunFolder:
    """A run folder held in memory: val_accuracy, val_loss (and train_loss) per epoch 1.."""
    losses = losses if losses is not None else [0.5] * len(accuracies)
    rows = tuple({"epoch": e, "train_loss": v if train else None, "val_accuracy": a, "val_loss": v}
                 for e, (a, v) in enumerate(zip(accuracies, losses), start=1))
    config = {"name": name, "seed": seed, "data": {"dataset": "spirals"}, "optimizer": {"name": "sgd", "lr": lr},
              "training": {"epochs": len(rows)}}
    return RunFolder(Path(where) / f"{name}-{lr}-{seed}", config, Summary(status="completed", task="classification"),
                     ("epoch", "train_loss", "val_accuracy", "val_loss"), rows, True, ())


# --------------------------------------------------------------------------- sweep star vs compare

def test_the_sweep_star_and_compares_best_group_agree_on_a_float_noise_tie():
    """Both points average 90% over three seeds; p001 has the lower loss. np.mean made p001's mean
    0.8999999999999999 against p000's 0.9, so the star went to p000 while compare (means equal to
    12 digits, then the loss) ranks p001 first."""
    definition = {"name": "t", "keys": ["optimizer.lr"],
                  "points": [{"id": "p000", "values": {"optimizer.lr": 0.1}},
                             {"id": "p001", "values": {"optimizer.lr": 0.3}}]}
    rows = [{"point": "p000", "status": "completed", "best_val_accuracy": a, "best_val_loss": 0.5}
            for a in (0.9, 0.9, 0.9)]
    rows += [{"point": "p001", "status": "completed", "best_val_accuracy": a, "best_val_loss": 0.2}
             for a in (0.95, 0.85, 0.9)]
    s = sweep_stats(definition, rows)
    summaries = [{m: {"best": stats.summarize([r[m] for r in rows if r["point"] == p])}
                  for m in ("best_val_accuracy", "best_val_loss")} for p in ("p000", "p001")]
    compare_first = stats.rank(summaries, "best_val_accuracy", True, "best_val_loss")[0]
    assert compare_first == 1 and s.best.id == "p001"
    assert [p.mean for p in s.points] == [0.9, 0.9]  # the means compare prints


def test_a_nan_typed_into_results_csv_is_no_value():
    definition = {"name": "t", "keys": ["optimizer.lr"], "points": [{"id": "p000", "values": {"optimizer.lr": 0.1}}]}
    rows = [{"point": "p000", "status": "completed", "best_val_loss": v} for v in (0.5, float("nan"), 0.7)]
    s = sweep_stats(definition, rows, "best_val_loss")
    assert s.points[0].n == 2 and s.points[0].mean == pytest.approx(0.6) and s.excluded == {"no value": 1}


# --------------------------------------------------------------------------- the report's numbers

def test_the_reports_p_value_is_printed_as_compare_prints_it(tmp_path):
    """p = 0.0498 was printed "0.05" (:.2g) next to the verdict "worse (p = 0.0498)"; compare's
    format_p keeps the digits that put it on the right side of 0.05."""
    best = [memory_run(tmp_path, "a", s, [v]) for s, v in enumerate((0.727, 0.827, 0.927))]
    worse = [memory_run(tmp_path, "b", s, [v], lr=0.3) for s, v in enumerate((0.5, 0.6, 0.7))]
    p = stats.welch([0.5, 0.6, 0.7], [0.727, 0.827, 0.927]).p
    assert 0.0495 < p < 0.05
    body = page._comparison(best + worse)
    assert f'<td class="num">{stats.format_p(p)}</td>' in body and stats.format_p(p) == "0.0498"
    assert '<td class="num">0.05</td>' not in body


# --------------------------------------------------------------------------- long names in the page

def test_a_long_word_in_a_table_cell_may_wrap_and_short_ones_keep_their_column():
    text = html.table(["#", "run"], [["#1", LONG], ["#2", "sgd-20261201-101500"]], {0})
    assert f'<td class="long">{html.esc(LONG)}</td>' in text
    assert "<td>sgd-20261201-101500</td>" in text and '<td class="num">#1</td>' in text
    assert '<td class="long">' in html.key_values([("run folder", "/tmp/" + LONG)])
    assert "td.long { overflow-wrap: anywhere" in html.CSS


def test_the_table_of_contents_can_break_between_its_links():
    """The links were joined without a space and each was nowrap: 10 sections were one line wider
    than the page (scrollWidth 1623 at 1280 pixels) however short their names."""
    text = html.page("t", "", [(f"run-{i}", f"#{i} run", "") for i in range(3)], "")
    assert '<a href="#run-0">#0 run</a> <a href="#run-1">' in text
    assert "white-space: nowrap; }" not in html.CSS.split("nav a")[1].split("\n")[0]


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed"
    return None if shutil.which("chromium") or shutil.which("chromium-browser") else "chromium is not installed"


@pytest.mark.skipif(_browser_missing() is not None, reason=str(_browser_missing()))
def test_a_report_of_runs_with_very_long_names_is_no_wider_than_the_window(tmp_path):
    """Three runs in folders of 230 characters with markup in their names: the page was 6,281
    pixels wide in a 1,280-pixel window; now it wraps, escapes everything and still loads clean."""
    from playwright.sync_api import sync_playwright

    from tests.runs_helpers import train_run
    from tests.test_report_browser import CHROMIUM, FLAGS, open_report

    runs = []
    for i, sets in enumerate((["seed=0"], ["seed=1"], ["optimizer.lr=0.1"])):
        run = train_run(tmp_path / "runs", *sets)
        runs.append(run.rename(run.parent / f"{i}{LONG}"))
    out = tmp_path / "long.html"
    page.write_report(runs, out)
    assert "<img src=x" not in out.read_text()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            tab, problems, requests = open_report(browser, out)
            width, window = tab.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert width <= window, (width, window)
            assert problems == [] and [u for u in requests if not u.startswith(("file:", "data:"))] == []
            assert tab.evaluate("document.images.length") == 3
        finally:
            browser.close()


# --------------------------------------------------------------------------- figures

def test_a_one_epoch_training_curve_is_drawn_as_a_dot(tmp_path):
    """The train loss of a 1-epoch run is one point: a line through it draws nothing at all."""
    run = memory_run(tmp_path, "one", 0, [0.6], [0.7])
    fig = plots.curves([run])
    dots = [line for ax in fig.axes for line in ax.get_lines() if len(line.get_xdata()) == 1]
    assert dots and all(line.get_marker() == "o" for line in dots)
    longer = memory_run(tmp_path, "two", 0, [0.6, 0.7], [0.7, 0.6])
    assert all(line.get_marker() in ("None", None, "") for ax in plots.curves([longer]).axes
               for line in ax.get_lines())


def test_long_run_names_are_shortened_and_the_legend_fits_the_figure(tmp_path):
    """Legend entries of 230 characters ran past both edges of the PNG and gradient panels' titles
    over each other; they are cut to MAX_LABEL characters and the legend takes fewer columns."""
    runs = [memory_run(tmp_path / f"{i}{LONG}", "x", i, [0.6, 0.7], lr=0.1 * (i + 1)) for i in range(3)]
    runs = [RunFolder(r.path.parent, *[getattr(r, f) for f in ("config", "summary", "columns", "rows",
                                                                "has_model", "notes")]) for r in runs]
    fig = plots.curves(runs)
    fig.canvas.draw()
    legend = fig.legends[0]
    texts = [t.get_text() for t in legend.get_texts()]
    assert all(len(t) <= MAX_LABEL + 4 for t in texts), texts  # "#1 " in front
    assert legend.get_window_extent().width <= fig.bbox.width
    assert shorten("a" * 30 + "b" * 100 + "-20261201-101500").endswith("-20261201-101500")
    assert shorten("short") == "short" and len(shorten(LONG)) == MAX_LABEL


@pytest.mark.parametrize("command", [
    ["plot", "{a}", "--out", "{a}/model.npz"],
    ["plot", "{a}", "--kind", "boundary", "--out", "{a}/metrics.csv"],
    ["compare", "{a}", "{b}", "--plot", "{b}/summary.json"],
    ["report", "{a}", "{b}", "--out", "{a}/config.yaml"],
])
def test_plot_compare_and_report_never_write_over_a_run_folders_own_files(tmp_path, command):
    """An --out (or --plot) inside a run folder may add a file, never replace model.npz and the rest."""
    from typer.testing import CliRunner

    from dlcc import config
    from dlcc.cli import app
    from tests.conftest import TINY, train

    a, _ = train(config.parse({**TINY, "name": "a"}), tmp_path / "runs")
    b, _ = train(config.parse({**TINY, "name": "b", "seed": 1}), tmp_path / "runs")
    args = [part.format(a=a, b=b) for part in command]
    target = Path(args[-1])
    before = target.read_bytes()
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "would be replaced; give another file name" in result.output
    assert target.read_bytes() == before
    added = CliRunner().invoke(app, [*args[:-1], str(a / "figure.png" if command[0] != "report" else a / "r.html")])
    assert added.exit_code == 0, added.output  # a new file in the folder is the user's choice
