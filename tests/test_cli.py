"""The command line, in process: ``table`` and ``explore`` on digits with tiny settings, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from pareto_unlearn import rebuild_model
from pareto_unlearn.cli import main
from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.experiments import TABLE_ROWS
from pareto_unlearn.metrics import avg_gap
from pareto_unlearn.rundir import load_run
from pareto_unlearn.task import SPLIT_KEYS, load_dataset, make_splits, parse_forget

# CI clones the project with shared/ beside it.
VALIDATOR = Path(__file__).resolve().parents[2] / "shared" / "tools" / "validate_run_dir.py"

TABLE_CONFIG = """
[methods.FT]
epochs = 1
lr = [0.1]

[methods.GA]
epochs = 1
lr = [0.05]

[methods.RL]
epochs = 1
lr = [0.003]

[methods.SalUn]
epochs = 1
lr = [0.003]

[methods.l1-sparse]
epochs = 1
lr = [0.05]
alpha = [0.001]

[methods.IU]
alpha = [100.0]

[methods.RAUL-LS]
epochs = 1
lr = [0.1]

[methods.RAUL-UPGrad]
epochs = 1
lr = [0.05, 0.2]
"""
GRIDS = {"FT": [0.1], "GA": [0.05], "RL": [0.003], "SalUn": [0.003], "l1-sparse": [0.05],
         "UniDist-RAUL-LS": [0.1], "HeldDist-RAUL-LS": [0.1], "UniDist-RAUL-UPGrad": [0.05, 0.2],
         "HeldDist-RAUL-UPGrad": [0.05, 0.2]}
RESULT_FILES = ("results.json", "table.md", "table.csv", "splits.npz", "summary.json", "points.csv")


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _explore_argv(solvers: str, config: Path, out: Path, cache_dir: Path) -> list[str]:
    return ["explore", "--task", "digits", "--forget", "random:0.5", "--seeds", "0", "--solvers", solvers,
            "--config", str(config), "--out", str(out), "--cache-dir", str(cache_dir), "--no-progress"]


@pytest.fixture(scope="module")
def table_run(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path):
    root = tmp_path_factory.mktemp("table")
    config = _write(root / "tiny.toml", TABLE_CONFIG)
    out = root / "out"
    code = main(["table", "--task", "digits", "--forget", "random:0.1", "--seeds", "0", "--out", str(out),
                 "--cache-dir", str(cache_dir), "--config", str(config), "--no-progress"])
    return code, out


def test_table_exits_0_and_writes_its_files(table_run) -> None:
    code, out = table_run
    assert code == 0
    for name in ("table.md", "table.csv", "results.json", "splits.npz"):
        assert (out / name).is_file(), name
    frame = pd.read_csv(out / "table.csv")
    assert frame["method"].tolist() == list(TABLE_ROWS)
    markdown = (out / "table.md").read_text()
    for row in TABLE_ROWS:
        assert f"| {row} |" in markdown, row


def test_table_splits_file(table_run) -> None:
    _, out = table_run
    with np.load(out / "splits.npz", allow_pickle=False) as data:
        assert set(SPLIT_KEYS) <= set(data.files)
        expected = make_splits(load_dataset("digits").y_train.numpy(), parse_forget("random:0.1"), seed=0)
        for key in SPLIT_KEYS:
            np.testing.assert_array_equal(data[key], getattr(expected, key))


def test_table_results_rows(table_run) -> None:
    _, out = table_run
    rows = json.loads((out / "results.json").read_text())["rows"]
    # the paper's Table 1: six baselines, four RAUL rows, Retrain, Original
    assert len(rows) == len(TABLE_ROWS) == 12
    assert sorted(r["method"] for r in rows) == sorted(TABLE_ROWS)
    assert {r["seed"] for r in rows} == {0}
    by_method = {r["method"]: r for r in rows}
    retrain = by_method["Retrain"]
    assert retrain["gap"] == 0
    for r in rows:
        for key in ("UA", "RA", "TA", "MIA"):
            assert 0.0 <= r[key] <= 100.0, (r["method"], key)
        assert r["gap"] == pytest.approx(avg_gap(r, retrain), abs=1e-9), r["method"]
        assert np.isfinite(r["forget_kl"]) and 0 <= r["forget_kl"] <= np.log(10) + 1e-6
        assert np.isfinite(r["retain_ce"]) and r["retain_ce"] >= 0


@pytest.mark.parametrize("method", list(GRIDS))
def test_table_records_grid_and_choice(table_run, method: str) -> None:
    _, out = table_run
    row = next(r for r in json.loads((out / "results.json").read_text())["rows"] if r["method"] == method)
    hp = row["hyperparameters"]
    grid, chosen = hp["grid"], hp["chosen"]
    assert [g["lr"] for g in grid] == pytest.approx(GRIDS[method])
    assert all(g["epochs"] == 1 for g in grid)
    assert chosen in grid
    if method == "l1-sparse":
        assert [g["alpha"] for g in grid] == pytest.approx([0.001])
    # The choice is in the one-standard-error band around the lowest predicted gap (SPEC §6).
    index = grid.index(chosen)
    assert hp["chosen_index"] == index and hp["in_band"][index]
    assert sum(hp["in_band"]) == hp["oracle_free"]["band_size"]
    assert hp["predicted_gap"][index] == pytest.approx(hp["oracle_free"]["gap"])


def _assert_refused(code: int, capsys, out: Path, needle: str,
                    before: dict[str, bytes] | None = None) -> None:
    captured = capsys.readouterr()
    assert code == 2
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert needle in lines[0]
    for name in RESULT_FILES:
        path = out / name
        if before and name in before:
            assert path.read_bytes() == before[name], f"{name} was overwritten"
        else:
            assert not path.exists(), f"{name} was written"


BAD_FLAGS = [
    (["--forget", "random:1.5"], "random:1.5"),
    (["--forget", "class:12"], "class:12"),
    (["--forget", "random:x"], "random:x"),
    (["--task", "imagenet"], "imagenet"),
    (["--model", "transformer"], "transformer"),
    (["--seeds", "-1"], "-1"),
]


@pytest.mark.parametrize("flags, needle", BAD_FLAGS, ids=[f[1] for f in BAD_FLAGS])
def test_table_bad_flags_exit_2(tmp_path: Path, cache_dir: Path, capsys, flags: list[str],
                                needle: str) -> None:
    out = tmp_path / "out"
    base = ["table", "--task", "digits", "--seeds", "0", "--out", str(out), "--cache-dir", str(cache_dir),
            "--no-progress"]
    assert_flags = base + flags
    _assert_refused(main(assert_flags), capsys, out, needle)


BAD_CONFIGS = [
    ("frobnicate = 1\n", "frobnicate"),
    ("[methods.Foo]\nepochs = 1\n", "Foo"),
    ("[methods.FT]\nepochs = 0\n", "0"),
    ("[methods.FT]\nlr = [-0.1]\n", "-0.1"),
    ("[methods.FT]\nmomentum = 0.5\n", "momentum"),
    ("[recipe]\nepoch = 3\n", "epoch"),
]


BAD_CONFIGS += [
    pytest.param(text, needle, id=f"recipe-{needle}")
    for text, needle in [("[recipe]\nepochs = 1.5\n", "1.5"), ('[recipe]\nlr = "fast"\n', "fast"),
                         ("[recipe]\nmilestones = 5\n", "5"), ("[recipe]\nbatch_size = 2.5\n", "2.5")]
]


@pytest.mark.parametrize("text, needle", BAD_CONFIGS)
def test_table_bad_config_exit_2(tmp_path: Path, cache_dir: Path, capsys, text: str, needle: str) -> None:
    config = _write(tmp_path / "bad.toml", text)
    out = tmp_path / "out"
    code = main(["table", "--task", "digits", "--forget", "random:0.1", "--seeds", "0", "--out", str(out),
                 "--cache-dir", str(cache_dir), "--config", str(config), "--no-progress"])
    _assert_refused(code, capsys, out, needle)


def test_table_missing_config_file_exit_2(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    missing = tmp_path / "nowhere.toml"
    code = main(["table", "--config", str(missing), "--out", str(out), "--no-progress"])
    _assert_refused(code, capsys, out, "nowhere.toml")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is visible")
def test_table_cuda_without_gpu_exit_2(tmp_path: Path, cache_dir: Path, capsys) -> None:
    out = tmp_path / "out"
    code = main(["table", "--task", "digits", "--forget", "random:0.1", "--seeds", "0", "--device", "cuda",
                 "--out", str(out), "--cache-dir", str(cache_dir), "--no-progress"])
    _assert_refused(code, capsys, out, "cuda")


@pytest.mark.parametrize("text, needle", [
    ("[explore.jd]\nepochs = 0\n", "0"),
    ("[explore.jd]\nspeed = 3\n", "speed"),
    ("[explore.bogus]\nlr = 1\n", "bogus"),
    ("[explore.ls]\nweights = 0.5\n", "0.5"),
    ("[explore.jd]\nlrs = 0.1\n", "0.1"),
])
def test_explore_bad_settings_exit_2(tmp_path: Path, cache_dir: Path, capsys, text: str, needle: str) -> None:
    config = _write(tmp_path / "bad.toml", text)
    out = tmp_path / "out"
    code = main(_explore_argv("jd,ls", config, out, cache_dir))
    _assert_refused(code, capsys, out, needle)


def test_explore_with_a_listed_aggregator_never_crashes(tmp_path: Path, cache_dir: Path, capsys) -> None:
    """jd-fairgrad is listed in SOLVERS; it must run or be refused with exit 2, not raise."""
    out = tmp_path / "out"
    config = _write(tmp_path / "c.toml", "[explore.jd]\nlrs = [0.1]\nepochs = 1\n")
    code = main(_explore_argv("jd-fairgrad", config, out, cache_dir))
    assert code in (0, 2)


def test_out_that_is_a_file_exit_2(tmp_path: Path, cache_dir: Path, capsys) -> None:
    out = tmp_path / "a-file"
    out.write_text("not a directory\n")
    code = main(["table", "--task", "digits", "--forget", "random:0.1", "--seeds", "0", "--out", str(out),
                 "--cache-dir", str(cache_dir), "--no-progress"])
    captured = capsys.readouterr()
    assert code == 2
    assert str(out) in captured.err and len(captured.err.strip().splitlines()) == 1
    assert out.read_text() == "not a directory\n"


@pytest.mark.parametrize("command", ["table", "explore"])
def test_out_holding_a_run_needs_force(tmp_path: Path, cache_dir: Path, capsys, command: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    marker = "results.json" if command == "table" else "summary.json"
    (out / marker).write_text('{"a run": true}\n')
    before = {marker: (out / marker).read_bytes()}
    code = main([command, "--task", "digits", "--forget", "random:0.1", "--seeds", "0", "--out", str(out),
                 "--cache-dir", str(cache_dir), "--no-progress"])
    _assert_refused(code, capsys, out, str(out), before)


# ---------------------------------------------------------------------------------------------- explore
EXPLORE_CONFIG = """
[explore.jd]
lrs = [0.1]
epochs = 2

