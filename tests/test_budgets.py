"""``budget_table`` / ``compare --budgets``: each space's best evolutionary and gradient fronts within
multiples of the base cost (the cheapest full-space gradient front's), on synthetic fronts whose HVs are known
by hand.

Reference point (4, 4); θ0 at (3, 3), so the HV of θ0 alone is 1. Wall-clock seconds:

* jd (gradient, all-parameters, no log): (2, 2) at 1 s, (1, 3) at 2 s, (3, 1) at 3 s, (1.98, 2) at 4 s:
  HV 6.02 from 4 s on (and its point at 3 s has RA 80, below the HV@utility threshold 90). ls (gradient,
  all-parameters): (2.5, 2.5) at 8 s, HV 2.25. So C = 4 s (jd); in sample-passes ls is the cheaper (50).
* FT (baseline): (0.5, 0.5) at 1 s, HV 12.25: left out of every space.
* the last-layer evolutionary search: log HV 1 at 2 s, 3 at 6 s, 5 at 12 s, 7 at 30 s.
* a gradient solver of the last-layer space (registered for the test only): (3, 3) at 3 s, (2.5, 2.5) at 10 s.
* the LoRA evolutionary search: log HV 2 at 4 s, 4 at 8 s, 6 at 20 s, 8 at 40 s; and an unregistered solver
  whose points' provenance says "lora": (0.9, 0.9) at 30 s, HV 9.61.
* the two warm searches (space ls-warm): one logs HV 3 at 4 s and 5 at 40 s, the other 4 at 4.5 s and 4.5 at
  8 s: at 4 s only the first has anything.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from pareto_unlearn.cli import main
from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.experiments import budget_table, parse_budgets, write_budgets
from pareto_unlearn.experiments._against_gradient import hv_within
from pareto_unlearn.experiments._compare import BUDGET_COLUMN_NOTES, BUDGET_COLUMNS, budgets_markdown
from pareto_unlearn.front import Front
from pareto_unlearn.rundir import write_run_dir
from pareto_unlearn.solvers._registry import REGISTRY, space_of
from pareto_unlearn.summary import summarize

REF = [4.0, 4.0]
FAKE_GRADIENT = "test-gradient-last-layer"  # a gradient solver of the last-layer space, registered per test
MINE = "test-unregistered"


def _registered(family: str, space: str) -> list[str]:
    return [n for n, e in REGISTRY.items() if e.family == family and space_of(n) == space]


EVO_LL = _registered("evolutionary", "last-layer")[0]
EVO_LORA = _registered("evolutionary", "lora")[0]
WARM_A, WARM_B = _registered("evolutionary", "ls-warm")[:2]
FT = next(n for n, e in REGISTRY.items() if e.family == "baseline")


def _part(name, F, wall_s, *, passes=None, ra=None, anytime=(), space=None):
    n = len(F)
    forward = np.asarray(wall_s, dtype=float) * 100 if passes is None else np.asarray(passes, dtype=float)
    return Front.from_points(
        np.array(F, dtype=float), solver=name,
        metrics={"RA": np.full(n, 99.0) if ra is None else np.asarray(ra, dtype=float)},
        cost={"wall_s": np.asarray(wall_s, dtype=float), "forward_passes": forward,
              "backward_passes": np.zeros(n)},
        provenance=[{"space": space or space_of(name)} for _ in range(n)],
        anytime=[{"solver": name, "forward_passes": 100.0 * a["wall_s"], "backward_passes": 0.0, **a}
                 for a in anytime])


def _log(*pairs):
    return [{"wall_s": t, "hv": hv} for t, hv in pairs]


def _summary(front: Front) -> dict:
    task = {"name": "synthetic", "forget": "random:0.5", "data_fingerprint": "d", "model": "mlp", "seed": 0,
            "n_classes": 10, "theta0_sha256": "0" * 64}
    return summarize(front, ref_point=REF, original={"objectives": [3.0, 3.0], "metrics": {"RA": 95.0}},
                     retrain={}, task_info=task, reference="uniform", kl_direction="model-ref", manifest={})


def _front(*, with_fake=True, gradients=True, mine=True) -> Front:
    parts = [
        _part(FT, [[0.5, 0.5]], [1.0]),
        _part(EVO_LL, [[1.2, 1.2]], [30.0], anytime=_log((2.0, 1.0), (6.0, 3.0), (12.0, 5.0), (30.0, 7.0))),
        _part(EVO_LORA, [[1.0, 1.0]], [40.0], anytime=_log((4.0, 2.0), (8.0, 4.0), (20.0, 6.0), (40.0, 8.0))),
        *([_part(MINE, [[0.9, 0.9]], [30.0], space="lora")] if mine else []),
        _part(WARM_A, [[1.5, 1.5]], [40.0], anytime=_log((4.0, 3.0), (40.0, 5.0))),
        _part(WARM_B, [[1.8, 1.8]], [8.0], anytime=_log((4.5, 4.0), (8.0, 4.5))),
    ]
    if gradients:
        parts = [_part("jd", [[2, 2], [1, 3], [3, 1], [1.98, 2]], [1.0, 2.0, 3.0, 4.0],
                       ra=[99.0, 99.0, 80.0, 99.0]),
                 _part("ls", [[2.5, 2.5]], [8.0], passes=[50.0]), *parts]
    if with_fake:
        parts.append(_part(FAKE_GRADIENT, [[3, 3], [2.5, 2.5]], [3.0, 10.0]))
    return Front.concat(parts)


@pytest.fixture
def fake_gradient(monkeypatch):
    """A gradient solver of the last-layer space, known to the registry only for the test."""
    entry = dataclasses.replace(REGISTRY[EVO_LL], name=FAKE_GRADIENT, family="gradient")  # its space
    monkeypatch.setitem(REGISTRY, FAKE_GRADIENT, entry)
    assert space_of(FAKE_GRADIENT) == "last-layer"


@pytest.fixture
def run(fake_gradient):
    front = _front()
    return _summary(front), front


def _rows(table: pd.DataFrame, space: str) -> pd.DataFrame:
    return table[table["space"] == space].set_index("budget_multiple")


# ------------------------------------------------------------------------------------------ the table
def test_one_row_per_budget_and_space_with_the_base_cost_of_the_cheapest_full_gradient(run):
    table = budget_table([run], (1, 2, 5, 10))
    assert list(table.columns) == list(BUDGET_COLUMNS) and set(BUDGET_COLUMN_NOTES) == set(BUDGET_COLUMNS)
    spaces = ["all-parameters", "last-layer", "lora", "ls-warm"]  # the baseline adds no row, no space
    assert list(zip(table["budget_multiple"], table["space"], strict=True)) == [
        (b, s) for b in (1.0, 2.0, 5.0, 10.0) for s in spaces]
    assert (table["base_cost"] == 4.0).all() and (table["base_solver"] == "jd").all()
    assert (table["budget"] == 4.0 * table["budget_multiple"]).all()
    assert table.attrs["base_costs"] == {"run0": 4.0} and table.attrs["budget_axis"] == "wall_s"
    # in sample-passes ls (50) is cheaper than jd (400)
    passes = budget_table([run], "1,2", axis="passes")
    assert (passes["base_solver"] == "ls").all() and passes["budget"].tolist() == [50.0] * 4 + [100.0] * 4


def test_every_solver_is_cut_at_the_same_cost(run):
    summary, front = run
    table = budget_table([run], (1, 2, 10))
    warm = _rows(table, "ls-warm")
    # at 4 s the second warm search (HV 4 at 4.5 s) has nothing yet; at 8 s it leads; at 40 s the first
    assert warm["evolutionary_solver"].to_dict() == {1.0: WARM_A, 2.0: WARM_B, 10.0: WARM_A}
    assert warm["evolutionary_hv"].to_dict() == pytest.approx({1.0: 3.0, 2.0: 4.5, 10.0: 5.0})
    # ls (8 s) is not in jd's 1× row even though it is a full-space gradient front
    full = _rows(table, "all-parameters")
    assert full.loc[1.0, "gradient_hv"] == pytest.approx(6.02)
    for row in table.itertuples():
        for name, hv in ((row.evolutionary_solver, row.evolutionary_hv),
                         (row.gradient_solver, row.gradient_hv),
                         (row.full_gradient_solver, row.full_gradient_hv)):
            if name:
                assert hv == pytest.approx(hv_within(front, name, row.budget, "wall_s", np.array(REF)))


def test_hv_within_a_budget_never_decreases_as_the_budget_grows(run):
    table = budget_table([run], (0.5, 1, 1.5, 2, 3, 5, 7.5, 10, 20))
    columns = ["evolutionary_hv", "gradient_hv", "full_gradient_hv", "space_best_hv", "full_space_best_hv",
               "evolutionary_hv_gain", "gradient_hv_gain"]
    for space, rows in table.groupby("space"):
        rows = rows.sort_values("budget")
        for column in columns:
            values = rows[column].to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            assert (np.diff(values) >= -1e-12).all(), (space, column, values)
    assert (table["gradient_hv"].dropna() > 0).any()


def test_hv_utility_and_gain_over_theta0(run):
    full = _rows(budget_table([run], (1, 2)), "all-parameters")
    assert full.loc[1.0, "gradient_hv_gain"] == pytest.approx(6.02 - 1.0)  # θ0 alone: (4 − 3)²
    assert full.loc[1.0, "gradient_hv_utility"] == pytest.approx(5.02)  # the RA-80 point (3, 1) left out
    ll = _rows(budget_table([run], (1,)), "last-layer")
    assert ll.loc[1.0, "evolutionary_hv_gain"] == pytest.approx(0.0)  # HV 1 at 2 s: no better than θ0


def test_the_ratio_within_one_space_and_against_the_full_gradient(run):
    table = budget_table([run], (1, 2, 5, 10))
    ll = _rows(table, "last-layer")
    assert (ll["gradient_solver"] == FAKE_GRADIENT).all() and (ll["evolutionary_solver"] == EVO_LL).all()
    assert ll["ratio"].to_dict() == pytest.approx({1.0: 1.0, 2.0: 3.0, 5.0: 5 / 2.25, 10.0: 7 / 2.25})
    assert ll["vs_full_gradient"].to_dict() == pytest.approx({1.0: 1 / 6.02, 2.0: 3 / 6.02, 5.0: 5 / 6.02,
                                                              10.0: 7 / 6.02})
    lora = _rows(table, "lora")  # no gradient solver there: no ratio, but one against the full gradient
    assert (lora["gradient_solver"] == "").all() and lora["ratio"].isna().all()
    assert lora["vs_full_gradient"].to_dict() == pytest.approx({1.0: 2 / 6.02, 2.0: 4 / 6.02, 5.0: 6 / 6.02,
                                                                10.0: 8 / 6.02})
    full = _rows(table, "all-parameters")  # no evolutionary solver of all parameters
    assert (full["evolutionary_solver"] == "").all()
    assert full[["ratio", "vs_full_gradient"]].isna().all().all()


@pytest.mark.skipif(not _registered("gradient", "lora"), reason="no gradient solver of the LoRA space")
def test_a_registered_gradient_solver_of_a_subspace_is_placed_by_the_registry():
    name = _registered("gradient", "lora")[0]
    front = Front.concat([_front(with_fake=False), _part(name, [[2.0, 2.0]], [6.0])])  # HV 4 from 6 s
    lora = _rows(budget_table([(_summary(front), front)], (1, 2)), "lora")
    assert (lora["gradient_solver"] == name).all()
    assert lora["gradient_hv"].to_dict() == {1.0: 0.0, 2.0: 4.0}  # B = 4 s: nothing yet, so no ratio
    assert math.isnan(lora.loc[1.0, "ratio"]) and lora.loc[2.0, "ratio"] == pytest.approx(4.0 / 4.0)


def test_a_gradient_hv_of_zero_gives_no_ratio(run):
    ll = _rows(budget_table([run], (0.5,)), "last-layer")  # B = 2 s: the gradient solver starts at 3 s
    assert ll.loc[0.5, "gradient_hv"] == 0.0 and ll.loc[0.5, "evolutionary_hv"] == pytest.approx(1.0)
    assert math.isnan(ll.loc[0.5, "ratio"])


def test_space_vs_full_is_what_the_space_costs_at_equal_cost(run):
    table = budget_table([run], (1, 2, 5, 10))
    assert (_rows(table, "all-parameters")["space_vs_full"] == 1.0).all()
    # FT's HV 12.25 counts for no space
    assert table["full_space_best_hv"].tolist() == pytest.approx([6.02] * len(table))
    ll = _rows(table, "last-layer")
    assert ll["space_vs_full"].to_dict() == pytest.approx({1.0: 1 / 6.02, 2.0: 3 / 6.02, 5.0: 5 / 6.02,
                                                           10.0: 7 / 6.02})
    lora = _rows(table, "lora")  # the unregistered solver, placed by its provenance, counts (any family)
    assert lora.loc[10.0, "space_best_hv"] == pytest.approx(3.1 ** 2)
    assert lora.loc[10.0, "space_vs_full"] == pytest.approx(3.1 ** 2 / 6.02)
    assert lora.loc[5.0, "space_vs_full"] == pytest.approx(6 / 6.02)  # it ends at 30 s, after B = 20 s


def test_a_run_without_a_full_space_gradient_front_is_refused(fake_gradient):
    front = _front(gradients=False)  # only a last-layer gradient solver: no base cost
    with pytest.raises(ConfigError, match="run 'run0' has no full-space gradient front") as err:
        budget_table([(_summary(front), front)])
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("bad", ["0", "x", "", "1,,2", "-1", "nan", "inf", (), (0,), [True]])
def test_bad_budgets_are_refused_in_one_line(bad):
    with pytest.raises(ConfigError, match="budget") as err:
        parse_budgets(bad)
    assert "\n" not in str(err.value)


def test_budgets_are_read_from_text_or_numbers():
    assert parse_budgets("1, 2,5,10") == (1.0, 2.0, 5.0, 10.0)
    assert parse_budgets([0.5, 2, 2]) == (0.5, 2.0)
    assert parse_budgets(3) == (3.0,)


def test_an_unknown_axis_is_refused(run):
    with pytest.raises(ConfigError, match="axis 'seconds' is not known"):
        budget_table([run], axis="seconds")


def test_write_budgets_writes_csv_and_markdown(run, tmp_path):
    table = budget_table([run], (1, 2))
    paths = write_budgets(table, tmp_path / "out")
    back = pd.read_csv(paths["csv"], keep_default_na=False, na_values=[""])
    assert list(back.columns) == list(BUDGET_COLUMNS) and len(back) == len(table)
    assert back["ratio"].to_numpy(dtype=float) == pytest.approx(table["ratio"].to_numpy(dtype=float),
                                                                nan_ok=True)
    text = paths["md"].read_text()
    assert text == budgets_markdown(table) and "| run | budget_multiple |" in text
    assert "- `space_vs_full`:" in text and "base cost (the cheapest full-space gradient front" in text


# ------------------------------------------------------------------------------------------ the CLI
def _run_dir(tmp_path, front, name="run"):
    write_run_dir(tmp_path / name, front, _summary(front))
    return str(tmp_path / name)


def test_cli_compare_budgets_writes_budgets_csv(tmp_path, capsys):
    directory = _run_dir(tmp_path, _front(with_fake=False, mine=False))  # a run directory names known solvers
    out = tmp_path / "cmp"
    assert main(["compare", directory, "--out", str(out), "--budgets", "1,2,5,10"]) == 0
    assert {p.name for p in out.iterdir()} == {"compare.csv", "compare.md", "budgets.csv", "budgets.md"}
    table = pd.read_csv(out / "budgets.csv", keep_default_na=False, na_values=[""])
    spaces = ["all-parameters", "last-layer", "lora", "ls-warm"]
    assert list(zip(table["run"], table["budget_multiple"], table["space"], strict=True)) == [
        ("run", b, s) for b in (1.0, 2.0, 5.0, 10.0) for s in spaces]
    ll = table[table["space"] == "last-layer"]
    assert ll["gradient_solver"].isna().all() and ll["ratio"].isna().all()  # no gradient solver there now
    assert ll["vs_full_gradient"].tolist() == pytest.approx([1 / 6.02, 3 / 6.02, 5 / 6.02, 7 / 6.02])
    assert "wrote" in capsys.readouterr().out
    assert main(["compare", directory, "--out", str(tmp_path / "p"), "--budgets", "1", "--budget-axis",
                 "passes"]) == 0
    assert pd.read_csv(tmp_path / "p" / "budgets.csv")["base_solver"].eq("ls").all()


@pytest.mark.parametrize("argv", [["--budgets", "0"], ["--budgets", "x"], ["--budgets", ""],
                                  ["--budgets", "1,-2"], ["--budget-axis", "passes"]])
def test_cli_bad_budgets_exit_2_in_one_line_and_write_nothing(tmp_path, capsys, argv):
    directory = _run_dir(tmp_path, _front(with_fake=False, mine=False))  # a run directory names known solvers
    out = tmp_path / "cmp"
    assert main(["compare", directory, "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pareto-unlearn compare: error:")
    assert not out.exists()


def test_cli_refuses_a_run_without_a_full_space_gradient_front_and_writes_nothing(tmp_path, capsys):
    directory = _run_dir(tmp_path, _front(with_fake=False, gradients=False, mine=False))
    out = tmp_path / "cmp"
    assert main(["compare", directory, "--out", str(out), "--budgets", "1,2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no full-space gradient front" in err
    assert not out.exists()


def test_a_given_base_cost_sets_the_same_absolute_budgets(run):
    """base_cost: a variant of a run (denser gradient sweeps) read at the first run's budgets."""
    table = budget_table([run], (1, 2), base_cost=3.0)
    assert (table["base_solver"] == "given").all() and (table["base_cost"] == 3.0).all()
    assert sorted(set(table["budget"])) == [3.0, 6.0]
    own = budget_table([run], (1, 2))
    assert sorted(set(own["budget"])) == [4.0, 8.0]
    for bad in (0, -1.0, float("nan"), "4"):
        with pytest.raises(ConfigError, match="base_cost"):
            budget_table([run], (1,), base_cost=bad)
