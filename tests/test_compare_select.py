"""compare / seed_summary / write_compare / write_report, and select → export → reload, on tiny digits runs.

The runs are real ``explore`` runs with two solvers (jd, ls) and a few epochs; models come from the
session's model cache (``cache_dir`` of conftest.py), so only the seed-1 run trains new ones.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from safetensors import safe_open

from pareto_unlearn._io import read_json, to_jsonable
from pareto_unlearn.config import load_config
from pareto_unlearn.exceptions import ConfigError, IncompatibleRunsError, RunDirError
from pareto_unlearn.experiments import explore
from pareto_unlearn.experiments._compare import (
    COMPARE_COLUMNS,
    compare,
    compare_markdown,
    seed_summary,
    write_compare,
)
from pareto_unlearn.experiments._report import REPORT_FIGURES, write_report
from pareto_unlearn.front import Front
from pareto_unlearn.metrics import MetricEvaluator
from pareto_unlearn.objectives import make_objectives
from pareto_unlearn.rundir import load_run, write_run_dir
from pareto_unlearn.selection import OracleFree
from pareto_unlearn.selection_export import export_paths, load_exported, select_and_export
from pareto_unlearn.summary import SOLVER_COLUMNS, summarize
from pareto_unlearn.task import build_model, load_state_checked

SETTINGS = {"jd": {"lrs": [0.1], "epochs": 2}, "ls": {"weights": [0.3, 0.7], "lr": 0.2, "epochs": 2}}
METRICS = ("UA", "RA", "TA", "MIA", "gap")


def _config(cache_dir, **overrides):
    base = {"forget": "random:0.5", "solvers": ("jd", "ls"), "cache_dir": str(cache_dir), "explore": SETTINGS}
    return load_config(None).merged({**base, **overrides})


@pytest.fixture(scope="module")
def runs(tmp_path_factory, cache_dir):
    """Four run directories: two of one task and θ0 (different settings), one with the heldout reference,
    one with seed 1 (another θ0)."""
    root = tmp_path_factory.mktemp("compare-runs")
    other = {"jd": {"lrs": [0.2], "epochs": 3}, "ls": {"weights": [0.5], "lr": 0.2, "epochs": 2}}
    configs = {"a": _config(cache_dir), "b": _config(cache_dir, explore=other),
               "heldout": _config(cache_dir, reference="heldout"), "seed1": _config(cache_dir, seeds=(1,))}
    return {name: explore(cfg, root / name, progress=False).out for name, cfg in configs.items()}


# ------------------------------------------------------------------------------------------ compare
def test_compare_gives_one_row_per_run_and_solver_with_finite_indicators(runs):
    df = compare([runs["a"], runs["b"]])
    assert list(df.columns) == list(COMPARE_COLUMNS)
    rows = list(zip(df["run"], df["solver"], strict=True))
    assert rows == [("a", "jd"), ("a", "ls"), ("b", "jd"), ("b", "ls")]
    assert np.isfinite(df["hv"]).all() and (df["hv"] > 0).all()
    assert np.isfinite(df["igd_plus"]).all() and (df["igd_plus"] >= 0).all()
    assert df["n_points"].tolist() == [2, 2, 3, 1]
    assert (df["hv_at_budget_s"] <= df["hv"] + 1e-12).all()
    assert (df["hv_at_budget_passes"] <= df["hv"] + 1e-12).all()
    assert df["budget_s"].iloc[0] == pytest.approx(df["wall_s"].min())
    cheapest = df.loc[df["wall_s"].idxmin()]
    assert cheapest["hv_at_budget_s"] == pytest.approx(cheapest["hv"])  # the cheapest one spends its budget
    assert df.attrs["runs"] == ["a", "b"] and df.attrs["n_union"] >= 1


def test_compare_of_one_run_matches_its_summary(runs):
    summary, _ = load_run(runs["a"])
    df = compare([runs["a"]]).set_index("solver")
    for name, row in summary["solvers"].items():
        for key in ("hv", "hv_gain", "hv_utility", "igd_plus", "n_points", "n_nondominated", "wall_s"):
            assert df.loc[name, key] == pytest.approx(row[key], rel=1e-9), (name, key)


# ------------------------------------------------------------------------------------------ summary
def _summarize_as(summary, front):
    """summarize() of ``front`` with the inputs a run recorded in its summary.json."""
    return summarize(front, ref_point=summary["hv_reference_point"], original=summary["original"],
                     retrain=summary["retrain"], task_info=summary["task"], reference=summary["reference"],
                     kl_direction=summary["kl_direction"], manifest=summary["manifest"],
                     complete=summary["complete"], settings=summary["settings"])


def test_summarize_is_what_write_run_dir_writes_to_summary_json(runs, tmp_path):
    summary, front = load_run(runs["a"])
    again = _summarize_as(summary, front)
    assert again == summary  # explore's summary.json, recomputed from its front: every key and value
    assert json.loads(json.dumps(again)) == again  # already the JSON document (NaN as None)
    paths = write_run_dir(tmp_path / "copy", front, again)
    assert read_json(paths["summary"]) == again
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == ["front", "points.csv", "summary.json"]
    with pytest.raises(ConfigError, match="summary's solvers"):
        write_run_dir(tmp_path / "other", front.take(front.solver != "ls"), again)
    assert not (tmp_path / "other").exists()


def test_write_run_dir_saves_the_figures_it_is_given_without_drawing(runs, tmp_path):
    from pareto_unlearn.plotting import plot_fronts, save_figure

    summary, front = load_run(runs["a"])
    solvers = front.take(front.solver != "Original")
    save_figure(plot_fronts(solvers), tmp_path / "expected.png")  # a fresh figure each (saving lays it out)
    write_run_dir(tmp_path / "run", front, summary, figures={"fronts.png": plot_fronts(solvers),
                                                             "raw.png": b"\x89PNG"})
    assert (tmp_path / "run" / "fronts.png").read_bytes() == (tmp_path / "expected.png").read_bytes()
    assert (tmp_path / "run" / "raw.png").read_bytes() == b"\x89PNG"
    with pytest.raises(ConfigError, match="savefig"):
        write_run_dir(tmp_path / "bad", front, summary, figures={"fronts.png": object()})
    assert not (tmp_path / "bad").exists()  # refused before anything is written


def test_compare_rows_are_the_summary_json_rows(runs):
    summary, _ = load_run(runs["a"])
    df = compare([runs["a"]]).set_index("solver")  # one run: IGD+ to the same union as summary.json's
    for name, row in summary["solvers"].items():
        assert list(row) == list(SOLVER_COLUMNS)
        assert to_jsonable({k: df.loc[name, k] for k in SOLVER_COLUMNS}) == row, name


def test_summary_and_compare_share_one_nan_rule():
    """No RA on the points, no θ0 objectives, a solver with no feasible point and no finite cost, an inf
    cost: NaN (None in summary.json) in the same places in summary.json and in compare."""
    F = np.array([[0.5, 0.5], [0.2, 0.9], [0.9, 0.1], [np.nan, 0.3], [np.inf, 0.2]])
    front = Front(("forget_kl", "retain_ce"), F, np.array(["Original", "ls", "ls", "jd", "jd"], dtype=object),
                  cost={"wall_s": [0.0, 1.0, 2.0, np.nan, np.nan],
                        "forward_passes": [0.0, 10.0, np.inf, np.nan, np.nan],
                        "backward_passes": [0.0, 5.0, 10.0, np.nan, np.nan]})
    summary = summarize(front, ref_point=[1.0, 1.0], original={"metrics": {"RA": 90.0}}, retrain={},
                        task_info={"name": "synthetic", "forget": "random:0.5"}, reference="uniform",
                        kl_direction="forward", manifest={})
    assert summary["hv_utility_ra_min"] == 85.0 and summary["objectives"] == ["forget_kl", "retain_ce"]
    ls, jd = summary["solvers"]["ls"], summary["solvers"]["jd"]
    assert ls["hv"] > 0 and ls["igd_plus"] > 0 and ls["n_points"] == 2  # θ0 is on the union front too
    assert ls["hv_gain"] is None and ls["hv_utility"] is None  # no θ0 objectives; no RA on the points
    assert (ls["wall_s"], ls["forward_passes"], ls["backward_passes"]) == (2.0, 10.0, 10.0)  # inf: not a cost
    assert jd["hv"] == 0.0 and jd["n_points"] == 2  # nothing feasible: no HV, no IGD+
    assert [jd[k] for k in ("hv_gain", "hv_utility", "igd_plus", "wall_s", "forward_passes",
                            "backward_passes")] == [None] * 6
    df = compare([(summary, front)]).set_index("solver")
    for name, row in summary["solvers"].items():
        assert to_jsonable({k: df.loc[name, k] for k in SOLVER_COLUMNS}) == row, name
    assert np.isnan(df.loc["jd", "sample_passes"]) and df.loc["ls", "sample_passes"] == 20.0


def test_compare_takes_an_explore_result_without_a_run_directory(runs, cache_dir):
    result = explore(_config(cache_dir), progress=False)  # out=None: nothing written, the summary computed
    assert result.out is None and result.front.task is not None
    summary, _ = load_run(runs["a"])
    assert list(result.summary) == list(summary) and result.summary == _summarize_as(result.summary,
                                                                                     result.front)
    assert result.summary["hv_reference_point"] == summary["hv_reference_point"]
    df = compare([result, runs["a"]])  # an in-memory run beside its directory twin: compatible
    assert list(zip(df["run"], df["solver"], strict=True)) == [("run0", "jd"), ("run0", "ls"), ("a", "jd"),
                                                               ("a", "ls")]
    fresh, stored = df.iloc[:2].reset_index(drop=True), df.iloc[2:].reset_index(drop=True)
    for column in ("hv", "hv_gain", "hv_utility", "igd_plus", "n_points", "forward_passes"):
        assert fresh[column].to_numpy() == pytest.approx(stored[column].to_numpy(), rel=1e-12), column


def test_compare_reports_hv_gain_over_theta0_and_the_oracle_free_pick_among_solver_and_theta0(runs):
    summary, front = load_run(runs["a"])
    ref = np.asarray(summary["hv_reference_point"])
    theta0_box = float(np.prod(ref - np.asarray(summary["original"]["objectives"])))  # HV of θ0 alone
    df = compare([runs["a"]]).set_index("solver")
    assert df["hv_gain"].to_numpy() == pytest.approx((df["hv"] - theta0_box).to_numpy(), rel=1e-9)
    assert list(COMPARE_COLUMNS).index("hv_gain") == list(COMPARE_COLUMNS).index("hv") + 1
    rule = OracleFree.for_summary(summary)
    for name in ("jd", "ls"):
        candidates = front.take((front.solver == name) | (front.solver == "Original"))
        assert df.loc[name, "oracle_free_gap"] == candidates.metrics["gap"][rule(candidates)]
    table = seed_summary([runs["a"], runs["seed1"]]).table.set_index("solver")
    assert np.isfinite(table["hv_gain_mean"]).all() and (table["hv_gain_mean"] < table["hv_mean"]).all()


def test_compare_refuses_runs_with_another_reference_naming_it(runs):
    with pytest.raises(IncompatibleRunsError, match=r"differ in reference .*'uniform' vs 'heldout'"):
        compare([runs["a"], runs["heldout"]])


def test_compare_refuses_runs_with_another_theta0_naming_it(runs):
    with pytest.raises(IncompatibleRunsError, match=r"differ in θ0 \(summary task.theta0_sha256\)"):
        compare([runs["a"], runs["seed1"]])


def test_compare_refuses_a_directory_that_is_not_a_run(tmp_path):
    with pytest.raises(RunDirError, match="not a run directory"):
        compare([tmp_path])


def test_write_compare_writes_csv_and_markdown(runs, tmp_path):
    df = compare([runs["a"], runs["b"]])
    paths = write_compare(df, tmp_path / "cmp")
    back = pd.read_csv(paths["csv"])
    assert back.shape == df.shape and back["hv"].to_numpy() == pytest.approx(df["hv"].to_numpy(), rel=1e-12)
    text = paths["md"].read_text()
    assert "| run | solver | hv |" in text and "HV reference point" in text
    assert text.count("\n| a | ") == 2 and text.count("\n| b | ") == 2
    assert not list((tmp_path / "cmp").glob("*.tmp"))


def test_seed_summary_gives_an_interval_and_a_median_surface_per_solver(runs):
    result = seed_summary([runs["a"], runs["seed1"]])
    table = result.table.set_index("solver")
    assert list(table.index) == ["jd", "ls"] and result.seeds == [0, 1]
    assert (table["n_seeds"] == 2).all()
    assert np.isfinite(table[["hv_mean", "hv_ci95", "hv_norm_mean", "hv_norm_ci95"]].to_numpy()).all()
    assert (table["hv_low"] <= table["hv_mean"]).all() and (table["hv_mean"] <= table["hv_high"]).all()
    for surface in result.surfaces.values():
        assert surface.ndim == 2 and surface.shape[1] == 2 and len(surface) >= 1
        assert (surface <= 1.0 + 1e-9).all()  # each seed normalised by its own reference point


def test_seed_summary_refuses_a_repeated_seed_and_another_reference(runs):
    with pytest.raises(IncompatibleRunsError, match="seed 0 appears in more than one run"):
        seed_summary([runs["a"], runs["b"]])
    with pytest.raises(IncompatibleRunsError, match="reference"):
        seed_summary([runs["seed1"], runs["heldout"]])


# ------------------------------------------------------------------------------------------- report
def test_write_report_links_its_figures(runs):
    path = write_report(runs["a"])
    text = path.read_text()
    assert path == runs["a"] / "report.md"
    assert "## Solvers" in text and "| jd |" in text and "oracle-free" in text
    for name in REPORT_FIGURES:
        assert f"]({name})" in text
        assert (runs["a"] / name).read_bytes()[:4] == b"\x89PNG"


def test_write_report_refuses_a_directory_that_is_not_a_run(tmp_path):
    with pytest.raises(RunDirError):
        write_report(tmp_path)


# ------------------------------------------------------------------------------- select and export
def test_select_export_reload_reproduces_the_metrics_of_a_jd_point(runs, tmp_path):
    export = tmp_path / "out" / "jd-knee.safetensors"
    result = select_and_export(runs["a"], method="knee", solver="jd", export=export)
    point = result["point"]
    assert point["solver"] == "jd" and result["objective_names"] == ["forget_kl", "retain_ce"]
    assert result["adapter_path"] is None and not export_paths(export)["adapter"].exists()
    record = json.loads(export_paths(export)["json"].read_text())
    assert record["rule"]["method"] == "knee" and record["provenance"]["solver"] == "jd"
    assert record["task"]["theta0_sha256"] == result["task"].theta0_hash

    task = result["task"]
    model = build_model(record["architecture"]["model"], n_classes=task.n_classes,
                        input_shape=task.input_shape, seed=1234)  # any initial weights: all are overwritten
    load_state_checked(model, export, record["files"]["model_sha256"])
    model.eval()
    again = MetricEvaluator(task)(model)
    objectives = make_objectives(task, reference="uniform").evaluate(model, task)
    for name in METRICS:
        assert again[name] == pytest.approx(record[name], abs=1e-6), name
        assert again[name] == pytest.approx(point[name], abs=1e-6), name  # what the run recorded
    for j, name in enumerate(result["objective_names"]):
        assert objectives[j] == pytest.approx(record["objectives"][name], abs=1e-6)
        assert objectives[j] == pytest.approx(point[name], abs=1e-6)

    loaded, same_record = load_exported(export)
    assert same_record == record
    for key, value in loaded.state_dict().items():
        assert np.array_equal(value.numpy(), model.state_dict()[key].numpy())


def test_select_applies_constraints_preferences_and_solver(runs):
    result = select_and_export(runs["a"], method="preference", weights="0.3,0.7", constraints=["RA >= 0"])
    assert result["point"]["solver"] in ("jd", "ls") and "Preference" in result["rule"]
    oracle = select_and_export(runs["a"], method="oracle-free", solver="ls", task=result["task"])
    assert oracle["point"]["solver"] in ("ls", "Original")  # θ0 is always an oracle-free candidate
    assert (oracle["point"]["solver"] == "Original") == oracle["oracle_free"]["theta0_in_band"]
    with pytest.raises(ConfigError, match="no feasible point satisfies"):
        select_and_export(runs["a"], method="knee", constraints="RA > 101", task=result["task"])
    with pytest.raises(ConfigError, match="needs --weights"):
        select_and_export(runs["a"], method="preference", task=result["task"])
    with pytest.raises(ConfigError, match="only used with --method preference"):
        select_and_export(runs["a"], method="knee", weights="0.5,0.5", task=result["task"])
    with pytest.raises(ConfigError, match="no solver 'nsga2-lora'"):
        select_and_export(runs["a"], solver="nsga2-lora", task=result["task"])


def test_select_oracle_free_is_the_python_rule_and_records_how_sure_it_is(runs, tmp_path):
    export = tmp_path / "pick.safetensors"
    result = select_and_export(runs["a"], method="oracle-free", export=export)
    front, task = result["front"], result["task"]
    pick = OracleFree.for_task(task).choose(front)  # the whole front, θ0 included, as notebook 01 does
    assert result["index"] == pick.index
    report = result["oracle_free"]
    assert report["gap"] == pytest.approx(pick.gap) and report["band_size"] == pick.band_size
    assert report["low"] <= report["high"] and report["level"] == 0.9
    assert report["theta0_in_band"] == pick.theta0_in_band
    record = json.loads(export_paths(export)["json"].read_text())
    assert record["oracle_free"] == report
    assert not any(k.startswith("ofs.") for k in record["metrics"])  # the packed bits stay in the front
    explained = OracleFree.for_task(task).explain(front)
    assert int(explained.loc[explained["chosen"], "index"].iloc[0]) == result["index"]
    knee = select_and_export(runs["a"], method="knee", task=task)
    assert knee["oracle_free"] is None and knee["point"]["solver"] != "Original"


def test_select_refuses_bad_run_dirs_and_export_names(runs, tmp_path):
    with pytest.raises(RunDirError, match="not a directory"):
        select_and_export(tmp_path / "missing")
    with pytest.raises(RunDirError, match="not a run directory"):
        select_and_export(tmp_path)
    with pytest.raises(ConfigError, match=r"\.safetensors"):
        select_and_export(runs["a"], export=tmp_path / "model.pt")
    seed1 = select_and_export(runs["seed1"], method="knee")["task"]
    with pytest.raises(RunDirError, match="θ0"):  # a task whose θ0 is not the run's
        select_and_export(runs["a"], method="knee", task=seed1)


@pytest.mark.parametrize(("solver", "kind"), [("nsga2-last-layer", "last_layer"), ("nsga2-lora", "lora")])
def test_export_of_a_subspace_point_writes_its_adapter(solver, kind, tmp_path, cache_dir):
    cfg = _config(cache_dir, solvers=(solver,), explore={solver: {"pop_size": 8, "n_gen": 2}})
    out = explore(cfg, tmp_path / "run", progress=False).out
    export = tmp_path / "point.safetensors"
    result = select_and_export(out, method="knee", solver=solver, export=export)
    assert result["adapter_path"] == str(export_paths(export)["adapter"])
    genome = result["front"].arrays[result["point"]["rebuild"]["array"]]
    with safe_open(result["adapter_path"], framework="numpy") as adapter:
        assert adapter.metadata()["kind"] == kind
        assert json.loads(adapter.metadata()["rebuild_spec"]) == result["point"]["rebuild"]
        assert np.array_equal(adapter.get_tensor("array"), genome)  # the genome alone, not the model
    model, record = load_exported(export)
    again = MetricEvaluator(result["task"])(model)
    for name in METRICS:
        assert again[name] == pytest.approx(record[name], abs=1e-6), name


# ----------------------------------------------------------- compare against the gradient fronts (issue 6)
def test_explore_warm_search_continues_its_ls_sweep(cache_dir, tmp_path):
    """explore runs ls first and the seeded warm search continues it: generation 1 is the sweep's points
    at the sweep's recorded cost (computed once), so at any budget within the sweep the two hold the same."""
    settings = {"ls": SETTINGS["ls"], "nsga2-ls-warm": {"n_gen": 2, "n_offsprings": 2}}
    cfg = _config(cache_dir, solvers=("nsga2-ls-warm", "ls"), explore=settings)
    front = explore(cfg, tmp_path / "run", progress=False).front
    anytime = pd.DataFrame(front.anytime)
    ls = anytime[anytime.solver == "ls"]
    warm = anytime[anytime.solver == "nsga2-ls-warm"].head(len(ls))
    for column in ("wall_s", "forward_passes", "backward_passes"):
        assert warm[column].tolist() == ls[column].tolist()
    warm_points = front.take(front.solver == "nsga2-ls-warm")
    assert {p["seed_sweep_from"] for p in warm_points.provenance} == {"seed_front"}
    assert (warm_points.cost["wall_s"] > ls["wall_s"].max()).all()


