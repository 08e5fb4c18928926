"""Raw data sets as tensors: the embedded default (scikit-learn digits) and torchvision sets.

Every loader returns a :class:`RawDataset`: float32 images already normalised, int64 labels, on CPU.
For digits, ``x_train`` holds all 1,797 samples in scikit-learn's order and ``x_test`` is empty: the
test split is drawn from it by :func:`pareto_unlearn.task.make_splits` (docs/definitions.md §2). For
torchvision sets, ``x_train`` / ``x_test`` are the official train / test splits.
"""

from __future__ import annotations

import numpy as np
import torch

# _torchvision is read at call time (``_torchvision.load_torchvision``), so that a test can replace it.
import pareto_unlearn.task._torchvision as _torchvision
from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.task._raw import RawDataset

__all__ = ["RawDataset", "load_dataset", "DATASETS", "SIZES", "default_size", "take_size"]

DATASETS = ("digits", "cifar10", "cifar100", "mnist", "fashion-mnist")

# Named sizes: how many (training, test) images a task keeps (None: all). ``small`` is the CPU recipe of
# MNIST and Fashion-MNIST (docs/definitions.md §2): stratified subsets drawn with a fixed seed, the same
# for every run seed, so that θ0 + Retrain train in minutes. Its test set is 2,000 images, not 10,000,
# for the MIA attack of §3 (members: a subset of D_r of the test set's size): D_r holds 4,500 samples
# under random 50 % forgetting, so with 10,000 test images the attack would be fitted on 4,500 members
# against 10,000 non-members, call every sample a non-member (MIA 100 for every model, measured) and cost
# 5.5 CPU seconds a point; with 2,000 it is balanced and costs 0.4 s.
SIZES: dict[str, tuple[int | None, int | None]] = {"small": (10_000, 2_000), "full": (None, None)}
_SIZED_TASKS = ("mnist", "fashion-mnist")
_SUBSET_SEED = 20_250_617  # fixed: the subset is part of the data set, not of a run's seed


def default_size(name: str) -> str:
    """The named size a task uses when none is given: ``small`` for (Fashion-)MNIST, else ``full``.

    >>> default_size("fashion-mnist"), default_size("digits")
    ('small', 'full')
    """
    return "small" if name in _SIZED_TASKS else "full"


def _check_size(name: str, size: str) -> tuple[int | None, int | None]:
    """How many training and test images ``size`` keeps for task ``name`` (None: all), or a ConfigError."""
    if size not in SIZES:
        raise ConfigError(f"--size {size!r} is not known; choose one of {', '.join(SIZES)}")
    keep = SIZES[size]
    if keep != (None, None) and name not in _SIZED_TASKS:
        raise ConfigError(
            f"--size {size} is defined for {' and '.join(_SIZED_TASKS)}; task {name} takes --size full"
        )
    return keep


def _stratified_subset(labels: np.ndarray, keep: int | None, seed: int) -> np.ndarray | None:
    """Sorted positions of a stratified subset of ``keep`` labels (each class its share, rounded half up),
    or None to keep them all."""
    if keep is None or keep >= len(labels):
        return None
    rng = np.random.default_rng(seed)
    share = keep / len(labels)
    chosen = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        chosen.append(rng.permutation(members)[: int(np.floor(share * len(members) + 0.5))])
    return np.sort(np.concatenate(chosen))


def take_size(raw: RawDataset, size: str) -> RawDataset:
    """``raw`` cut to the named ``size``: stratified subsets of its training and test splits, fixed seed.

    Raises
    ------
    ConfigError
        ``size`` is not a named size, or is ``small`` for a task other than MNIST / Fashion-MNIST.

    Examples
    --------
    >>> raw = take_size(_load_digits(), "full")
    >>> len(raw.y_train)
    1797
    """
    keep_train, keep_test = _check_size(raw.name, size)
    train = _stratified_subset(raw.y_train.numpy(), keep_train, _SUBSET_SEED)
    test = _stratified_subset(raw.y_test.numpy(), keep_test, _SUBSET_SEED + 1)
    if train is None and test is None:
        return raw
    x_train, y_train, x_test, y_test = raw.x_train, raw.y_train, raw.x_test, raw.y_test
    if train is not None:
        x_train, y_train = x_train[torch.as_tensor(train)], y_train[torch.as_tensor(train)]
    if test is not None:
        x_test, y_test = x_test[torch.as_tensor(test)], y_test[torch.as_tensor(test)]
    return RawDataset(raw.name, x_train, y_train, x_test, y_test, raw.n_classes,
                      separate_test=raw.separate_test)


def _load_digits() -> RawDataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # Pixels are 0..16; scale to [0, 1] then centre, so MLP and CNN train with plain SGD.
    images = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    images = (images - 0.5) / 0.5
    labels = torch.as_tensor(bunch.target, dtype=torch.int64)
    empty_x = images[:0]
    return RawDataset("digits", images, labels, empty_x, labels[:0], 10, separate_test=False)


def load_dataset(
    name: str, *, data_root: str | None = None, download: bool = False, size: str | None = None
) -> RawDataset:
    """Load a data set by name.

    Parameters
    ----------
    name : {"digits", "cifar10", "cifar100", "mnist", "fashion-mnist"}
    data_root : str, optional
        Folder holding the torchvision files (not needed for digits, which ships inside scikit-learn, nor
        for Fashion-MNIST when Debian's ``dataset-fashion-mnist`` is installed).
    download : bool
        Let torchvision download the files when they are missing. Never done unless asked.
    size : {"small", "full"}, optional
        How much of the training split to keep (:data:`SIZES`); default :func:`default_size`.

    Examples
    --------
    >>> raw = load_dataset("digits")
    >>> raw.x_train.shape, raw.n_classes
    (torch.Size([1797, 1, 8, 8]), 10)
    """
    if name not in DATASETS:
        raise ConfigError(f"unknown task {name!r}; choose one of {', '.join(DATASETS)}")
    size = default_size(name) if size is None else size
    _check_size(name, size)  # refused before any file is read
    if name == "digits":
        return take_size(_load_digits(), size)
    return take_size(_torchvision.load_torchvision(name, data_root=data_root, download=download), size)
