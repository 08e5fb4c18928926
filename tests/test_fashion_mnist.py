"""Fashion-MNIST: the idx reader on files that lie, the Debian folder found by itself, the named sizes, the
28×28 CNN, and one test on the real files of Debian's ``dataset-fashion-mnist`` (skipped without them)."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import pareto_unlearn.task._datasets as datasets_module
import pareto_unlearn.task._torchvision as torchvision_module
from pareto_unlearn.cli import main
from pareto_unlearn.config import load_config, recipe_for
from pareto_unlearn.exceptions import ConfigError, DataError
from pareto_unlearn.task import FASHION_MNIST_RECIPE, build_model, load_dataset
from pareto_unlearn.task._datasets import RawDataset, take_size
from pareto_unlearn.task._idx import IDX_FILES, read_idx

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
PACKAGE = "dataset-fashion-mnist"
FASHION_MEAN, FASHION_STD = 0.2860, 0.3530


def _idx(array: np.ndarray, *, magic: int | None = None, shape: tuple[int, ...] | None = None) -> bytes:
    """An idx file of unsigned bytes; ``magic`` / ``shape`` override the header (to make it lie)."""
    shape = array.shape if shape is None else shape
    magic = (0x08 << 8) | array.ndim if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(int(s).to_bytes(4, "big") for s in shape)
    return header + array.astype(np.uint8).tobytes()


def _write_flat(folder: Path, *, n_train: int = 40, n_test: int = 20, gz: bool = True, seed: int = 0) -> Path:
    """The four idx files of a small synthetic Fashion-MNIST in one flat folder (Debian's layout)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        labels = np.arange(n) % 10
        arrays[f"{split}_labels"] = labels
        arrays[f"{split}_images"] = rng.integers(0, 256, size=(n, 28, 28))
    for role, stem in IDX_FILES.items():
        data = _idx(arrays[role])
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)
    return folder


def test_flat_folder_gz_and_unpacked_round_trip(tmp_path: Path) -> None:
    folder = _write_flat(tmp_path / "gz")
    before = sorted(p.name for p in folder.iterdir())
    raw = load_dataset("fashion-mnist", data_root=str(folder))
    assert sorted(p.name for p in folder.iterdir()) == before  # read in place: nothing unpacked or added
    assert raw.x_train.shape == (40, 1, 28, 28) and raw.x_test.shape == (20, 1, 28, 28) and raw.separate_test
    images = read_idx(folder / "train-images-idx3-ubyte.gz", ndim=3, item_shape=(28, 28))
    expected = (torch.from_numpy(images.astype(np.float32)).unsqueeze(1) / 255.0 - FASHION_MEAN) / FASHION_STD
    torch.testing.assert_close(raw.x_train, expected, rtol=0, atol=1e-5)
    assert raw.y_train.tolist() == (np.arange(40) % 10).tolist()
    unpacked = load_dataset("fashion-mnist", data_root=str(_write_flat(tmp_path / "plain", gz=False)))
    torch.testing.assert_close(unpacked.x_train, raw.x_train)
    # The same reader serves MNIST (same format, MNIST's normalisation).
    mnist = load_dataset("mnist", data_root=str(folder))
    assert not torch.equal(mnist.x_train, raw.x_train) and mnist.y_train.tolist() == raw.y_train.tolist()


def test_debian_folder_found_by_itself_or_named_in_the_error(tmp_path: Path, monkeypatch) -> None:
    folder = _write_flat(tmp_path / "debian")
    monkeypatch.setitem(torchvision_module.DEBIAN_FOLDERS, "fashion-mnist", (str(folder), PACKAGE))
    assert load_dataset("fashion-mnist").x_test.shape == (20, 1, 28, 28)
    missing = tmp_path / "nowhere"
    monkeypatch.setitem(torchvision_module.DEBIAN_FOLDERS, "fashion-mnist", (str(missing), PACKAGE))
    with pytest.raises(DataError) as info:
        load_dataset("fashion-mnist")
    msg = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in msg and "--data-root" in msg and str(missing) in msg
    assert not missing.exists()