REF = [4.0, 4.0]


def _synthetic_summary() -> dict:
    task = {"name": "synthetic", "forget": "random:0.5", "data_fingerprint": "d", "model": "mlp", "seed": 0,
            "n_classes": 10, "theta0_sha256": "0" * 64}
    return {"task": task, "objectives": ["forget_kl", "retain_ce"], "reference": "uniform",
            "kl_direction": "model-ref", "hv_reference_point": REF, "hv_utility_ra_min": 90.0,
            "original": {"metrics": {"RA": 95.0}}}


def _part(name, F, wall_s, ra, anytime=(), passes=None):
    from pareto_unlearn.front import Front

    n = len(F)
    forward = np.zeros(n) if passes is None else passes
    return Front.from_points(np.array(F, dtype=float), solver=name, metrics={"RA": ra},
                             cost={"wall_s": wall_s, "forward_passes": forward,
                                   "backward_passes": np.zeros(n)},
                             anytime=[{"solver": name, "forward_passes": 0.0, "backward_passes": 0.0, **a}
                                      for a in anytime])


@pytest.fixture
def synthetic():
    """jd (per-epoch points, no log): HV 4, 5, 6 at t = 1, 2, 3, then 6.02 at t = 4, so it is within 1 % of
    its final HV at t = 3; its point at t = 3 has RA 80 (< 90), so its HV@utility there is 5. ls: HV 2.25.
    nsga2: a population log without RA (HV 3 at t = 2, 6.25 at t = 10). nsga2-b: a log with hv_utility."""
    from pareto_unlearn.front import Front

    jd = _part("jd", [[2, 2], [1, 3], [3, 1], [1.98, 2]], [1.0, 2.0, 3.0, 4.0], [99.0, 99.0, 80.0, 99.0])
    ls = _part("ls", [[2.5, 2.5]], [0.5], [99.0])
    nsga2 = _part("nsga2", [[1.5, 1.5]], [10.0], [99.0],
                  [{"wall_s": 2.0, "hv": 3.0}, {"wall_s": 4.0, "hv": 4.0}, {"wall_s": 10.0, "hv": 6.25}])
    nsga2_b = _part("nsga2-b", [[1.0, 2.0]], [5.0], [99.0],
                    [{"wall_s": 1.0, "hv": 2.0, "hv_utility": 1.5},
                     {"wall_s": 3.0, "hv": 4.5, "hv_utility": 3.0},
                     {"wall_s": 5.0, "hv": 6.0, "hv_utility": 6.0}])
    return _synthetic_summary(), Front.concat([jd, ls, nsga2, nsga2_b])


