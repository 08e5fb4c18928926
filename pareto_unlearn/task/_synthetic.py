"""Small synthetic stand-ins for CIFAR-10 and MNIST, written in the files' own on-disk formats.

They let tests and a notebook's smoke run exercise the torchvision loaders when no real data set is on
disk (nothing can be downloaded there). Each class has its own pattern (a colour or brightness, stripes of
a class-specific orientation and frequency) plus noise, so a model can learn something. Only numpy's
seeded generator is used: the same arguments write the same bytes.

The synthetic CIFAR files cannot match torchvision's md5 checksums of the official files, so they load
only with ``load_torchvision(..., verify_md5=False)``, which is for tests only.
"""

from __future__ import annotations

import logging
import os
import pickle
import struct
from pathlib import Path

import numpy as np

from pareto_unlearn.exceptions import ConfigError, DataError

__all__ = ["write_synthetic_cifar10", "write_synthetic_mnist", "CIFAR10_CLASSES"]

logger = logging.getLogger(__name__)

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
_N_CLASSES = 10


def _check_sizes(n_train: int, n_test: int) -> None:
    for label, n in (("n_train", n_train), ("n_test", n_test)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ConfigError(f"{label}={n!r} is not allowed; give a whole number >= 1")


def _balanced_labels(rng: np.random.Generator, n: int) -> np.ndarray:
    """Labels 0..9 as evenly as possible (counts differ by at most one), in random order."""
    return rng.permutation(np.arange(n) % _N_CLASSES).astype(np.int64)


def _class_images(rng: np.random.Generator, labels: np.ndarray, side: int, base: np.ndarray) -> np.ndarray:
    """uint8 images [n, C, side, side]: per-class level ``base[label]`` ([C]) + oriented stripes + noise."""
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float64) / side
    angle = np.pi * labels / _N_CLASSES  # one stripe orientation per class
    freq = 2.0 + (labels % 5)  # and one of five frequencies
    phase = rng.uniform(-1.0, 1.0, size=len(labels))  # jitter within a class
    proj = np.cos(angle)[:, None, None] * xx + np.sin(angle)[:, None, None] * yy
    stripes = np.sin(2.0 * np.pi * freq[:, None, None] * proj + phase[:, None, None])  # [n, side, side]
    img = base[labels][:, :, None, None] + 30.0 * stripes[:, None, :, :]
    img = img + rng.normal(0.0, 60.0, size=img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _prepare(folder: Path, names: list[str], overwrite: bool) -> None:
    if folder.exists() and not folder.is_dir():
        raise DataError(f"{folder} is a file; give a root folder where {folder.name}/ can be written")
    present = [n for n in names if (folder / n).exists()]
    if present and not overwrite:
        raise DataError(
            f"{folder} already holds {', '.join(present)}; refusing to overwrite them with synthetic data; "
            "choose an empty root folder, or pass overwrite=True"
        )
    folder.mkdir(parents=True, exist_ok=True)


def _write_atomic(path: Path, payload: bytes) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_bytes(payload)
    tmp.replace(path)


def write_synthetic_cifar10(
    root: str | os.PathLike[str],
    *,
    n_train: int = 200,
    n_test: int = 100,
    seed: int = 0,
    overwrite: bool = False,
) -> Path:
    """Write a small synthetic CIFAR-10 in CIFAR-10's own on-disk format.

    Writes ``root/cifar-10-batches-py/`` with ``data_batch_1`` ... ``data_batch_5`` (the train images split
    as evenly as possible), ``test_batch`` and ``batches.meta``, as torchvision's ``CIFAR10`` reads them:
    pickled dicts with ``"data"`` (uint8 ``[n, 3072]``, the red, green then blue 32×32 planes of each
    image, row-major) and ``"labels"`` (a list of ints), and ``"label_names"`` in the meta file. The keys
    are ``str``, which is what torchvision sees once it has decoded the official Python-2 pickles with
    ``encoding="latin1"``.

    Parameters
    ----------
    root : str or path-like
        Folder to write into (created if missing); pass it as ``data_root`` / ``--data-root``.
    n_train, n_test : int
        Number of train and test images (>= 1 each); labels are balanced over the 10 classes.
    seed : int
        Seed of numpy's generator.
    overwrite : bool
        Replace files already in ``root/cifar-10-batches-py``. Off by default, so that a real CIFAR-10
        folder is never overwritten by mistake.

    Returns
    -------
    Path
        ``root``, the folder to give as ``data_root``.

    Raises
    ------
    ConfigError
        ``n_train`` or ``n_test`` is not a whole number >= 1.
    DataError
        The folder already holds CIFAR-10 files and ``overwrite`` is False, or it is a file.

    Examples
    --------
    >>> import tempfile
    >>> root = write_synthetic_cifar10(tempfile.mkdtemp(), n_train=20, n_test=10)
    >>> sorted(p.name for p in (root / "cifar-10-batches-py").iterdir())[:2]
    ['batches.meta', 'data_batch_1']
    """
    _check_sizes(n_train, n_test)
    root = Path(root).expanduser()
    folder = root / "cifar-10-batches-py"
    batch_names = [f"data_batch_{i}" for i in range(1, 6)]
    _prepare(folder, [*batch_names, "test_batch", "batches.meta"], overwrite)

    rng = np.random.default_rng(seed)
    colours = rng.uniform(60.0, 196.0, size=(_N_CLASSES, 3))  # one mean colour per class

    def batch(labels: np.ndarray, label: str) -> bytes:
        images = _class_images(rng, labels, 32, colours)  # [n, 3, 32, 32]
        entry = {
            "batch_label": label,
            "labels": [int(v) for v in labels],
            "data": images.reshape(len(labels), 3 * 32 * 32),
            "filenames": [f"synthetic_{label.replace(' ', '_')}_{i}.png" for i in range(len(labels))],
        }
        return pickle.dumps(entry, protocol=2)

    # Balanced over the whole train split, then cut into five batches as evenly as possible.
    parts = np.array_split(_balanced_labels(rng, n_train), len(batch_names))
    for i, (fname, labels) in enumerate(zip(batch_names, parts, strict=True), start=1):
        _write_atomic(folder / fname, batch(labels, f"training batch {i} of 5"))
    _write_atomic(folder / "test_batch", batch(_balanced_labels(rng, n_test), "testing batch 1 of 1"))
    meta = {"label_names": list(CIFAR10_CLASSES), "num_cases_per_batch": len(parts[0]), "num_vis": 3072}
    _write_atomic(folder / "batches.meta", pickle.dumps(meta, protocol=2))
    logger.info("wrote synthetic CIFAR-10 (%d train, %d test) to %s", n_train, n_test, folder)
    return root


def _idx_bytes(array: np.ndarray) -> bytes:
    """An uint8 array in the idx format: magic 0x00 0x00 0x08 ndim, big-endian uint32 sizes, then data."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_synthetic_mnist(
    root: str | os.PathLike[str],
    *,
    n_train: int = 200,
    n_test: int = 100,
    seed: int = 0,
    variant: str = "mnist",
    overwrite: bool = False,
) -> Path:
    """Write a small synthetic MNIST (or Fashion-MNIST) as the idx files torchvision's MNIST reads.

    Writes ``root/MNIST/raw/`` (``root/FashionMNIST/raw/`` for ``variant="fashion-mnist"``) with the
    uncompressed ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
    ``t10k-labels-idx1-ubyte``: uint8 images ``[n, 28, 28]`` and uint8 labels ``[n]``.

    Parameters
    ----------
    root : str or path-like
        Folder to write into (created if missing); pass it as ``data_root`` / ``--data-root``.
    n_train, n_test : int
        Number of train and test images (>= 1 each); labels are balanced over the 10 classes.
    seed : int
        Seed of numpy's generator.
    variant : {"mnist", "fashion-mnist"}
        Which torchvision folder to write.
    overwrite : bool
        Replace idx files already there. Off by default, so that real files are never overwritten by mistake.

    Returns
    -------
    Path
        ``root``, the folder to give as ``data_root``.

    Raises
    ------
    ConfigError
        A size is not a whole number >= 1, or ``variant`` is unknown.
    DataError
        The folder already holds idx files and ``overwrite`` is False.
    """
    _check_sizes(n_train, n_test)
    folders = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
    if variant not in folders:
        raise ConfigError(f"variant={variant!r} is not allowed; choose one of {', '.join(folders)}")
    root = Path(root).expanduser()
    folder = root / folders[variant] / "raw"
    names = {
        "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }
    _prepare(folder, [n for pair in names.values() for n in pair], overwrite)

    rng = np.random.default_rng(seed)
    levels = np.linspace(40.0, 180.0, _N_CLASSES)[rng.permutation(_N_CLASSES)][:, None]  # [10, 1]
    for split, n in (("train", n_train), ("test", n_test)):
        labels = _balanced_labels(rng, n)
        images = _class_images(rng, labels, 28, levels)[:, 0]  # [n, 28, 28]
        image_file, label_file = names[split]
        _write_atomic(folder / image_file, _idx_bytes(images))
        _write_atomic(folder / label_file, _idx_bytes(labels.astype(np.uint8)))
    logger.info("wrote synthetic %s (%d train, %d test) to %s", variant, n_train, n_test, folder)
    return root
