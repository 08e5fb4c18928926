"""A toy unlearning task for examples and quick checks: trains in well under a second."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import torch

from pareto_unlearn.task._task import UnlearningTask
from pareto_unlearn.task._training import TrainRecipe

__all__ = ["toy_task"]


def toy_task(*, seed: int = 0, cache_dir: str | os.PathLike | None = None) -> UnlearningTask:
    """A tiny task: a linear model on 4 features, 4 classes (the largest feature), 100 training and 20
    test samples, the first 10 training samples forgotten, one training epoch on the CPU.

    ``cache_dir`` keeps θ0 and Retrain (default: a new temporary folder, so nothing lands in the user's
    model cache).

    Examples
    --------
    >>> task = toy_task()
    >>> len(task.forget), task.n_classes
    (10, 4)
    """
    x = torch.randn(120, 4, generator=torch.Generator().manual_seed(seed))
    folder = str(cache_dir or tempfile.mkdtemp())
    return UnlearningTask.from_data(torch.nn.Linear(4, 4), x[:100], x[:100].argmax(1), x[100:],
                                    x[100:].argmax(1), np.arange(10), recipe=TrainRecipe(epochs=1),
                                    device="cpu", cache_dir=folder, progress=False)
