"""Gradient solvers: the jd update against torchjd, and checks every solver passes (sklearn-style)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchjd.aggregation import UPGrad
from torchjd.autojac import backward, jac_to_grad

from pareto_unlearn import rebuild_model
from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.metrics import predict_logits
from pareto_unlearn.objectives import make_objectives
from pareto_unlearn.solvers import (
    AGGREGATORS,
    FineTune,
    GradientAscent,
    JacobianDescent,
    L1Sparse,
    LinearScalarization,
    RandomLabel,
    SalUn,
    jd_direction,
    make_aggregator,
    paired_batches,
)
from pareto_unlearn.solvers._baselines import random_labels, saliency_mask

EPOCHS = 2
# Learning rates small enough that no solver diverges on digits in two epochs.
SOLVERS = {
    "jd": lambda **kw: JacobianDescent(lr=0.1, **kw),
    "ls": lambda **kw: LinearScalarization(lr=0.1, weight=0.5, **kw),
    "FT": lambda **kw: FineTune(lr=0.05, **kw),
    "GA": lambda **kw: GradientAscent(lr=0.01, **kw),
    "RL": lambda **kw: RandomLabel(lr=0.003, **kw),
    "SalUn": lambda **kw: SalUn(lr=0.003, **kw),
    "l1-sparse": lambda **kw: L1Sparse(lr=0.05, alpha=1e-3, **kw),
}
COMMON = {"epochs": EPOCHS, "seed": 0, "progress": False}


def _flat(tensors) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def _state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _assert_same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


# ---------------------------------------------------------------------------------------------- jd vs torchjd
def _batch_losses(model, task, objectives, f_idx: slice, r_idx: slice):
    forget_kl, retain_ce = objectives
    loss_f = forget_kl(model(task.forget.x[f_idx]), task.forget.y[f_idx])
    loss_r = retain_ce(model(task.retain.x[r_idx]), task.retain.y[r_idx])
    return loss_f, loss_r


def _gradients(model, task, objectives, f_idx, r_idx) -> tuple[torch.Tensor, torch.Tensor]:
    params = list(model.parameters())
    loss_f, loss_r = _batch_losses(model, task, objectives, f_idx, r_idx)
    return _flat(torch.autograd.grad(loss_f, params)), _flat(torch.autograd.grad(loss_r, params))


def _conflicting_batches(model, task, objectives, batch: int = 64):
    """The pair of (forget, retain) batches of θ0 whose gradients conflict most."""
    n = min(len(task.forget), len(task.retain)) // batch
    best = None
    for s in range(n):
        idx = slice(s * batch, (s + 1) * batch)
        g_f, g_r = _gradients(model, task, objectives, idx, idx)
        cosine = float(g_f @ g_r / (g_f.norm() * g_r.norm()))
        if best is None or cosine < best[0]:
            best = (cosine, idx)
    return best


def test_jd_direction_equals_torchjd_upgrad_on_conflicting_gradients(digits_task, digits_objectives) -> None:
    model = digits_task.copy_original()
    params = list(model.parameters())
    cosine, idx = _conflicting_batches(model, digits_task, digits_objectives)
    assert cosine < 0, "no batch of θ0 has conflicting gradients; the test needs a conflict"
    g_f, g_r = _gradients(model, digits_task, digits_objectives, idx, idx)
    assert float(g_f @ g_r) < 0

    d = jd_direction(list(_batch_losses(model, digits_task, digits_objectives, idx, idx)), params, UPGrad())
    for g in (g_f, g_r):
        assert float(d @ g) >= -1e-6 * float(d.norm() * g.norm())
    assert not torch.allclose(d, 0.5 * (g_f + g_r), rtol=1e-3, atol=0)  # the conflict changed the update

    for p in params:
        p.grad = None
    backward(list(_batch_losses(model, digits_task, digits_objectives, idx, idx)))
    jac_to_grad(params, UPGrad())
    reference = _flat([p.grad for p in params])
    assert float((d - reference).norm()) <= 1e-5 * float(reference.norm())


def _full_gradients(task, objectives) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    model = task.copy_original()
    params = list(model.parameters())
    loss_f = objectives[0](model(task.forget.x), task.forget.y)
    loss_r = objectives[1](model(task.retain.x), task.retain.y)
    theta0 = torch.nn.utils.parameters_to_vector(params).detach().clone()
    return theta0, _flat(torch.autograd.grad(loss_f, params)), _flat(torch.autograd.grad(loss_r, params))


@pytest.mark.parametrize("solver", ["jd", "ls"])
def test_one_full_batch_step_is_the_expected_update(digits_task, digits_objectives, digits_evaluator, solver):
    """One step with full batches, no momentum, no weight decay: θ1 = θ0 − lr · direction."""
    lr = 0.5
    settings = {"lr": lr, "epochs": 1, "batch_size": 100_000, "momentum": 0.0, "weight_decay": 0.0,
                "record": "last", "seed": 0, "progress": False}
    theta0, g_f, g_r = _full_gradients(digits_task, digits_objectives)
    if solver == "jd":
        front = JacobianDescent(**settings).run(digits_task, digits_objectives, evaluator=digits_evaluator)
        direction = UPGrad()(torch.stack([g_f, g_r]))
    else:
        front = LinearScalarization(weight=0.3, **settings).run(digits_task, digits_objectives,
                                                               evaluator=digits_evaluator)
        direction = 0.3 * g_f + 0.7 * g_r
    theta1 = torch.nn.utils.parameters_to_vector(rebuild_model(None, front, 0).parameters()).detach()
    expected = theta0 - lr * direction
    assert float((theta1 - expected).norm()) <= 1e-4 * float((lr * direction).norm())


# ---------------------------------------------------------------------------------------------- common checks
@pytest.fixture(scope="module")
def runs(digits_task, digits_objectives, digits_evaluator):
    """Lazily run each solver: twice with record='epoch' (same seed) and once with record='last'."""
    done: dict[str, dict] = {}

    def get(name: str) -> dict:
        if name not in done:
            before = _state(digits_task.original)
            solver = SOLVERS[name](**COMMON)
            front = solver.run(digits_task, digits_objectives, evaluator=digits_evaluator)
            again = SOLVERS[name](**COMMON).run(digits_task, digits_objectives, evaluator=digits_evaluator)
            last = SOLVERS[name](**COMMON, record="last").run(digits_task, digits_objectives,
                                                               evaluator=digits_evaluator)
            done[name] = {"solver": solver, "front": front, "again": again, "last": last, "before": before,
                          "after": _state(digits_task.original)}
        return done[name]

    return get


@pytest.mark.parametrize("name", list(SOLVERS))
def test_one_point_per_epoch_with_provenance(runs, name: str) -> None:
    run = runs(name)
    front, solver = run["front"], run["solver"]
    assert len(front) == EPOCHS
    assert front.F.shape == (EPOCHS, 2) and front.objective_names == ("forget_kl", "retain_ce")
    assert list(front.solver) == [solver.name] * EPOCHS
    assert [p["epoch"] for p in front.provenance] == list(range(1, EPOCHS + 1))
    for p in front.provenance:
        assert p["space"]
        assert p["seed"] == 0
        assert p["hyperparameters"] == solver.hyperparameters()
        assert p["hyperparameters"]["lr"] == solver.lr and p["hyperparameters"]["epochs"] == EPOCHS
        assert p["reference"] == "uniform"
    assert front.feasible.all()


@pytest.mark.parametrize("name", list(SOLVERS))
def test_record_last_gives_the_last_epoch(runs, name: str) -> None:
    run = runs(name)
    last = run["last"]
    assert len(last) == 1
    assert last.provenance[0]["epoch"] == EPOCHS
    np.testing.assert_array_equal(last.F[0], run["front"].F[-1])


@pytest.mark.parametrize("name", list(SOLVERS))
def test_cost_columns_do_not_decrease(runs, name: str) -> None:
    front = runs(name)["front"]
    for key in ("wall_s", "forward_passes", "backward_passes"):
        column = front.cost[key]
        assert np.isfinite(column).all(), key
        assert (np.diff(column) >= 0).all(), key
        assert column[0] > 0, key


@pytest.mark.parametrize("name", list(SOLVERS))
def test_theta0_is_untouched(runs, digits_task, name: str) -> None:
    run = runs(name)
    _assert_same_state(run["before"], run["after"])
    assert not digits_task.original.training
    assert not any(p.requires_grad for p in digits_task.original.parameters())


@pytest.mark.parametrize("name", list(SOLVERS))
def test_same_seed_same_front(runs, name: str) -> None:
    run = runs(name)
    np.testing.assert_array_equal(run["front"].F, run["again"].F)
    for key in ("UA", "RA", "TA", "MIA"):
        np.testing.assert_array_equal(run["front"].metrics[key], run["again"].metrics[key])
    for key in run["front"].arrays:
        np.testing.assert_array_equal(run["front"].arrays[key], run["again"].arrays[key])


@pytest.mark.parametrize("name", list(SOLVERS))
def test_front_model_reproduces_the_point(runs, digits_task, digits_objectives, digits_evaluator,
                                          name: str) -> None:
    front = runs(name)["front"]
    for i in range(len(front)):
        model = rebuild_model(None, front, i)
        assert not model.training
        values = digits_objectives.evaluate(model, digits_task)
        np.testing.assert_allclose(values, front.F[i], rtol=1e-5, atol=1e-7)
        rescored = digits_evaluator(model)
        for key in ("UA", "RA", "TA", "MIA", "gap"):
            assert rescored[key] == pytest.approx(front.metrics[key][i], abs=1e-9), key
    # The trajectory moved away from θ0.
    theta0 = digits_objectives.evaluate(digits_task.original, digits_task)
    assert not np.allclose(front.F[-1], theta0, rtol=1e-6, atol=0)


@pytest.mark.parametrize("name", list(SOLVERS))
def test_metrics_are_percentages(runs, name: str) -> None:
    front = runs(name)["front"]
    for key in ("UA", "RA", "TA", "MIA"):
        values = front.metrics[key]
        assert np.isfinite(values).all() and (values >= 0).all() and (values <= 100).all(), key
    assert (front.metrics["gap"] >= 0).all()


@pytest.mark.parametrize("name", list(SOLVERS))
@pytest.mark.parametrize("bad", [{"lr": 0.0}, {"lr": float("nan")}, {"epochs": 0}, {"record": "every"},
                                 {"batch_size": 0}])
def test_bad_settings_are_refused(digits_task, digits_objectives, name: str, bad: dict) -> None:
    settings = {**COMMON, **bad}
    lr = settings.pop("lr", None)
    solver = SOLVERS[name](**settings)
    if lr is not None:
        solver.lr = lr
    with pytest.raises(ConfigError):
        solver.run(digits_task, digits_objectives)


PAIRED_CASES = [(649, 646, 64), (131, 1164, 64), (10, 5, 64), (7, 100, 3), (4500, 40500, 256)]


@pytest.mark.parametrize("n_forget, n_retain, batch", PAIRED_CASES)
def test_paired_batches_cover_both_sets_once_per_epoch(n_forget: int, n_retain: int, batch: int) -> None:
    pairs = list(paired_batches(n_forget, n_retain, batch, torch.Generator().manual_seed(0)))
    forget = torch.cat([f for f, _ in pairs]).tolist()
    retain = torch.cat([r for _, r in pairs]).tolist()
    assert sorted(forget) == list(range(n_forget))
    assert sorted(retain) == list(range(n_retain))
    assert all(len(r) <= batch for _, r in pairs)
    assert len(pairs) == -(-n_retain // batch)


@pytest.mark.parametrize("n_forget, n_retain, batch", [(4500, 40500, 256), (649, 646, 2)])
def test_paired_batches_spread_the_forget_set_evenly(n_forget: int, n_retain: int, batch: int) -> None:
    pairs = list(paired_batches(n_forget, n_retain, batch, torch.Generator().manual_seed(0)))
    sizes = [len(f) for f, _ in pairs]
    assert n_forget >= len(pairs)
    assert min(sizes) >= 1, f"{sizes.count(0)} of {len(pairs)} steps have no forget sample"
    assert max(sizes) - min(sizes) <= 1


def test_random_labels_cover_every_class_the_true_one_included() -> None:
    """RL draws from all C classes, as the reference's ``torch.randint(0, num_classes, ...)``."""
    y = torch.arange(10).repeat(200)
    labels = random_labels(len(y), 10, torch.Generator().manual_seed(0))
    assert ((labels >= 0) & (labels < 10)).all()
    for c in range(10):
        assert set(labels[y == c].tolist()) == set(range(10))


