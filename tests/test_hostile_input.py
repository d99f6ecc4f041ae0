"""Hostile or broken configs: every one must end with exit code 2, a message, and no traceback."""

from __future__ import annotations

import copy

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dlcc.cli import app
from dlcc.config import yaml_load
from tests.conftest import TINY

runner = CliRunner()

def _is_number(text: str) -> bool:
    try:
        float(yaml_load(text))  # dlcc reads YAML 1.2 numbers: "0E0" is 0.0
        return True
    except Exception:
        return False


NOT_A_NUMBER = st.text(min_size=1).filter(lambda s: not _is_number(s))

# Paths into TINY, each with values that are certainly wrong there.
WRONG = {
    ("seed",): st.one_of(st.integers(max_value=-1), NOT_A_NUMBER, st.floats(allow_nan=True).filter(lambda f: not float(f).is_integer())),
    ("precision",): st.text().filter(lambda s: s not in ("float32", "float64")),
    ("loss",): st.one_of(st.integers(), st.text().filter(lambda s: s != "cross_entropy" and s not in
                                                          ("quadratic", "mse", "l1", "binary_cross_entropy"))),
    ("training", "epochs"): st.one_of(st.integers(max_value=0), st.integers(min_value=10**6), NOT_A_NUMBER,
                                      st.lists(st.integers(), max_size=2)),
    ("training", "batch_size"): st.one_of(st.integers(max_value=0), st.text().filter(lambda s: s != "full"),
                                          st.floats(allow_nan=True).filter(lambda f: not float(f).is_integer())),
    ("optimizer", "lr"): st.one_of(st.floats(max_value=0), NOT_A_NUMBER,
                                   st.just(None)),
    ("optimizer", "momentum"): st.one_of(st.floats(min_value=1), st.floats(max_value=-1e-9)),
    ("optimizer", "name"): st.text().filter(lambda s: s not in ("sgd", "adagrad", "rmsprop", "adam")),
    ("model", "layers"): st.one_of(st.just([]), st.integers(), st.text(), st.lists(st.integers(), min_size=1, max_size=3)),
    ("model", "input_dropout"): st.one_of(st.floats(min_value=1), st.floats(max_value=-1e-9)),
    ("data", "dataset"): st.text().filter(lambda s: s not in ("spirals",)),
    ("data", "validation"): st.one_of(st.floats(min_value=-1e9, max_value=-1e-9), NOT_A_NUMBER),
    ("data", "options", "noise"): st.one_of(st.floats(max_value=-1e-9), NOT_A_NUMBER),
    ("data", "options", "classes"): st.one_of(st.integers(max_value=1), NOT_A_NUMBER),
}


def check_rejected(text: str, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("cfg") / "bad.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    result = runner.invoke(app, ["train", str(path), "--runs-dir", str(path.parent / "runs"), "--quiet"])
    assert result.exit_code == 2, (text, result.output)
    assert result.stderr.strip(), text
    assert "Traceback" not in result.output
    assert not (path.parent / "runs").exists()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), path=st.sampled_from(sorted(WRONG)))
def test_wrong_values_are_rejected(tmp_path_factory, data, path):
    raw = copy.deepcopy(TINY)
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = data.draw(WRONG[path])
    check_rejected(yaml.safe_dump(raw), tmp_path_factory)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(section=st.sampled_from([(), ("data",), ("model",), ("training",), ("optimizer",)]),
       key=st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12))
def test_unknown_keys_are_rejected(tmp_path_factory, section, key):
    raw = copy.deepcopy(TINY)
    node = raw
    for part in section:
        node = node[part]
    if key in node or (not section and key in ("name", "seed", "precision", "loss", "schedule", "regularization",
                                                "ensemble", "diagnostics")):
        return
    if section == ("training",) and key in ("shuffle", "clip_grad_norm", "early_stopping"):
        return
    if section == ("data",) and key in ("test", "validation", "subset", "normalize", "stratify"):
        return
    if section == ("model",) and key in ("init", "input_dropout"):
        return
    if section == ("optimizer",) and key in ("momentum", "nesterov"):
        return
    node[key] = 1
    check_rejected(yaml.safe_dump(raw), tmp_path_factory)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(min_size=1, max_size=200))
def test_binary_garbage_is_rejected(tmp_path_factory, blob):
    check_rejected(blob, tmp_path_factory)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.one_of(st.integers(), st.text(max_size=30), st.lists(st.integers(), max_size=4), st.none()))
def test_documents_that_are_not_mappings_are_rejected(tmp_path_factory, doc):
    check_rejected(yaml.safe_dump(doc), tmp_path_factory)


def test_python_tags_never_run(tmp_path_factory, tmp_path):
    marker = tmp_path / "pwned"
    for tag in (f"!!python/object/apply:os.system ['touch {marker}']",
                f"data: !!python/object/apply:os.system ['touch {marker}']",
                "model: !!python/name:os.system"):
        check_rejected(tag + "\n", tmp_path_factory)
    assert not marker.exists()


def test_networks_too_large_to_allocate_are_refused(tmp_path_factory):
    raw = copy.deepcopy(TINY)
    raw["model"]["layers"] = [{"units": 60000}] * 4 + [{"units": 3, "activation": "softmax"}]
    check_rejected(yaml.safe_dump(raw), tmp_path_factory)


def test_datasets_too_large_to_generate_are_refused(tmp_path_factory):
    for options in ({"classes": 3, "points_per_class": 10**9}, ):
        raw = copy.deepcopy(TINY)
        raw["data"]["options"] = options
        check_rejected(yaml.safe_dump(raw), tmp_path_factory)
    raw = copy.deepcopy(TINY)
    raw["data"] = {"dataset": "blobs", "options": {"points": 5_000_000, "features": 10_000}}
    check_rejected(yaml.safe_dump(raw), tmp_path_factory)
