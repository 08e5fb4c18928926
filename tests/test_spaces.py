"""NSGA-II search spaces: populations evaluate like rebuilt models, runs are reproducible, θ0 stays put."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from pareto_unlearn import rebuild_model
from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.front import Front
from pareto_unlearn.indicators import hv_reference_point
from pareto_unlearn.metrics import MetricEvaluator
from pareto_unlearn.objectives import make_objectives
from pareto_unlearn.solvers.evolutionary import (
    EvolutionaryLSWarm,
    EvolutionaryLSWeights,
    EvolutionarySolver,
    bench,
    benchmark_last_layer,
    decode_genome,
    individual_seed,
    ls_finetune,
)
from pareto_unlearn.solvers.evolutionary._solver import PENALTY, rank_penalty
from pareto_unlearn.spaces import (
    REBUILDERS,
    LastLayerEvaluator,
    LastLayerSpace,
    LoRAEvaluator,
    LoRASpace,
    build_last_layer_model,
    count_macs,
    genome_from_model,
)
from pareto_unlearn.task import load_task, state_dict_hash

ATOL = 1e-5
TINY = {"pop_size": 12, "n_gen": 3, "progress": False}


class NoMetrics:
    """Stands in for MetricEvaluator where a test does not read metrics (skips the SVC fits)."""

    def from_predictions(self, pred) -> dict[str, float]:
        return {}


FAST = NoMetrics()


@pytest.fixture(scope="session")
def task(cache_dir):
    """Digits, the BatchNorm CNN, random 50 % forgetting, the default recipe (``cache_dir``: conftest's
    session folder, so other files that build this task reuse its training)."""
    return load_task("digits", forget="random:0.5", model="cnn", cache_dir=str(cache_dir), progress=False)


@pytest.fixture(scope="session")
def objectives(task):
    return make_objectives(task)


@pytest.fixture(scope="session")
def evaluator(task):
    return MetricEvaluator(task)


@pytest.fixture(scope="session")
def last_layer_front(task, objectives, evaluator):
    return EvolutionarySolver(space=LastLayerSpace(), seed=0, **TINY).run(
        task, objectives, evaluator=evaluator)


@pytest.fixture(scope="session")
def lora_front(task, objectives, evaluator):
    return EvolutionarySolver(space=LoRASpace(), seed=0, **TINY).run(task, objectives, evaluator=evaluator)


@pytest.fixture(scope="session")
def lora_conv_front(task, objectives, evaluator):
    solver = EvolutionarySolver(space=LoRASpace(layers=["conv2.0", "fc"]), seed=0, pop_size=6, n_gen=2,
                                progress=False)
    return solver.run(task, objectives, evaluator=evaluator)


LS_SETTINGS = {"pop_size": 4, "n_gen": 2, "max_epochs": 1, "progress": False}


@pytest.fixture(scope="session")
def ls_front(task, objectives, evaluator):
    return EvolutionaryLSWeights(seed=0, **LS_SETTINGS).run(task, objectives, evaluator=evaluator)


@pytest.fixture(scope="session")
def warm_front(task, objectives, evaluator):
    solver = EvolutionaryLSWarm(seed=0, **{**LS_SETTINGS, "n_gen": 3})
    return solver.run(task, objectives, evaluator=evaluator)


def test_warm_offspring_continue_from_survivors(warm_front, task, objectives, tmp_path):
    loaded = _reloaded(warm_front, task, tmp_path)
    for i in range(len(loaded)):  # the stored parameters are the point's model
        F = objectives.evaluate(rebuild_model(None, loaded, i), task)
        np.testing.assert_allclose(F, warm_front.F[i], atol=ATOL, rtol=0)
    solver = EvolutionaryLSWarm(seed=0, **{**LS_SETTINGS, "n_gen": 1})
    solver.run(task, objectives, evaluator=FAST)
    X0 = solver.initial_population_  # generation 1: an LS sweep over w at the largest lr
    np.testing.assert_allclose(X0[:, 0], [0.125, 0.375, 0.625, 0.875])
    assert (X0[:, 1] == solver.lr_bounds[1]).all()
    later = [i for i, p in enumerate(warm_front.provenance) if p["generation"] >= 2]
    assert later, "no offspring survived; the test needs a later generation"
    for i in later:  # the same genome and seed from θ0 gives another point: it started from a survivor
        genome = warm_front.arrays[f"ls-warm.g{i}"]
        cold = ls_finetune(task, objectives, genome, individual_seed(0, genome), max_epochs=1)
        assert not np.allclose(cold.F, warm_front.F[i])


def _reloaded(front: Front, task, tmp_path) -> Front:
    front.save(tmp_path / "front")
    return Front.load(tmp_path / "front", task)


# ---------------------------------------------------------------------------------- rebuild = population
@pytest.mark.parametrize("name", ["last_layer_front", "lora_front", "lora_conv_front"])
def test_population_matches_rebuilt_model(name, request, task, objectives, tmp_path):
    front = request.getfixturevalue(name)
    loaded = _reloaded(front, task, tmp_path)
    for i in (0, 1, len(loaded) - 1):
        model = rebuild_model(None, loaded, i)
        assert isinstance(model, torch.nn.Module) and not model.training
        np.testing.assert_allclose(objectives.evaluate(model, task), front.F[i], atol=ATOL, rtol=0)


def test_lora_paths(lora_front, lora_conv_front):
    assert lora_front.rebuild[0]["layers"] == ["fc1.0", "fc"]
    assert lora_conv_front.rebuild[0]["layers"] == ["conv2.0", "fc"]


def test_lora_fast_and_vmap_agree(task, objectives):
    fast = LoRAEvaluator(task, objectives)
    assert fast.fast_path
    X = np.random.default_rng(0).uniform(-1, 1, size=(5, fast.n_var))
    slow = LoRAEvaluator(task, objectives)
    slow.fast_path = False
    np.testing.assert_allclose(fast.evaluate(X), slow.evaluate(X), atol=ATOL, rtol=0)


def test_ls_weights_model_reproduces_its_point(ls_front, task, objectives, tmp_path):
    loaded = _reloaded(ls_front, task, tmp_path)
    for i in (0, len(loaded) - 1):
        F = objectives.evaluate(rebuild_model(None, loaded, i), task)
        np.testing.assert_allclose(F, ls_front.F[i], atol=ATOL, rtol=0)


@pytest.mark.parametrize("reference", ["uniform", "heldout"])
@pytest.mark.parametrize("direction", ["model-ref", "ref-model"])
def test_fused_last_layer_equals_plain_path(task, reference, direction):
    objectives = make_objectives(task, reference=reference, kl_direction=direction)
    ev = LastLayerEvaluator(task, objectives)
    assert ev.plan_ is not None
    X = np.random.default_rng(1).uniform(-1, 1, size=(30, ev.n_var))
    np.testing.assert_allclose(ev.evaluate(X), ev.evaluate_generic(X), atol=ATOL, rtol=1e-6)
    huge = X * 50  # past the bounds: logits far from θ0's, the exact max-shift path
    np.testing.assert_allclose(ev.evaluate(huge), ev.evaluate_generic(huge), rtol=1e-5, atol=1e-3)


def test_population_evaluation_equals_elementwise_models(task, objectives):
    ev = LastLayerEvaluator(task, objectives)
    X = np.random.default_rng(2).uniform(-1, 1, size=(3, ev.n_var))
    F = ev.evaluate(X)
    for i in range(3):
        model = build_last_layer_model(task, X[i], layer=ev.layer_name, unit=ev.unit)
        np.testing.assert_allclose(objectives.evaluate(model, task), F[i], atol=ATOL, rtol=0)


# ---------------------------------------------------------------------------------- reproducibility
@pytest.mark.parametrize("space", [LastLayerSpace, LoRASpace])
def test_same_seed_same_front(space, task, objectives):
    def cls(**kwargs):
        return EvolutionarySolver(space=space(), **kwargs)

    a = cls(seed=3, **TINY).run(task, objectives, evaluator=FAST)
    b = cls(seed=3, **TINY).run(task, objectives, evaluator=FAST)
    c = cls(seed=4, **TINY).run(task, objectives, evaluator=FAST)
    np.testing.assert_array_equal(a.F, b.F)
    assert all(np.array_equal(a.arrays[k], b.arrays[k]) for k in a.arrays)
    assert not np.array_equal(a.F, c.F)


def test_ls_weights_same_seed_same_front(ls_front, task, objectives):
    again = EvolutionaryLSWeights(seed=0, **LS_SETTINGS).run(task, objectives, evaluator=FAST)
    np.testing.assert_array_equal(again.F, ls_front.F)


def test_second_run_starts_clean(task, objectives):
    solver = EvolutionarySolver(space=LastLayerSpace(), seed=0, **TINY)
    first = solver.run(task, objectives, evaluator=FAST)
    second = solver.run(task, objectives, evaluator=FAST)
    np.testing.assert_array_equal(first.F, second.F)


def test_theta0_untouched(task, last_layer_front, lora_front, lora_conv_front, ls_front):
    assert state_dict_hash(task.original) == task.theta0_hash
    for front in (last_layer_front, lora_front, ls_front):
        rebuild_model(None, front, 0)
    assert state_dict_hash(task.original) == task.theta0_hash


# ---------------------------------------------------------------------------------- initial population
def test_initial_population_distinct_and_has_user_rows(task, objectives):
    moved = build_last_layer_model(task, np.full(650, 0.2), layer="fc", unit=LastLayerEvaluator(
        task, objectives).unit)
    user = np.stack([genome_from_model(task, moved), np.linspace(-0.5, 0.5, 650)])
    np.testing.assert_allclose(user[0], 0.2, atol=1e-5)
    solver = EvolutionarySolver(space=LastLayerSpace(), seed=0, initial=user, **TINY)
    solver.run(task, objectives, evaluator=FAST)
    X0 = solver.initial_population_
    assert X0.shape == (TINY["pop_size"], 650)
    assert len(np.unique(X0, axis=0)) == len(X0)
    np.testing.assert_array_equal(X0[:2], user)
    assert (np.abs(X0) <= 1).all()


def test_lora_initial_deltas_not_all_zero(task, objectives):
    solver = EvolutionarySolver(space=LoRASpace(), seed=0, **TINY)
    solver.run(task, objectives, evaluator=FAST)
    X0 = solver.initial_population_
    assert len(np.unique(X0, axis=0)) == len(X0)
    deltas = [torch.bmm(B, A) for A, B in solver.evaluator_.factors(X0).values()]
    nonzero = [bool(d[i].abs().max() > 0) for d in deltas for i in range(len(X0))]
    assert sum(nonzero) >= len(deltas) * (len(X0) - 1)  # every row but θ0's moves every layer


def test_ls_weights_initial_rows(task, objectives):
    user = np.array([[0.5, -2.0, 1.0], [0.9, -1.5, 1.0]])
    solver = EvolutionaryLSWeights(seed=1, initial=user, pop_size=3, n_gen=1, max_epochs=1, progress=False)
    front = solver.run(task, objectives, evaluator=FAST)
    np.testing.assert_array_equal(solver.initial_population_[:2], user)
    assert len(front) == 3 and decode_genome(user[0], max_epochs=1) == (0.5, 0.01, 1)


def test_initial_rows_are_checked(task, objectives):
    with pytest.raises(ConfigError, match="initial"):
        EvolutionarySolver(space=LastLayerSpace(), initial=np.zeros((2, 7)), **TINY).run(task, objectives)
    with pytest.raises(ConfigError, match="duplicate"):
        EvolutionarySolver(space=LastLayerSpace(), initial=np.zeros((2, 650)), **TINY).run(task, objectives)


# ---------------------------------------------------------------------------------- NaN / inf
def test_nan_objectives_are_infeasible_and_do_not_stop_the_run(task, objectives, monkeypatch, caplog):
    monkeypatch.setattr(LastLayerEvaluator, "evaluate", lambda self, X: np.full((len(X), 2), np.nan))
    with caplog.at_level(logging.WARNING, logger="pareto_unlearn.solvers.evolutionary._solver"):
        front = EvolutionarySolver(space=LastLayerSpace(), seed=0, **TINY).run(
            task, objectives, evaluator=FAST)
    assert len(front.anytime) == TINY["n_gen"]
    assert np.isnan(front.F).all() and not front.feasible.any() and not front.nondominated().any()
    assert all(row["hv"] == 0.0 for row in front.anytime)
    assert "NaN or inf" in caplog.text


def test_some_nan_objectives(task, objectives, monkeypatch):
    original = LastLayerEvaluator.evaluate

    def half_nan(self, X):
        F = original(self, X)
        F[np.asarray(X)[:, 0] > 0, 0] = np.inf
        return F

    monkeypatch.setattr(LastLayerEvaluator, "evaluate", half_nan)
    front = EvolutionarySolver(space=LastLayerSpace(), seed=0, **TINY).run(task, objectives, evaluator=FAST)
    assert len(front.anytime) == TINY["n_gen"] and front.feasible.any()
    X = np.stack([front.arrays[spec["array"]] for spec in front.rebuild])
    np.testing.assert_array_equal(front.feasible, X[:, 0] <= 0)
    assert not (front.F == PENALTY).any()


def test_rank_penalty():
    F, n_bad = rank_penalty(np.array([[1.0, np.nan], [2.0, 3.0], [np.inf, 0.0]]))
    assert n_bad == 2 and F[0, 1] == PENALTY and F[2, 0] == PENALTY and F[1].tolist() == [2.0, 3.0]


# ---------------------------------------------------------------------------------- the Front
@pytest.mark.parametrize("name, solver, space, kind", [
    ("last_layer_front", "nsga2-last-layer", "last-layer", "last_layer"),
    ("lora_front", "nsga2-lora", "lora", "lora"),
    ("ls_front", "nsga2-ls-weights", "ls-weights", "ls_finetune"),
    ("warm_front", "nsga2-ls-warm", "ls-warm", "params"),
])
def test_front_contents(name, solver, space, kind, request):
    front = request.getfixturevalue(name)
    n_gen = {"ls_front": LS_SETTINGS["n_gen"], "warm_front": 3}.get(name, TINY["n_gen"])
    assert front.solvers == [solver] and len(front) >= 2
    assert {p["space"] for p in front.provenance} == {space}
    for p in front.provenance:
        assert {"reference", "hyperparameters", "seed", "generation"} <= set(p)
        assert 1 <= p["generation"] <= n_gen
    for spec in front.rebuild:
        assert spec["kind"] == kind and front.arrays[spec["array"]].dtype == np.float32
    for key in ("UA", "RA", "TA", "MIA", "gap"):
        assert np.isfinite(front.metrics[key]).all()
    assert (front.cost["wall_s"] > 0).all() and (front.cost["forward_passes"] > 0).all()
    whole = [row for row in front.anytime if not row.get("partial")]  # partial: within a generation
    assert [row["generation"] for row in whole] == list(range(1, n_gen + 1))
    anytime_keys = {"solver", "generation", "wall_s", "forward_passes", "backward_passes", "hv", "hv_utility"}
    assert all(anytime_keys <= set(row) for row in front.anytime)
    assert all(0 <= row["hv_utility"] <= row["hv"] for row in front.anytime)
    walls = [row["wall_s"] for row in front.anytime]
    assert walls == sorted(walls) and front.anytime[-1]["wall_s"] <= front.cost["wall_s"][0]
    assert front.task is not None and kind in REBUILDERS


def test_cached_suffix_counts_as_its_flop_share(task, objectives, last_layer_front):
    ev = LastLayerEvaluator(task, objectives)
    macs = count_macs(task.original, task.forget.x)
    assert ev.suffix_fraction_ == pytest.approx(macs["fc"] / sum(macs.values()))
    assert 0 < ev.suffix_fraction_ < 0.01
    pop, n_gen = TINY["pop_size"], TINY["n_gen"]
    n_eval = last_layer_front.cost["forward_passes"][0] - ev.n_rows
    assert 0 < n_eval <= pop * n_gen * ev.n_rows * ev.suffix_fraction_ + 1e-6


def test_bad_settings_are_refused(task, objectives):
    with pytest.raises(ConfigError, match="pop_size"):
        EvolutionarySolver(space=LastLayerSpace(), pop_size=1).run(task, objectives)
    with pytest.raises(ConfigError, match="scale"):
        EvolutionarySolver(space=LastLayerSpace(scale=0.0)).run(task, objectives)
    with pytest.raises(ConfigError, match="rank"):
        EvolutionarySolver(space=LoRASpace(rank=0)).run(task, objectives)
    with pytest.raises(ConfigError, match="layers"):
        EvolutionarySolver(space=LoRASpace(layers=["flatten"]), **TINY).run(task, objectives)
    with pytest.raises(ConfigError, match="lr_bounds"):
        EvolutionaryLSWeights(lr_bounds=(-1.0, -3.0)).run(task, objectives)
    with pytest.raises(ConfigError, match="ref_point"):
        EvolutionarySolver(space=LastLayerSpace(), **TINY, ref_point=[1.0]).run(task, objectives)
    with pytest.raises(TypeError):
        EvolutionarySolver(space=LastLayerSpace(), popsize=10)


def test_individual_seed_depends_on_genome_and_seed():
    g = np.array([0.5, -2.0, 3.0])
    assert individual_seed(0, g) == individual_seed(0, g.astype(np.float32))
    assert individual_seed(0, g) != individual_seed(1, g)
    assert individual_seed(0, g) != individual_seed(0, g + [0.0, 0.0, 1.0])


def test_silent_without_progress(task, objectives, capsys):
    EvolutionarySolver(space=LastLayerSpace(), seed=0, **TINY).run(task, objectives, evaluator=FAST)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


@pytest.mark.slow  # about 30 s: torch.compile's first compilation
def test_compiled_fused_path_matches_eager(task, objectives):
    eager = LastLayerEvaluator(task, objectives)
    compiled = LastLayerEvaluator(task, objectives, compile=True)  # falls back to eager without a compiler
    X = np.random.default_rng(3).uniform(-1, 1, size=(24, eager.n_var))
    np.testing.assert_allclose(compiled.evaluate(X), eager.evaluate(X), atol=ATOL, rtol=1e-6)


def test_benchmark_helpers_run(task, objectives):
    result = benchmark_last_layer(task, objectives, pop_size=3, repeats=1)
    assert result["max_abs_diff"] < ATOL
    keys = {"vectorised_s", "gemm_s", "elementwise_s", "speedup_vs_elementwise", "vectorised_over_gemm"}
    assert keys <= set(result)
    ratios = bench(task, repeat=1, pop_size=3)
    assert set(ratios) == {"vectorized_vs_elementwise", "eval_vs_gemm"}
    assert all({"ratio", "numerator_ms", "denominator_ms", "goal"} <= set(r) for r in ratios.values())


def test_global_random_state_untouched(task, objectives):
    torch_state, numpy_state = torch.random.get_rng_state(), np.random.get_state()
    EvolutionarySolver(space=LoRASpace(), seed=0, **TINY).run(task, objectives, evaluator=FAST)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state(), numpy_state, strict=True))


def test_warm_front_is_the_archive_of_nondominated_individuals(task, objectives):
    from pareto_unlearn.indicators import hypervolume

    settings = {**LS_SETTINGS, "n_gen": 3}
    archived = EvolutionaryLSWarm(seed=0, **settings).run(task, objectives, evaluator=FAST)
    population = EvolutionaryLSWarm(seed=0, archive=False, **settings).run(task, objectives, evaluator=FAST)
    hv = np.array([a["hv"] for a in archived.anytime])  # every row, within and after each generation
    assert (np.diff(hv) >= -1e-12).all(), "an archive never loses HV, so neither may its anytime log"
    assert len(population) == settings["pop_size"]
    assert archived.nondominated().all()  # only non-dominated individuals are kept
    for f in population.F:  # the search is the same: no final individual dominates an archived one
        assert not any((f <= a).all() and (f < a).any() for a in archived.F)
    ref = np.asarray(hv_reference_point(task, objectives))
    assert hypervolume(archived.F, ref) >= hypervolume(population.F[population.nondominated()], ref)


def test_warm_seed_sweep_is_the_ls_sweep_then_n_offsprings_a_generation(task, objectives):
    """Generation 1 with ``seed_sweep`` holds exactly the points of LinearScalarization with the sweep's
    settings and the run seed (the ls sweep explore runs); later generations evaluate ``n_offsprings``."""
    from pareto_unlearn.solvers import LinearScalarization

    sweep = {"weights": [0.3, 0.8], "lr": 0.05, "epochs": 2}
    settings = {"seed": 3, "pop_size": 3, "max_epochs": 1, "seed_sweep": sweep, "progress": False}
    first = EvolutionaryLSWarm(n_gen=1, archive=False, **settings)
    front = first.run(task, objectives, evaluator=FAST)
    for i, w in enumerate(sweep["weights"]):
        np.testing.assert_allclose(front.arrays[f"ls-warm.g{i}"], [w, np.log10(0.05), 1.0], rtol=1e-6)
        point = LinearScalarization(weight=w, lr=0.05, epochs=2, seed=3, record="last", progress=False).run(
            task, objectives, evaluator=FAST)
        np.testing.assert_allclose(front.F[i], point.F[0], rtol=1e-6, atol=1e-8)
    assert front.provenance[0]["hyperparameters"]["seed_sweep"] == sweep
    solver = EvolutionaryLSWarm(n_gen=3, n_offsprings=2, **settings)
    solver.run(task, objectives, evaluator=FAST)
    assert solver.n_evaluated_ == 3 + 2 * 2
    assert [a["generation"] for a in solver.anytime_ if not a.get("partial")] == [1, 2, 3]


def _ls_sweep(task, objectives, weights, *, lr=0.05, epochs=2, seed=3):
    """The ls sweep as explore holds it: one LS point per weight, costs chained."""
    from pareto_unlearn.experiments._explore import _sweep_front
    from pareto_unlearn.solvers import LinearScalarization

    points = [LinearScalarization(weight=w, lr=lr, epochs=epochs, seed=seed, record="last", progress=False)
              .run(task, objectives, evaluator=FAST) for w in weights]
    return _sweep_front("ls", points, hv_reference_point(task, objectives))


def test_warm_seed_front_continues_the_sweep_that_ran(task, objectives):
    """``seed_front``: generation 1 takes the sweep's points at their recorded cost. The front is the one
    running the sweep again gives, and the anytime log starts exactly as the sweep's own."""
    sweep = {"weights": [0.3, 0.8], "lr": 0.05, "epochs": 2}
    ls = _ls_sweep(task, objectives, sweep["weights"])
    settings = {"seed": 3, "pop_size": 3, "n_gen": 2, "n_offsprings": 2, "max_epochs": 1,
                "seed_sweep": sweep, "progress": False}
    again = EvolutionaryLSWarm(**settings).run(task, objectives, evaluator=FAST)
    solver = EvolutionaryLSWarm(**settings, seed_front=ls)
    continued = solver.run(task, objectives, evaluator=FAST)
    np.testing.assert_allclose(continued.F, again.F, rtol=1e-5, atol=1e-7)
    assert solver.n_evaluated_ == 3 + 2  # the third row of generation 1 is fine-tuned here, as before
    keys = ("wall_s", "forward_passes", "backward_passes")
    assert [[row[k] for k in keys] for row in continued.anytime[:2]] == [[row[k] for k in keys]
                                                                         for row in ls.anytime]
    assert [row["hv"] for row in continued.anytime[:2]] == pytest.approx([row["hv"] for row in ls.anytime])
    # the sweep's passes are charged once, as when the search runs it itself
    assert continued.cost["forward_passes"][0] == again.cost["forward_passes"][0]
    assert continued.cost["wall_s"][0] >= ls.cost["wall_s"][-1]
    assert {p["seed_sweep_from"] for p in continued.provenance} == {"seed_front"}
    assert "seed_sweep_from" not in again.provenance[0]