def test_gradient_ascent_raises_the_forget_loss(runs, digits_task) -> None:
    front = runs("GA")["front"]
    model = rebuild_model(None, front, len(front) - 1)
    ce = lambda m: float(torch.nn.functional.cross_entropy(  # noqa: E731
        predict_logits(m, digits_task.forget.x), digits_task.forget.y))
    assert ce(model) > ce(digits_task.original)


# ------------------------------------------------------------------------------------------ SalUn, BatchNorm
def test_salun_mask_keeps_half_of_the_weights(digits_task, digits_objectives, digits_evaluator) -> None:
    solver = SalUn(lr=0.01, epochs=1, weight_decay=0.0, record="last", seed=0, progress=False)
    front = solver.run(digits_task, digits_objectives, evaluator=digits_evaluator)
    mask = _flat(solver.mask_.masks).bool()
    assert abs(float(mask.double().mean()) - 0.5) < 0.01
    theta0 = torch.nn.utils.parameters_to_vector(digits_task.original.parameters()).detach()
    theta1 = torch.nn.utils.parameters_to_vector(rebuild_model(None, front, 0).parameters()).detach()
    assert torch.equal(theta1[~mask], theta0[~mask]), "weights outside the saliency mask must not move"
    assert not torch.equal(theta1[mask], theta0[mask])
    # The mask holds the largest |Σ over D_f's batches of ∇ forget-CE| at θ0.
    model = digits_task.copy_original()
    params = list(model.parameters())
    total = [torch.zeros_like(p) for p in params]
    forget, size = digits_task.forget, solver.batch_size
    for s in range(0, len(forget), size):
        loss = torch.nn.functional.cross_entropy(model(forget.x[s : s + size]), forget.y[s : s + size])
        for t, g in zip(total, torch.autograd.grad(loss, params), strict=True):
            t += g
    magnitude = _flat(total).abs()
    assert float(magnitude[mask].min()) >= float(magnitude[~mask].max())
    assert torch.equal(_flat(saliency_mask(model, digits_task.forget, solver.batch_size, 0.5)).bool(), mask)


