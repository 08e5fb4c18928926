"""The idx files of MNIST and Fashion-MNIST, read where they lie (``.gz`` or unpacked), every header checked.

The idx format (LeCun's): a big-endian magic number ``0x0000 TT NN`` (``TT`` = 0x08 for unsigned bytes,
``NN`` the number of dimensions: 1 for labels, 3 for images), ``NN`` big-endian uint32 sizes, then the
bytes. This module reads the four files of a data set from one flat folder — the layout of Debian's
``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist/``) and of the official downloads —
with gzip and numpy, and never writes anything. A file that lies (not gzip, truncated, another magic, other
sizes, labels out of range, images and labels of different lengths) is a :class:`DataError` that names the
file and what is wrong.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from pareto_unlearn.exceptions import DataError

__all__ = ["IDX_FILES", "read_idx", "read_idx_split", "find_idx_files", "idx_folder_holds"]

# The four files of a data set in the idx format, by role (stem; ``.gz`` may follow).
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_UBYTE = 0x08
# Largest idx file accepted once unpacked: the 60,000 MNIST images are 47 MB; a gzip bomb stops here.
_MAX_BYTES = 512 * 1024 * 1024


def _fix_hint(path: Path) -> str:
    return f"replace {path.name} with the official file (Debian: apt-get install --reinstall its package)"


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, unpacked when it ends in ``.gz``; a bad gzip stream is a DataError."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as stream:
                data = stream.read(_MAX_BYTES + 1)
        else:
            with open(path, "rb") as stream:
                data = stream.read(_MAX_BYTES + 1)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        kind = "truncated" if isinstance(exc, EOFError) else "corrupt"
        raise DataError(
            f"{path}: not a readable gzip file ({kind}: {' '.join(str(exc).split()) or type(exc).__name__}); "
            f"{_fix_hint(path)}"
        ) from None
    except OSError as exc:
        raise DataError(
            f"{path}: cannot be read ({exc.strerror or exc}); check the file and its permissions"
        ) from None
    if len(data) > _MAX_BYTES:
        raise DataError(
            f"{path}: larger than {_MAX_BYTES // 2**20} MiB unpacked, not an MNIST-family idx file; "
            f"{_fix_hint(path)}"
        )
    return data


def read_idx(path: str | Path, *, ndim: int, item_shape: tuple[int, ...] = ()) -> np.ndarray:
    """Read one idx file of unsigned bytes, checking its magic, its sizes and its length.

    Parameters
    ----------
    path : str or Path
        The file, unpacked or ``.gz`` (read with gzip, never unpacked to disk).
    ndim : int
        The number of dimensions the file must have: 1 for labels, 3 for images.
    item_shape : tuple of int
        The sizes after the first the file must have, e.g. ``(28, 28)`` for MNIST images.

    Returns
    -------
    np.ndarray
        uint8 array of the file's shape (read-only view of the bytes).

    Raises
    ------
    DataError
        The file is missing, not gzip (for ``.gz``), truncated, has another magic number, other sizes, no
        item, or bytes beyond its data; the message names the file and what is wrong.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "labels-idx1-ubyte"
    >>> _ = path.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9]))
    >>> read_idx(path, ndim=1)
    array([7, 0, 9], dtype=uint8)
    """
    path = Path(path)
    data = _read_bytes(path)
    what = "labels" if ndim == 1 else "images"
    expected_magic = (_UBYTE << 8) | ndim
    if len(data) < 4:
        raise DataError(f"{path}: truncated ({len(data)} bytes, shorter than the 4-byte idx magic number); "
                        f"{_fix_hint(path)}")
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        raise DataError(
            f"{path}: wrong magic number 0x{magic:08x}, expected 0x{expected_magic:08x} (idx {what}: "
            f"unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''}); {_fix_hint(path)}"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(
            f"{path}: truncated inside its header ({len(data)} of {header} bytes); {_fix_hint(path)}"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if shape[0] == 0:
        raise DataError(f"{path}: holds no {what} (count 0 in its header); {_fix_hint(path)}")
    if item_shape and shape[1:] != tuple(item_shape):
        dims = "×".join(map(str, shape[1:]))
        raise DataError(
            f"{path}: {what} of {dims} pixels, expected {'×'.join(map(str, item_shape))}; {_fix_hint(path)}"
        )
    size = int(np.prod(shape))
    body = len(data) - header
    if body != size:
        state = "truncated" if body < size else "longer than its header says"
        raise DataError(
            f"{path}: {state}: the header gives {shape[0]} {what} ({size} bytes) but {body} bytes follow; "
            f"{_fix_hint(path)}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def find_idx_files(folder: str | Path) -> dict[str, Path] | None:
    """The four idx files in ``folder`` (each ``.gz`` or unpacked; ``.gz`` first), or None if any is missing.

    Examples
    --------
    >>> import tempfile
    >>> find_idx_files(tempfile.mkdtemp()) is None
    True
    """
    folder = Path(folder)
    found: dict[str, Path] = {}
    for role, stem in IDX_FILES.items():
        for candidate in (folder / f"{stem}.gz", folder / stem):
            if candidate.is_file():
                found[role] = candidate
                break
        else:
            return None
    return found


def idx_folder_holds(folder: str | Path) -> bool:
    """Whether ``folder`` holds the four idx files of an MNIST-family data set (``.gz`` or unpacked)."""
    return Path(folder).is_dir() and find_idx_files(folder) is not None


def read_idx_split(
    images_path: Path, labels_path: Path, *, n_classes: int, item_shape: tuple[int, int] = (28, 28)
) -> tuple[np.ndarray, np.ndarray]:
    """Images ``[n, *item_shape]`` and labels ``[n]`` of one split, checked against each other.

    Raises
    ------
    DataError
        Either file lies (see :func:`read_idx`), their lengths differ, or a label is not in
        ``0..n_classes - 1``.
    """
    images = read_idx(images_path, ndim=3, item_shape=item_shape)
    labels = read_idx(labels_path, ndim=1)
    if len(images) != len(labels):
        raise DataError(
            f"{labels_path}: holds {len(labels)} labels but {images_path.name} holds {len(images)} images; "
            "the two files of a split must have one label per image (replace them with the official files)"
        )
    bad = np.flatnonzero(labels >= n_classes)
    if len(bad):
        raise DataError(
            f"{labels_path}: label {int(labels[bad[0]])} at position {int(bad[0])} is out of range, expected "
            f"0..{n_classes - 1}; {_fix_hint(labels_path)}"
        )
    return images, labels
