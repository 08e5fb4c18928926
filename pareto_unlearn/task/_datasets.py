"""Raw data sets as tensors: the embedded default (scikit-learn digits) and torchvision sets.

Every loader returns a :class:`RawDataset`: float32 images already normalised, int64 labels, on CPU.
For digits, ``x_train`` holds all 1,797 samples in scikit-learn's order and ``x_test`` is empty: the
test split is drawn from it by :func:`pareto_unlearn.task.make_splits` (docs/definitions.md §2). For
torchvision sets, ``x_train`` / ``x_test`` are the official train / test splits.
"""

from __future__ import annotations

import torch

# _torchvision is read at call time (``_torchvision.load_torchvision``), so that a test can replace it.
import pareto_unlearn.task._torchvision as _torchvision
from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.task._raw import RawDataset

__all__ = ["RawDataset", "load_dataset", "DATASETS"]

DATASETS = ("digits", "cifar10", "cifar100", "mnist", "fashion-mnist")


def _load_digits() -> RawDataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # Pixels are 0..16; scale to [0, 1] then centre, so MLP and CNN train with plain SGD.
    images = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    images = (images - 0.5) / 0.5
    labels = torch.as_tensor(bunch.target, dtype=torch.int64)
    empty_x = images[:0]
    return RawDataset("digits", images, labels, empty_x, labels[:0], 10, separate_test=False)


def load_dataset(name: str, *, data_root: str | None = None, download: bool = False) -> RawDataset:
    """Load a data set by name.

    Parameters
    ----------
    name : {"digits", "cifar10", "cifar100", "mnist", "fashion-mnist"}
    data_root : str, optional
        Folder holding the torchvision files (not needed for digits, which ships inside scikit-learn).
    download : bool
        Let torchvision download the files when they are missing. Never done unless asked.

    Examples
    --------
    >>> raw = load_dataset("digits")
    >>> raw.x_train.shape, raw.n_classes
    (torch.Size([1797, 1, 8, 8]), 10)
    """
    if name == "digits":
        return _load_digits()
    if name in DATASETS:
        return _torchvision.load_torchvision(name, data_root=data_root, download=download)
    raise ConfigError(f"unknown task {name!r}; choose one of {', '.join(DATASETS)}")
