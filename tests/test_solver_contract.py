"""One contract for every registered solver (scikit-learn's ``check_estimator`` idea), and the registry as
the only place that spells solver names."""

from __future__ import annotations

import ast
import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest

from pareto_unlearn import Front, rebuild_model
from pareto_unlearn._params import Configurable
from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.front import COST_NAMES, METRIC_NAMES
from pareto_unlearn.solvers import FAMILIES, REGISTRY, Solver, _names
from pareto_unlearn.solvers._registry import (
    baseline_candidates,
    baseline_grid,
    build_search,
    default_settings,
    sweep_units,
)

PACKAGE = Path(__file__).resolve().parents[1] / "pareto_unlearn"
NAMES = list(REGISTRY)
# tiny settings of each settings table, so that every registered solver runs in about a second
TINY = {
    "jd": {"lrs": [0.1], "epochs": 1},
    "ls": {"weights": [0.5, 0.2], "lr": 0.1, "epochs": 1},
    "nsga2-last-layer": {"pop_size": 6, "n_gen": 2},
    "nsga2-lora": {"pop_size": 6, "n_gen": 2},
    "nsga2-last-layer-svd": {"pop_size": 6, "n_gen": 2},
    "nsga2-lora-svd": {"pop_size": 6, "n_gen": 2},
    "nsga2-lora-act": {"pop_size": 6, "n_gen": 2},
    "nsde-lora-act": {"pop_size": 6, "n_gen": 2},
    "nsga2-ls-weights": {"pop_size": 3, "n_gen": 1, "max_epochs": 1},
    "nsga2-ls-warm": {"pop_size": 2, "n_offsprings": 1, "n_gen": 2, "max_epochs": 1,
                      "seed_sweep": {"weights": [0.5, 0.2], "lr": 0.1, "epochs": 1}},
}
TINY["sms-emoa-ls-warm"] = TINY["nsga2-ls-warm"]
for _space in ("last-layer", "lora"):
    TINY[f"ls-{_space}"] = {"weights": [0.5, 0.2], "lr": 0.1, "epochs": 4, "record_every": 2}
    TINY[f"jd-{_space}"] = {"lrs": [0.3], "epochs": 4, "record_every": 2, "pref_vectors": [None, [0.5, 0.5]]}


def _settings() -> dict:
    settings = default_settings("digits", quick=True)
    for table, values in TINY.items():
        settings[table] = {**settings[table], **values}
    return settings


def _solvers(name: str, seed: int = 0, seed_front: Front | None = None) -> list[Solver]:
    """What ``explore`` runs for ``name``, at tiny settings."""
    entry = REGISTRY[name]
    if entry.family == "evolutionary":
        return [build_search(name, _settings(), seed=seed, progress=False, batch_size=64,
                             seed_front=seed_front)]
    if entry.family == "gradient":
        return sweep_units(name, _settings(), seed=seed, batch_size=64)
    grid = {**baseline_grid(name, "digits"), "epochs": 1}
    return baseline_candidates(name, epochs=1, lr=grid["lr"][:1], alpha=grid["alpha"][:1], batch_size=64,
                               seed=seed)


@pytest.mark.parametrize("name", NAMES)
def test_registry_entry_builds_its_solver(name):
    entry = REGISTRY[name]
    assert entry.family in FAMILIES
    for solver in _solvers(name):
        assert isinstance(solver, entry.cls) and isinstance(solver, Solver)
        assert solver.name == name
        assert type(solver).family == (entry.family if entry.family != "baseline" else "baseline")
        # configuration comes back from the signature, and rebuilds an equal solver
        params = solver.get_params()
        assert set(params) == set(type(solver).param_names()) - {p for p in params if not hasattr(solver, p)}
        again = type(solver)(**params)
        assert again.name == solver.name and repr(again) == repr(solver)
        with pytest.raises(ConfigError, match="has no parameter"):
            solver.set_params(not_a_parameter=1)


@pytest.mark.parametrize("cls", sorted({e.cls for e in REGISTRY.values()}, key=lambda c: c.__name__))
def test_run_has_the_one_signature(cls):
    parameters = inspect.signature(cls.run).parameters
    assert list(parameters)[:3] == ["self", "task", "objectives"]
    keywords = {n for n, p in parameters.items() if p.kind is p.KEYWORD_ONLY}
    assert keywords == {"evaluator", "executor", "checkpoint", "progress"}


