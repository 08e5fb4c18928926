"""Selection rules on small hand-made fronts (SPEC §6)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.front import Front
from pareto_unlearn.selection import ClosestToRetrain, Constrained, Knee, OracleFree, Preference, make_rule

NAN = np.nan


def knee_front() -> Front:
    """Infeasible and dominated points first, so a subset index would differ from the front index."""
    F = np.array([
        [NAN, 0.5],    # 0 infeasible
        [0.7, 0.7],    # 1 dominated
        [0.0, 1.0],    # 2 extreme
        [0.9, 0.02],   # 3
        [0.15, 0.2],   # 4 the obvious knee
        [1.0, 0.0],    # 5 extreme
        [0.05, 0.6],   # 6
    ])
    metrics = {
        "RA": [99.9, 50.0, 20.0, 99.8, 97.0, 100.0, 60.0],
        "TA": [95.0, 50.0, 20.0, 96.0, 94.0, 96.5, 55.0],
        "gap": [0.1, 3.0, 9.0, 2.0, 1.0, 4.0, 5.0],
        "oracle_free": [0.0, 8.0, 30.0, 12.0, 2.5, 20.0, NAN],
        "forget_acc": [0.0, 40.0, 0.0, 95.0, 9.0, 100.0, 5.0],
    }
    return Front.from_points(F, solver="jd", metrics=metrics)


ALL_RULES = [OracleFree("random"), OracleFree("class", n_classes=10), Knee(), Preference([0.5, 0.5]),
             Constrained("RA>=0", then=Knee()), ClosestToRetrain()]


@pytest.mark.parametrize("rule", ALL_RULES, ids=repr)
def test_empty_and_all_infeasible_fronts_raise(rule):
    empty = Front.from_points(np.empty((0, 2)))
    columns = ("RA", "gap", "oracle_free", "forget_acc")
    F = np.array([[NAN, 1.0], [0.0, np.inf]])
    infeasible = Front.from_points(F, metrics={k: [1.0, 1.0] for k in columns})
    for front in (empty, infeasible):
        with pytest.raises(ConfigError, match="no feasible point"):
            rule(front)


@pytest.mark.parametrize("rule", ALL_RULES, ids=repr)
def test_rules_return_a_python_int_index_of_a_feasible_point(rule):
    front = knee_front()
    i = rule(front)
    assert type(i) is int and front.feasible[i]


# ---------------------------------------------------------------- knee
def test_knee_two_objectives():
    assert Knee()(knee_front()) == 4


def test_knee_small_sets():
    assert Knee()(Front.from_points(np.array([[NAN, 0.0], [0.3, 0.4]]))) == 1
    assert Knee()(Front.from_points(np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]))) == 0  # tie: first
    assert Knee()(Front.from_points(np.array([[0.5, 0.5], [0.5, 0.5]]))) == 0


def test_knee_is_invariant_to_objective_scale():
    F = knee_front().F * np.array([1000.0, 0.001])
    assert Knee()(Front.from_points(F)) == 4


def test_knee_three_objectives_uses_the_hyperplane_through_the_extremes():
    F = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0],  # extremes on x + y + z = 2
                  [0.6, 0.6, 0.5],                                     # a little below the plane
                  [0.3, 0.3, 0.35]])                                    # far below: the knee
    front = Front.from_points(F, objective_names=("a", "b", "c"))
    assert Knee()(front) == 4
    assert Knee()(front.take([0, 1, 2, 3])) == 3


# ---------------------------------------------------------------- preference
def test_preference_picks_pseudo_weights_closest_to_the_request():
    front = knee_front()
    assert Preference([1.0, 0.0])(front) == 2  # best in forget_kl
    assert Preference([0.0, 1.0])(front) == 5  # best in retain_ce
    assert Preference("0.5,0.5")(front) == Preference([3.0, 3.0])(front)
    assert front.nondominated_union()[Preference([0.6, 0.4])(front)]


def test_preference_refuses_bad_weights():
    for weights in ([1.0], [-1.0, 2.0], [0.0, 0.0], "a,b", [NAN, 1.0]):
        with pytest.raises(ConfigError, match="weights"):
            Preference(weights)
    with pytest.raises(ConfigError, match="3 weights"):
        Preference([1.0, 1.0, 1.0])(knee_front())


# ---------------------------------------------------------------- constraints
def test_constraints_combine():
    front = knee_front()
    assert Constrained("RA >= 99", then=Knee())(front) == 3  # feasible with RA>=99: 3, 5 → first of the two
    assert Constrained("RA>=97", then=Knee())(front) == 3  # keeps 3, 4, 5; 4 and 5 are the extremes
    both_list = Constrained(["RA>=99", "TA>=96.2"], then=Knee())(front)
    both_text = Constrained("RA>=99, TA>=96.2", then=Knee())(front)
    assert both_list == both_text == 5
    assert Constrained("retain_ce < 0.1", then=ClosestToRetrain())(front) == 3  # objective name
    assert Constrained("RA > 50,TA<=95", then=OracleFree("random"))(front) == 4


@pytest.mark.parametrize("text", ["RA => 99", "RA >= ", ">= 99", "RA == 99", "RA>=99;TA>=95", "RA >= 9 9"])
def test_malformed_constraints_name_themselves_and_show_the_form(text):
    with pytest.raises(ConfigError, match="NAME OP NUMBER") as info:
        Constrained(text, then=Knee())
    assert repr(text.strip()) in str(info.value)


def test_constraints_unknown_name_and_nothing_satisfying():
    with pytest.raises(ConfigError, match="'XYZ' is neither"):
        Constrained("XYZ >= 1", then=Knee())(knee_front())
    with pytest.raises(ConfigError, match="no feasible point satisfies RA >= 101"):
        Constrained("RA >= 101", then=Knee())(knee_front())
    with pytest.raises(ConfigError, match="no constraint"):
        Constrained("", then=Knee())
    with pytest.raises(ConfigError, match="then"):
        Constrained("RA>=1", then="knee")


# ---------------------------------------------------------------- oracle-free
def test_oracle_free_random_takes_lowest_finite_score_among_feasible_points():
    assert OracleFree("random")(knee_front()) == 4  # point 0 scores 0.0 but is infeasible; 6 is NaN


def test_oracle_free_class_wise_and_its_fallback():
    front = knee_front()
    # forget_acc <= 10 among feasible: 2 (retain_ce 1.0), 4 (0.2), 6 (0.6) → lowest retain_ce is 4
    assert OracleFree("class", n_classes=10)(front) == 4
    # C = 100: threshold 1 %: only point 2 (forget_acc 0)
    assert OracleFree("class", n_classes=100)(front) == 2
    # none below 100/C: the lowest forget accuracy
    metrics = dict(front.metrics, forget_acc=np.array([0.0, 40.0, 30.0, 95.0, 25.0, 100.0, 60.0]))
    fallback = Front.from_points(front.F, metrics=metrics)
    assert OracleFree("class", n_classes=10)(fallback) == 4


def test_oracle_free_class_reads_ua_when_forget_acc_is_absent():
    front = knee_front()
    metrics = {"UA": 100.0 - front.metrics["forget_acc"]}
    assert OracleFree("class", n_classes=10)(Front.from_points(front.F, metrics=metrics)) == 4


def test_oracle_free_for_task_and_bad_settings():
    task = SimpleNamespace(forget_spec=SimpleNamespace(kind="class"), n_classes=10)
    rule = OracleFree.for_task(task)
    assert (rule.kind, rule.n_classes) == ("class", 10)
    task = SimpleNamespace(forget_spec=SimpleNamespace(kind="random"), n_classes=10)
    assert OracleFree.for_task(task).kind == "random"
    with pytest.raises(ConfigError, match="kind"):
        OracleFree("classwise")
    with pytest.raises(ConfigError, match="n_classes"):
        OracleFree("class")
    with pytest.raises(ConfigError, match="oracle_free"):
        OracleFree("random")(Front.from_points(np.array([[0.0, 1.0]])))
    with pytest.raises(ConfigError, match="retain_ce"):
        other = Front.from_points(np.array([[0.0, 1.0]]), objective_names=("a", "b"),
                                  metrics={"forget_acc": [1.0]})
        OracleFree("class", n_classes=10)(other)


# ---------------------------------------------------------------- closest to Retrain
def test_closest_to_retrain():
    assert ClosestToRetrain()(knee_front()) == 4  # point 0 has gap 0.1 but is infeasible
    with pytest.raises(ConfigError, match="gap"):
        ClosestToRetrain()(Front.from_points(np.array([[0.0, 1.0]])))


# ---------------------------------------------------------------- make_rule
def test_make_rule():
    assert isinstance(make_rule("knee"), Knee)
    assert isinstance(make_rule("closest-to-retrain"), ClosestToRetrain)
    assert make_rule("oracle-free", kind="class", n_classes=10).kind == "class"
    task = SimpleNamespace(forget_spec=SimpleNamespace(kind="random"), n_classes=10)
    assert make_rule("oracle-free", task=task).kind == "random"
    rule = make_rule("preference", weights=[0.5, 0.5], constraints="RA>=97")
    assert isinstance(rule, Constrained) and rule(knee_front()) == 3  # pseudo-weights (0.12, 0.88)
    with pytest.raises(ConfigError, match="oracle-free, knee, preference, closest-to-retrain"):
        make_rule("pareto")
    with pytest.raises(ConfigError, match="knee"):
        make_rule("knee", weights=[1, 0])


def test_oracle_free_utility_guard_skips_collapsed_points():
    F = np.array([[0.1, 2.3], [0.9, 0.4], [1.5, 0.1]])
    metrics = {"oracle_free": [0.5, 6.0, 9.0], "sel_acc": [10.0, 96.0, 98.0], "forget_acc": [10.0, 9.0, 95.0]}
    front = Front.from_points(F, metrics=metrics)
    assert OracleFree("random")(front) == 0  # the plain rule picks the collapsed point
    assert OracleFree("random", min_sel_acc=93.0)(front) == 1
    assert OracleFree("class", n_classes=10)(front) == 1
    assert OracleFree("class", n_classes=10, min_sel_acc=99.0)(front) == 1  # none passes: no filter
