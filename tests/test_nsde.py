"""NSDE: NSGA-II's selection and survival with differential-evolution variation (``algorithm="nsde"``).

The DE crossover is pymoo's ``DEX`` with its bound repair drawn from the run's generator
(:class:`~pareto_unlearn.solvers.evolutionary._operators.SeededDEX`), so the same seed gives the same
front; the children are DE/rand/1/bin children in the box."""

from __future__ import annotations

import numpy as np
import pytest
from pymoo.core.population import Population
from pymoo.core.problem import Problem

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.solvers import EvolutionarySolver, default_solvers
from pareto_unlearn.solvers._registry import REGISTRY, default_settings
from pareto_unlearn.solvers.evolutionary._operators import SeededDEX
from pareto_unlearn.spaces import LastLayerSpace, LoRAActivationSpace


def _matings(rng: np.random.Generator, n: int, n_var: int, spread: float) -> tuple[Population, np.ndarray]:
    X = rng.uniform(-spread, spread, size=(3 * n, n_var))
    return Population.new("X", X), np.arange(3 * n).reshape(n, 3)


def test_seeded_dex_makes_de_rand_1_bin_children_inside_the_box():
    problem = Problem(n_var=6, n_obj=2, xl=-np.ones(6), xu=np.ones(6))
    pop, parents = _matings(np.random.default_rng(0), 50, 6, 1.0)
    children = SeededDEX(F=0.5, CR=0.9).do(problem, pop, parents, random_state=np.random.default_rng(1))
    X = children.get("X")
    base, a, b = (pop.get("X")[parents[:, k]] for k in range(3))
    donor = base + 0.5 * (a - b)
    assert X.shape == base.shape and np.abs(X).max() <= 1.0
    crossed = ~np.isclose(X, base)
    # each gene is the base's, the donor's (DE/rand/1), or, where the donor left the box, a value between
    # the base and the bound it crossed
    inside = np.abs(donor) <= 1.0
    # (pymoo jitters F by a relative 1e-4)
    np.testing.assert_allclose(X[crossed & inside], donor[crossed & inside], rtol=0, atol=1e-3)
    out = crossed & ~inside
    assert out.any()
    bound = np.sign(donor[out])
    assert np.all((X[out] - base[out]) * (bound - X[out]) >= -1e-12)
    assert crossed.any(axis=1).all()  # at least one gene of each child comes from its donor
    assert 0.7 < crossed.mean() < 1.0  # about CR of the genes


def test_seeded_dex_repairs_with_the_callers_generator():
    """pymoo 0.6.2's DEX repairs out-of-box genes from an unseeded generator; this one from the caller's."""
    problem = Problem(n_var=8, n_obj=2, xl=-np.ones(8), xu=np.ones(8))
    pop, parents = _matings(np.random.default_rng(2), 40, 8, 1.0)

    def children(seed: int) -> np.ndarray:
        out = SeededDEX(F=1.5, CR=1.0).do(problem, pop, parents, random_state=np.random.default_rng(seed))
        return out.get("X")

    first, again, other = children(5), children(5), children(6)
    base = pop.get("X")[parents[:, 0]]
    donor = base + 1.5 * (pop.get("X")[parents[:, 1]] - pop.get("X")[parents[:, 2]])
    repaired = np.abs(donor) > 1.0
    assert repaired.sum() > 10  # F = 1.5 sends many genes out of the box
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first[repaired], other[repaired])


def test_nsde_searches_with_de_and_the_same_seed_gives_the_same_front(digits_task, digits_objectives,
                                                                       no_metrics):
    settings = {"space": LastLayerSpace(), "pop_size": 8, "n_gen": 4, "progress": False}
    runs = [EvolutionarySolver(algorithm="nsde", seed=seed, **settings) for seed in (1, 1, 2)]
    fronts = [s.run(digits_task, digits_objectives, evaluator=no_metrics) for s in runs]
    nsga2 = EvolutionarySolver(seed=1, **settings)
    plain = nsga2.run(digits_task, digits_objectives, evaluator=no_metrics)
    solver = runs[0]
    assert solver.name == "nsde-last-layer" and set(fronts[0].solver) == {"nsde-last-layer"}
    assert type(solver.algorithm_).__name__ == "NSGA2"  # NSGA-II's survival ...
    assert type(solver.algorithm_.mating.crossover) is SeededDEX  # ... with DE's variation
    assert type(nsga2.algorithm_.mating.crossover).__name__ == "SBX"
    assert solver.n_evaluated_ == nsga2.n_evaluated_ == 4 * 8
    hyper = fronts[0].provenance[0]["hyperparameters"]
    assert hyper["algorithm"] == "nsde" and "de_f" not in hyper  # de_f, de_cr recorded only when changed
    changed = EvolutionarySolver(algorithm="nsde", de_f=0.8, seed=1, **settings)
    assert changed.hyperparameters()["de_f"] == 0.8
    np.testing.assert_array_equal(fronts[0].F, fronts[1].F)
    assert not np.array_equal(fronts[0].F, fronts[2].F)
    assert not np.array_equal(fronts[0].F, plain.F)
    genomes = np.stack([fronts[0].arrays[spec["array"]] for spec in fronts[0].rebuild])
    assert np.abs(genomes).max() <= 1.0


@pytest.mark.parametrize("key, value, message", [
    ("de_f", 0.0, r"`de_f` \(DE's scale factor\) must be in \(0, 2\]"),
    ("de_f", 2.5, r"`de_f` \(DE's scale factor\) must be in \(0, 2\]"),
    ("de_cr", 1.5, r"`de_cr` \(DE's crossover rate\) must be in \[0, 1\]"),
    ("de_cr", "0.9", r"`de_cr` \(DE's crossover rate\) must be in \[0, 1\]"),
])
def test_bad_de_settings_are_refused(key, value, message, digits_task, digits_objectives, no_metrics):
    solver = EvolutionarySolver(space=LastLayerSpace(), algorithm="nsde", pop_size=4, n_gen=1,
                                progress=False, **{key: value})
    with pytest.raises(ConfigError, match=message):
        solver.run(digits_task, digits_objectives, evaluator=no_metrics)


def test_nsde_lora_act_is_registered_beside_nsga2_lora_act():
    name = f"nsde-{LoRAActivationSpace.name}"
    assert name in default_solvers() and REGISTRY[name].space == "lora-act"
    assert REGISTRY[name].fixed["algorithm"] == "nsde"
    for quick in (False, True):  # the same population and generations as the NSGA-II search of the genome
        settings = default_settings("digits", quick=quick)
        assert settings[name] == settings[f"nsga2-{LoRAActivationSpace.name}"]
