"""torchvision data sets (CIFAR-10, CIFAR-100, MNIST, Fashion-MNIST) as normalised tensors.

The files are read by ``torchvision.datasets`` from a local folder (``--data-root``); they are downloaded
only when asked (``--download``). The raw arrays (``ds.data``, ``ds.targets``) are converted in one go,
without going through PIL images.

Integrity
---------
The CIFAR batches are Python pickles, and unpickling a file can run arbitrary code. torchvision checks the
md5 of every official CIFAR file before it unpickles it; that check is the safety gate for user data and
stays on (``verify_md5=True``). ``verify_md5=False`` exists only so that tests can load the small synthetic
files of :mod:`pareto_unlearn.task._synthetic`, which cannot match the official checksums.

The MNIST-family files are raw idx files (a header and a byte array, no pickle), parsed as plain bytes.
torchvision keeps no checksum of the uncompressed files; it checks the md5 of the official ``.gz``
archives, and so does this module when it unpacks ``.gz`` files found in the ``raw`` folder.

MNIST and Fashion-MNIST are also read from a flat folder that holds the four idx files (``.gz`` or
unpacked) — the layout of Debian's ``dataset-fashion-mnist`` package, found by itself in
``/usr/share/datasets/fashion-mnist/`` when no ``data_root`` is given — by :mod:`pareto_unlearn.task._idx`,
which reads them where they lie (gzip + numpy, nothing unpacked) and checks every header.
"""

from __future__ import annotations

import gzip
import logging
import os
import pickle
import shutil
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pareto_unlearn.exceptions import ConfigError, DataError
from pareto_unlearn.task._idx import find_idx_files, idx_folder_holds, read_idx_split
from pareto_unlearn.task._raw import RawDataset

if TYPE_CHECKING:
    from torchvision.datasets import VisionDataset

__all__ = ["load_torchvision", "TORCHVISION_DATASETS"]

logger = logging.getLogger(__name__)

TORCHVISION_DATASETS = ("cifar10", "cifar100", "mnist", "fashion-mnist")

# What can go wrong while torchvision reads or downloads files; each becomes a DataError.
_READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    RuntimeError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AssertionError,
    EOFError,
    pickle.UnpicklingError,
    tarfile.TarError,
    zlib.error,
)


@dataclass(frozen=True)
class _Spec:
    """How one torchvision data set lies on disk and how it is normalised."""

    class_name: str  # attribute of torchvision.datasets
    kind: str  # "cifar" or "mnist"
    folder: str  # sub-folder of data_root that torchvision reads
    files: tuple[str, ...]  # files torchvision needs inside ``folder``
    n_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


_MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

# Where Debian's data packages put the idx files (apt-get install <package>); read when no data_root is given.
DEBIAN_FOLDERS: dict[str, tuple[str, str]] = {
    "fashion-mnist": ("/usr/share/datasets/fashion-mnist", "dataset-fashion-mnist"),
}

_SPECS: dict[str, _Spec] = {
    "cifar10": _Spec(
        "CIFAR10",
        "cifar",
        "cifar-10-batches-py",
        ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch")
        + ("batches.meta",),
        10,
        (0.4914, 0.4822, 0.4465),
        (0.2470, 0.2435, 0.2616),
    ),
    "cifar100": _Spec(
        "CIFAR100",
        "cifar",
        "cifar-100-python",
        ("train", "test", "meta"),
        100,
        (0.5071, 0.4865, 0.4409),
        (0.2673, 0.2564, 0.2762),
    ),
    "mnist": _Spec("MNIST", "mnist", os.path.join("MNIST", "raw"), _MNIST_FILES, 10, (0.1307,), (0.3081,)),
    "fashion-mnist": _Spec(
        "FashionMNIST", "mnist", os.path.join("FashionMNIST", "raw"), _MNIST_FILES, 10, (0.2860,), (0.3530,)
    ),
}


