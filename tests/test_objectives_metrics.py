"""forget_kl / retain_ce identities and references (SPEC §1); UA, RA, TA, MIA, gap and the per-sample
results of the oracle-free estimate (SPEC §3, §6)."""

from __future__ import annotations

import math
import pickle
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy.stats import entropy

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.metrics import (
    MetricEvaluator,
    Predictions,
    avg_gap,
    mia_efficacy,
    predict_logits,
    unlearning_metrics,
    unpack_bits,
)
from pareto_unlearn.metrics._samples import sample_columns
from pareto_unlearn.objectives import ForgetKL, Reference, RetainCE, make_objectives, make_reference
from pareto_unlearn.task import Subset


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _random_logits(n: int, c: int, seed: int, dtype=torch.float64, scale: float = 3.0):
    g = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(n, c, generator=g, dtype=dtype)
    y = torch.randint(0, c, (n,), generator=g)
    return logits, y


# ---------------------------------------------------------------------------------------------- forget_kl
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-6), (torch.float32, 2e-5)])  # q is float32
def test_uniform_forget_kl_is_log_c_minus_entropy(digits_task, dtype, tol) -> None:
    c = digits_task.n_classes
    reference = make_reference("uniform", digits_task)
    logits, y = _random_logits(200, c, seed=1, dtype=dtype, scale=4.0)
    per_sample = ForgetKL(reference).per_sample(logits, y).double().numpy()
    p = _softmax(logits.double().numpy())
    h = -(p * np.log(p)).sum(axis=1)
    np.testing.assert_allclose(per_sample, math.log(c) - h, rtol=0, atol=tol)
    assert per_sample.min() >= -tol and per_sample.max() <= math.log(c) + tol
    assert float(ForgetKL(reference)(logits, y)) == pytest.approx(float(np.mean(math.log(c) - h)), abs=tol)


def test_forget_kl_directions_match_scipy() -> None:
    c, n = 5, 60
    g = np.random.default_rng(3)
    table = torch.as_tensor(g.dirichlet(np.ones(c), size=c))
    reference = Reference("random-table", table, float("nan"))
    logits, y = _random_logits(n, c, seed=4)
    p = _softmax(logits.numpy())
    q = table.numpy()[y.numpy()]
    model_ref = ForgetKL(reference, "model-ref").per_sample(logits, y).numpy()
    ref_model = ForgetKL(reference, "ref-model").per_sample(logits, y).numpy()
    np.testing.assert_allclose(model_ref, [entropy(p[i], q[i]) for i in range(n)], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ref_model, [entropy(q[i], p[i]) for i in range(n)], rtol=1e-9, atol=1e-12)
    assert not np.allclose(model_ref, ref_model)  # the two directions really differ here


def test_forget_kl_is_finite_for_saturated_logits() -> None:
    """Through log_softmax: a probability that underflows to 0 must not give NaN (0 · log 0 = 0)."""
    reference = Reference("uniform", torch.full((3, 3), 1 / 3), 0.0)
    logits = torch.tensor([[200.0, -200.0, 0.0], [1e4, 0.0, 0.0]])
    y = torch.tensor([0, 1])
    for direction in ("model-ref", "ref-model"):
        assert torch.isfinite(ForgetKL(reference, direction).per_sample(logits, y)).all(), direction
    model_ref = ForgetKL(reference, "model-ref").per_sample(logits, y)
    assert torch.allclose(model_ref, torch.full((2,), math.log(3)), atol=1e-5)


def test_unknown_kl_direction_is_refused() -> None:
    with pytest.raises(ConfigError, match="sideways"):
        ForgetKL(Reference("uniform", torch.full((2, 2), 0.5), 0.0), "sideways")


