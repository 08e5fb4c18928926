"""Raw data sets as tensors: the embedded default (scikit-learn digits) and torchvision sets.

Every loader returns a :class:`RawDataset`: float32 images already normalised, int64 labels, on CPU.
For digits, ``x_train`` holds all 1,797 samples in scikit-learn's order and ``x_test`` is empty: the
test split is drawn from it by :func:`pareto_unlearn.task.make_splits` (docs/definitions.md §2). For
torchvision sets, ``x_train`` / ``x_test`` are the official train / test splits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["RawDataset", "load_dataset", "DATASETS"]

DATASETS = ("digits", "cifar10", "cifar100", "mnist", "fashion-mnist")


@dataclass(frozen=True)
class RawDataset:
    """Images and labels of one data set, before any forget / retain split.

    Attributes
    ----------
    name : str
    x_train : Tensor [n_train, *input_shape] float32, normalised
    y_train : Tensor [n_train] int64
    x_test : Tensor [n_test, *input_shape] float32 (empty for digits: the test split is drawn from x_train)
    y_test : Tensor [n_test] int64
    n_classes : int
    separate_test : bool  (True for torchvision sets, whose test split is fixed)
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    separate_test: bool

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


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
    from pareto_unlearn.exceptions import ConfigError

    if name == "digits":
        return _load_digits()
    if name in DATASETS:
        from pareto_unlearn.task._torchvision import load_torchvision

        return load_torchvision(name, data_root=data_root, download=download)
    raise ConfigError(f"unknown task {name!r}; choose one of {', '.join(DATASETS)}")
