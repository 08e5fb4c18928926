"""torchvision loaders on synthetic files written in CIFAR-10's and MNIST's own formats (no download)."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from pareto_unlearn.exceptions import ConfigError, DataError
from pareto_unlearn.task._datasets import load_dataset
from pareto_unlearn.task._synthetic import write_synthetic_cifar10, write_synthetic_mnist
from pareto_unlearn.task._torchvision import load_torchvision

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
MNIST_IDX = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_cifar10(tmp_path_factory.mktemp("cifar"), n_train=203, n_test=50, seed=1)


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_mnist(tmp_path_factory.mktemp("mnist"), n_train=120, n_test=40, seed=2)


def _read_batches(folder: Path, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Test-side reader of the synthetic pickles this test itself wrote."""
    data, labels = [], []
    for name in names:
        with open(folder / name, "rb") as f:
            entry = pickle.load(f)
        data.append(entry["data"])
        labels.extend(entry["labels"])
    return np.vstack(data), np.asarray(labels)


def _read_idx(path: Path) -> np.ndarray:
    raw = path.read_bytes()
    ndim = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _nearest_centroid_accuracy(
    x_tr: torch.Tensor, y_tr: torch.Tensor, x_te: torch.Tensor, y_te: torch.Tensor
) -> float:
    flat_tr, flat_te = x_tr.flatten(1), x_te.flatten(1)
    centroids = torch.stack([flat_tr[y_tr == c].mean(0) for c in range(10)])
    pred = torch.cdist(flat_te, centroids).argmin(1)
    return float((pred == y_te).float().mean())


def test_cifar10_synthetic_round_trip(cifar_root: Path) -> None:
    raw = load_torchvision("cifar10", data_root=cifar_root, verify_md5=False)
    assert raw.name == "cifar10" and raw.n_classes == 10 and raw.separate_test
    assert raw.x_train.shape == (203, 3, 32, 32) and raw.x_test.shape == (50, 3, 32, 32)
    assert raw.x_train.dtype == torch.float32 and raw.y_train.dtype == torch.int64
    assert raw.y_test.dtype == torch.int64 and raw.input_shape == (3, 32, 32)

    folder = cifar_root / "cifar-10-batches-py"
    data, labels = _read_batches(folder, [f"data_batch_{i}" for i in range(1, 6)])
    test_data, test_labels = _read_batches(folder, ["test_batch"])
    # Labels in file order, balanced over the 10 classes.
    assert raw.y_train.tolist() == labels.tolist() and raw.y_test.tolist() == test_labels.tolist()
    assert sorted(np.bincount(labels, minlength=10).tolist()) == [20] * 7 + [21] * 3
    assert np.bincount(test_labels, minlength=10).tolist() == [5] * 10
    # Pixels: the flat row is the R, G, B planes; each channel is (p / 255 - mean_c) / std_c.
    planes = torch.from_numpy(data.reshape(-1, 3, 32, 32).astype(np.float32)) / 255.0
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(raw.x_train, (planes - mean) / std, rtol=0, atol=1e-5)
    test_planes = torch.from_numpy(test_data.reshape(-1, 3, 32, 32).astype(np.float32)) / 255.0
    torch.testing.assert_close(raw.x_test, (test_planes - mean) / std, rtol=0, atol=1e-5)
    # The synthetic classes are learnable: nearest centroid is far above chance (0.1).
    assert _nearest_centroid_accuracy(raw.x_train, raw.y_train, raw.x_test, raw.y_test) > 0.6


def test_cifar10_synthetic_refused_by_md5_check(cifar_root: Path) -> None:
    folder = cifar_root / "cifar-10-batches-py"
    with pytest.raises(DataError, match="md5") as info:
        load_torchvision("cifar10", data_root=cifar_root)  # verify_md5 defaults to True
    msg = str(info.value)
    assert str(folder) in msg and "data_batch_1" in msg and "\n" not in msg
    # load_dataset (the CLI's path) never bypasses the check.
    with pytest.raises(DataError, match="md5"):
        load_dataset("cifar10", data_root=str(cifar_root))


def test_missing_root_without_download(tmp_path: Path) -> None:
    root = tmp_path / "nowhere"
    with pytest.raises(DataError) as info:
        load_torchvision("cifar10", data_root=root)
    msg = str(info.value)
    assert str(root) in msg and "--download" in msg and "cifar-10-batches-py" in msg
    assert not root.exists()  # nothing downloaded or created


def test_missing_subfolder_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_torchvision("cifar10", data_root=tmp_path)
    assert str(tmp_path / "cifar-10-batches-py") in str(info.value) and "--download" in str(info.value)

    root = write_synthetic_cifar10(tmp_path, n_train=10, n_test=10)
    (root / "cifar-10-batches-py" / "data_batch_3").unlink()
    for verify in (True, False):
        with pytest.raises(DataError, match="files missing") as info:
            load_torchvision("cifar10", data_root=root, verify_md5=verify)
        assert "cifar-10-batches-py: data_batch_3 (" in str(info.value)
        assert "--download" in str(info.value)


def test_data_root_none_is_config_error() -> None:
    with pytest.raises(
        ConfigError, match=r"task cifar10 needs --data-root DIR .*cifar-10-batches-py.*--download"
    ):
        load_torchvision("cifar10", data_root=None)
    with pytest.raises(ConfigError, match="--data-root"):
        load_dataset("mnist")