def load_torchvision(
    name: str, *, data_root: str | os.PathLike[str] | None, download: bool = False, verify_md5: bool = True
) -> RawDataset:
    """Load a torchvision data set's official train and test splits as normalised tensors.

    Parameters
    ----------
    name : {"cifar10", "cifar100", "mnist", "fashion-mnist"}
        The data set.
    data_root : str or path-like, optional
        Folder that holds torchvision's files: ``cifar-10-batches-py/``, ``cifar-100-python/``,
        ``MNIST/raw/`` or ``FashionMNIST/raw/``; for MNIST and Fashion-MNIST also a folder that holds the
        four idx files itself (``.gz`` or unpacked). Required with ``download`` (the files go there).
        None: Fashion-MNIST is read from Debian's ``/usr/share/datasets/fashion-mnist/``
        (``apt-get install dataset-fashion-mnist``); the other sets need a folder.
    download : bool
        Let torchvision download the files when they are missing. Never done unless asked.
    verify_md5 : bool
        Keep torchvision's md5 check of the official CIFAR files, the safety gate before their pickled
        batches are unpickled; it must stay on for user data. ``False`` is for tests only: it accepts any
        CIFAR files that exist (the synthetic ones of :mod:`pareto_unlearn.task._synthetic`) and any MNIST
        ``.gz`` archive. MNIST's uncompressed idx files are not pickles and carry no checksum in torchvision.

    Returns
    -------
    RawDataset
        float32 images, CIFAR ``[n, 3, 32, 32]`` and MNIST / Fashion-MNIST ``[n, 1, 28, 28]``, scaled to
        [0, 1] and normalised per channel with the usual mean / std; int64 labels; ``separate_test=True``.

    Raises
    ------
    ConfigError
        ``name`` is not a torchvision data set, or ``data_root`` is None where no default folder exists.
    DataError
        The folder or its files are missing (and ``download`` is False), fail their md5 check, cannot be
        read, lie about their contents (:mod:`pareto_unlearn.task._idx`), or the download fails.

    Examples
    --------
    >>> import tempfile
    >>> from pareto_unlearn.task._synthetic import write_synthetic_cifar10
    >>> root = write_synthetic_cifar10(tempfile.mkdtemp(), n_train=50, n_test=20)
    >>> raw = load_torchvision("cifar10", data_root=root, verify_md5=False)
    >>> raw.x_train.shape, raw.x_test.shape, raw.n_classes
    (torch.Size([50, 3, 32, 32]), torch.Size([20, 3, 32, 32]), 10)
    """
    spec = _SPECS.get(name)
    if spec is None:
        raise ConfigError(
            f"unknown torchvision data set {name!r}; choose one of {', '.join(TORCHVISION_DATASETS)}"
        )
    if data_root is None and name in DEBIAN_FOLDERS and not download:
        debian, package = DEBIAN_FOLDERS[name]
        if idx_folder_holds(debian):
            return _load_idx_folder(name, spec, Path(debian))
        raise DataError(
            f"task {name}: no data found: {debian} does not hold the four idx files; install Debian's "
            f"package (apt-get install {package}) or give --data-root DIR, a folder holding "
            f"{', '.join(f + '.gz' for f in spec.files)} (or unpacked), or {spec.folder}/"
        )
    if data_root is None:
        raise ConfigError(
            f"task {name} needs --data-root DIR (a folder holding {spec.folder}), or --download to fetch it"
        )
    root = Path(data_root).expanduser()
    if spec.kind == "mnist" and not download and not (root / spec.folder).is_dir() and root.is_dir():
        if idx_folder_holds(root):
            return _load_idx_folder(name, spec, root)
        present = [f for f in spec.files if (root / f).is_file() or (root / f"{f}.gz").is_file()]
        if present:  # a flat folder with some of the four files: name the missing ones
            missing = [f"{f}(.gz)" for f in spec.files if f not in present]
            raise DataError(
                f"task {name}: {root} holds {', '.join(present)} but not {', '.join(missing)}; an idx folder "
                "needs all four files (.gz or unpacked)"
            )
    folder = root / spec.folder
    if root.exists() and not root.is_dir():
        raise DataError(
            f"--data-root {root} is a file, not a folder; give the folder that holds {spec.folder}"
        )
    if not verify_md5:
        logger.warning(
            "loading %s from %s WITHOUT md5 checks (verify_md5=False is for tests only)", name, root
        )
    if not download:
        if spec.kind == "mnist":
            _unpack_mnist_gz(name, spec, folder, verify_md5=verify_md5)
        _require_files(name, spec, root, folder)

    train_ds = _open(name, spec, root, folder, train=True, download=download, verify_md5=verify_md5)
    test_ds = _open(name, spec, root, folder, train=False, download=False, verify_md5=verify_md5)
    x_train, y_train = _to_tensors(name, spec, folder, train_ds)
    x_test, y_test = _to_tensors(name, spec, folder, test_ds)
    logger.info("loaded %s from %s: %d train, %d test images", name, folder, len(y_train), len(y_test))
    return RawDataset(name, x_train, y_train, x_test, y_test, spec.n_classes, separate_test=True)


