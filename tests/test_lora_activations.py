"""The activation genome of the LoRA space (``nsga2-lora-act``): its basis comes from θ0's activations on the
task's own splits, is the same each time, puts A in the principal input directions and B in the
directions the logits are sensitive to, and every point of it rebuilds (a run's front, and a point
exported by ``select``) to the objectives the search recorded."""

from __future__ import annotations

import numpy as np
import pytest

from pareto_unlearn import Front, rebuild_model
from pareto_unlearn.config import load_config
from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.experiments import explore
from pareto_unlearn.objectives import make_objectives
from pareto_unlearn.selection_export import load_exported, select_and_export
from pareto_unlearn.solvers import EvolutionarySolver
from pareto_unlearn.spaces import LoRAActivationSpace, LoRASpace
from pareto_unlearn.spaces._activations import activation_directions

SOLVER = f"nsga2-{LoRAActivationSpace.name}"


def _in_span(vectors: np.ndarray, directions: np.ndarray) -> float:
    """The largest share of a vector's squared norm outside the span of orthonormal ``directions`` rows."""
    outside = vectors - (vectors @ directions.T) @ directions
    return float(((outside**2).sum(axis=1) / np.maximum((vectors**2).sum(axis=1), 1e-300)).max())


def test_the_same_task_gives_the_same_basis_and_other_settings_another(digits_task, digits_objectives):
    a = LoRAActivationSpace().bind(digits_task, digits_objectives)
    b = LoRAActivationSpace().bind(digits_task, digits_objectives)
    np.testing.assert_array_equal(a.basis, b.basis)
    np.testing.assert_array_equal(a.offset, b.offset)
    for other in (LoRAActivationSpace(k_in=3), LoRAActivationSpace(b_side="outputs"),
                  LoRAActivationSpace(source="stacked")):
        bound = other.bind(digits_task, digits_objectives)
        assert bound.basis.shape != a.basis.shape or not np.allclose(bound.basis, a.basis), other


def test_a_in_the_input_directions_b_in_the_sensitive_outputs(digits_task, digits_objectives):
    space = LoRAActivationSpace(k_in=3, k_out=5)
    bound = space.bind(digits_task, digits_objectives)
    inner = bound.inner
    directions = activation_directions(digits_task, inner.layers, k_in=3, k_out=5, sensitivity=True)
    Z = np.random.default_rng(0).uniform(-0.2, 0.2, size=(8, bound.n_var))
    X = bound.full(Z)
    assert np.abs(X).max() < 1.0  # inside the box: no entry clipped, so X = M z exactly
    offset, r = 0, space.rank
    for name, (o, i) in zip(inner.layers, inner.shapes, strict=True):
        A = X[:, offset : offset + r * i].reshape(-1, i)
        B = X[:, offset + r * i : offset + r * (i + o)].reshape(len(X), o, r)
        B = B.transpose(0, 2, 1).reshape(-1, o)  # the columns of every B, as rows
        offset += r * (i + o)
        V, U = directions[name]
        assert _in_span(A, V) < 1e-10, name  # every row of A: a mix of the top-k_in input directions
        assert _in_span(B, U) < 1e-10, name  # every column of B: a mix of the 5 most sensitive outputs
    # k_out = 10: the hidden layer's B spans 10 of its 64 outputs, the final layer's (10 logits) is free
    wide = LoRAActivationSpace(k_in=3, k_out=10).bind(digits_task, digits_objectives)
    (o_hidden, i_hidden), (o_last, i_last) = inner.shapes
    assert o_hidden > 10 and o_last == 10
    assert wide.n_var == (r * 3 + 10 * r) + (r * 3 + o_last * r)
    last_b = wide.basis[-o_last * r :, -o_last * r :]
    np.testing.assert_array_equal(last_b, np.eye(o_last * r))


def test_a_point_rebuilds_and_an_exported_point_gives_the_front_objectives(cache_dir, tmp_path):
    config = load_config(None).merged({
        "forget": "random:0.5", "solvers": (SOLVER,), "cache_dir": str(cache_dir),
        "explore": {SOLVER: {"pop_size": 8, "n_gen": 3}}})
    run = explore(config, tmp_path / "run", progress=False).out
    task_front = select_and_export(run, method="knee", solver=SOLVER, export=tmp_path / "knee.safetensors")
    point, task = task_front["point"], task_front["task"]
    model, record = load_exported(tmp_path / "knee.safetensors")
    model.eval()
    objectives = make_objectives(task, reference="uniform").evaluate(model, task)
    for j, name in enumerate(task_front["objective_names"]):
        assert objectives[j] == pytest.approx(point[name], rel=1e-5, abs=1e-6), name
    assert record["provenance"]["solver"] == SOLVER
    front = Front.load(run / "front", task)
    rows = np.flatnonzero(front.solver == SOLVER)
    assert front.rebuild[rows[0]]["kind"] == "subspace" and front.rebuild[rows[0]]["basis"] == "activations"
    for i in rows[:4]:
        again = make_objectives(task, reference="uniform").evaluate(rebuild_model(task, front, int(i)), task)
        np.testing.assert_allclose(again, front.F[i], rtol=1e-5, atol=1e-6)


def test_a_conv_layer_gets_its_basis_from_unfolded_patches(digits_cnn_task, no_metrics):
    objectives = make_objectives(digits_cnn_task)
    space = LoRAActivationSpace(layers=["conv2.0", "fc"], k_in=3, k_out=4)
    bound = space.bind(digits_cnn_task, objectives)
    inner = LoRASpace(layers=["conv2.0", "fc"]).bind(digits_cnn_task, objectives)
    Z = np.random.default_rng(1).uniform(-0.2, 0.2, size=(3, bound.n_var))
    np.testing.assert_allclose(bound.evaluate(Z), inner.evaluate(bound.full(Z)), rtol=0, atol=1e-6)
    front = EvolutionarySolver(space=space, pop_size=4, n_gen=1, progress=False).run(
        digits_cnn_task, objectives, evaluator=no_metrics)
    again = objectives.evaluate(rebuild_model(digits_cnn_task, front, 1), digits_cnn_task)
    np.testing.assert_allclose(again, front.F[1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("settings, match", [
    ({"k_in": 0}, "`k_in`"), ({"k_out": 0}, "`k_out`"), ({"k_in": 2.5}, "`k_in`"),
    ({"b_side": "weights"}, "`b_side`"), ({"source": "forget"}, "`source`"), ({"max_rows": 0}, "`max_rows`"),
    ({"free_a": "yes"}, "`free_a`"), ({"init_sigma": 0.0}, "init_sigma"), ({"rank": 0}, "rank")])
def test_bad_settings_are_refused(settings, match, digits_task, digits_objectives):
    with pytest.raises(ConfigError, match=match):
        EvolutionarySolver(space=LoRAActivationSpace(**settings), pop_size=4, n_gen=1, progress=False).run(
            digits_task, digits_objectives)


def test_the_basis_passes_over_the_data_are_charged(digits_task, digits_objectives):
    bound = LoRAActivationSpace().bind(digits_task, digits_objectives)
    inner = LoRASpace().bind(digits_task, digits_objectives)
    rows = len(digits_task.forget) + len(digits_task.retain)
    # one forward pass, then per adapted layer one forward and a backward (two passes) per logit
    assert bound.setup_passes == pytest.approx(inner.setup_passes + rows * (1 + 2 * (1 + 2 * 10)))
    free = LoRAActivationSpace(b_side="free").bind(digits_task, digits_objectives)
    assert free.setup_passes == pytest.approx(inner.setup_passes + rows)