def test_warm_seed_front_must_be_the_seed_sweep(task, objectives):
    sweep = {"weights": [0.3, 0.8], "lr": 0.05, "epochs": 2}
    ls = _ls_sweep(task, objectives, sweep["weights"], epochs=1)
    settings = {"seed": 3, "pop_size": 3, "n_gen": 1, "max_epochs": 1, "progress": False}
    with pytest.raises(ConfigError, match="point 0 of `seed_front` is not the seed sweep's"):
        EvolutionaryLSWarm(seed_sweep=sweep, seed_front=ls, **settings).run(task, objectives, evaluator=FAST)
    with pytest.raises(ConfigError, match="one point per seed weight \\(3\\)"):
        EvolutionaryLSWarm(seed_sweep={**sweep, "weights": [0.3, 0.8, 0.5]}, seed_front=ls, **settings).run(
            task, objectives, evaluator=FAST)
    with pytest.raises(ConfigError, match="set `seed_sweep`"):
        EvolutionaryLSWarm(**settings, seed_front=ls).run(task, objectives, evaluator=FAST)


@pytest.mark.parametrize("sweep, message", [
    ({"weights": [0.2, 0.2], "lr": 0.1, "epochs": 1}, "distinct numbers in \\[0, 1\\]"),
    ({"weights": [0.2, 1.5], "lr": 0.1, "epochs": 1}, "distinct numbers in \\[0, 1\\]"),
    ({"weights": [0.1, 0.2, 0.3, 0.4, 0.5], "lr": 0.1, "epochs": 1}, "5 weights but pop_size is 4"),
    ({"weights": [0.2], "lr": -1, "epochs": 1}, "seed_sweep\\['lr'\\]` must be a finite number > 0"),
    ({"weights": [0.2], "lr": 0.1, "epochs": 0}, "seed_sweep\\['epochs'\\]` must be an integer >= 1"),
    ({"weights": [0.2], "lr": 0.1}, "exactly the keys"),
])
def test_warm_seed_sweep_rejects_bad_settings(task, objectives, sweep, message):
    with pytest.raises(ConfigError, match=message):
        solver = EvolutionaryLSWarm(pop_size=4, n_gen=1, seed_sweep=sweep, progress=False)
        solver.run(task, objectives, evaluator=FAST)


