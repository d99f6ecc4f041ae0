"""Defects found by a hunt through the dataset side: oversized files and gzip bombs, CSV files as
spreadsheets and pandas write them, an import interrupted or racing another, and the message of
a download without a network."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from dlcc.cli import app
from dlcc.data import install as install_module
from dlcc.data import mnist, published
from dlcc.data.files import CsvOptions, csv_table
from dlcc.data.inputs import InputSpec, read_inputs
from dlcc.data.install import install
from dlcc.data.published import Published
from dlcc.errors import DataError
from tests.test_data_mnist import tiny_arrays, write_set

runner = CliRunner()
NAMES = list(published.MNIST_SHA256)
SMALL_LIMIT = 1 << 20


@pytest.fixture
def source(tmp_path, monkeypatch):
    """A tiny MNIST-like set in tmp_path/src (train images gzipped, the rest not), its digests
    pinned as mnist's, an empty cache in DLCC_DATA_DIR, and a 1 MiB limit on dataset files."""
    monkeypatch.setenv("DLCC_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(published, "MAX_FILE_BYTES", SMALL_LIMIT, raising=False)
    folder = tmp_path / "src"
    monkeypatch.setitem(published.FILES, "mnist", Published(write_set(folder, tiny_arrays())))
    return folder


def gzip_bomb(path: Path, size: int) -> None:
    """A small .gz file that unpacks to `size` zero bytes."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    path.write_bytes(packer.compress(bytes(size)) + packer.flush())


def test_a_gzip_bomb_is_refused_before_it_is_unpacked_whole(source, tmp_path):
    gzip_bomb(source / "train-images-idx3-ubyte.gz", 4 * SMALL_LIMIT)
    result = runner.invoke(app, ["data", "import", "mnist", str(source)])
    assert result.exit_code == 2
    assert "train-images-idx3-ubyte.gz: unpacks to more than 1,048,576 bytes" in result.output
    assert not (tmp_path / "cache").exists()

    cache = tmp_path / "cache" / "mnist"  # the same file already in the cache: loading refuses it too
    cache.mkdir(parents=True)
    for path in source.iterdir():
        (cache / path.name).write_bytes(path.read_bytes())
    with pytest.raises(DataError, match="unpacks to more than"):
        mnist.read_arrays("mnist")


def test_a_file_larger_than_any_published_one_is_not_read_into_memory(source, tmp_path):
    big = source / "t10k-labels-idx1-ubyte"
    with big.open("r+b") as handle:  # sparse: no disk space used
        handle.truncate(2 * SMALL_LIMIT)
    result = runner.invoke(app, ["data", "import", "mnist", *map(str, sorted(source.iterdir()))])
    assert result.exit_code == 2
    assert f"{big}: cannot read it" in result.output and "more than the 1,048,576" in result.output
    assert not (tmp_path / "cache").exists()


def test_an_import_interrupted_by_ctrl_c_leaves_the_cache_as_it_was(source, tmp_path, monkeypatch):
    written = []

    def write_then_interrupt(path, data):
        if len(written) == 2:
            raise KeyboardInterrupt
        (tmp_path / "cache" / "mnist" / path.name).write_bytes(data)
        written.append(path)

    monkeypatch.setattr(install_module, "write_bytes", write_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        install("mnist", source)
    assert len(written) == 2
    assert not (tmp_path / "cache").exists()  # the two new files and the folders made for them are gone


def test_a_bad_file_under_the_other_name_is_still_replaced(source, tmp_path):
    cache = tmp_path / "cache" / "mnist"
    cache.mkdir(parents=True)
    (cache / "train-images-idx3-ubyte").write_bytes(b"\0\0\x08\x01garbage")
    install("mnist", source)
    assert not (cache / "train-images-idx3-ubyte").exists()
    assert (cache / "train-images-idx3-ubyte.gz").is_file()


def test_an_offline_download_says_how_to_import_instead(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCC_DATA_DIR", str(tmp_path / "cache"))
    result = runner.invoke(app, ["data", "download", "mnist", "--mirror", (tmp_path / "none").as_uri()])
    assert result.exit_code == 2
    assert "could not download train-images-idx3-ubyte.gz from any mirror" in result.output
    assert "`dlcc data import mnist PATH`" in result.output
    assert not (tmp_path / "cache").exists()


def load_csv(path: Path, target="species", **options):
    return csv_table(CsvOptions(path=str(path), target=target, **options), np.random.default_rng(0))


ROWS = "".join(f"{i},{i % 4},{'xyz'[i % 3]}\n" for i in range(12))


def test_a_csv_with_a_byte_order_mark_reads_its_first_column_name(tmp_path):
    path = tmp_path / "excel.csv"
    rows = "".join(f"{'xyz'[i % 3]},{i},{i % 4}\n" for i in range(12))
    path.write_bytes(b"\xef\xbb\xbf" + f"species,a,b\n{rows}".encode())  # spreadsheets save UTF-8 so
    loaded = load_csv(path)
    assert loaded.target_name == "species" and loaded.feature_names == ("a", "b")
    assert loaded.class_names == ("x", "y", "z")


@pytest.mark.parametrize("header, words", [
    ("a,a,species", "two columns are named 'a' (columns 0 and 1)"),
    ("species,a,species", "two columns are named 'species' (columns 0 and 2)"),
    (",a,species", "column 0 has no name in the header"),
])
def test_csv_header_names_must_be_there_and_unique(tmp_path, header, words):
    path = tmp_path / "t.csv"
    path.write_text(f"{header}\n{ROWS}")
    with pytest.raises(DataError, match="line 1: " + words.replace("(", r"\(").replace(")", r"\)")):
        load_csv(path)


def test_a_predict_input_with_a_feature_column_named_twice_is_refused(tmp_path):
    path = tmp_path / "new.csv"
    path.write_text("b,a,a\n1,2,3\n")
    with pytest.raises(DataError, match="two columns are named 'a'"):
        read_inputs(path, InputSpec(width=2, features=("a", "b"), target="species"))


def test_csv_errors_name_the_line_in_the_file_past_blank_lines_and_quoted_newlines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('a,b,species\n1,2,"x\ny"\n\n\n3,4,y\n5,oops,z\n6,7,x\n')
    with pytest.raises(DataError, match="column 'b', line 7: 'oops' is not a number"):
        load_csv(path)
    path.write_text("a,b,species\n\n1,2,x\n3\n")
    with pytest.raises(DataError, match="line 4 has 1 fields"):
        load_csv(path)
    path.write_text("a,b\n\n1,2\n\n0.5,nan\n")  # and dlcc predict names them alike
    with pytest.raises(DataError, match="line 5"):
        read_inputs(path, InputSpec(width=2, features=("a", "b")))


def test_a_csv_split_by_another_character_says_which_delimiter_to_set(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("a;b;species\n" + ROWS.replace(",", ";"))
    with pytest.raises(DataError, match="seem separated by ';': set data.options.delimiter: ';'"):
        load_csv(path)
    assert load_csv(path, delimiter=";").feature_names == ("a", "b")


def test_a_csv_that_is_not_utf8_says_so(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(f"a,b,species\n{ROWS}1,2,café\n".encode("latin-1"))
    with pytest.raises(DataError, match="save it as UTF-8"):
        load_csv(path)


def test_a_target_column_not_found_shows_the_names_quoted(tmp_path):
    path = tmp_path / "spaced.csv"
    path.write_text("a, b, species\n" + ROWS.replace(",", ", "))
    with pytest.raises(DataError, match="columns: a, ' b', ' species'"):
        load_csv(path)


def test_the_docs_csv_example_trains(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    rng = np.random.default_rng(0)
    lines = ["sepal_length,sepal_width,species"]
    for i in range(45):
        lines.append(f"{5 + i % 3 + rng.random():.1f},{3 + rng.random():.1f},{('setosa', 'versicolor', 'virginica')[i % 3]}")
    (tmp_path / "data" / "iris-like.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8-sig"))
    docs = (Path(__file__).resolve().parents[1] / "docs" / "datasets.md").read_text()
    config = next(block for block in (part.split("```")[0] for part in docs.split("```yaml")[1:])
                  if "iris-like" in block)
    cfg = yaml.safe_load(config)
    cfg["training"]["epochs"] = 2
    (tmp_path / "iris.yaml").write_text(yaml.safe_dump(cfg))
    result = runner.invoke(app, ["train", "iris.yaml", "--quiet", "--runs-dir", "runs"])
    assert result.exit_code == 0, result.output
    summary = next((tmp_path / "runs").iterdir()) / "summary.json"
    assert '"setosa"' in summary.read_text()


def test_gzip_is_still_read_in_full_below_the_limit(tmp_path):
    data = bytes(1000)
    assert published.unpack(gzip.compress(data)) == data
    with pytest.raises(EOFError):
        published.unpack(gzip.compress(data)[:-12])