def _load_idx_folder(name: str, spec: _Spec, folder: Path) -> RawDataset:
    """An MNIST-family set from a flat folder of idx files (``.gz`` read in place), every file checked."""
    files = find_idx_files(folder)
    if files is None:  # pragma: no cover - callers check idx_folder_holds first
        raise DataError(f"task {name}: {folder} does not hold the four idx files {', '.join(spec.files)}")
    splits = []
    for split in ("train", "test"):
        images, labels = read_idx_split(files[f"{split}_images"], files[f"{split}_labels"],
                                        n_classes=spec.n_classes)
        x = torch.from_numpy(images.astype(np.float32)).unsqueeze(1).div_(255.0)
        x.sub_(spec.mean[0]).div_(spec.std[0])
        splits.append((x, torch.from_numpy(labels.astype(np.int64))))
    (x_train, y_train), (x_test, y_test) = splits
    logger.info("loaded %s from %s: %d train, %d test images", name, folder, len(y_train), len(y_test))
    return RawDataset(name, x_train, y_train, x_test, y_test, spec.n_classes, separate_test=True)


def _require_files(name: str, spec: _Spec, root: Path, folder: Path) -> None:
    """Raise a DataError naming the folder, the expected files and ``--download`` if any is missing."""
    expected = ", ".join(spec.files)
    if not root.is_dir():
        raise DataError(
            f"--data-root {root} does not exist; task {name} expects it to hold {spec.folder}/ with "
            f"{expected}; create it and place the files there, or pass --download to fetch them"
        )
    if not folder.is_dir():
        flat = (
            "; or give a --data-root that holds the four idx files itself (.gz or unpacked)"
            + (f", e.g. {DEBIAN_FOLDERS[name][0]} (apt-get install {DEBIAN_FOLDERS[name][1]})"
               if name in DEBIAN_FOLDERS else "")
            if spec.kind == "mnist" else ""
        )
        raise DataError(
            f"task {name}: folder {folder} not found; torchvision expects {spec.folder}/ inside --data-root "
            f"{root}, holding {expected}; place the files there, or pass --download to fetch them{flat}"
        )
    missing = [f for f in spec.files if not (folder / f).is_file()]
    if missing:
        raise DataError(
            f"task {name}: files missing in {folder}: {', '.join(missing)} (torchvision expects {expected}); "
            "place the official files there, or pass --download to fetch them"
        )


