"""Shared fixtures: a private model cache for the whole session and the digits tasks the tests share.

Training θ0 and Retrain on digits takes seconds, so every task is built once per session and cached in a
temporary folder (``PARETO_UNLEARN_CACHE`` points there too, so nothing is written to ~/.cache).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch

from pareto_unlearn.metrics import MetricEvaluator
from pareto_unlearn.objectives import make_objectives
from pareto_unlearn.task import TrainRecipe, UnlearningTask, load_task

_TEMP_ROOT = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    torch.set_num_threads(1)  # a 2-core machine: one thread is faster for these small models
    # Everything the session writes to the system temp folder (notebooks' work folders, Dask's scratch
    # space, doctests' mkdtemp, and pytest's own tmp_path) goes into one folder, removed when the session
    # passes; a failed session keeps it for a look.
    root = Path(tempfile.mkdtemp(prefix="pareto-unlearn-tests-"))
    config.stash[_TEMP_ROOT] = root
    os.environ["TMPDIR"] = str(root)  # the notebook kernels and Dask workers inherit it
    tempfile.tempdir = str(root)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    root = session.config.stash.get(_TEMP_ROOT, None)
    if root is not None and exitstatus == 0:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model cache of the session; ``PARETO_UNLEARN_CACHE`` points to it while the session runs."""
    path = tmp_path_factory.mktemp("model-cache")
    previous = os.environ.get("PARETO_UNLEARN_CACHE")
    os.environ["PARETO_UNLEARN_CACHE"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("PARETO_UNLEARN_CACHE", None)
    else:
        os.environ["PARETO_UNLEARN_CACHE"] = previous


@pytest.fixture(scope="session")
def digits_task(cache_dir: Path) -> UnlearningTask:
    """Digits, MLP, random 50 % forgetting, seed 0, the default recipe."""
    return load_task("digits", forget="random:0.5", seed=0, model="mlp", cache_dir=str(cache_dir),
                     progress=False)


@pytest.fixture(scope="session")
def digits_class_task(cache_dir: Path) -> UnlearningTask:
    """Digits, MLP, class-wise forgetting of class 3 (θ0 is shared with ``digits_task``: same train set)."""
    return load_task("digits", forget="class:3", seed=0, model="mlp", cache_dir=str(cache_dir),
                     progress=False)


@pytest.fixture(scope="session")
def digits_cnn_task(cache_dir: Path) -> UnlearningTask:
    """Digits with the BatchNorm CNN; a 2-epoch recipe (only BatchNorm's statistics matter)."""
    return load_task("digits", forget="random:0.5", seed=0, model="cnn", cache_dir=str(cache_dir),
                     recipe=TrainRecipe(epochs=2), progress=False)


@pytest.fixture(scope="session")
def digits_objectives(digits_task: UnlearningTask):
    """(forget_kl against the uniform reference, retain_ce) on ``digits_task``."""
    return make_objectives(digits_task, reference="uniform")


@pytest.fixture(scope="session")
def digits_evaluator(digits_task: UnlearningTask) -> MetricEvaluator:
    return MetricEvaluator(digits_task)


class _NoMetrics:
    """Stands in for MetricEvaluator where a test does not read metrics (skips the SVC fits)."""

    def from_predictions(self, pred) -> dict[str, float]:
        return {}


@pytest.fixture(scope="session")
def no_metrics() -> _NoMetrics:
    """An evaluator that computes no metrics, for tests that read only fronts and genomes."""
    return _NoMetrics()
