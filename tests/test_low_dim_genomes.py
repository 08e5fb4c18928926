"""Low-dimensional genomes of the last-layer and LoRA spaces: every point is a point of the wrapped space
(x = clip(x0 + M z) in its box, z = 0 is θ0), points rebuild to their objectives, both solver families
search them, and θ0's own SVD basis beats a random slice of the same space at the same search cost."""

from __future__ import annotations

import numpy as np
import pytest

from pareto_unlearn import Front, rebuild_model
from pareto_unlearn.exceptions import CacheError, ConfigError
from pareto_unlearn.indicators import hv_reference_point, hypervolume
from pareto_unlearn.solvers import EvolutionarySolver, LinearScalarization
from pareto_unlearn.spaces import (
    LastLayerSpace,
    LastLayerSVDSpace,
    LoRASpace,
    LoRASVDSpace,
    ProjectionSpace,
    rebuild_from_spec,
)

GENOMES = [LastLayerSVDSpace(), LoRASVDSpace(), LoRASVDSpace(free_a=False, k=None),
           ProjectionSpace(dims=8), ProjectionSpace(over="lora", dims=8)]


@pytest.mark.parametrize("space", GENOMES, ids=repr)
def test_a_subspace_point_is_a_point_of_the_wrapped_space(space, digits_task, digits_objectives):
    bound = space.bind(digits_task, digits_objectives)
    inner = space.inner_space().bind(digits_task, digits_objectives)
    Z = np.random.default_rng(0).uniform(-1, 1, size=(5, bound.n_var))
    X = bound.full(Z)
    assert X.shape == (5, inner.n_var) and np.abs(X).max() <= 1.0  # in the wrapped space's box
    np.testing.assert_allclose(bound.evaluate(Z), inner.evaluate(X), rtol=0, atol=1e-6)
    theta0 = digits_objectives.evaluate(digits_task.original, digits_task)
    np.testing.assert_allclose(bound.evaluate(np.zeros((1, bound.n_var)))[0], theta0, rtol=0, atol=1e-4)
    assert bound.n_var < inner.n_var / 3


def test_the_svd_genome_scales_the_last_layer_singular_values(digits_task, digits_objectives):
    space = LastLayerSVDSpace(span=2.0)
    bound = space.bind(digits_task, digits_objectives)
    W0 = bound.inner.W0.double()
    C = W0.shape[0]
    z = np.zeros(bound.n_var)
    z[: min(W0.shape)] = -0.5  # every singular value times 1 + 2·(−0.5) = 0: W = 0
    z[min(W0.shape) : min(W0.shape) + C] = -0.5  # every bias entry times 0
    spec = {"kind": "subspace", "array": "z", **bound.rebuild_fields()}
    model = rebuild_from_spec(digits_task, spec, {"z": z.astype(np.float32)})
    layer = dict(model.named_modules())[bound.inner.layer_name]
    assert float(layer.weight.detach().abs().max()) < 1e-5 * float(W0.abs().max())
    assert float(layer.bias.detach().abs().max()) < 1e-5


@pytest.mark.parametrize("space", [LastLayerSVDSpace(), LoRASVDSpace()], ids=repr)
def test_both_families_search_a_subspace_and_every_point_rebuilds(space, digits_task, digits_objectives,
                                                                  digits_evaluator, tmp_path):
    run = {"progress": False}
    parts = [EvolutionarySolver(space=space, pop_size=6, n_gen=3, **run).run(
                 digits_task, digits_objectives, evaluator=digits_evaluator),
             LinearScalarization(space=space, weight=0.5, lr=0.3, epochs=4, record_every=2, **run).run(
                 digits_task, digits_objectives, evaluator=digits_evaluator)]
    gradient_genome = parts[1].arrays[parts[1].rebuild[-1]["array"]]
    assert np.abs(gradient_genome).max() > 0  # the gradient side moved (a free A starts off z = 0)
    Front.concat(parts).save(tmp_path / "front")
    loaded = Front.load(tmp_path / "front", digits_task)
    for i in range(len(loaded)):
        model = rebuild_model(digits_task, loaded, i)
        np.testing.assert_allclose(digits_objectives.evaluate(model, digits_task), loaded.F[i], rtol=1e-4,
                                   atol=1e-5, err_msg=f"point {i} ({loaded.solver[i]})")


def test_the_same_settings_give_the_same_basis_and_front(digits_task, digits_objectives, no_metrics):
    a = ProjectionSpace(dims=8, basis_seed=3).bind(digits_task, digits_objectives)
    b = ProjectionSpace(dims=8, basis_seed=3).bind(digits_task, digits_objectives)
    c = ProjectionSpace(dims=8, basis_seed=4).bind(digits_task, digits_objectives)
    np.testing.assert_array_equal(a.basis, b.basis)
    assert not np.array_equal(a.basis, c.basis)
    runs = [EvolutionarySolver(space=LastLayerSVDSpace(), pop_size=6, n_gen=2, progress=False).run(
        digits_task, digits_objectives, evaluator=no_metrics) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].F, runs[1].F)


def test_svd_basis_beats_a_random_slice_of_the_same_space(digits_task, digits_objectives, no_metrics):
    ref = np.asarray(hv_reference_point(digits_task, digits_objectives))
    hv = {}
    for label, space in (("svd", LastLayerSVDSpace()), ("random", ProjectionSpace(dims=30))):
        front = EvolutionarySolver(space=space, pop_size=20, n_gen=10, progress=False).run(
            digits_task, digits_objectives, evaluator=no_metrics)
        hv[label] = hypervolume(front.F, ref)
    assert hv["svd"] > 1.2 * hv["random"], hv


def test_bad_settings_and_bad_specs_are_refused(digits_task, digits_objectives):
    for space, match in ((LastLayerSVDSpace(span=0), "span"), (LoRASVDSpace(k=0), "`k`"),
                         (ProjectionSpace(over="conv"), "over"), (ProjectionSpace(dims=0), "dims"),
                         (LastLayerSVDSpace(init_sigma=-1.0), "init_sigma"),
                         (LastLayerSVDSpace(scale=-2.0), "scale")):
        with pytest.raises(ConfigError, match=match):
            EvolutionarySolver(space=space, pop_size=4, n_gen=1, progress=False).run(
                digits_task, digits_objectives)
    bound = LastLayerSVDSpace().bind(digits_task, digits_objectives)
    spec = {"kind": "subspace", "array": "z", **bound.rebuild_fields()}
    with pytest.raises(CacheError, match="genome has 3 values"):
        rebuild_from_spec(digits_task, spec, {"z": np.zeros(3, dtype=np.float32)})
    with pytest.raises(CacheError, match="unknown basis"):
        rebuild_from_spec(digits_task, {**spec, "basis": "pca"}, {"z": np.zeros(bound.n_var)})


def test_the_wrapped_spaces_keep_their_own_names():
    assert LastLayerSVDSpace().inner_space().name == LastLayerSpace.name
    assert LoRASVDSpace().inner_space().name == LoRASpace.name
    assert EvolutionarySolver(space=LoRASVDSpace()).name == "nsga2-lora-svd"