@pytest.mark.parametrize("name", ["jd", "SalUn", "RL"])
def test_batchnorm_statistics_stay_frozen(digits_cnn_task, monkeypatch, name: str) -> None:
    task = digits_cnn_task
    objectives = make_objectives(task)
    original = _state(task.original)
    buffers0 = {k: v.clone() for k, v in task.original.named_buffers()}
    assert any("running_mean" in k for k in buffers0)
    made: list[torch.nn.Module] = []
    real_copy = task.copy_original

    def spy():
        model = real_copy()
        made.append(model)
        return model

    monkeypatch.setattr(task, "copy_original", spy)
    front = SOLVERS[name](epochs=1, seed=0, progress=False).run(task, objectives)
    monkeypatch.undo()
    assert made, "the solver did not start from copy_original()"
    trained = made[0]
    for key, value in trained.named_buffers():
        assert torch.equal(value, buffers0[key]), f"{key} changed during {name}"
    assert not torch.equal(_flat(trained.parameters()).detach(), _flat(task.original.parameters()))
    _assert_same_state(original, _state(task.original))
    # The recorded objectives are those of the rebuilt model, whose statistics are θ0's.
    np.testing.assert_allclose(objectives.evaluate(rebuild_model(None, front, 0), task), front.F[0],
                               rtol=1e-5, atol=1e-7)
    logits = predict_logits(rebuild_model(None, front, 0), task.forget.x)
    assert torch.isfinite(logits).all()


