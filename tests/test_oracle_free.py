"""The oracle-free rule on real digits models (SPEC §6): it never reads Retrain or the test set, `select`
says how sure it is, and the study script runs end to end in its quick mode."""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pareto_unlearn.cli import main
from pareto_unlearn.front import Front
from pareto_unlearn.metrics import MetricEvaluator, is_sample_column
from pareto_unlearn.selection import OracleFree, OracleFreeData, estimate_gaps
from pareto_unlearn.task import Subset

STUDY = Path(__file__).resolve().parents[1] / "scripts" / "oracle_free_study.py"


def _models(task, scales=(0.0, 0.3, 1.0, 3.0)) -> list[torch.nn.Module]:
    """θ0 and copies whose last layer is perturbed more and more (seeded)."""
    generator = torch.Generator().manual_seed(0)
    models = []
    for scale in scales:
        model = task.copy_original()
        with torch.no_grad():
            last = [p for p in model.parameters() if p.ndim == 2][-1]
            last.add_(scale * last.std() * torch.randn(last.shape, generator=generator))
        models.append(model.eval())
    return models


def _front(task, evaluator, objectives, models) -> Front:
    rows = [evaluator(m) for m in models]
    keys = sorted(rows[0])
    solver = np.array(["Original"] + ["perturbed"] * (len(models) - 1), dtype=object)
    return Front(objectives.names, np.array([objectives.evaluate(m, task) for m in models]), solver,
                 metrics={k: [r[k] for r in rows] for k in keys})


def test_rule_never_reads_retrain_or_test_data(digits_task, digits_evaluator, digits_objectives):
    """The same models scored on a task whose Retrain and test set are garbage: same pick, same table."""
    task = digits_task
    spoiled = copy.copy(task)
    generator = torch.Generator().manual_seed(1)
    spoiled.test = Subset(torch.randn(task.test.x.shape, generator=generator),
                          torch.randint(0, task.n_classes, (len(task.test),), generator=generator))
    spoiled.retrain = _models(task, scales=(50.0,))[0]
    models = _models(task)
    clean = _front(task, digits_evaluator, digits_objectives, models)
    dirty = _front(spoiled, MetricEvaluator(spoiled), digits_objectives, models)
    assert not np.allclose(clean.metrics["gap"], dirty.metrics["gap"])  # the garbage did reach the metrics
    assert not np.allclose(clean.metrics["TA"], dirty.metrics["TA"])
    samples = [k for k in clean.metrics if is_sample_column(k)]
    assert samples and all(np.array_equal(clean.metrics[k], dirty.metrics[k]) for k in samples)
    rule = OracleFree.for_task(task)
    assert rule(clean) == rule(dirty)
    assert rule.explain(clean).equals(rule.explain(dirty))
    # the heavily perturbed model lost its utility: far from the estimate of Retrain, never the pick
    assert rule(clean) != 3
    assert rule.explain(clean).set_index("index").loc[3, "predicted_gap"] > rule.choose(clean).gap


def test_candidates_are_exact_on_d_f_and_their_terms_reported(digits_task, digits_evaluator,
                                                             digits_objectives):
    """D_f is never resampled: each candidate's UA and M̃IA are one number on every replicate, and its UA
    is the UA the front records (exact, as the true gap's); select's report carries every term."""
    front = _front(digits_task, digits_evaluator, digits_objectives, _models(digits_task))
    rule = OracleFree.for_task(digits_task)
    est = estimate_gaps(OracleFreeData.from_front(front, rule.kind), n_boot=rule.n_boot, seed=rule.seed)
    assert est.replicates.shape == (400, len(front))
    for term in ("UA", "MIA"):
        assert np.ptp(est.candidate[term], axis=0).max() == 0.0
    np.testing.assert_allclose(est.candidate["UA"][0], front.metrics["UA"], atol=1e-9)
    pick = rule.choose(front)
    assert set(pick.terms) == {"UA", "RA", "TA", "MIA"} and pick.n_boot == 400
    assert pick.low <= pick.high
    assert all(t["low"] <= t["gap"] <= t["high"] + 1e-9 for t in pick.terms.values())
    # D_h is all of the held-out data: D_h,sel and D_h,ref
    n_heldout = len(digits_task.heldout_selection) + len(digits_task.heldout_reference)
    assert int(front.metrics["ofs.n_heldout"][0]) == n_heldout


def _load_study():
    spec = importlib.util.spec_from_file_location("oracle_free_study", STUDY)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_study_quick_mode_and_select_prints_how_sure_it_is(tmp_path, cache_dir, capsys):
    study = _load_study()
    md = tmp_path / "oracle_free.md"
    outcome = study.main(["--quick", "--forget", "random:0.5", "--seeds", "0", "--work", str(tmp_path / "w"),
                          "--md", str(md), "--cache-dir", str(cache_dir)])
    runs = outcome["runs"]
    assert len(runs) == 1 and runs["pick_gap"].notna().all()
    assert outcome["tables"] == {}  # the table's best row is the class-wise goal's yardstick
    assert 0.0 <= outcome["coverage"] <= 1.0 and outcome["median_half_width"] >= 0.0
    assert set(outcome["calibration"]) == {0.5, 0.8, 0.9, 0.95}
    held = [runs[f"held_{p}"].iloc[0] for p in (50, 80, 90, 95)]
    assert held == sorted(held)  # a wider interval holds whatever a narrower one holds
    text = md.read_text()
    assert "| digits | mlp | random:0.5 | 0 |" in text and "--quick" in text and "## Goals (issue 24)" in text
    assert "## Calibration" in text and "| MIA | random |" in text
    # the CLI on the study's run: two lines of certainty after the chosen point
    capsys.readouterr()
    run_dir = tmp_path / "w" / "explore-digits-mlp-random05-seed0"
    assert main(["select", str(run_dir), "--method", "oracle-free", "--cache-dir", str(cache_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("chosen: solver ")
    assert lines[2].startswith("predicted gap to Retrain ") and "90 % interval" in lines[2]
    assert ("band of " in lines[3]) or ("indistinguishable from unseen data" in lines[3])
    assert f"{runs['predicted'].iloc[0]:.2f}" in lines[2]


@pytest.mark.parametrize("method", ["knee"])
def test_select_prints_no_certainty_for_other_rules(tmp_path, cache_dir, capsys, method):
    study = _load_study()
    work = tmp_path / "w"
    study.main(["--quick", "--forget", "class:3", "--seeds", "0", "--work", str(work), "--no-table",
                "--md", str(tmp_path / "o.md"), "--cache-dir", str(cache_dir)])
    capsys.readouterr()
    assert main(["select", str(work / "explore-digits-mlp-class3-seed0"), "--method", method,
                 "--cache-dir", str(cache_dir)]) == 0
    out = capsys.readouterr().out
    assert "predicted gap" not in out and out.startswith("chosen: solver ")