[explore.ls]
weights = [0.3, 0.7]
lr = 0.2
epochs = 2
""" + TABLE_CONFIG.replace("[methods.RAUL-LS]\nepochs = 1\nlr = [0.1]\n", "").replace(
    "[methods.RAUL-UPGrad]\nepochs = 1\nlr = [0.05, 0.2]\n", "")
BASELINE_NAMES = ("FT", "GA", "IU", "RL", "SalUn", "l1-sparse")


@pytest.fixture(scope="module")
def explore_run(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path):
    root = tmp_path_factory.mktemp("explore")
    config = _write(root / "explore.toml", EXPLORE_CONFIG)
    out = root / "out"
    code = main([*_explore_argv("jd,ls", config, out, cache_dir), "--baselines"])
    return code, out


def test_explore_seeds_ls_warm_with_the_ls_sweep_it_runs() -> None:
    """nsga2-ls-warm's generation 1 is the ls sweep of the same run, also when a config changes it."""
    from pareto_unlearn.config import RunConfig
    from pareto_unlearn.solvers._registry import resolve_settings

    def _check_settings(cfg, quick):
        return resolve_settings(cfg.task, cfg.explore, cfg.solvers, quick=quick)

    default = _check_settings(RunConfig(), quick=False)
    ls = default["ls"]
    # the 10-weight grid, middle weights first so that the sweep spans the front from its first point
    assert sorted(ls["weights"]) == pytest.approx(np.linspace(0.05, 0.95, 10))
    assert ls["weights"][:3] == [0.45, 0.75, 0.25] and ls["weights"][-2:] == [0.05, 0.95]
    assert default["nsga2-ls-warm"]["seed_sweep"] == {"weights": ls["weights"], "lr": ls["lr"],
                                                      "epochs": ls["epochs"]}
    assert default["nsga2-ls-warm"]["pop_size"] == len(ls["weights"])
    changed = _check_settings(RunConfig(explore={"ls": {"weights": [0.3, 0.7], "lr": 0.2, "epochs": 2}}),
                              quick=True)
    assert changed["nsga2-ls-warm"]["seed_sweep"] == {"weights": [0.3, 0.7], "lr": 0.2, "epochs": 2}
    assert changed["nsga2-ls-warm"]["pop_size"] == 2
    own = {"weights": [0.5], "lr": 0.1, "epochs": 1}
    config = RunConfig(explore={"ls": {"weights": [0.3, 0.7]}, "nsga2-ls-warm": {"seed_sweep": own}})
    kept = _check_settings(config, quick=True)
    assert kept["nsga2-ls-warm"]["seed_sweep"] == own
    assert kept["sms-emoa-ls-warm"]["seed_sweep"]["weights"] == [0.3, 0.7]  # its own seed follows ls
    with pytest.raises(ConfigError, match="contradicts the solver's name"):
        _check_settings(RunConfig(explore={"sms-emoa-ls-warm": {"algorithm": "nsga2"}}), quick=True)


