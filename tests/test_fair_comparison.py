"""Gradient and evolutionary solvers in the same search space: the same genome means the same point, every
point of every space rebuilds after a reload, gradient families only gain with budget, and a seeded search
continues its sweep at the sweep's cost."""

from __future__ import annotations

import numpy as np
import pytest

from pareto_unlearn import Front, rebuild_model
from pareto_unlearn.config import load_config
from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.experiments import explore
from pareto_unlearn.experiments._against_gradient import hv_within
from pareto_unlearn.indicators import hv_reference_point
from pareto_unlearn.solvers import (
    EvolutionaryLSWeights,
    EvolutionarySolver,
    JacobianDescent,
    LinearScalarization,
)
from pareto_unlearn.spaces import LastLayerSpace, LoRASpace

SPACES = [LastLayerSpace, LoRASpace]


@pytest.mark.parametrize("space", SPACES)
def test_the_same_genome_gives_the_same_objectives_to_both_families(space, digits_task, digits_objectives,
                                                                    digits_evaluator):
    solver = LinearScalarization(space=space(), weight=0.5, lr=0.3, epochs=6, record_every=3, progress=False)
    gradient = solver.run(digits_task, digits_objectives, evaluator=digits_evaluator)
    genome = gradient.arrays[gradient.rebuild[-1]["array"]]
    assert np.abs(genome).max() > 0  # it moved
    search = EvolutionarySolver(space=space(), initial=genome[None], pop_size=4, n_gen=1, progress=False)
    front = search.run(digits_task, digits_objectives, evaluator=digits_evaluator)
    rows = [i for i, spec in enumerate(front.rebuild) if np.array_equal(front.arrays[spec["array"]], genome)]
    assert rows, "the given genome is in the final population of a one-generation search"
    np.testing.assert_allclose(front.F[rows[0]], gradient.F[-1], rtol=0, atol=1e-5)
    assert front.rebuild[rows[0]]["kind"] == gradient.rebuild[-1]["kind"]


def test_every_point_of_every_space_rebuilds_after_a_reload(digits_task, digits_objectives, digits_evaluator,
                                                            tmp_path):
    run = {"progress": False}
    sweep = LinearScalarization(space=LastLayerSpace(), weight=0.5, lr=0.1, epochs=4, record_every=2, **run)
    parts = [
        sweep.run(digits_task, digits_objectives, evaluator=digits_evaluator),
        JacobianDescent(space=LoRASpace(), lr=0.3, epochs=4, record_every=2, **run).run(
            digits_task, digits_objectives, evaluator=digits_evaluator),
        JacobianDescent(lr=0.1, epochs=2, **run).run(
            digits_task, digits_objectives, evaluator=digits_evaluator),
        EvolutionarySolver(space=LastLayerSpace(), pop_size=4, n_gen=2, **run).run(
            digits_task, digits_objectives, evaluator=digits_evaluator),
        EvolutionarySolver(space=LoRASpace(), pop_size=4, n_gen=2, **run).run(
            digits_task, digits_objectives, evaluator=digits_evaluator),
        EvolutionaryLSWeights(pop_size=3, n_gen=1, max_epochs=1, **run).run(
            digits_task, digits_objectives, evaluator=digits_evaluator),
    ]
    Front.concat(parts).save(tmp_path / "front")
    loaded = Front.load(tmp_path / "front", digits_task)
    assert {p["space"] for p in loaded.provenance} == {"last-layer", "lora", "all-parameters", "ls-weights"}
    for i in range(len(loaded)):
        F = digits_objectives.evaluate(rebuild_model(None, loaded, i), digits_task)
        np.testing.assert_allclose(F, loaded.F[i], rtol=1e-4, atol=1e-5,
                                   err_msg=f"point {i} ({loaded.solver[i]})")


@pytest.fixture(scope="module")
def seeded_run(digits_task):
    cfg = load_config(None).merged({"task": "digits", "forget": "random:0.5",
                                    "solvers": ("ls-last-layer", "nsga2-last-layer-seeded", "jd")})
    return explore(cfg, quick=True, progress=False)


def test_a_gradient_family_only_gains_with_budget(seeded_run, digits_task, digits_objectives):
    front, ref = seeded_run.front, np.asarray(hv_reference_point(digits_task, digits_objectives))
    for name in ("ls-last-layer", "jd"):
        total = float(np.max(front.cost["wall_s"][front.solver == name]))
        budgets = np.linspace(0.0, 1.2 * total, 25)
        hv = [hv_within(front, name, b, "wall_s", ref) for b in budgets]
        assert np.all(np.diff(hv) >= -1e-12), name
        assert hv[-1] > hv[1], name  # and it gains something


def test_a_seeded_search_continues_its_sweep_at_the_sweeps_cost(seeded_run):
    front = seeded_run.front
    sweep, seeded = front.only("ls-last-layer"), front.only("nsga2-last-layer-seeded")
    swept = float(np.max(sweep.cost["wall_s"]))
    assert float(np.min(seeded.cost["wall_s"])) >= swept  # the sweep is paid before the search starts
    assert float(np.min(seeded.cost["forward_passes"])) >= float(np.max(sweep.cost["forward_passes"]))
    logs = [a for a in front.anytime if a["solver"] == "nsga2-last-layer-seeded"]
    assert [a["hv"] for a in logs[: len(sweep.anytime)]] == pytest.approx([a["hv"] for a in sweep.anytime])

def test_the_sweeps_non_dominated_genomes_open_the_population(seeded_run, digits_task, digits_objectives,
                                                              digits_evaluator):
    sweep = seeded_run.front.only("ls-last-layer")
    solver = EvolutionarySolver(space=LastLayerSpace(), seeded=True, seed_front=sweep, pop_size=8, n_gen=1,
                                progress=False)
    assert solver.name == "nsga2-last-layer-seeded"
    solver.run(digits_task, digits_objectives, evaluator=digits_evaluator)
    opened = {row.astype(np.float32).tobytes() for row in solver.initial_population_}
    nd = [sweep.arrays[sweep.rebuild[i]["array"]] for i in np.flatnonzero(sweep.nondominated())]
    assert sum(g.astype(np.float32).tobytes() in opened for g in nd) == min(len(nd), 8)


def test_a_seeded_search_needs_its_sweep_in_the_run():
    with pytest.raises(ConfigError, match="continues the ls-last-layer sweep"):
        load_config(None).merged({"task": "digits", "forget": "random:0.5",
                                  "solvers": ("nsga2-last-layer-seeded", "jd")})
    with pytest.raises(ConfigError, match="seed_front"):
        EvolutionarySolver(space=LastLayerSpace(), seeded=True, pop_size=4, n_gen=1).run(None, None)
