"""(Fashion-)MNIST's own unlearning settings: not CIFAR's, quick smaller than full, and every default
solver and baseline buildable from them (no training)."""

from __future__ import annotations

import pytest

from pareto_unlearn.config import default_methods
from pareto_unlearn.solvers import REGISTRY
from pareto_unlearn.solvers._registry import (
    baseline_candidates,
    baseline_grid,
    build_search,
    default_settings,
    default_solvers,
    resolve_settings,
    solver_names,
    sweep_units,
)

SMALL_IMAGE = ("fashion-mnist", "mnist")
BATCH = 256  # the unlearning batch of every task but digits


@pytest.mark.parametrize("task", SMALL_IMAGE)
@pytest.mark.parametrize("quick", [False, True])
def test_sweep_lrs_are_not_cifars(task: str, quick: bool) -> None:
    own, cifar = default_settings(task, quick=quick), default_settings("cifar10", quick=quick)
    assert own["jd"]["lrs"] != cifar["jd"]["lrs"]
    assert own["ls"]["lr"] != cifar["ls"]["lr"]
    assert own == default_settings(SMALL_IMAGE[0], quick=quick)  # MNIST shares Fashion-MNIST's recipe


@pytest.mark.parametrize("name", solver_names("baseline"))
def test_baseline_grids_are_own_and_build(name: str) -> None:
    grid = baseline_grid(name, "fashion-mnist")
    assert grid != baseline_grid(name, "cifar10")
    assert grid == baseline_grid(name, "mnist")
    candidates = baseline_candidates(name, **grid, batch_size=BATCH, seed=0)
    assert len(candidates) == max(1, len(grid["lr"])) * max(1, len(grid["alpha"]))


def test_quick_is_smaller_than_full() -> None:
    full, quick = default_settings("fashion-mnist"), default_settings("fashion-mnist", quick=True)
    assert quick["jd"]["epochs"] < full["jd"]["epochs"] and quick["ls"]["epochs"] < full["ls"]["epochs"]
    for name in ("nsga2-ls-weights", "nsga2-ls-warm", "sms-emoa-ls-warm"):
        assert quick[name]["n_gen"] * quick[name].get("n_offsprings", quick[name]["pop_size"]) \
            < full[name]["n_gen"] * full[name].get("n_offsprings", full[name]["pop_size"])


@pytest.mark.parametrize("quick", [False, True])
def test_every_default_solver_builds(quick: bool) -> None:
    settings = resolve_settings("fashion-mnist", {}, default_solvers(), quick=quick)
    assert settings == default_settings("fashion-mnist", quick=quick)
    for name in default_solvers():
        if REGISTRY[name].family == "gradient":
            assert sweep_units(name, settings, seed=0, batch_size=BATCH)
        else:
            assert build_search(name, settings, seed=0, progress=False, batch_size=BATCH) is not None


def test_table_raul_rows_sweep_the_tasks_lrs() -> None:
    for task in ("digits", "cifar10", "fashion-mnist"):
        methods = default_methods(task)
        for row in ("RAUL-LS", "RAUL-UPGrad"):
            assert list(methods[row].lr) == default_settings(task)["jd"]["lrs"]