def test_data_root_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "file.txt"
    path.write_text("x")
    with pytest.raises(DataError, match="is a file"):
        load_torchvision("mnist", data_root=path)


def test_unknown_name_and_missing_cifar100(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="svhn"):
        load_torchvision("svhn", data_root=tmp_path)
    with pytest.raises(DataError) as info:
        load_torchvision("cifar100", data_root=tmp_path)
    msg = str(info.value)
    assert str(tmp_path / "cifar-100-python") in msg and "--download" in msg and "meta" in msg


def test_corrupt_cifar_pickle_is_data_error(tmp_path: Path) -> None:
    root = write_synthetic_cifar10(tmp_path, n_train=10, n_test=10)
    (root / "cifar-10-batches-py" / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match=r"test split .*test_batch|test split") as info:
        load_torchvision("cifar10", data_root=root, verify_md5=False)
    assert str(root / "cifar-10-batches-py") in str(info.value)


def test_mnist_synthetic_round_trip(mnist_root: Path) -> None:
    raw = load_torchvision("mnist", data_root=mnist_root)  # idx files: no pickle, no md5 to bypass
    assert raw.x_train.shape == (120, 1, 28, 28) and raw.x_test.shape == (40, 1, 28, 28)
    assert raw.x_train.dtype == torch.float32 and raw.y_train.dtype == torch.int64
    assert raw.n_classes == 10 and raw.separate_test
    folder = mnist_root / "MNIST" / "raw"
    images, labels = _read_idx(folder / MNIST_IDX[0]), _read_idx(folder / MNIST_IDX[1])
    assert raw.y_train.tolist() == labels.tolist()
    assert np.bincount(labels, minlength=10).tolist() == [12] * 10
    expected = (torch.from_numpy(images.astype(np.float32)).unsqueeze(1) / 255.0 - 0.1307) / 0.3081
    torch.testing.assert_close(raw.x_train, expected, rtol=0, atol=1e-5)
    assert _nearest_centroid_accuracy(raw.x_train, raw.y_train, raw.x_test, raw.y_test) > 0.6
    # The CLI's dispatch gives the same tensors.
    torch.testing.assert_close(load_dataset("mnist", data_root=str(mnist_root)).x_test, raw.x_test)


def test_fashion_mnist_folder_and_normalisation(tmp_path: Path) -> None:
    root = write_synthetic_mnist(tmp_path, n_train=20, n_test=10, variant="fashion-mnist")
    with pytest.raises(DataError, match="MNIST"):
        load_torchvision("mnist", data_root=root)  # written to FashionMNIST/raw, not MNIST/raw
    raw = load_torchvision("fashion-mnist", data_root=root)
    images = _read_idx(root / "FashionMNIST" / "raw" / MNIST_IDX[2])
    expected = (torch.from_numpy(images.astype(np.float32)).unsqueeze(1) / 255.0 - 0.2860) / 0.3530
    torch.testing.assert_close(raw.x_test, expected, rtol=0, atol=1e-5)


def test_mnist_gz_unpacked_only_when_md5_matches_or_bypassed(tmp_path: Path) -> None:
    root = write_synthetic_mnist(tmp_path, n_train=20, n_test=10)
    folder = root / "MNIST" / "raw"
    for name in MNIST_IDX:
        (folder / f"{name}.gz").write_bytes(gzip.compress((folder / name).read_bytes()))
        (folder / name).unlink()
    with pytest.raises(DataError, match="md5") as info:
        load_torchvision("mnist", data_root=root)
    assert str(folder) in str(info.value)
    assert not (folder / MNIST_IDX[0]).exists()
    raw = load_torchvision("mnist", data_root=root, verify_md5=False)
    assert raw.x_train.shape == (20, 1, 28, 28) and (folder / MNIST_IDX[0]).is_file()


def test_truncated_idx_file_is_data_error(tmp_path: Path) -> None:
    root = write_synthetic_mnist(tmp_path, n_train=20, n_test=10)
    path = root / "MNIST" / "raw" / MNIST_IDX[3]
    path.write_bytes(path.read_bytes()[:6])
    with pytest.raises(DataError, match="cannot read the test split"):
        load_torchvision("mnist", data_root=root)


def test_writers_are_seeded_and_do_not_overwrite(tmp_path: Path) -> None:
    a = write_synthetic_cifar10(tmp_path / "a", n_train=12, n_test=5, seed=3)
    b = write_synthetic_cifar10(tmp_path / "b", n_train=12, n_test=5, seed=3)
    c = write_synthetic_cifar10(tmp_path / "c", n_train=12, n_test=5, seed=4)
    batch = Path("cifar-10-batches-py") / "test_batch"
    assert (a / batch).read_bytes() == (b / batch).read_bytes() != (c / batch).read_bytes()
    with pytest.raises(DataError, match="overwrite"):
        write_synthetic_cifar10(a, n_train=12, n_test=5, seed=9)
    assert (a / batch).read_bytes() == (b / batch).read_bytes()
    write_synthetic_cifar10(a, n_train=12, n_test=5, seed=4, overwrite=True)
    assert (a / batch).read_bytes() == (c / batch).read_bytes()
    with pytest.raises(DataError, match="overwrite"):
        write_synthetic_mnist(write_synthetic_mnist(tmp_path / "m"))
    with pytest.raises(ConfigError, match="n_train"):
        write_synthetic_cifar10(tmp_path / "d", n_train=0)
    with pytest.raises(ConfigError, match="variant"):
        write_synthetic_mnist(tmp_path / "e", variant="kmnist")