def test_compare_sets_the_gradient_budget_and_the_ratios_by_construction(synthetic):
    df = compare([synthetic]).set_index("solver")
    assert df.attrs["gradient_reference"] == "run0/jd" and df.attrs["gradient_tol"] == 0.01
    assert df["hv"].to_dict() == pytest.approx({"jd": 6.02, "ls": 2.25, "nsga2": 6.25, "nsga2-b": 6.0})
    assert (df["gradient_budget_s"] == 3.0).all() and df.attrs["gradient_budget_s"] == 3.0
    assert df["hv_at_gradient_budget"].to_dict() == pytest.approx(
        {"jd": 6.0, "ls": 2.25, "nsga2": 3.0, "nsga2-b": 4.5})
    assert df["hv_ratio"].to_dict() == pytest.approx({"jd": 1.0, "ls": 0.375, "nsga2": 0.5, "nsga2-b": 0.75})
    assert df.loc["jd", "hv_utility_at_gradient_budget"] == pytest.approx(5.0)  # the RA-80 point left out
    assert df.loc["nsga2-b", "hv_utility_ratio"] == pytest.approx(3.0 / 5.0)
    assert df.loc["ls", "hv_utility_ratio"] == pytest.approx(2.25 / 5.0)
    # a population log without RA says nothing of HV@utility before the solver's end
    assert np.isnan(df.loc["nsga2", "hv_utility_at_gradient_budget"])
    assert np.isnan(df.loc["nsga2", "hv_utility_ratio"])
    # HV(gradient ∪ solver) − HV(gradient): 7.25 − 6.02 for [1.5, 1.5], 7 − 6.02 for [1, 2], 0 for gradients
    assert df["hv_not_dominated_by_gradient"].to_dict() == pytest.approx(
        {"jd": 0.0, "ls": 0.0, "nsga2": 1.23, "nsga2-b": 0.98})
    assert df["median_stationarity_gap"].isna().all()  # opt-in
    assert "gradient budget: 3 s" in compare_markdown(compare([synthetic]))