def test_n_offsprings_must_be_a_positive_integer(task, objectives):
    with pytest.raises(ConfigError, match="`n_offsprings` must be an integer >= 1"):
        EvolutionarySolver(space=LastLayerSpace(), n_offsprings=0, **TINY).run(
            task, objectives, evaluator=FAST)


def test_sms_emoa_runs_the_same_space_under_its_own_name(task, objectives):
    """algorithm="sms-emoa": pymoo's SMS-EMOA survival, the same budget, a front named for it."""
    settings = {**LS_SETTINGS, "n_gen": 3, "seed": 0}
    sms = EvolutionaryLSWarm(algorithm="sms-emoa", **settings)
    front = sms.run(task, objectives, evaluator=FAST)
    nsga2 = EvolutionaryLSWarm(**settings)
    nsga2.run(task, objectives, evaluator=FAST)
    assert sms.name == "sms-emoa-ls-warm" and set(front.solver) == {"sms-emoa-ls-warm"}
    assert front.provenance[0]["hyperparameters"]["algorithm"] == "sms-emoa"
    assert sms.n_evaluated_ == nsga2.n_evaluated_ == 3 * settings["pop_size"]
    assert type(sms.algorithm_).__name__ == "SMSEMOA" and type(nsga2.algorithm_).__name__ == "NSGA2"
    with pytest.raises(ConfigError, match="`algorithm` must be one of nsga2, sms-emoa, moead"):
        EvolutionaryLSWarm(algorithm="moea/d", **settings).run(task, objectives, evaluator=FAST)


def test_moead_makes_one_offspring_per_subproblem_a_generation(task, objectives):
    """algorithm="moead": pymoo's MOEA/D, whose next() evaluates one offspring; a generation is still
    pop_size offspring, logged once, and the archive's anytime HV never drops within it."""
    settings = {**LS_SETTINGS, "n_gen": 3, "seed": 0}
    moead = EvolutionaryLSWarm(algorithm="moead", **settings)
    front = moead.run(task, objectives, evaluator=FAST)
    assert moead.name == "moead-ls-warm" and set(front.solver) == {"moead-ls-warm"}
    assert type(moead.algorithm_).__name__ == "MOEAD"
    assert moead.n_evaluated_ == 3 * settings["pop_size"]
    assert [a["generation"] for a in moead.anytime_ if not a.get("partial")] == [1, 2, 3]
    hv = np.array([a["hv"] for a in moead.anytime_])
    assert (np.diff(hv) >= -1e-12).all()
    with pytest.raises(ConfigError, match="MOEA/D makes one offspring per subproblem"):
        EvolutionaryLSWarm(algorithm="moead", n_offsprings=2, **settings).run(
            task, objectives, evaluator=FAST)
