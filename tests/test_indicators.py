"""Indicators against hand computations (SPEC §4)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.front import Front
from pareto_unlearn.indicators import (
    HV,
    HVAtUtility,
    anytime_hv,
    attainment_surface,
    hv_reference_point_from_values,
    hypervolume,
    igd_plus,
    pareto_stationarity_gap,
)

STAIRS = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]])


# ---------------------------------------------------------------- hypervolume
def test_hv_2d_hand_computed():
    # 3×1 + 2×1 + 1×1 slabs between the staircase and (4, 4)
    assert hypervolume(STAIRS, [4.0, 4.0]) == pytest.approx(6.0)
    assert hypervolume(STAIRS[:1], [4.0, 4.0]) == pytest.approx(3.0)
    assert hypervolume(np.vstack([STAIRS, [[2.5, 2.5]]]), [4.0, 4.0]) == pytest.approx(6.0)  # dominated


def test_hv_3d_hand_computed():
    # boxes [0,2]²×[1,2] (4) and [1,2]²×[0,2] (2) overlap in [1,2]³ (1): 4 + 2 − 1 = 5
    assert hypervolume([[0.0, 0.0, 1.0], [1.0, 1.0, 0.0]], [2.0, 2.0, 2.0]) == pytest.approx(5.0)
    assert hypervolume([[1.0, 1.0, 1.0]], [2.0, 3.0, 4.0]) == pytest.approx(6.0)


def test_hv_ignores_points_outside_the_box_and_infeasible_rows():
    extra = np.array([[5.0, 0.0], [4.0, 0.5], [0.5, 4.0], [np.nan, 0.0], [0.0, np.inf], [-np.inf, 0.0]])
    assert hypervolume(np.vstack([STAIRS, extra]), [4.0, 4.0]) == pytest.approx(6.0)
    assert hypervolume(extra, [4.0, 4.0]) == 0.0
    assert hypervolume(np.empty((0, 2)), [4.0, 4.0]) == 0.0


def test_hv_callable_on_front_and_array():
    F = np.vstack([STAIRS, [[np.nan, 1.0]]])
    front = Front.concat([Front.from_points(F[:2], solver="a"), Front.from_points(F[2:], solver="b")])
    hv = HV([4.0, 4.0])
    assert hv(front) == pytest.approx(6.0)
    assert hv(F) == pytest.approx(6.0)
    assert hv.by_solver(front) == pytest.approx({"a": 5.0, "b": 3.0})
    assert hv(Front.from_points(np.empty((0, 2)))) == 0.0


def test_hv_rejects_mismatched_reference_point():
    with pytest.raises(ConfigError, match="objectives"):
        hypervolume(STAIRS, [4.0, 4.0, 4.0])
    with pytest.raises(ConfigError, match="finite"):
        HV([4.0, np.nan])


def test_hv_at_utility_counts_only_points_that_keep_retain_accuracy():
    front = Front.from_points(STAIRS, metrics={"RA": np.array([90.0, 99.0, np.nan])})
    rule = HVAtUtility([4.0, 4.0], ra_min=95.0)
    assert rule(front) == pytest.approx(4.0)  # only (2, 2): 2 × 2
    assert rule(STAIRS, ra=[99.0, 99.0, 99.0]) == pytest.approx(6.0)
    assert HVAtUtility([4.0, 4.0], ra_min=100.0)(front) == 0.0
    with pytest.raises(ConfigError, match="ra="):
        rule(STAIRS)
    with pytest.raises(ConfigError, match="RA"):
        rule(Front.from_points(STAIRS))


def test_anytime_hv_is_running_hv_in_time_order():
    F = np.array([[2.0, 2.0], [1.0, 3.0], [3.0, 1.0], [2.5, 2.5], [np.nan, 0.0]])
    t, hv = anytime_hv(F, [1.0, 0.5, 2.0, 3.0, 0.1], [4.0, 4.0])
    assert t.tolist() == [0.1, 0.5, 1.0, 2.0, 3.0]
    assert hv.tolist() == pytest.approx([0.0, 3.0, 5.0, 6.0, 6.0])
    with pytest.raises(ConfigError, match="times"):
        anytime_hv(F, [1.0], [4.0, 4.0])


# ---------------------------------------------------------------- IGD+
def _igd_plus_by_hand(F, Z):
    return np.mean([min(math.sqrt(sum(max(a - z, 0.0) ** 2 for a, z in zip(p, q, strict=True))) for p in F)
                    for q in Z])


def test_igd_plus_hand_computed():
    F = np.array([[1.0, 3.0], [3.0, 1.0]])
    Z = np.array([[0.0, 4.0], [2.0, 2.0], [4.0, 0.0]])
    scale = np.array([2.0, 4.0])
    # scaled: F = (0.5, 0.75), (1.5, 0.25); Z = (0, 1), (1, 0.5), (2, 0)
    # z=(0,1): min(‖(0.5, 0)‖, ‖(1.5, 0)‖) = 0.5;  z=(1,0.5): min(‖(0, 0.25)‖, ‖(0.5, 0)‖) = 0.25
    # z=(2,0): min(‖(0, 0.75)‖, ‖(0, 0.25)‖) = 0.25
    expected = (0.5 + 0.25 + 0.25) / 3
    assert _igd_plus_by_hand(F / scale, Z / scale) == pytest.approx(expected)
    assert igd_plus(F, Z, scale) == pytest.approx(expected)
    assert igd_plus(Z, Z, scale) == pytest.approx(0.0)


def test_igd_plus_empty_and_infeasible():
    Z = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert math.isnan(igd_plus(np.empty((0, 2)), Z, [1.0, 1.0]))
    assert math.isnan(igd_plus([[np.nan, 0.0]], Z, [1.0, 1.0]))
    assert igd_plus([[0.0, 1.0], [np.inf, 0.0], [1.0, 0.0]], Z, [1.0, 1.0]) == pytest.approx(0.0)
    with pytest.raises(ConfigError, match="reference_F"):
        igd_plus(Z, [[np.nan, 1.0]], [1.0, 1.0])
    with pytest.raises(ConfigError, match="positive"):
        igd_plus(Z, Z, [1.0, 0.0])


# ---------------------------------------------------------------- reference point
def test_reference_point_rule():
    r = hv_reference_point_from_values([0.9, 0.05], [0.0, math.log(10)])
    assert r == pytest.approx([1.01 * 0.9, 1.01 * math.log(10)])
    # the worse of the two per objective, whichever side it comes from
    assert hv_reference_point_from_values([1.0, 3.0, 2.0], [2.0, 1.0, 2.0], factor=1.1) == pytest.approx(
        [2.2, 3.3, 2.2])


def test_reference_point_accepts_tensors():
    torch = pytest.importorskip("torch")
    r = hv_reference_point_from_values(torch.tensor([0.5, 0.1]), torch.tensor([0.0, 2.0]))
    assert r == pytest.approx([0.505, 2.02])


@pytest.mark.parametrize("theta0, uniform, factor, match", [
    ([1.0, 2.0], [1.0], 1.01, "same length"),
    ([1.0, np.nan], [1.0, 2.0], 1.01, "finite"),
    ([1.0, 2.0], [1.0, 2.0], 0.9, "factor"),
    ([0.0, 2.0], [-1.0, 2.0], 1.01, "positive"),
])
def test_reference_point_refuses_bad_input(theta0, uniform, factor, match):
    with pytest.raises(ConfigError, match=match):
        hv_reference_point_from_values(theta0, uniform, factor=factor)


# ---------------------------------------------------------------- Pareto stationarity
def test_stationarity_gap_two_objectives():
    assert pareto_stationarity_gap([[1.0, 2.0], [-3.0, -6.0]]) == pytest.approx(0.0, abs=1e-12)
    assert pareto_stationarity_gap([[1.0, 2.0], [1.0, 2.0]]) == pytest.approx(1.0)
    assert pareto_stationarity_gap([[1.0, 0.0], [0.0, 1.0]]) == pytest.approx(math.sqrt(2) / 2)
    assert pareto_stationarity_gap([[5.0, 0.0, 0.0], [0.0, 0.01, 0.0]]) == pytest.approx(math.sqrt(2) / 2)


def _gap_on_simplex_grid(G, steps=200):
    U = G / np.linalg.norm(G, axis=1, keepdims=True)
    grid = np.array([(i, j, steps - i - j) for i, j in itertools.product(range(steps + 1), repeat=2)
                     if i + j <= steps]) / steps
    return np.linalg.norm(grid @ U, axis=1).min()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stationarity_gap_three_objectives_matches_brute_force(seed):
    G = np.random.default_rng(seed).normal(size=(3, 4)) * np.array([[1.0], [10.0], [0.1]])
    gap, brute = pareto_stationarity_gap(G), _gap_on_simplex_grid(G)
    assert gap <= brute + 1e-9  # the QP optimum is at least as good as any grid point
    assert gap == pytest.approx(brute, abs=0.02)  # and the grid gets close to it


def test_stationarity_gap_three_objectives_known_values():
    assert pareto_stationarity_gap(np.eye(3)) == pytest.approx(1 / math.sqrt(3), abs=1e-6)
    # 0 lies inside the hull of three unit vectors at 120°
    G = np.array([[1.0, 0.0], [-0.5, math.sqrt(3) / 2], [-0.5, -math.sqrt(3) / 2]])
    assert pareto_stationarity_gap(G) == pytest.approx(0.0, abs=1e-5)


def test_stationarity_gap_edge_cases_and_torch():
    torch = pytest.importorskip("torch")
    G = np.array([[1.0, 2.0, 0.5], [0.3, -1.0, 2.0]])
    assert pareto_stationarity_gap(torch.tensor(G, dtype=torch.float32)) == pytest.approx(
        pareto_stationarity_gap(G), abs=1e-6)
    assert pareto_stationarity_gap([[0.0, 0.0], [1.0, 0.0]]) == 0.0
    assert math.isnan(pareto_stationarity_gap([[np.nan, 0.0], [1.0, 0.0]]))
    with pytest.raises(ConfigError, match="G.shape"):
        pareto_stationarity_gap(np.ones(3))


# ---------------------------------------------------------------- attainment surfaces
def test_attainment_surface_levels():
    runs = [np.array([[1.0, 3.0]]), np.array([[2.0, 2.0]]), np.array([[3.0, 1.0]])]
    assert attainment_surface(runs, 50).tolist() == [[2.0, 3.0], [3.0, 2.0]]  # attained by 2 of 3
    assert attainment_surface(runs, 100).tolist() == [[3.0, 3.0]]
    assert attainment_surface(runs, 10).tolist() == STAIRS.tolist()


def test_attainment_surface_counts_runs_without_feasible_points():
    runs = [np.array([[1.0, 3.0]]), np.array([[2.0, 2.0]]), np.array([[np.nan, 1.0]]), np.empty((0, 2))]
    assert attainment_surface(runs, 50).tolist() == [[2.0, 3.0]]  # 2 of 4 runs
    assert attainment_surface(runs, 75).shape == (0, 2)  # 3 of 4 runs: only 2 have points


def test_attainment_surface_3d_and_bad_level():
    runs = [np.array([[1.0, 2.0, 3.0]]), np.array([[2.0, 1.0, 3.0]])]
    assert attainment_surface(runs, 100).tolist() == [[2.0, 2.0, 3.0]]
    with pytest.raises(ConfigError, match="level"):
        attainment_surface(runs, 0)
