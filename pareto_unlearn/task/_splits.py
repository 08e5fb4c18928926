"""Forget / retain / held-out / test splits (docs/definitions.md §2): stratified, seeded, disjoint,
checked."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from pareto_unlearn._io import atomic_save_npz, stable_hash
from pareto_unlearn.exceptions import CacheError, ConfigError, DataError

__all__ = ["Splits", "ForgetSpec", "parse_forget", "make_splits", "SPLIT_KEYS"]

SPLIT_KEYS = ("forget", "retain", "heldout_reference", "heldout_selection", "test")


@dataclass(frozen=True)
class ForgetSpec:
    """What to forget: ``random`` (a ratio of the train set) or ``class`` (every sample of some classes)."""

    kind: str
    ratio: float | None = None
    classes: tuple[int, ...] = ()

    def __str__(self) -> str:
        if self.kind == "random":
            return f"random:{self.ratio:g}"
        return "class:" + ",".join(str(c) for c in self.classes)


def parse_forget(text: str | ForgetSpec, n_classes: int | None = None) -> ForgetSpec:
    """Parse ``random:R`` (R in (0, 1)) or ``class:3`` / ``class:3,5``.

    Examples
    --------
    >>> parse_forget("random:0.1")
    ForgetSpec(kind='random', ratio=0.1, classes=())
    >>> parse_forget("class:3,5", n_classes=10).classes
    (3, 5)
    """
    if isinstance(text, ForgetSpec):
        spec = text
    else:
        match = re.fullmatch(r"\s*(random|class)\s*:\s*(.+?)\s*", str(text))
        if not match:
            raise ConfigError(
                f"--forget {text!r} is not understood; use random:R with R in (0, 1) (e.g. random:0.1) "
                "or class:K[,K...] (e.g. class:3)"
            )
        kind, value = match.groups()
        if kind == "random":
            try:
                ratio = float(value)
            except ValueError:
                raise ConfigError(
                    f"--forget random:{value}: the ratio must be a number in (0, 1), e.g. random:0.5"
                ) from None
            spec = ForgetSpec("random", ratio=ratio)
        else:
            try:
                classes = tuple(sorted({int(v) for v in value.split(",")}))
            except ValueError:
                raise ConfigError(
                    f"--forget class:{value}: classes must be integers, e.g. class:3 or class:3,5"
                ) from None
            spec = ForgetSpec("class", classes=classes)
    if spec.kind == "random":
        if spec.ratio is None or not 0.0 < spec.ratio < 1.0:
            raise ConfigError(f"--forget random:{spec.ratio}: the ratio must lie in (0, 1), e.g. random:0.1")
    elif spec.kind == "class":
        if not spec.classes:
            raise ConfigError("--forget class: names no class; give one or more, e.g. class:3 or class:3,5")
        if n_classes is not None:
            bad = [c for c in spec.classes if not 0 <= c < n_classes]
            if bad:
                raise ConfigError(
                    f"--forget {spec}: class {bad[0]} is out of range; "
                    f"this task has classes 0..{n_classes - 1}"
                )
            if len(spec.classes) >= n_classes:
                raise ConfigError(f"--forget {spec}: forgetting every class leaves nothing to retain")
    else:
        raise ConfigError(f"unknown forget kind {spec.kind!r}; use random or class")
    return spec


@dataclass(frozen=True)
class Splits:
    """Index arrays of the five disjoint sets (docs/definitions.md §2).

    For digits every array indexes scikit-learn's sample order; for torchvision sets ``test`` indexes the
    test split and the others the train split.
    """

    forget: np.ndarray
    retain: np.ndarray
    heldout_reference: np.ndarray
    heldout_selection: np.ndarray
    test: np.ndarray
    separate_test: bool = False

    def as_dict(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in SPLIT_KEYS}

    @property
    def fingerprint(self) -> str:
        return stable_hash({k: v.tolist() for k, v in self.as_dict().items()})

    def check(self, n_train: int, n_test: int | None = None) -> None:
        """Raise DataError unless the sets are disjoint and partition the data."""
        pool = [self.forget, self.retain, self.heldout_reference, self.heldout_selection]
        if not self.separate_test:
            pool.append(self.test)
        joined = np.concatenate(pool)
        if len(np.unique(joined)) != len(joined):
            raise DataError("splits overlap: an index appears in two sets")
        if len(joined) != n_train or joined.min(initial=0) < 0 or joined.max(initial=0) >= n_train:
            raise DataError(f"splits do not partition the {n_train} training samples")
        if self.separate_test and n_test is not None and sorted(self.test.tolist()) != list(range(n_test)):
            raise DataError("the test split must hold every test sample once")
        if len(self.forget) == 0:
            raise DataError("the forget set is empty; choose a larger ratio or a class present in the data")
        if len(self.retain) == 0:
            raise DataError("the retain set is empty; forget less")

    def save(self, path: str | os.PathLike) -> None:
        atomic_save_npz(path, **self.as_dict(), separate_test=np.asarray(self.separate_test))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Splits:
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: np.asarray(data[k], dtype=np.int64) for k in SPLIT_KEYS}
                separate = bool(data["separate_test"]) if "separate_test" in data else False
        except (OSError, ValueError, KeyError) as exc:
            raise CacheError(
                f"{path}: not a valid splits.npz ({exc}); delete it or point to another file"
            ) from None
        return cls(**arrays, separate_test=separate)


def _stratified_take(rng: np.random.Generator, idx: np.ndarray, labels: np.ndarray, share: float):
    """Split ``idx`` into (taken, rest), taking round(share * n_c) of each class c."""
    taken, rest = [], []
    for c in np.unique(labels[idx]):
        members = idx[labels[idx] == c]
        members = members[rng.permutation(len(members))]
        k = int(np.floor(share * len(members) + 0.5))  # half up: a class of 1 still gives its sample
        taken.append(members[:k])
        rest.append(members[k:])
    return np.sort(np.concatenate(taken)), np.sort(np.concatenate(rest))


def _forget_index_array(forget_indices: Any, n_train: int) -> np.ndarray:
    """The forget indices as sorted unique int64, or a DataError naming the first bad value.

    >>> _forget_index_array([4, 2.0, 4], 10)
    array([2, 4])
    >>> _forget_index_array([1, 2.5], 10)
    Traceback (most recent call last):
    ...
    pareto_unlearn.exceptions.DataError: forget indices must be whole numbers; got 2.5
    """
    raw = np.asarray(forget_indices).ravel()
    numeric = np.issubdtype(raw.dtype, np.integer) or np.issubdtype(raw.dtype, np.floating)
    if raw.dtype == bool or not numeric:
        raise DataError(f"forget indices must be integers (positions in x_train); got {raw.dtype} values")
    if len(raw) == 0:
        raise DataError("the forget-index array is empty; pass at least one training index to forget")
    if np.issubdtype(raw.dtype, np.floating):
        bad = raw[~np.isfinite(raw) | (raw != np.round(raw))]
        if len(bad):
            raise DataError(f"forget indices must be whole numbers; got {bad[0]:g}")
    out = raw[(raw < 0) | (raw >= n_train)]
    if len(out):
        raise DataError(f"forget indices must lie in [0, {n_train - 1}]; got {out[0]:g}")
    return np.unique(raw.astype(np.int64))


def make_splits(
    y_train: np.ndarray,
    forget: ForgetSpec,
    *,
    seed: int,
    y_test: np.ndarray | None = None,
    test_share: float = 0.2,
    heldout_share: float | None = None,
    forget_indices: np.ndarray | None = None,
) -> Splits:
    """Draw the splits of docs/definitions.md §2 from labels alone.

    Without ``y_test`` (digits) the test set is ``test_share`` of all samples; held-out is
    ``heldout_share`` of the rest (default 20 %: D_h,sel must hold enough samples for §6 to estimate
    Retrain from it), halved into reference / selection; forget is drawn from what remains (random:
    stratified ratio; class: every sample of the classes). With a separate ``y_test`` (torchvision sets,
    bring-your-own) held-out defaults to 10 % of the train split, as in the paper. ``forget_indices``
    (bring-your-own) fixes the forget set instead: those samples never enter held-out or test.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.repeat(np.arange(10), 50)
    >>> s = make_splits(y, parse_forget("random:0.1"), seed=0)
    >>> len(s.test), len(s.heldout_reference) + len(s.heldout_selection), len(s.forget)
    (100, 80, 30)
    >>> s = make_splits(y, parse_forget("random:0.1"), seed=0, y_test=np.repeat(np.arange(10), 10))
    >>> len(s.test), len(s.heldout_reference) + len(s.heldout_selection), len(s.forget)
    (100, 50, 50)
    """
    if heldout_share is None:
        heldout_share = 0.2 if y_test is None else 0.1
    if not 0.0 < float(heldout_share) < 1.0:
        raise ConfigError(f"make_splits: `heldout_share` must lie in (0, 1). Got {heldout_share!r}.")
    y_train = np.asarray(y_train)
    rng = np.random.default_rng(seed)
    all_idx = np.arange(len(y_train))
    fixed_forget = None
    if forget_indices is not None:
        fixed_forget = _forget_index_array(forget_indices, len(y_train))
        all_idx = np.setdiff1d(all_idx, fixed_forget)
        if len(all_idx) < 2:
            raise DataError(f"the forget indices cover {len(fixed_forget)} of the {len(y_train)} training "
                            "samples; leave samples to retain and hold out")
    if y_test is None:
        test, pool = _stratified_take(rng, all_idx, y_train, test_share)
        separate = False
    else:
        test, pool, separate = np.arange(len(y_test)), all_idx, True
    heldout, train = _stratified_take(rng, pool, y_train, heldout_share)
    # Halves of the held-out set, stratified: reference (builds q) and selection (picks hyper-parameters).
    h_ref, h_sel = _stratified_take(rng, heldout, y_train, 0.5)
    if fixed_forget is not None:
        f_idx, r_idx = fixed_forget, train
    elif forget.kind == "random":
        f_idx, r_idx = _stratified_take(rng, train, y_train, float(cast(float, forget.ratio)))
    else:
        mask = np.isin(y_train[train], forget.classes)
        f_idx, r_idx = train[mask], train[~mask]
    splits = Splits(f_idx, r_idx, h_ref, h_sel, test, separate_test=separate)
    splits.check(len(y_train), None if y_test is None else len(y_test))
    return splits