def test_flat_folder_missing_one_file_names_it(tmp_path: Path) -> None:
    folder = _write_flat(tmp_path / "data")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"but not t10k-labels-idx1-ubyte\(\.gz\); an idx folder needs all"):
        load_dataset("fashion-mnist", data_root=str(folder))


def test_cli_without_data_is_one_line_exit_2(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(torchvision_module.DEBIAN_FOLDERS, "fashion-mnist",
                        (str(tmp_path / "nowhere"), "dataset-fashion-mnist"))
    out = tmp_path / "run"
    code = main(["explore", "--task", "fashion-mnist", "--quick", "--solvers", "ls", "--no-progress",
                 "--cache-dir", str(tmp_path / "cache"), "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "apt-get install dataset-fashion-mnist" in err[0]
    assert not (out / "points.csv").exists() and not (out / "summary.json").exists()


def _lie(folder: Path, role: str, data: bytes, mode: str) -> Path:
    """Replace one of the four files by ``data``: ``gz`` compressed into ``.gz``, ``plain`` unpacked,
    ``as-gz`` written as they are under the ``.gz`` name (a broken gzip stream)."""
    stem = IDX_FILES[role]
    for old in (folder / stem, folder / f"{stem}.gz"):
        old.unlink(missing_ok=True)
    path = folder / (stem if mode == "plain" else f"{stem}.gz")
    path.write_bytes(gzip.compress(data) if mode == "gz" else data)
    return path


_GOOD_LABELS = np.arange(40) % 10
_GOOD_IMAGES = np.zeros((40, 28, 28))
_NOISE_GZ = gzip.compress(_idx(np.random.default_rng(0).integers(0, 256, size=(40, 28, 28))))
# Each case: (role, bytes of the file, how they are written (see _lie), what the message must say).
LIES = {
    "gz-corrupt": ("train_images", b"\x1f\x8b\x08\x00garbage-not-deflate" * 3, "as-gz",
                   "not a readable gzip"),
    "gz-not-gzip": ("test_labels", b"plain text, not gzip", "as-gz", "not a readable gzip"),
    "gz-truncated": ("train_images", _NOISE_GZ[: len(_NOISE_GZ) // 2], "as-gz", "truncated"),
    "wrong-magic-gz": ("train_labels", _idx(_GOOD_LABELS, magic=0x00000803, shape=(40,)), "gz",
                       "wrong magic"),
    "wrong-magic-plain": ("train_images", _idx(_GOOD_IMAGES, magic=0x00000801, shape=(40, 28, 28)), "plain",
                          "wrong magic"),
    "float-magic": ("test_images", _idx(np.zeros((20, 28, 28)), magic=0x00000D03), "gz", "wrong magic"),
    "short-header": ("test_labels", b"\x00\x00\x08\x01\x00\x00", "plain", "truncated inside its header"),
    "shorter-than-magic": ("test_labels", b"\x00\x00", "plain", "truncated"),
    "truncated-body": ("train_images", _idx(_GOOD_IMAGES)[:-100], "plain", "truncated"),
    "count-too-high": ("train_labels", _idx(_GOOD_LABELS, shape=(41,)), "gz", "truncated"),
    "count-too-low": ("train_labels", _idx(_GOOD_LABELS, shape=(39,)), "gz", "longer than its header"),
    "zero-count": ("test_labels", _idx(np.zeros(0)), "gz", "holds no labels"),
    "wrong-dims": ("train_images", _idx(np.zeros((40, 32, 32))), "gz", "32×32 pixels, expected 28×28"),
    "label-out-of-range": ("train_labels", _idx(np.where(np.arange(40) == 7, 10, _GOOD_LABELS)), "gz",
                           "label 10 at position 7 is out of range"),
    "lengths-disagree": ("test_labels", _idx(np.arange(19) % 10), "gz", "holds 19 labels but"),
}


@pytest.mark.parametrize("case", sorted(LIES))
def test_idx_files_that_lie_are_one_data_error_naming_the_file(tmp_path: Path, case: str) -> None:
    role, data, mode, expected = LIES[case]
    folder = _write_flat(tmp_path / "data")
    path = _lie(folder, role, data, mode)
    with pytest.raises(DataError) as info:
        load_dataset("fashion-mnist", data_root=str(folder))
    msg = str(info.value)
    assert str(path) in msg and expected in msg and "\n" not in msg, msg


def test_idx_lie_through_the_cli_is_one_line_exit_2(tmp_path: Path, capsys) -> None:
    folder = _write_flat(tmp_path / "data")
    role, data, mode, _ = LIES["label-out-of-range"]
    path = _lie(folder, role, data, mode)
    code = main(["table", "--task", "fashion-mnist", "--data-root", str(folder), "--no-progress",
                 "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and str(path) in err[0] and "Traceback" not in err[0]


def test_named_sizes_stratified_seeded_and_refused_elsewhere(monkeypatch) -> None:
    labels = torch.as_tensor(np.repeat(np.arange(10), [30, 30, 30, 30, 30, 20, 20, 20, 20, 20]))
    x = torch.arange(len(labels), dtype=torch.float32).view(-1, 1, 1, 1)
    raw = RawDataset("fashion-mnist", x, labels, x[:5], labels[:5], 10, separate_test=True)
    monkeypatch.setitem(datasets_module.SIZES, "small", (50, None))
    small = take_size(raw, "small")
    counts = np.bincount(small.y_train.numpy(), minlength=10)
    assert len(small.y_train) == 50 and counts.tolist() == [6] * 5 + [4] * 5  # each class keeps its share
    assert torch.equal(take_size(raw, "small").x_train, small.x_train)  # fixed seed: the same subset
    assert small.x_test is raw.x_test and take_size(raw, "full") is raw
    monkeypatch.setitem(datasets_module.SIZES, "small", (50, 25))
    both = take_size(RawDataset("fashion-mnist", x, labels, x, labels, 10, separate_test=True), "small")
    assert torch.equal(both.x_train, small.x_train)
    assert len(both.y_test) == 25 and np.bincount(both.y_test.numpy()).tolist() == [3] * 5 + [2] * 5
    with pytest.raises(ConfigError, match="--size small is defined for mnist and fashion-mnist"):
        load_dataset("digits", size="small")
    with pytest.raises(ConfigError, match="--size 'tiny' is not known"):
        load_dataset("fashion-mnist", size="tiny")
    with pytest.raises(ConfigError, match="size 'huge'"):
        load_config(None).merged({"size": "huge"})


def test_fashion_defaults_cnn_and_recipe() -> None:
    cfg = load_config(None).merged({"task": "fashion-mnist"})
    assert recipe_for(cfg) == FASHION_MNIST_RECIPE
    model = build_model("cnn", n_classes=10, input_shape=(1, 28, 28), seed=0)
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    with pytest.raises(ConfigError, match="28×28"):
        build_model("cnn", n_classes=10, input_shape=(3, 32, 32), seed=0)


@pytest.mark.skipif(not (DEBIAN / "train-images-idx3-ubyte.gz").is_file(),
                    reason=f"Debian's {PACKAGE} is not installed (apt-get install {PACKAGE})")
def test_real_debian_files() -> None:
    """The real files: shapes, balanced labels, and a fingerprint of the first images and labels."""
    raw = load_dataset("fashion-mnist", size="full")
    assert raw.x_train.shape == (60_000, 1, 28, 28) and raw.x_test.shape == (10_000, 1, 28, 28)
    assert torch.bincount(raw.y_train).tolist() == [6000] * 10
    assert torch.bincount(raw.y_test).tolist() == [1000] * 10
    # Fashion-MNIST's first labels (ankle boot, T-shirt, T-shirt, dress, ...) and the first 16 images' bytes.
    assert raw.y_train[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert raw.y_test[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    first = read_idx(DEBIAN / "train-images-idx3-ubyte.gz", ndim=3, item_shape=(28, 28))[:16]
    assert hashlib.sha256(first.tobytes()).hexdigest() == (
        "10dd7c4a9ee09d2dc37599077908acbd2d1a309e7f2209cd02ff874bb8bbca42"
    )
    pixels = torch.from_numpy(first.astype(np.float32)).unsqueeze(1) / 255.0
    torch.testing.assert_close(raw.x_train[:16], (pixels - FASHION_MEAN) / FASHION_STD, rtol=0, atol=1e-5)
    small = load_dataset("fashion-mnist")  # the default size
    assert small.x_train.shape == (10_000, 1, 28, 28) and small.x_test.shape == (2_000, 1, 28, 28)
    assert torch.bincount(small.y_train).tolist() == [1000] * 10
    assert torch.bincount(small.y_test).tolist() == [200] * 10


@pytest.mark.parametrize("path", sorted(Path(__file__).parent.parent.glob("configs/fashion_mnist_*.toml")))
def test_fashion_configs_load_with_the_cpu_recipe(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.task == "fashion-mnist" and cfg.size == "small" and cfg.model == "cnn"
    assert recipe_for(cfg) == FASHION_MNIST_RECIPE  # the files state the recipe the code defaults to


@pytest.mark.slow  # about 35 s on a shared 2-core machine (tables, explore, select and compare)
def test_study_script_quick(tmp_path: Path) -> None:
    """scripts/fashion_mnist_study.py --quick on a tiny synthetic Fashion-MNIST: every section is written."""
    import importlib.util

    from pareto_unlearn.task._synthetic import write_synthetic_mnist

    root = write_synthetic_mnist(tmp_path / "data", n_train=200, n_test=60, variant="fashion-mnist")
    path = Path(__file__).resolve().parents[1] / "scripts" / "fashion_mnist_study.py"
    spec = importlib.util.spec_from_file_location("fashion_mnist_study", path)
    assert spec is not None and spec.loader is not None
    study = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(study)
    md = tmp_path / "f.md"
    lines = study.main(["--quick", "--data-root", str(root), "--work", str(tmp_path / "w"), "--md", str(md)])
    text = md.read_text()
    assert text == "\n".join(lines)
    for heading in ("## θ0 against Retrain", "## random:0.1", "### Table 1", "### Fronts",
                    "### The oracle-free pick", "### Same space and across spaces", "## Measured times"):
        assert heading in text
    assert "| Original |" in text and "| random:0.1 | 0 |" in text
    assert "Mean θ0's Avg. Gap: random:0.1" in text
    assert "still running" not in text
    assert "- chosen: `" in text and "| last-layer | 1× |" in text
    assert (tmp_path / "f_random-01.png").is_file()
    # a second run reuses the finished runs and still shows what each step cost when it ran
    again = study.main(["--quick", "--data-root", str(root), "--work", str(tmp_path / "w"), "--md",
                        str(tmp_path / "g.md"), "--reuse", "--write-only"])
    first_rows = [line for line in lines if line.startswith("| table ")]
    marked = [row.replace(" |", " (reused: as recorded when it ran) |", 1) for row in first_rows]
    assert first_rows and all(row in again for row in marked)
    assert any("steps were reused from an earlier run of the study" in line for line in again)
    # report (the last command of the list) on the study's explore run of fashion-mnist
    run = tmp_path / "w" / "explore-random-01"
    assert main(["report", str(run)]) == 0
    assert (run / "report.md").is_file() and (run / "report.html").is_file()
    assert "fashion-mnist" in (run / "report.md").read_text()
    assert json.loads((run / "summary.json").read_text())["task"]["size"] == "small"  # beside the recipe
