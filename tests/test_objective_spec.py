"""Objectives.spec() / objectives_from_spec: one record of the objectives that rebuilds them bit for bit,
the effective reference (class-wise ``heldout`` → ``heldout-marginal``), and the import structure of the
objectives package (no cycle, nothing from indicators or metrics)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import pareto_unlearn.objectives as objectives_package
from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.indicators import hv_reference_point, hv_reference_point_from_values
from pareto_unlearn.objectives import (
    REFERENCES,
    DistillRetain,
    ForgetKL,
    Objective,
    Objectives,
    PushPull,
    Reference,
    RetainCE,
    make_objectives,
    make_reference,
    objectives_from_spec,
    reference_label,
)

FAMILIES = {
    "forget_kl+retain_ce": ["forget_kl", "retain_ce"],
    "distillation": ["push_pull", "distill_retain"],
    "three": ["forget_kl", "retain_ce", "push_pull"],
    "more_references": ["forget_kl", "forget_kl:heldout", "forget_kl:uniform", "retain_ce", "distill_retain"],
}


def _json(spec):
    """What a run directory stores and reads back."""
    return json.loads(json.dumps(spec))


def _assert_same_values(task, a: Objectives, b: Objectives) -> None:
    assert a.names == b.names
    for model in (task.original, task.retrain):
        va, vb = a.evaluate(model, task), b.evaluate(model, task)
        assert va.tobytes() == vb.tobytes(), (va, vb)  # bit-identical, not approximately equal


@pytest.mark.parametrize("task_name", ["digits_task", "digits_class_task"])
@pytest.mark.parametrize("reference", REFERENCES)
@pytest.mark.parametrize("direction", ["model-ref", "ref-model"])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_spec_round_trips_bit_identically(request, task_name, reference, direction, family):
    task = request.getfixturevalue(task_name)
    objectives = make_objectives(task, reference=reference, kl_direction=direction, names=FAMILIES[family])
    spec = _json(objectives.spec())
    rebuilt = objectives_from_spec(task, spec)
    _assert_same_values(task, objectives, rebuilt)
    assert rebuilt.spec() == spec
    assert rebuilt.describe() == objectives.describe()
    assert spec["columns"] == list(objectives.names) and spec["rebuildable"]
    assert spec["names"] == FAMILIES[family]  # make_objectives' defaults: the names alone rebuild them
    # what older run directories stored still reads back to the same numbers
    _assert_same_values(task, objectives, objectives_from_spec(task, _json(objectives.describe())))
    legacy = {k: spec[k] for k in ("names", "reference", "kl_direction")}
    _assert_same_values(task, objectives, objectives_from_spec(task, legacy))


def test_class_wise_heldout_is_recorded_as_heldout_marginal(digits_class_task):
    task = digits_class_task
    objectives = make_objectives(task, reference="heldout",
                                 names=["forget_kl", "forget_kl:heldout", "retain_ce"])
    spec = objectives.spec()
    assert spec["reference"] == "heldout-marginal" and spec["reference_requested"] == "heldout"
    assert [e.get("reference") for e in spec["objectives"]] == ["heldout-marginal", "heldout-marginal", None]
    assert [e.get("reference_requested") for e in spec["objectives"]] == ["heldout", "heldout", None]
    assert objectives.reference_label == reference_label(objectives) == "heldout-marginal+heldout-marginal"
    assert objectives[0].reference.effective == "heldout-marginal"
    # the fallback is the marginal reference, bit for bit
    assert torch.equal(objectives[0].reference.table, make_reference("heldout-marginal", task).table)
    # describe() is unchanged (checkpoint fingerprints hash it): it says what was asked
    assert objectives.describe()[0]["reference"] == "heldout"


def test_random_forgetting_keeps_heldout(digits_task):
    objectives = make_objectives(digits_task, reference="heldout")
    assert objectives.spec()["reference"] == "heldout" and objectives.reference_label == "heldout"


def test_reference_label():
    uniform = ForgetKL(Reference("uniform", torch.full((3, 3), 1 / 3), 0.0))
    assert reference_label([RetainCE()]) == "none"
    assert reference_label([uniform, RetainCE()]) == "uniform"
    assert Objectives([uniform, RetainCE()]).reference_label == "uniform"


def test_push_pull_settings_round_trip(digits_task):
    task = digits_task
    objectives = Objectives([
        ForgetKL(make_reference("uniform", task)),
        RetainCE(),
        PushPull.from_task(task, top_k=8, push_k=2, push_weight=0.25),
        DistillRetain.from_task(task, top_k=4),
    ])
    spec = _json(objectives.spec())
    assert spec["names"] is None  # make_objectives cannot say K = 8 or w = 0.25
    push_pull = next(e for e in spec["objectives"] if e["kind"] == "push_pull")
    assert (push_pull["top_k"], push_pull["push_k"], push_pull["push_weight"]) == (8, 2, 0.25)
    rebuilt = objectives_from_spec(task, spec)
    assert (rebuilt[2]._pull.k, rebuilt[2].push_k, rebuilt[2].push_weight) == (8, 2, 0.25)
    assert rebuilt[3]._pull.k == 4
    _assert_same_values(task, objectives, rebuilt)
    # the defaults (what the LS-weights rebuild used to replay) give other numbers
    defaults = make_objectives(task, names=["forget_kl", "retain_ce", "push_pull", "distill_retain"])
    assert not np.array_equal(defaults.evaluate(task.retrain, task), objectives.evaluate(task.retrain, task))


def test_custom_names_round_trip(digits_task):
    task = digits_task
    objectives = Objectives([ForgetKL(make_reference("heldout", task), "ref-model", name="kl_h"),
                             RetainCE(name="ce"), PushPull.from_task(task, push_weight=0.0, name="pp")])
    spec = _json(objectives.spec())
    assert spec["names"] is None and spec["reference"] is None and spec["kl_direction"] == "ref-model"
    _assert_same_values(task, objectives, objectives_from_spec(task, spec))


def test_mixed_directions_have_no_make_objectives_call(digits_task):
    ref = make_reference("uniform", digits_task)
    objectives = Objectives([ForgetKL(ref), ForgetKL(ref, "ref-model", name="forget_kl_uniform")])
    spec = objectives.spec()
    assert spec["kl_direction"] is None and spec["names"] is None
    _assert_same_values(digits_task, objectives, objectives_from_spec(digits_task, _json(spec)))


def test_spec_of_another_task_is_refused(digits_task, digits_class_task):
    spec = _json(make_objectives(digits_class_task, reference="heldout", names=["forget_kl"]).spec())
    with pytest.raises(ConfigError, match="effective reference"):
        objectives_from_spec(digits_task, spec)
    spec = _json(make_objectives(digits_task, names=["push_pull"]).spec())
    with pytest.raises(ConfigError, match="teacher"):
        objectives_from_spec(digits_class_task, spec)


class _Custom(Objective):
    name, subset = "custom", "retain"

    def per_sample(self, logits, y):
        return logits.sum(-1)


def test_unknown_objectives_are_not_rebuildable(digits_task):
    spec = _json(Objectives([_Custom(), RetainCE()]).spec())
    assert not spec["rebuildable"] and spec["objectives"][0]["kind"] is None
    with pytest.raises(ConfigError, match="cannot be rebuilt"):
        objectives_from_spec(digits_task, spec)


@pytest.mark.parametrize("bad", ["forget_kl", 3, {"version": 1}, [["forget_kl"]], [{"subset": "forget"}]])
def test_malformed_specs_are_refused(digits_task, bad):
    with pytest.raises(ConfigError, match="objectives_from_spec"):
        objectives_from_spec(digits_task, bad)


def test_task_level_hv_reference_point(digits_task, digits_objectives):
    expected = hv_reference_point_from_values(digits_objectives.evaluate(digits_task.original, digits_task),
                                              digits_objectives.at_uniform_predictor(digits_task))
    assert hv_reference_point(digits_task, digits_objectives).tobytes() == expected.tobytes()
    assert hv_reference_point(digits_task, digits_objectives, 1.1) == pytest.approx(expected / 1.01 * 1.1)
    with pytest.raises(ConfigError, match="hv_reference_point_from_values"):
        hv_reference_point([0.9, 0.05], [0.0, 2.3])


def _package_imports(path: Path) -> list[tuple[str, bool]]:
    """(module, inside a function) for every pareto_unlearn import of a file."""
    tree = ast.parse(path.read_text())
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.ImportFrom) and (child.module or "").startswith("pareto_unlearn"):
                found.append((child.module, inner))
            elif isinstance(child, ast.Import):
                found.extend((a.name, inner) for a in child.names if a.name.startswith("pareto_unlearn"))
            visit(child, inner)

    visit(tree, False)
    return found


def test_objectives_import_no_indicator_no_metric_and_no_cycle():
    root = Path(objectives_package.__file__).parent
    for path in root.glob("*.py"):
        imports = _package_imports(path)
        if path.name == "__init__.py":  # only the temporary hv_reference_point forwarder may import lazily
            imports = [(m, f) for m, f in imports if not (f and m == "pareto_unlearn.indicators")]
        assert not any(in_function for _, in_function in imports), (path.name, imports)
        assert not any(m.startswith(("pareto_unlearn.indicators", "pareto_unlearn.metrics"))
                       for m, _ in imports), (path.name, imports)
    modules = {p.stem: {m for m, _ in _package_imports(p)} for p in root.glob("_*.py")}
    assert "pareto_unlearn.objectives._objectives" not in modules["_distill"]
    assert "pareto_unlearn.objectives._distill" in modules["_objectives"]