def test_explore_writes_a_valid_run_dir(explore_run) -> None:
    code, out = explore_run
    assert code == 0
    if not VALIDATOR.is_file():
        pytest.skip(f"{VALIDATOR} is not available")
    result = subprocess.run([sys.executable, str(VALIDATOR), str(out)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == "ok"


def test_explore_points_and_rebuild(explore_run, digits_task) -> None:
    code, out = explore_run
    assert code == 0
    summary, front = load_run(out, task=digits_task)
    assert set(summary["solvers"]) == {"jd", "ls", *BASELINE_NAMES}
    assert summary["complete"] is True
    assert summary["task"]["theta0_sha256"] == digits_task.theta0_hash
    assert summary["objectives"] == ["forget_kl", "retain_ce"]
    counts = {name: int((front.solver == name).sum()) for name in front.solvers}
    # jd: 1 lr × 2 epochs; ls: 2 weights, last epoch each; a baseline: its oracle-free pick of its grid.
    assert counts == {"Original": 1, "jd": 2, "ls": 2, **dict.fromkeys(BASELINE_NAMES, 1)}
    for name in BASELINE_NAMES:
        provenance = front.provenance[int(np.flatnonzero(front.solver == name)[0])]
        assert provenance["chosen_by"] == "oracle-free"
        assert provenance["hyperparameters"] in provenance["grid"]
        assert provenance["hyperparameters"].get("epochs", 1) == 1  # IU is one shot: no epochs
    assert summary["solvers"]["jd"]["n_points"] == 2 and summary["solvers"]["ls"]["n_points"] == 2
    ls_points = [p for p, s in zip(front.provenance, front.solver, strict=True) if s == "ls"]
    ls_weights = sorted(p["hyperparameters"]["w"] for p in ls_points)
    assert ls_weights == pytest.approx([0.3, 0.7])
    from pareto_unlearn.objectives import make_objectives

    objectives = make_objectives(digits_task)
    for i in range(len(front)):
        values = objectives.evaluate(rebuild_model(None, front, i), digits_task)
        np.testing.assert_allclose(values, front.F[i], rtol=1e-5, atol=1e-7)
    with np.load(out / "splits.npz", allow_pickle=False) as data:
        for key in SPLIT_KEYS:
            np.testing.assert_array_equal(data[key], getattr(digits_task.splits, key))


def test_explore_over_seeds_writes_hv_intervals_and_attainment(tmp_path: Path, cache_dir: Path) -> None:
    config = _write(tmp_path / "tiny.toml", "[explore.jd]\nlrs = [0.1]\nepochs = 1\n\n"
                    "[explore.ls]\nweights = [0.3, 0.7]\nlr = 0.2\nepochs = 1\n")
    out = tmp_path / "out"
    argv = _explore_argv("jd,ls", config, out, cache_dir)
    argv[argv.index("--seeds") + 1] = "0,1"
    assert main(argv) == 0
    assert (out / "summary.json").is_file() and (out / "seed1" / "summary.json").is_file()
    table = pd.read_csv(out / "seeds.csv")
    assert set(table["solver"]) == {"jd", "ls"} and (table["n_seeds"] == 2).all()
    assert (table["hv_low"] <= table["hv_mean"]).all() and (table["hv_mean"] <= table["hv_high"]).all()
    assert (out / "attainment.png").stat().st_size > 10_000


def test_version_is_the_package_version(capsys):
    import pareto_unlearn

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"pareto-unlearn {pareto_unlearn.__version__}"


@pytest.mark.fault(what="table: every grid point of one row diverges (non-finite objectives)",
                   answer="the table is written; that row is NaN and recorded as diverged")
def test_table_with_a_row_whose_every_grid_point_diverges(tmp_path: Path, cache_dir: Path) -> None:
    config = _write(tmp_path / "diverge.toml", TABLE_CONFIG.replace("[methods.GA]\nepochs = 1\nlr = [0.05]",
                                                                     "[methods.GA]\nepochs = 1\nlr = [1e30]"))
    out = tmp_path / "out"
    assert main(["table", "--task", "digits", "--forget", "random:0.1", "--seeds", "0", "--out", str(out),
                 "--cache-dir", str(cache_dir), "--config", str(config), "--no-progress"]) == 0
    frame = pd.read_csv(out / "table.csv").set_index("method")
    assert frame.loc["GA", ["UA", "RA", "TA", "MIA"]].isna().all()
    assert frame.drop(index="GA")[["UA", "RA", "TA", "MIA"]].notna().all().all()
    ga = [r for r in json.loads((out / "results.json").read_text())["rows"] if r["method"] == "GA"]
    assert ga and all(r["hyperparameters"]["diverged"] for r in ga)
    assert "| GA † |" in (out / "table.md").read_text() and "† GA: every grid point diverged" in (
        out / "table.md").read_text()