@pytest.mark.parametrize("name", NAMES)
def test_every_registered_solver_returns_a_front_that_rebuilds(name, digits_task, digits_objectives,
                                                             digits_evaluator):
    seed_front = None
    if REGISTRY[name].fixed.get("seeded"):  # a search that continues a sweep: run the sweep first
        seed_front = Front.concat([s.run(digits_task, digits_objectives, evaluator=digits_evaluator)
                                   for s in _solvers(REGISTRY[name].seeded_by)])
    try:
        fronts = [s.run(digits_task, digits_objectives, evaluator=digits_evaluator)
                  for s in _solvers(name, seed_front=seed_front)]
    except ConfigError as exc:  # an aggregator whose optional packages are missing: refused, one line
        assert "\n" not in str(exc) and "pip install" in str(exc)
        pytest.skip(str(exc))
    front = Front.concat(fronts)
    n, m = len(front), len(digits_objectives)
    assert n >= 1 and front.F.shape == (n, m)
    assert set(front.solver) == {name}
    assert np.isfinite(front.F).all()
    for key in METRIC_NAMES:
        assert np.isfinite(front.metrics[key]).all()
    for key in COST_NAMES:
        assert (np.asarray(front.cost[key]) >= 0).all()
    assert len(front.provenance) == len(front.rebuild) == n
    for record in front.provenance:
        assert {"space", "reference", "hyperparameters", "seed"} <= set(record)
    # one point per front rebuilds to its recorded objectives
    for part in fronts:
        model = rebuild_model(digits_task, part, len(part) - 1)
        np.testing.assert_allclose(digits_objectives.evaluate(model, digits_task), part.F[-1],
                                   rtol=1e-4, atol=1e-5)
    # same seed, same front
    again = Front.concat([s.run(digits_task, digits_objectives, evaluator=digits_evaluator)
                          for s in _solvers(name, seed_front=seed_front)])
    np.testing.assert_array_equal(again.F, front.F)


def _docstring_ids(tree: ast.AST) -> set[int]:
    """ids of the docstring constants (documentation may name solvers; code and messages may not)."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def _string_constants(path: Path):
    """(line, text) of every string constant outside docstrings, ``__all__`` lists and the keys of the
    package's ``_EXPORTS``, f-strings' literal parts included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _docstring_ids(tree)
    for node in ast.walk(tree):  # ``__all__`` lists name the classes (SalUn is both a class and a solver)
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
            skipped |= {id(c) for c in ast.walk(node.value)}
        # the package's lazy exports map those class names to their modules
        if (isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "_EXPORTS"
                and isinstance(node.value, ast.Dict)):
            skipped |= {id(k) for k in node.value.keys if k is not None}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skipped:
            yield node.lineno, node.value


# A registered name as a word of a string (not part of a longer name or identifier): "nsga2-lora: ..."
# in a message, "e.g. jd" in a help text, or the string "ls" itself.
_NAME_WORD = re.compile(r"(?<![\w.-])(" + "|".join(map(re.escape, sorted(REGISTRY, key=len, reverse=True)))
                        + r")(?![\w-])")
_VOCABULARY = {"LS_WARM_SPACE", "LS_WEIGHTS_SPACE"}  # with ALGORITHMS; "seeded" is also a parameter


def _spelled_names(path: Path) -> list[str]:
    """Registered solver names, and the words evolutionary names are made of, spelled in ``path``."""
    words = {getattr(_names, key) for key in _VOCABULARY if isinstance(getattr(_names, key), str)}
    words |= set(_names.ALGORITHMS)
    found = []
    for line, value in _string_constants(path):
        hits = [m.group(1) for m in _NAME_WORD.finditer(value)] + ([value] if value in words else [])
        found += [f"{path.name}:{line}: {hit!r} in {value[:60]!r}" for hit in hits]
    return found


def test_no_solver_name_is_spelled_outside_the_registry():
    registry = {PACKAGE / "solvers" / "_names.py", PACKAGE / "solvers" / "_registry.py"}
    found = [f"{path.parent.relative_to(PACKAGE.parent)}/{hit}" for path in sorted(PACKAGE.rglob("*.py"))
             if path not in registry for hit in _spelled_names(path)]
    assert not found, "solver names outside solvers/_names.py and the registry:\n" + "\n".join(found)