# ---------------------------------------------------------------------------------------------- aggregators


@pytest.mark.parametrize("name", [
    n for n in AGGREGATORS
])
def test_every_listed_aggregator_builds_or_names_its_missing_extra(name: str) -> None:
    """Each name of AGGREGATORS (hence each ``jd-NAME`` solver) gives a working aggregator, or a
    ConfigError when an optional dependency is missing; never another exception."""
    try:
        aggregator = make_aggregator(name)
    except ConfigError as exc:
        assert "pip install" in str(exc)
        return
    jacobian = torch.tensor([[-4.0, 1.0, 1.0], [6.0, 1.0, 1.0]])
    out = aggregator(jacobian)
    assert out.shape == (3,) and torch.isfinite(out).all()


def test_unknown_aggregator_is_refused() -> None:
    with pytest.raises(ConfigError, match="bogus"):
        make_aggregator("bogus")


@pytest.mark.parametrize("aggregator", [
    "random", "graddrop"
])
def test_stochastic_aggregators_are_reproducible(digits_task, digits_objectives, digits_evaluator,
                                                 aggregator: str) -> None:
    def run() -> np.ndarray:
        solver = JacobianDescent(aggregator=aggregator, lr=0.1, epochs=1, record="last", seed=0,
                                 progress=False)
        return solver.run(digits_task, digits_objectives, evaluator=digits_evaluator).F

    first = run()
    torch.rand(7)  # other code touching the global generator in between must not matter
    np.testing.assert_array_equal(first, run())


def test_nash_mtl_is_built_for_the_number_of_objectives(monkeypatch, digits_task):
    """Nash-MTL must know J's rows beforehand: a three-objective run builds it for three, not two."""
    import torchjd.aggregation as tja

    built: list[int] = []

    class RecordingNashMTL:
        def __init__(self, n_tasks: int, **kwargs) -> None:
            built.append(n_tasks)

    monkeypatch.setattr(tja, "NashMTL", RecordingNashMTL, raising=False)
    make_aggregator("nash-mtl", n_objectives=3)
    objectives = make_objectives(digits_task, names=("forget_kl", "retain_ce", "push_pull"))
    JacobianDescent(aggregator="nash-mtl", epochs=1)._setup(None, digits_task, objectives, None)
    assert built == [3, 3]