def test_compare_ratios_in_sample_passes_ignore_timing_noise():
    """The same computations charged more seconds (a slower moment of the machine): behind in wall-clock,
    level in sample-passes."""
    from pareto_unlearn.front import Front

    jd = _part("jd", [[2, 2], [1, 3], [3, 1], [1.98, 2]], [1.0, 2.0, 3.0, 4.0], [99.0, 99.0, 80.0, 99.0],
               passes=[100.0, 200.0, 300.0, 400.0])
    seeded = _part("seeded", [[2, 2], [1, 3], [3, 1]], [3.6] * 3, [99.0] * 3, anytime=[
        {"wall_s": 1.2, "forward_passes": 100.0, "hv": 4.0, "hv_utility": 4.0},
        {"wall_s": 2.4, "forward_passes": 200.0, "hv": 5.0, "hv_utility": 5.0},
        {"wall_s": 3.6, "forward_passes": 300.0, "hv": 6.0, "hv_utility": 6.0}])
    df = compare([(_synthetic_summary(), Front.concat([jd, seeded]))]).set_index("solver")
    assert df.attrs["gradient_budget_s"] == 3.0 and df.attrs["gradient_budget_passes"] == 300.0
    assert df.loc["seeded", "hv_ratio"] == pytest.approx(5.0 / 6.0)
    assert df.loc["seeded", "hv_ratio_passes"] == pytest.approx(1.0)
    assert df.loc["jd", ["hv_ratio_passes", "hv_utility_ratio_passes"]].tolist() == pytest.approx([1.0, 1.0])
    assert df.loc["seeded", "hv_utility_ratio_passes"] == pytest.approx(6.0 / 5.0)  # jd's RA-80 point is out


