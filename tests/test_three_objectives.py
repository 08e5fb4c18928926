"""Three objectives end to end (issue 6): forget_kl against the uniform and the held-out reference beside
retain_ce, through NSGA-II and Jacobian descent, plotted, compared and selected from; plus the pieces a
third objective on an already-used split needs (a shared forward graph, LS weights, full-set Jacobians)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pareto_unlearn.cli import main
from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.experiments._compare import COMPARE_COLUMNS, compare
from pareto_unlearn.indicators import pareto_stationarity_gap
from pareto_unlearn.objectives import make_objectives
from pareto_unlearn.rundir import load_run
from pareto_unlearn.selection_export import select_and_export
from pareto_unlearn.solvers import EvolutionarySolver, JacobianDescent, LinearScalarization, jd_direction
from pareto_unlearn.solvers._jd import split_weight
from pareto_unlearn.spaces import LastLayerSpace

NAMES = ("forget_kl:uniform", "forget_kl:heldout", "retain_ce")
COLUMNS = ("forget_kl_uniform", "forget_kl_heldout", "retain_ce")
TINY = """
[explore.nsga2-last-layer]
pop_size = 8
n_gen = 3

[explore.jd]
lrs = [0.2]
epochs = 2

[explore.ls]
weights = [0.2, 0.8]
lr = 0.2
epochs = 2
"""


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    """``pareto-unlearn explore`` with three objectives, in process, tiny settings."""
    root = tmp_path_factory.mktemp("three")
    config = root / "tiny.toml"
    config.write_text(TINY)
    out = root / "run"
    code = main(["explore", "--task", "digits", "--forget", "random:0.5", "--seeds", "0",
                 "--objectives", ",".join(NAMES), "--solvers", "nsga2-last-layer,jd,ls",
                 "--config", str(config), "--cache-dir", str(cache_dir), "--out", str(out), "--no-progress"])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def three_objectives(digits_task):
    return make_objectives(digits_task, names=NAMES)


def test_three_objective_run_has_three_finite_columns_and_a_panel_per_pair(three: Path) -> None:
    summary, front = load_run(three)
    assert front.objective_names == COLUMNS and front.F.shape[1] == 3
    assert summary["objectives"] == list(COLUMNS) and len(summary["hv_reference_point"]) == 3
    assert front.solvers == ["Original", "nsga2-last-layer", "jd", "ls"]
    for name in ("nsga2-last-layer", "jd", "ls"):
        part = front.only(name)
        assert len(part) > 0 and np.isfinite(part.F).all(), name
        assert summary["solvers"][name]["hv"] > 0, name
    ls = front.only("ls").F
    assert not np.allclose(ls[0], ls[1])  # each LS weight is its own point, not one uniform mix
    assert (three / "fronts.png").read_bytes()[:4] == b"\x89PNG"
    from pareto_unlearn.plotting import plot_fronts

    fig = plot_fronts(front.take(front.solver != "Original"), original=summary["original"]["objectives"])
    pairs = [(ax.get_xlabel().split(":")[0], ax.get_ylabel().split(":")[0]) for ax in fig.axes]
    assert pairs == [(COLUMNS[0], COLUMNS[1]), (COLUMNS[0], COLUMNS[2]), (COLUMNS[1], COLUMNS[2])]
    assert "projection of 3 objectives" in fig.axes[0].get_title()


def test_three_objective_run_compares_with_ratios_and_stationarity(three: Path) -> None:
    table = compare([three], stationarity=True, stationarity_points=2)
    assert list(table.columns) == list(COMPARE_COLUMNS)
    df = table.set_index("solver")
    best = df.attrs["gradient_reference"].split("/")[1]
    assert best in ("jd", "ls") and df.loc[best, "hv_ratio"] == pytest.approx(1.0)
    assert np.isfinite(df["hv_ratio"]).all() and np.isfinite(df["gradient_budget_s"]).all()
    gaps = df["median_stationarity_gap"]
    assert np.isfinite(gaps).all() and ((gaps >= 0) & (gaps <= 1)).all()


def test_three_objective_run_selects_and_exports(three: Path, tmp_path: Path) -> None:
    export = tmp_path / "knee.safetensors"
    result = select_and_export(three, method="knee", export=export)
    record = json.loads(export.with_suffix(".json").read_text())
    assert list(record["objectives"]) == list(COLUMNS)
    assert result["max_abs_difference"] < 1e-4  # the exported weights give the recorded objectives


def test_nsga3_searches_three_objectives_with_one_reference_direction_per_individual(
        digits_task, three_objectives) -> None:
    """algorithm="nsga3": pymoo's NSGA-III (niches along reference directions instead of crowding) on the
    three objectives, under its own name, pop_size offspring a generation, a non-dominated front."""
    solver = EvolutionarySolver(space=LastLayerSpace(), algorithm="nsga3", pop_size=8, n_gen=3, seed=0,
                                progress=False)
    front = solver.run(digits_task, three_objectives)
    assert solver.name == "nsga3-last-layer" and set(front.solver) == {"nsga3-last-layer"}
    assert type(solver.algorithm_).__name__ == "NSGA3"
    assert solver.algorithm_.ref_dirs.shape == (6, 3)  # Das-Dennis, 2 partitions: the most that fit in 8
    assert solver.n_evaluated_ == 3 * 8
    assert front.F.shape[1] == 3 and np.isfinite(front.F).all()
    assert front.provenance[0]["hyperparameters"]["algorithm"] == "nsga3"
    assert [a["generation"] for a in solver.anytime_] == [1, 2, 3]
    with pytest.raises(ConfigError, match="nsga3 needs at least one individual per objective \\(3\\)"):
        EvolutionarySolver(space=LastLayerSpace(), algorithm="nsga3", pop_size=2, n_gen=1,
                           progress=False).run(digits_task, three_objectives)


def test_jd_direction_shares_one_forward_graph_between_objectives_on_one_split(digits_task,
                                                                                three_objectives) -> None:
    model = digits_task.copy_original()
    params = [p for p in model.parameters() if p.requires_grad]
    idx = torch.arange(32)
    logits = model(digits_task.forget.x[idx])
    y = digits_task.forget.y[idx]
    losses = [o(logits, y) for o in three_objectives[:2]]
    J = jd_direction(losses, params, lambda matrix: matrix)  # the identity "aggregator" returns J itself
    for row, objective in zip(J, three_objectives[:2], strict=True):
        grads = torch.autograd.grad(objective(model(digits_task.forget.x[idx]), y), params)
        assert torch.allclose(row, torch.cat([g.reshape(-1) for g in grads]), atol=1e-6)


def test_jd_runs_on_three_objectives_and_counts_one_backward_pass_per_objective(digits_task,
                                                                                  three_objectives) -> None:
    front = JacobianDescent(lr=0.1, epochs=1, seed=0, progress=False).run(digits_task, three_objectives)
    assert front.F.shape == (1, 3) and np.isfinite(front.F).all()
    expected = 2 * len(digits_task.forget) + len(digits_task.retain)
    assert front.cost["backward_passes"][0] == pytest.approx(expected)


def test_ls_weight_is_split_by_split_for_more_than_two_objectives(digits_task, three_objectives) -> None:
    assert split_weight(0.4, ["forget", "forget", "retain"]) == pytest.approx([0.2, 0.2, 0.6])
    with pytest.raises(ConfigError, match="both the forget and the retain set"):
        split_weight(0.5, ["forget", "forget"])
    solver = LinearScalarization(weight=0.3, lr=0.1, epochs=1, progress=False)
    solver.run(digits_task, three_objectives)
    assert solver.weights_ == pytest.approx([0.15, 0.15, 0.7])


def test_full_set_jacobian_does_not_depend_on_the_batch_size(digits_task, three_objectives) -> None:
    model = digits_task.copy_original()
    whole = three_objectives.jacobian(model, digits_task)
    batched = three_objectives.jacobian(model, digits_task, batch_size=100)
    n = sum(p.numel() for p in model.parameters())
    assert whole.shape == (3, n) and torch.allclose(whole, batched, rtol=1e-5, atol=1e-8)
    assert all(p.grad is None for p in model.parameters())  # nothing written to .grad
    retain = three_objectives[2]
    loss = retain(model(digits_task.retain.x), digits_task.retain.y)
    direct = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, list(model.parameters()))])
    assert torch.allclose(whole[2].float(), direct, rtol=1e-4, atol=1e-7)
    assert 0.0 <= pareto_stationarity_gap(whole) <= 1.0