def _unpack_mnist_gz(name: str, spec: _Spec, folder: Path, *, verify_md5: bool) -> None:
    """Unpack official ``.gz`` archives found in ``raw/`` whose idx file is missing, after an md5 check."""
    if not folder.is_dir():
        return
    from torchvision import datasets
    from torchvision.datasets.utils import check_integrity

    md5s = dict(getattr(datasets, spec.class_name).resources)
    for idx_name in spec.files:
        target = folder / idx_name
        archive = folder / f"{idx_name}.gz"
        if target.is_file() or not archive.is_file():
            continue
        if verify_md5 and not check_integrity(str(archive), md5s.get(archive.name)):
            raise DataError(
                f"task {name}: {archive} fails its md5 check (it is not the official file); "
                "delete it and pass --download, or place the official file there"
            )
        tmp = target.with_name(target.name + ".partial")
        try:
            with gzip.open(archive, "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
            tmp.replace(target)
        except (OSError, EOFError, zlib.error) as exc:
            tmp.unlink(missing_ok=True)
            raise DataError(
                f"task {name}: cannot unpack {archive} ({_oneline(exc)}); replace it with the official file"
            ) from None
        logger.info("unpacked %s", archive)


def _open(
    name: str, spec: _Spec, root: Path, folder: Path, *, train: bool, download: bool, verify_md5: bool
) -> VisionDataset:
    """Build the torchvision data set, turning every failure into a one-line DataError."""
    from torchvision import datasets

    cls = getattr(datasets, spec.class_name)
    if spec.kind == "cifar" and not verify_md5:
        cls = _unverified_cifar(cls)
    split = "train" if train else "test"
    try:
        return cls(root=str(root), train=train, download=download)
    except _READ_ERRORS as exc:
        bad = _md5_failures(cls, folder) if spec.kind == "cifar" and verify_md5 else []
        if download:
            stale = (
                f"; {folder} holds files that fail their md5 check ({', '.join(bad)}): delete them"
                if bad
                else ""
            )
            raise DataError(
                f"task {name}: --download into {root} failed ({_oneline(exc)}){stale}; check the network, "
                f"or place the official files in {folder} by hand and leave out --download"
            ) from None
        if spec.kind == "cifar" and verify_md5 and isinstance(exc, RuntimeError):
            if bad:
                raise DataError(
                    f"task {name}: files in {folder} fail their md5 check: {', '.join(bad)} (they are not "
                    "the official CIFAR files, which are pickles and are only opened when their md5 "
                    "matches); replace them with the official files, or delete them and pass --download"
                ) from None
            if not _files_present(spec, folder):
                raise DataError(
                    f"task {name}: files missing in {folder} (torchvision expects {', '.join(spec.files)}); "
                    "place them there, or pass --download to fetch them"
                ) from None
        raise DataError(
            f"task {name}: cannot read the {split} split from {folder} ({_oneline(exc)}); "
            "replace the files with the official ones, or delete them and pass --download"
        ) from None


def _oneline(exc: BaseException) -> str:
    """``Type: message`` of an exception on one line."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _files_present(spec: _Spec, folder: Path) -> bool:
    return all((folder / f).is_file() for f in spec.files)


def _md5_failures(cls: Any, folder: Path) -> list[str]:
    """Names of the CIFAR files in ``folder`` that exist but do not match torchvision's md5."""
    from torchvision.datasets.utils import check_integrity

    entries = [*cls.train_list, *cls.test_list, [cls.meta["filename"], cls.meta["md5"]]]
    return [f for f, md5 in entries if (folder / f).is_file() and not check_integrity(str(folder / f), md5)]


_UNVERIFIED: dict[type, type] = {}


def _unverified_cifar(cls: type) -> type:
    """Subclass of a torchvision CIFAR class that only checks the files exist (tests only, see module doc)."""
    if cls in _UNVERIFIED:
        return _UNVERIFIED[cls]

    def _check_integrity(self: Any) -> bool:
        base = Path(self.root) / self.base_folder
        return all((base / f).is_file() for f, _ in self.train_list + self.test_list)

    def _load_meta(self: Any) -> None:
        path = Path(self.root) / self.base_folder / self.meta["filename"]
        with open(path, "rb") as infile:
            data = pickle.load(infile, encoding="latin1")
        self.classes = data[self.meta["key"]]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    sub = type(
        f"_Unverified{cls.__name__}", (cls,), {"_check_integrity": _check_integrity, "_load_meta": _load_meta}
    )
    _UNVERIFIED[cls] = sub
    return sub


def _to_tensors(name: str, spec: _Spec, folder: Path, ds: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw arrays of a torchvision data set → normalised float32 images [n, C, H, W] and int64 labels."""
    data = ds.data
    if spec.kind == "cifar":
        arr = np.asarray(data)
        if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[1:] != (32, 32, 3):
            raise DataError(
                f"task {name}: images in {folder} have shape {arr.shape} and dtype {arr.dtype}, expected "
                "uint8 [n, 32, 32, 3]; replace the files with the official ones"
            )
        images = torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2).contiguous()
    else:
        images = torch.as_tensor(data)
        if images.dtype != torch.uint8 or images.ndim != 3 or tuple(images.shape[1:]) != (28, 28):
            raise DataError(
                f"task {name}: images in {folder} have shape {tuple(images.shape)} and dtype {images.dtype}, "
                "expected uint8 [n, 28, 28]; replace the files with the official ones"
            )
        images = images.unsqueeze(1)
    labels = torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64).reshape(-1)
    n = images.shape[0]
    if n == 0 or labels.shape[0] != n:
        raise DataError(
            f"task {name}: {folder} holds {n} images and {labels.shape[0]} labels in one split; "
            "replace the files with the official ones"
        )
    if int(labels.min()) < 0 or int(labels.max()) >= spec.n_classes:
        raise DataError(
            f"task {name}: labels in {folder} range over {int(labels.min())}..{int(labels.max())}, expected "
            f"0..{spec.n_classes - 1}; replace the files with the official ones"
        )
    x = images.to(torch.float32).div_(255.0)
    mean = torch.tensor(spec.mean, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32).view(1, -1, 1, 1)
    x.sub_(mean).div_(std)
    return x, labels