@pytest.mark.parametrize("code, expected", [
    ('def pick(name):\n    return name == "nsga2-lora"\n', ["nsga2-lora"]),
    ('def fail():\n    raise ValueError(f"nsga2-lora: {1} is wrong; try jd")\n', ["nsga2-lora", "jd"]),
    ('HELP = "the best gradient front (ls, jd-mgda)"\n', ["ls", "jd-mgda"]),
    ('ALGORITHM = "sms-emoa"\n', ["sms-emoa"]),
    ('"""Docs may say nsga2-lora."""\nX = "lsq jd_x nsga2-lora-x"\n', []),
])
def test_the_check_finds_a_name(tmp_path, code, expected):
    """The scan above can fail: names in comparisons, messages, help texts, the algorithm vocabulary."""
    module = tmp_path / "probe.py"
    module.write_text(code)
    found = [hit.split(": ", 1)[1].split(" in ")[0] for hit in _spelled_names(module)]
    assert found == [repr(e) for e in expected]


def test_every_registered_solver_has_tiny_settings_or_a_settings_table():
    """The contract runs every registered solver, those added later included, at small settings."""
    tables = _settings()
    for name, entry in REGISTRY.items():  # baselines take their grid from baseline_grid
        assert entry.family == "baseline" or entry.settings in tables, f"{name}: no settings table"
        grid = baseline_grid(name, "digits") if entry.family == "baseline" else {}
        assert entry.family != "baseline" or grid["lr"] or grid["alpha"], name  # IU's one setting is α


def test_unknown_solver_is_refused_with_the_closest_name():
    from pareto_unlearn.solvers import get_entry

    with pytest.raises(ConfigError, match="did you mean 'nsga2-lora'"):
        get_entry("nsga2-lorra")


def test_each_point_has_its_own_hyperparameters_record(digits_task, digits_objectives, digits_evaluator):
    """Provenance records are values: changing one point's never changes another's."""
    from pareto_unlearn.solvers import EvolutionarySolver, JacobianDescent
    from pareto_unlearn.spaces import LastLayerSpace

    for solver in (JacobianDescent(lr=0.1, epochs=2, seed=0, progress=False),
                   EvolutionarySolver(space=LastLayerSpace(), pop_size=4, n_gen=1, seed=0, progress=False)):
        front = solver.run(digits_task, digits_objectives, evaluator=digits_evaluator)
        assert len(front) >= 2
        front.provenance[0]["hyperparameters"]["lr"] = "changed"
        assert front.provenance[1]["hyperparameters"].get("lr") != "changed"


def test_load_config_refuses_unknown_solvers_and_settings(tmp_path):
    from pareto_unlearn.config import load_config

    cases = {
        'solvers = ["nsga2-lorra"]': "did you mean 'nsga2-lora'",
        '[explore.jd]\nlearning_rates = [0.1]': "unknown key 'learning_rates'",
        '[explore.nsga3-anything]\npop_size = 4': "is not a solver's settings table",
        '[explore.ls]\nweights = 0.5': "must be a list",
    }
    for i, (text, message) in enumerate(cases.items()):
        path = tmp_path / f"c{i}.toml"
        path.write_text(text + "\n")
        with pytest.raises(ConfigError, match=message):
            load_config(path)


def test_help_lists_every_registered_solver(capsys):
    from pareto_unlearn.cli import main

    for argv in (["--help"], ["explore", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        text = capsys.readouterr().out
        assert all(name in text for name in REGISTRY), argv


@pytest.mark.parametrize("name", NAMES)
def test_hyperparameters_come_from_the_constructor(name):
    """One mechanism (``Configurable.hyperparameters``): no class writes its own; the record is JSON, holds
    no run-time setting the class declares unrecorded, and follows a recorded parameter's change."""
    for solver in _solvers(name):
        cls = type(solver)
        space = getattr(solver, "space", None)
        for klass in [*cls.__mro__, *(type(space).__mro__ if space is not None else ())]:
            assert klass is Configurable or "hyperparameters" not in vars(klass), klass
        record = solver.hyperparameters()
        assert json.loads(json.dumps(record)) == record
        unrecorded = cls._declared("unrecorded")
        assert {"seed", "progress"} <= unrecorded and not unrecorded & set(record)
        key = next(k for k in ("epochs", "n_gen", "alpha") if k in record)
        changed = type(solver)(**{**solver.get_params(), key: record[key] + 1}).hyperparameters()
        assert changed == {**record, key: record[key] + 1}