def test_retain_ce_matches_cross_entropy() -> None:
    logits, y = _random_logits(40, 7, seed=5)
    p = _softmax(logits.numpy())
    expected = -np.log(p[np.arange(40), y.numpy()])
    np.testing.assert_allclose(RetainCE().per_sample(logits, y).numpy(), expected, rtol=1e-10)
    # A population of logits [k, n, C] gives k values.
    stacked = torch.stack([logits, 2 * logits])
    values = RetainCE()(stacked, y)
    assert values.shape == (2,)
    assert float(values[0]) == pytest.approx(expected.mean(), rel=1e-10)


def test_objectives_evaluate_is_the_full_set_mean(digits_task, digits_objectives) -> None:
    values = digits_objectives.evaluate(digits_task.original, digits_task)
    assert digits_objectives.names == ("forget_kl", "retain_ce")
    f_logits = predict_logits(digits_task.original, digits_task.forget.x).double().numpy()
    r_logits = predict_logits(digits_task.original, digits_task.retain.x).double().numpy()
    p_f, p_r = _softmax(f_logits), _softmax(r_logits)
    c = digits_task.n_classes
    forget_kl = np.mean(math.log(c) + (p_f * np.log(p_f)).sum(axis=1))
    retain_ce = np.mean(-np.log(p_r[np.arange(len(p_r)), digits_task.retain.y.numpy()]))
    np.testing.assert_allclose(values, [forget_kl, retain_ce], rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------------------------------------- references
def _mean_probs(model, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return torch.softmax(model(x).double(), dim=-1).mean(dim=0).numpy()


def test_heldout_reference_is_class_conditional_from_theta0(digits_task) -> None:
    ref = make_reference("heldout", digits_task)
    x, y = digits_task.heldout_reference.x, digits_task.heldout_reference.y
    table = ref.table.double().numpy()
    for c in range(digits_task.n_classes):
        np.testing.assert_allclose(table[c], _mean_probs(digits_task.original, x[y == c]), atol=1e-6)
    assert not np.allclose(table[0], table[1])


def test_heldout_reference_is_fixed_and_carries_no_gradient(digits_task) -> None:
    ref = make_reference("heldout", digits_task)
    assert ref.table.requires_grad is False
    np.testing.assert_allclose(ref.table.sum(dim=1).double().numpy(), 1.0, atol=1e-6)
    before = ref.table.clone()
    model = digits_task.copy_original()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    theta_before = torch.nn.utils.parameters_to_vector(model.parameters()).detach().clone()
    objective = ForgetKL(ref)
    for _ in range(3):
        loss = objective(model(digits_task.forget.x), digits_task.forget.y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    theta_after = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
    assert not torch.equal(theta_before, theta_after)  # the step happened
    assert torch.equal(ref.table, before)
    assert ref.table.grad is None
    # θ0 itself is not moved by a step on a copy, so a new reference is the same.
    assert torch.allclose(make_reference("heldout", digits_task).table, before)


def test_classwise_heldout_falls_back_to_the_marginal(digits_class_task) -> None:
    task = digits_class_task
    ref = make_reference("heldout", task)
    marginal = make_reference("heldout-marginal", task)
    table = ref.table.double().numpy()
    assert np.allclose(table, table[0:1], atol=0), "every row must be the same distribution"
    np.testing.assert_allclose(table, marginal.table.double().numpy(), atol=1e-7)
    x, y = task.heldout_reference.x, task.heldout_reference.y
    by_hand = _mean_probs(task.original, x[y != 3])
    np.testing.assert_allclose(table[0], by_hand, atol=1e-6)
    assert not np.allclose(table[0], _mean_probs(task.original, x), atol=1e-4)  # class 3 excluded


def test_heldout_marginal_reports_l1_from_uniform(digits_task) -> None:
    ref = make_reference("heldout-marginal", digits_task)
    c = digits_task.n_classes
    q = _mean_probs(digits_task.original, digits_task.heldout_reference.x)
    np.testing.assert_allclose(ref.table.double().numpy(), np.tile(q, (c, 1)), atol=1e-6)
    l1 = np.abs(q - 1.0 / c).sum()
    assert ref.l1_from_uniform == pytest.approx(l1, abs=1e-5)
    assert 0 < ref.l1_from_uniform < 1  # balanced data: close to, but not exactly, uniform
    objectives = make_objectives(digits_task, reference="heldout-marginal")
    assert objectives.describe()[0]["reference_l1_from_uniform"] == pytest.approx(l1, abs=1e-5)
    assert make_reference("uniform", digits_task).l1_from_uniform == pytest.approx(0.0, abs=1e-6)


def test_unknown_reference_is_refused(digits_task) -> None:
    with pytest.raises(ConfigError, match="nearest"):
        make_reference("nearest", digits_task)


# ---------------------------------------------------------------------------------------------- metrics
def _one_hot_logits(pred: list[int], c: int, scale: float = 10.0) -> torch.Tensor:
    return scale * torch.nn.functional.one_hot(torch.tensor(pred), c).double()


def _fake_task(forget_y, retain_y, test_y, sel_y, *, forgotten=(), members=None, c: int = 3, ref_y=()):
    subset = lambda ys: Subset(torch.zeros(len(ys), 1), torch.tensor(ys, dtype=torch.long))  # noqa: E731
    test = subset(test_y)
    mask = ~torch.isin(test.y, torch.tensor(list(forgotten), dtype=torch.long))
    return SimpleNamespace(
        forget=subset(forget_y), retain=subset(retain_y), test=test, heldout_selection=subset(sel_y),
        heldout_reference=subset(ref_y),
        forgotten_classes=tuple(forgotten), n_classes=c, test_nonforgotten_mask=lambda: mask,
        mia_members=np.arange(len(retain_y)) if members is None else np.asarray(members), seed=0,
    )


def test_accuracies_and_per_sample_results_by_hand() -> None:
    task = _fake_task([0, 1, 2, 0], [0, 1, 2, 0, 1], [0, 1, 2, 2], [0, 1, 2, 1, 0, 2], ref_y=[1, 2])
    pred = Predictions(
        forget=_one_hot_logits([0, 2, 2, 1], 3),          # 2 of 4 right
        retain=_one_hot_logits([0, 1, 2, 0, 0], 3),       # 4 of 5 right
        test=_one_hot_logits([0, 1, 0, 2], 3),            # 3 of 4 right
        heldout_selection=_one_hot_logits([0, 1, 2, 1, 1, 2], 3, scale=2.0),  # 5 of 6 right
        heldout_reference=_one_hot_logits([1, 0], 3),     # 1 of 2 right
    )
    out = unlearning_metrics(pred, task)
    assert out["UA"] == pytest.approx(100.0 - 100.0 * 2 / 4)
    assert out["RA"] == pytest.approx(100.0 * 4 / 5)
    assert out["TA"] == pytest.approx(100.0 * 3 / 4)
    assert out["forget_acc"] == pytest.approx(50.0)
    assert out["sel_acc"] == pytest.approx(100.0 * 5 / 6)
    assert 0.0 <= out["MIA"] <= 100.0
    assert "TA_forgotten" not in out and "oracle_free" not in out
    # the oracle-free rule's per-sample results: which forget / D_h samples (D_h,sel then D_h,ref) are
    # right, and M̃IA's calls
    columns = sample_columns(pred, task)
    assert (columns["ofs.n_forget"], columns["ofs.n_heldout"], columns["ofs.n_test"]) == (4, 8, 4)
    assert unpack_bits(columns, "forget_correct", 4).astype(int).tolist() == [[1, 0, 1, 0]]
    assert unpack_bits(columns, "heldout_correct", 8).astype(int).tolist() == [[1, 1, 1, 1, 0, 1, 1, 0]]
    assert unpack_bits(columns, "forget_nonmember", 4).shape == (1, 4)


def test_avg_gap_by_hand() -> None:
    metrics = {"UA": 10.0, "RA": 95.0, "TA": 90.0, "MIA": 30.0}
    retrain = {"UA": 4.0, "RA": 99.0, "TA": 91.0, "MIA": 20.0}
    assert avg_gap(metrics, retrain) == pytest.approx((6 + 4 + 1 + 10) / 4)
    assert avg_gap(retrain, retrain) == 0.0


def test_mia_efficacy_on_separable_confidences() -> None:
    g = np.random.default_rng(0)
    members = 1.0 - 0.02 * g.random(60)
    nonmembers = 0.02 * g.random(60)
    assert mia_efficacy(members, nonmembers, 0.02 * g.random(25)) == pytest.approx(100.0)
    assert mia_efficacy(members, nonmembers, 1.0 - 0.02 * g.random(25)) == pytest.approx(0.0)
    mixed = np.concatenate([0.01 * g.random(10), 1.0 - 0.01 * g.random(30)])
    assert mia_efficacy(members, nonmembers, mixed) == pytest.approx(100.0 * 10 / 40)


def _mia_task_predictions(forget_confident: bool):
    """Members (retain[:6]) are sure and right, non-members (test) sure and wrong; retain[6:] is sure and
    wrong but is not a member, so using it would blur the attack."""
    c = 3
    retain_y = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]
    test_y = [0, 1, 2, 0, 1, 2]
    forget_y = [0, 1, 2, 1]
    task = _fake_task(forget_y, retain_y, test_y, [0, 1, 2], members=np.arange(6))
    wrong = lambda ys: [(v + 1) % c for v in ys]  # noqa: E731
    pred = Predictions(
        forget=_one_hot_logits(forget_y if forget_confident else wrong(forget_y), c),
        retain=_one_hot_logits(retain_y[:6] + wrong(retain_y[6:]), c),
        test=_one_hot_logits(wrong(test_y), c),
        heldout_selection=_one_hot_logits([0, 1, 2], c),
    )
    return task, pred


@pytest.mark.parametrize("forget_confident, expected", [(True, 0.0), (False, 100.0)])
def test_mia_through_unlearning_metrics_uses_the_member_subset(forget_confident: bool,
                                                               expected: float) -> None:
    task, pred = _mia_task_predictions(forget_confident)
    assert unlearning_metrics(pred, task)["MIA"] == pytest.approx(expected)


def test_classwise_ta_excludes_forgotten_classes() -> None:
    forget_y = [2, 2, 2]
    task = _fake_task(forget_y, [0, 1, 0, 1], [0, 1, 2, 2, 0, 1, 2], [0, 1, 2, 0], forgotten=(2,))
    pred = Predictions(
        forget=_one_hot_logits([0, 2, 1], 3),                 # 1 of 3 right
        retain=_one_hot_logits([0, 1, 0, 1], 3),
        test=_one_hot_logits([0, 0, 2, 0, 0, 1, 2], 3),       # retained: 3 of 4 right; class 2: 2 of 3 right
        heldout_selection=_one_hot_logits([0, 0, 2, 0], 3),   # retained only: 2 of 3 right
    )
    out = unlearning_metrics(pred, task)
    assert out["TA"] == pytest.approx(100.0 * 3 / 4)
    assert out["TA_forgotten"] == pytest.approx(100.0 * 2 / 3)
    assert out["UA"] == pytest.approx(100.0 * 2 / 3)
    assert out["sel_acc"] == pytest.approx(100.0 * 2 / 3)


def test_classwise_mia_uses_only_retained_test_classes_as_non_members() -> None:
    """Members (all of D_r) and D_f are sure and right; retained-class test samples sure and wrong. The
    forgotten class's test samples are sure and right too: if they served as non-members they would
    outnumber the members at the same confidence and flip the attack."""
    c = 3
    retain_y, forget_y = [0, 1, 0, 1], [2, 2, 2]
    test_y = [0, 1, 0, 1] + [2] * 6
    task = _fake_task(forget_y, retain_y, test_y, [0, 1], forgotten=(2,), members=np.arange(4))
    wrong = [1, 0, 1, 0]
    pred = Predictions(
        forget=_one_hot_logits(forget_y, c),
        retain=_one_hot_logits(retain_y, c),
        test=_one_hot_logits(wrong + [2] * 6, c),
        heldout_selection=_one_hot_logits([0, 1], c),
    )
    out = unlearning_metrics(pred, task)
    assert out["MIA"] == pytest.approx(0.0)
    assert out["TA"] == pytest.approx(0.0) and out["TA_forgotten"] == pytest.approx(100.0)


def test_nan_logits_give_nan_metrics(digits_task, digits_evaluator) -> None:
    task = _fake_task([0, 1], [0, 1, 2], [0, 1, 2], [0, 1])
    good = _one_hot_logits([0, 1, 2], 3)
    bad = good.clone()
    bad[1, 0] = float("nan")
    pred = Predictions(forget=_one_hot_logits([0, 1], 3), retain=good, test=bad,
                       heldout_selection=_one_hot_logits([0, 1], 3))
    out = unlearning_metrics(pred, task)
    for key in ("UA", "RA", "TA", "MIA", "sel_acc"):
        assert math.isnan(out[key]), key
    # Through the evaluator of a real task: a model whose output is NaN everywhere.
    model = digits_task.copy_original()
    with torch.no_grad():
        model.fc.weight.fill_(float("nan"))
    scored = digits_evaluator(model)
    for key in ("UA", "RA", "TA", "MIA", "gap"):
        assert math.isnan(scored[key]), key


def test_metric_evaluator_on_real_tasks(digits_task, digits_class_task, digits_evaluator) -> None:
    """Retrain's gap is 0 by definition; UA/RA/TA agree with accuracies computed here; class-wise TA."""
    assert digits_evaluator.retrain_["gap"] == 0.0
    scored = digits_evaluator(digits_task.original)
    for key in ("UA", "RA", "TA", "MIA"):
        assert 0.0 <= scored[key] <= 100.0
    acc = lambda model, s: 100.0 * float((predict_logits(model, s.x).argmax(1) == s.y).double().mean())  # noqa: E731
    assert scored["UA"] == pytest.approx(100.0 - acc(digits_task.original, digits_task.forget))
    assert scored["RA"] == pytest.approx(acc(digits_task.original, digits_task.retain))
    assert scored["TA"] == pytest.approx(acc(digits_task.original, digits_task.test))
    gap = avg_gap(scored, digits_evaluator.retrain_)
    assert scored["gap"] == pytest.approx(gap)

    task = digits_class_task
    out = MetricEvaluator(task)(task.original)
    logits = predict_logits(task.original, task.test.x)
    right = logits.argmax(1) == task.test.y
    keep = task.test.y != 3
    assert out["TA"] == pytest.approx(100.0 * float(right[keep].double().mean()))
    assert out["TA_forgotten"] == pytest.approx(100.0 * float(right[~keep].double().mean()))


def test_predictions_pickle_as_arrays_and_come_back_equal() -> None:
    """Dask moves each point's logits as pickles: CPU float tensors go as NumPy arrays (no torch storage
    in the payload) and come back equal, writable and of the same dtype; other dtypes as torch pickles."""
    gen = torch.Generator().manual_seed(0)
    pred = Predictions(*(torch.randn(n, 3, generator=gen) for n in (5, 6, 4, 2)))
    payload = pickle.dumps(pred, protocol=5)
    assert b"_rebuild_tensor" not in payload
    back = pickle.loads(payload)
    assert back.heldout_reference is None
    for name in ("forget", "retain", "test", "heldout_selection"):
        got, want = getattr(back, name), getattr(pred, name)
        assert got.dtype == want.dtype and torch.equal(got, want)
    back.forget.add_(1.0)  # a writable tensor, not a view of the pickle's buffer
    assert not torch.equal(back.forget, pred.forget)
    half = Predictions(*(t.to(torch.bfloat16) for t in (pred.forget, pred.retain, pred.test,
                                                        pred.heldout_selection)))
    again = pickle.loads(pickle.dumps(half))
    assert again.retain.dtype == torch.bfloat16 and torch.equal(again.retain, half.retain)
