"""The in-memory form every data-set loader returns (:class:`RawDataset`), apart from the loaders so that
:mod:`pareto_unlearn.task._datasets` (which dispatches to them) and :mod:`pareto_unlearn.task._torchvision`
(one of them) both import it without importing each other both ways."""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["RawDataset"]


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