def test_compare_budget_option_gradient_uses_the_gradient_budget(synthetic):
    cheapest = compare([synthetic]).set_index("solver")
    assert cheapest["budget_s"].iloc[0] == 0.5  # the existing default: the cheapest solver's wall-clock
    df = compare([synthetic], budget_s="gradient").set_index("solver")
    assert (df["budget_s"] == 3.0).all()
    assert df["hv_at_budget_s"].to_dict() == pytest.approx(df["hv_at_gradient_budget"].to_dict())
    loose = compare([synthetic], gradient_tol=0.2).set_index("solver")
    assert loose["gradient_budget_s"].iloc[0] == 2.0  # HV 5 ≥ 0.8 × 6.02


def test_compare_without_a_gradient_front_gives_no_ratio(synthetic):
    summary, front = synthetic
    df = compare([(summary, front.take(np.isin(front.solver, ["nsga2", "nsga2-b"])))])
    assert df.attrs["gradient_reference"] == "" and df["gradient_budget_s"].isna().all()
    assert df[["hv_ratio", "hv_utility_ratio", "hv_not_dominated_by_gradient"]].isna().all().all()


@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"budget_s": "fastest"}, "budget_s='fastest' is not known"),
    ({"gradient_tol": 1.0}, "gradient_tol"),
    ({"stationarity_points": 0}, "stationarity_points"),
])
def test_compare_refuses_bad_options(synthetic, kwargs, needle):
    with pytest.raises(ConfigError, match=needle):
        compare([synthetic], **kwargs)


def test_compare_stationarity_rebuilds_the_models_of_a_run_directory(runs):
    df = compare([runs["a"]], stationarity=True, stationarity_points=3).set_index("solver")
    gaps = df["median_stationarity_gap"]
    assert np.isfinite(gaps).all() and ((gaps >= 0) & (gaps <= 1)).all()
    assert df.attrs["stationarity_points"] == 3
