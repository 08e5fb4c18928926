"""Push–pull Top-K distillation objectives (issue #7) and the PAMA closed-form aggregator."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F_nn

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.metrics import predict_logits
from pareto_unlearn.objectives import (
    DistillRetain,
    PushPull,
    forget_teacher,
    make_objectives,
    make_reference,
    retain_teacher,
    topk_kl,
    topk_push,
)
from pareto_unlearn.solvers import (
    PAMA,
    JacobianDescent,
    LinearScalarization,
    PAMAWeighting,
    make_aggregator,
    pama_weights,
)

NAMES = ("push_pull", "distill_retain")
SUBSETS = ("forget", "retain")


@pytest.fixture(scope="module")
def distill_objectives(digits_task):
    return make_objectives(digits_task, names=NAMES)


# --------------------------------------------------------------------------------------------- teachers
def test_class_wise_teacher_is_theta0_without_the_forgotten_classes(digits_class_task) -> None:
    task = digits_class_task
    teacher = forget_teacher(task)
    assert teacher.kind == "theta0-without-forgotten"
    assert teacher.probs.shape == (len(task.forget), task.n_classes)
    assert torch.equal(teacher.probs[:, 3], torch.zeros(len(task.forget)))
    assert torch.allclose(teacher.probs.sum(-1), torch.ones(len(task.forget)), atol=1e-6)
    # the same as θ0's probabilities with class 3 dropped and renormalised (where that is well conditioned)
    p0 = torch.softmax(predict_logits(task.original, task.forget.x).double(), -1)
    kept = p0.clone()
    kept[:, 3] = 0
    ok = kept.sum(-1) > 1e-3
    assert ok.sum() > 0
    expected = kept[ok] / kept[ok].sum(-1, keepdim=True)
    assert torch.allclose(teacher.probs[ok].double(), expected, atol=1e-5)


def test_random_forgetting_teacher_is_the_heldout_reference(digits_task) -> None:
    teacher = forget_teacher(digits_task)
    reference = make_reference("heldout", digits_task)
    assert teacher.kind == "heldout"
    assert torch.equal(teacher.probs, reference.table[digits_task.forget.y])


def test_retain_teacher_is_theta0(digits_task) -> None:
    teacher = retain_teacher(digits_task)
    p0 = torch.softmax(predict_logits(digits_task.original, digits_task.retain.x), -1)
    assert torch.allclose(teacher.probs, p0, atol=1e-6)
    assert torch.equal(teacher.labels, digits_task.retain.y)


# ------------------------------------------------------------------------------------------ pull / push
def test_topk_pull_with_k_equal_c_is_full_kl_by_hand() -> None:
    teacher = torch.tensor([[0.5, 0.3, 0.2]])
    logits = torch.tensor([[1.0, 0.0, -1.0]])
    z = [1.0, 0.0, -1.0]
    lse = math.log(sum(math.exp(v) for v in z))
    p = [math.exp(v - lse) for v in z]
    hand = sum(t * math.log(t / q) for t, q in zip([0.5, 0.3, 0.2], p, strict=True))
    assert float(topk_kl(logits, teacher)) == pytest.approx(hand, rel=1e-5)
    assert float(topk_kl(logits, teacher, top_k=3)) == pytest.approx(hand, rel=1e-5)
    # K = 1: buckets {class 0} and the rest
    hand_k1 = 0.5 * math.log(0.5 / p[0]) + 0.5 * math.log(0.5 / (p[1] + p[2]))
    assert float(topk_kl(logits, teacher, top_k=1)) == pytest.approx(hand_k1, rel=1e-5)


def test_distill_retain_default_is_full_kl_from_theta0(digits_task) -> None:
    objective = DistillRetain.from_task(digits_task)
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(len(digits_task.retain), digits_task.n_classes, generator=generator)
    t = retain_teacher(digits_task).probs
    expected = F_nn.kl_div(F_nn.log_softmax(logits, -1), t, reduction="none").sum(-1)
    assert torch.allclose(objective.per_sample(logits, digits_task.retain.y), expected, atol=1e-5)
    # at θ0 the pull is zero
    at_theta0 = objective(predict_logits(digits_task.original, digits_task.retain.x), digits_task.retain.y)
    assert float(at_theta0) == pytest.approx(0.0, abs=1e-5)


def test_push_is_zero_at_the_teacher_and_positive_when_more_confident() -> None:
    teacher = torch.tensor([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3]])
    assert torch.allclose(topk_push(teacher.log(), teacher, k=3), torch.zeros(2), atol=1e-6)
    assert torch.allclose(topk_push(teacher.log(), teacher, k=1), torch.zeros(2), atol=1e-6)
    sharper = teacher.log() * 3  # same top class, more confident on it
    p = torch.softmax(sharper, -1)
    push = topk_push(sharper, teacher, k=1)
    assert (push > 0).all()
    assert torch.allclose(push, p.max(-1).values - teacher.max(-1).values, atol=1e-6)


def test_push_pull_adds_the_weighted_push(digits_task) -> None:
    base = PushPull.from_task(digits_task, push_weight=0.0)
    pushed = PushPull.from_task(digits_task, push_weight=2.0, push_k=3)
    logits = predict_logits(digits_task.original, digits_task.forget.x)
    y = digits_task.forget.y
    push = topk_push(logits, forget_teacher(digits_task).probs, k=3)
    assert torch.allclose(pushed.per_sample(logits, y), base.per_sample(logits, y) + 2.0 * push, atol=1e-6)
    assert float(push.mean()) > 0  # θ0 is more confident on D_f than the held-out reference


# ------------------------------------------------------------------------------------------ indexing
def test_batches_index_the_teacher_and_full_set_calls_are_checked(digits_task, distill_objectives) -> None:
    model = digits_task.original
    for objective in distill_objectives:
        subset = getattr(digits_task, objective.subset)
        full = objective.per_sample(predict_logits(model, subset.x), subset.y)
        idx = torch.randperm(len(subset), generator=torch.Generator().manual_seed(1))[:37]
        batch_logits = predict_logits(model, subset.x[idx])
        assert torch.allclose(objective.per_sample_at(batch_logits, idx), full[idx], atol=1e-6)
        batch_mean = objective.batch_loss(batch_logits, subset.y[idx], idx)
        assert torch.allclose(batch_mean, full[idx].mean(), atol=1e-6)
        with pytest.raises(ConfigError, match="batch_loss"):
            objective(batch_logits, subset.y[idx])  # a mini-batch through (logits, y)
        perm = torch.randperm(len(subset), generator=torch.Generator().manual_seed(2))
        with pytest.raises(ConfigError, match="permuted"):
            objective(predict_logits(model, subset.x[perm]), subset.y[perm])


def test_population_logits_and_uniform_predictor(digits_task, distill_objectives) -> None:
    logits = {s: predict_logits(digits_task.original, getattr(digits_task, s).x) for s in SUBSETS}
    labels = {s: getattr(digits_task, s).y for s in SUBSETS}
    population = {s: torch.stack([v, 0.5 * v, torch.zeros_like(v)]) for s, v in logits.items()}
    F = distill_objectives.from_logits(population, labels)
    assert F.shape == (3, 2)
    for i in range(3):
        one = distill_objectives.from_logits({s: v[i] for s, v in population.items()}, labels)
        assert torch.allclose(F[i], one, atol=1e-6)
    assert np.allclose(F[2].double().numpy(), distill_objectives.at_uniform_predictor(digits_task), atol=1e-6)
    assert np.isfinite(distill_objectives.evaluate(digits_task.original, digits_task)).all()


def test_settings_are_validated(digits_task) -> None:
    with pytest.raises(ConfigError, match="top_k"):
        DistillRetain.from_task(digits_task, top_k=0)
    with pytest.raises(ConfigError, match="push_k"):
        PushPull.from_task(digits_task, push_k=11)
    with pytest.raises(ConfigError, match="push_weight"):
        PushPull.from_task(digits_task, push_weight=-1.0)
    with pytest.raises(ConfigError, match="distill_retain"):
        make_objectives(digits_task, names=("bogus",))
    described = PushPull.from_task(digits_task, top_k=4).describe()
    assert described["top_k"] == 4 and described["push_k"] == 3 and described["teacher"] == "heldout"


# ------------------------------------------------------------------------------------------------ PAMA
@pytest.mark.parametrize(
    ("a", "expected"),
    [
        ([2.0, 1.0, 3.0], [0.0, 1.0, 0.0]),  # all positive: the smallest projection
        ([-2.0, -1.0, -4.0], [0.0, 1.0, 0.0]),  # all negative: the one nearest 0
        ([3.0, -1.0], [0.25, 0.75]),  # mixed: 0.25·3 + 0.75·(−1) = 0
        ([1.0, -2.0, 0.5], [2 / 3, 1 / 3, 0.0]),
        ([1.0, 1.0, 2.0], [0.5, 0.5, 0.0]),  # ties split
        ([0.0, 2.0], [1.0, 0.0]),  # a zero projection: the combination with a = 0
        ([0.0, 0.0], [0.5, 0.5]),
    ],
)
def test_pama_weights_are_the_projection_of_zero(a, expected) -> None:
    a = torch.tensor(a)
    weights = pama_weights(a)
    assert torch.allclose(weights, torch.tensor(expected), atol=1e-7)
    assert float(weights.sum()) == pytest.approx(1.0)
    # the weighted projection is the projection of 0 onto [min a, max a]
    nearest_zero = float(torch.clamp(torch.tensor(0.0), a.min(), a.max()))
    assert float(weights @ a) == pytest.approx(nearest_zero, abs=1e-6)


def test_pama_on_parallel_gradients_is_min_norm_and_conflict_free() -> None:
    generator = torch.Generator().manual_seed(0)
    u = torch.randn(50, generator=generator)
    scales = torch.tensor([0.7, 2.0, 1.3])
    J = scales[:, None] * u
    d = PAMA()(J)
    assert torch.allclose(d, J[0], atol=1e-5)  # the shortest gradient = MGDA's min-norm point
    assert (J @ d >= 0).all()
    assert torch.allclose(PAMAWeighting()(J @ J.T), torch.tensor([1.0, 0.0, 0.0]))
    # opposite signs: Pareto-stationary along u, the update vanishes
    J2 = torch.tensor([2.0, -1.0])[:, None] * u
    assert PAMA()(J2).norm() < 1e-4 * u.norm()
    assert isinstance(make_aggregator("pama"), PAMA)


def test_pama_on_non_parallel_gradients_does_what_its_docstring_says() -> None:
    # mixed signs along u = mean direction: d ⊥ (g1 + g2), so exactly one objective increases
    J = torch.tensor([[1.0, 0.0], [-0.8, 0.3]])
    a = PAMAWeighting.projections(J @ J.T)
    assert a[0] > 0 > a[1]
    d = PAMA()(J)
    dots = J @ d
    assert float(d @ J.sum(0)) == pytest.approx(0.0, abs=1e-6)
    assert float(dots.sum()) == pytest.approx(0.0, abs=1e-6)
    assert float(dots.min()) < -1e-3  # a first-order conflict
    # all projections positive, yet ⟨g1, g2⟩ < 0: d = the gradient of smallest projection conflicts
    J = torch.tensor([[1.0, 0.0], [-0.3, 1.0]])
    d = PAMA()(J)
    assert torch.allclose(d, J[0])
    assert float((J @ d).min()) < 0
    assert float((J @ make_aggregator("mgda")(J)).min()) >= -1e-6  # MGDA's min-norm point does not conflict


def test_pama_with_two_objectives_conflicts_exactly_when_the_gradients_do() -> None:
    generator = torch.Generator().manual_seed(3)
    seen = set()
    for _ in range(200):
        J = torch.randn(2, 5, generator=generator, dtype=torch.float64)
        dots = J @ PAMA()(J)
        gradients_conflict = bool(J[0] @ J[1] < 0)
        seen.add(gradients_conflict)
        assert bool(dots.min() < -1e-12) == gradients_conflict
    assert seen == {True, False}


# ------------------------------------------------------------------------------------------ end to end
@pytest.mark.parametrize(
    "solver",
    [
        lambda: JacobianDescent(aggregator="pama", lr=0.05, epochs=1, seed=0, progress=False),
        lambda: LinearScalarization(lr=0.05, epochs=1, seed=0, progress=False),
    ],
    ids=["jd-pama", "ls"],
)
def test_gradient_solvers_run_on_the_distillation_objectives(
    digits_task, distill_objectives, digits_evaluator, solver
) -> None:
    front = solver().run(digits_task, distill_objectives, evaluator=digits_evaluator)
    assert front.F.shape == (1, 2)
    assert np.isfinite(front.F).all()
    assert front.objective_names == NAMES


def test_nsga2_last_layer_runs_on_the_distillation_objectives(digits_task, distill_objectives) -> None:
    from pareto_unlearn.solvers import EvolutionarySolver
    from pareto_unlearn.spaces import LastLayerSpace

    solver = EvolutionarySolver(space=LastLayerSpace(), pop_size=10, n_gen=2, seed=0, progress=False)
    front = solver.run(digits_task, distill_objectives)
    assert front.F.shape[1] == 2
    assert np.isfinite(front.F).all()
