"""Each baseline against the reference code the RAUL paper ran (OPTML-Group/Unlearn-Saliency,
``Classification/unlearn/*.py`` and ``generate_mask.py``).

Every test carries its own few-line restatement of the reference rule (nothing is imported from outside
the project), runs it on the same tiny model, the same batches and the same random labels as the project
(recorded while the project's solver runs), and compares the weights to 1e-5. Where a rule was changed to
follow the reference, the test also shows that the former rule lands farther than the tolerance, so the
comparison can tell them apart.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F_nn

from pareto_unlearn import rebuild_model
from pareto_unlearn.objectives import make_objectives
from pareto_unlearn.solvers import _baselines
from pareto_unlearn.solvers._baselines import random_labels
from pareto_unlearn.solvers._influence import InfluenceUnlearning
from pareto_unlearn.solvers._names import FT, GA, L1_SPARSE, RL, SALUN
from pareto_unlearn.solvers._registry import REGISTRY
from pareto_unlearn.spaces._rebuild import flat_params
from pareto_unlearn.task import TrainRecipe, UnlearningTask

LR, WD, MOMENTUM, BATCH, EPOCHS = 0.1, 0.01, 0.9, 12, 2  # a large weight decay: masked-out drift shows
TOL = 1e-5


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    """A 6 → 12 → 4 ReLU network on 160 samples (16 forgotten): 2 forget and 11 retain batches of 12."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 6, generator=g)
    y = (x @ torch.randn(6, 4, generator=g)).argmax(1)
    model = torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.ReLU(), torch.nn.Linear(12, 4))
    task = UnlearningTask.from_data(model, x[:160], y[:160], x[160:], y[160:], np.arange(16),
                                    recipe=TrainRecipe(epochs=3), device="cpu",
                                    cache_dir=str(tmp_path_factory.mktemp("tiny-cache")), progress=False)
    return task, make_objectives(task)


def _run(name: str, tiny, monkeypatch, **settings):
    """The project's solver ``name``; returns its final weights and the batches and labels it drew."""
    task, objectives = tiny
    drawn: dict[str, list[torch.Tensor]] = {"batches": [], "labels": []}
    batches, labels = _baselines._batches, _baselines.random_labels

    def record_batches(*args):
        out = batches(*args)
        drawn["batches"].append([b.clone() for b in out])
        return out

    def record_labels(*args):
        out = labels(*args)
        drawn["labels"].append(out.clone())
        return out

    monkeypatch.setattr(_baselines, "_batches", record_batches)
    monkeypatch.setattr(_baselines, "random_labels", record_labels)
    solver = REGISTRY[name].cls(lr=LR, epochs=EPOCHS, batch_size=BATCH, momentum=MOMENTUM, weight_decay=WD,
                                record="last", progress=False, **settings)
    front = solver.run(task, objectives)
    return flat_params(rebuild_model(task, front, 0)), drawn


def _reference_sgd(task, steps, mask=None, restore=True) -> np.ndarray:
    """The reference loop (``iterative_unlearn`` + the method's epoch function): SGD with momentum and
    weight decay; with a mask, gradients masked before ``optimizer.step()`` and, after it, masked-out
    weights put back to θ0 and their momentum zeroed (``_restore_masked_params``). ``steps`` yields
    (inputs, labels, sign, ℓ1 weight) per step."""
    model = task.copy_original()
    params = list(model.parameters())
    theta0 = [p.detach().clone() for p in params]
    optimizer = torch.optim.SGD(params, lr=LR, momentum=MOMENTUM, weight_decay=WD)
    for x, y, sign, alpha in steps:
        loss = sign * F_nn.cross_entropy(model(x), y)
        if alpha:
            loss = loss + alpha * torch.linalg.norm(torch.cat([p.view(-1) for p in params]), ord=1)
        optimizer.zero_grad()
        loss.backward()
        if mask is not None:
            for p, m in zip(params, mask):
                p.grad *= m
        optimizer.step()
        if mask is not None and restore:
            with torch.no_grad():
                for p, m, p0 in zip(params, mask, theta0):
                    p.data.mul_(m).add_(p0 * (1 - m))
                    optimizer.state[p]["momentum_buffer"].mul_(m)
    return flat_params(model)


def _close(ours: np.ndarray, theirs: np.ndarray) -> None:
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=TOL)


def test_ft_equals_the_reference(tiny, monkeypatch):
    """FT.py: every epoch one pass over D_r, cross-entropy."""
    task, _ = tiny
    ours, drawn = _run(FT, tiny, monkeypatch)
    assert len(drawn["batches"]) == EPOCHS
    steps = [(task.retain.x[b], task.retain.y[b], 1.0, 0.0) for epoch in drawn["batches"] for b in epoch]
    _close(ours, _reference_sgd(task, steps))


def test_ga_equals_the_reference(tiny, monkeypatch):
    """GA.py: every epoch one pass over D_f, minus cross-entropy."""
    task, _ = tiny
    ours, drawn = _run(GA, tiny, monkeypatch)
    steps = [(task.forget.x[b], task.forget.y[b], -1.0, 0.0) for epoch in drawn["batches"] for b in epoch]
    _close(ours, _reference_sgd(task, steps))


def _rl_steps(task, drawn):
    """RL.py (CIFAR-10 branch): per epoch, D_f's batches with the random labels, then D_r's batches."""
    steps = []
    for epoch in range(EPOCHS):
        labels = drawn["labels"][epoch]
        forget_batches, retain_batches = drawn["batches"][2 * epoch], drawn["batches"][2 * epoch + 1]
        steps += [(task.forget.x[b], labels[b], 1.0, 0.0) for b in forget_batches]
        steps += [(task.retain.x[b], task.retain.y[b], 1.0, 0.0) for b in retain_batches]
    return steps


def test_rl_equals_the_reference(tiny, monkeypatch):
    task, _ = tiny
    ours, drawn = _run(RL, tiny, monkeypatch)
    assert len(drawn["labels"]) == EPOCHS and not torch.equal(drawn["labels"][0], drawn["labels"][1])  # fresh
    _close(ours, _reference_sgd(task, _rl_steps(task, drawn)))


def test_rl_labels_are_uniform_over_all_classes():
    """``torch.randint(0, num_classes, ...)``: the true label is drawn 1/C of the time (a draw among the
    C − 1 wrong labels never draws it)."""
    n, classes = 4000, 4
    y = torch.arange(n) % classes
    labels = random_labels(n, classes, torch.Generator().manual_seed(0))
    counts = torch.bincount(labels, minlength=classes).double() / n
    assert counts.min() > 0.22 and counts.max() < 0.28
    assert 0.22 < (labels == y).double().mean() < 0.28


def _reference_mask(task, sparsity: float) -> list[torch.Tensor]:
    """generate_mask.py: |Σ over D_f's batches of ∇(−CE)| at θ0; 1 on the int(sparsity · n) largest
    (ranks by argsort; ties to the lower position, as a stable sort)."""
    model = task.copy_original()
    params = list(model.parameters())
    total = [torch.zeros_like(p) for p in params]
    for s in range(0, len(task.forget), BATCH):
        loss = -F_nn.cross_entropy(model(task.forget.x[s : s + BATCH]), task.forget.y[s : s + BATCH])
        for t, g in zip(total, torch.autograd.grad(loss, params)):
            t += g
    scores = -torch.cat([t.abs().flatten() for t in total])
    ranks = torch.argsort(torch.argsort(scores, stable=True), stable=True)
    flat = (ranks < int(len(scores) * sparsity)).float()
    return [m.view_as(p) for m, p in zip(flat.split([p.numel() for p in params]), params)]


def test_salun_equals_the_reference(tiny, monkeypatch):
    """RL.py with a mask: gradients masked, masked-out weights back to θ0 and momentum zeroed each step."""
    task, _ = tiny
    ours, drawn = _run(SALUN, tiny, monkeypatch, sparsity=0.5)
    mask = _reference_mask(task, 0.5)
    n = sum(m.numel() for m in mask)
    assert int(sum(m.sum() for m in mask)) == int(0.5 * n)
    theirs = _reference_sgd(task, _rl_steps(task, drawn), mask=mask)
    _close(ours, theirs)
    out = ~torch.cat([m.flatten() for m in mask]).bool().numpy()
    np.testing.assert_array_equal(ours[out], flat_params(task.original)[out])  # exactly θ0
    # masking gradients only (the former rule): weight decay and momentum move the masked-out weights
    drift = _reference_sgd(task, _rl_steps(task, drawn), mask=mask, restore=False)
    assert np.abs(drift - theirs).max() > 100 * TOL


def test_l1_sparse_equals_the_reference(tiny, monkeypatch):
    """FT.py's FT_l1: α_e = α · (1 − e / E) for the 0-based epoch e, one value per epoch."""
    task, _ = tiny
    alpha = 0.05
    ours, drawn = _run(L1_SPARSE, tiny, monkeypatch, alpha=alpha)
    steps = [(task.retain.x[b], task.retain.y[b], 1.0, alpha * (1 - e / EPOCHS))
             for e, epoch in enumerate(drawn["batches"]) for b in epoch]
    _close(ours, _reference_sgd(task, steps))
    # α decaying every step (the former rule) lands elsewhere
    n_steps = sum(len(epoch) for epoch in drawn["batches"])
    per_step = [(x, y, s, alpha * (1 - i / n_steps)) for i, (x, y, s, _) in enumerate(steps)]
    assert np.abs(_reference_sgd(task, per_step) - ours).max() > 100 * TOL


def _reference_wfisher(task, alpha: float, damping: int, batch: int, stop: int | None = None) -> np.ndarray:
    """Wfisher.py: v from full passes (batch mean × batch size), then ``woodfisher`` over the retain set one
    sample at a time (batch 1, no shuffle), a backward call per sample, returning once idx > N (``stop``:
    another index, to show that one sample more is seen)."""
    stop = damping if stop is None else stop
    model = task.copy_original()
    params = list(model.parameters())

    def grad(x, y):
        return torch.cat([g.flatten() for g in torch.autograd.grad(F_nn.cross_entropy(model(x), y), params)])

    def total(subset):
        return sum(grad(subset.x[s : s + batch], subset.y[s : s + batch]) * len(subset.y[s : s + batch])
                   for s in range(0, len(subset), batch))

    n_f, n_r = len(task.forget), len(task.retain)
    k = total(task.forget) / (n_f + n_r) - total(task.retain) * n_f / ((n_f + n_r) * n_r)
    o = None
    for idx in range(n_r):
        g = grad(task.retain.x[idx : idx + 1], task.retain.y[idx : idx + 1])
        if o is None:
            o = g.clone()
        else:
            t = torch.dot(o, g)
            k -= torch.dot(k, g) / (damping + t) * o
            o -= t / (damping + t) * o
        if idx > stop:
            break
    return (alpha * k).detach().numpy()


@pytest.mark.parametrize("damping", [1000, 20])
def test_iu_equals_the_reference_wfisher(tiny, damping):
    """The whole IU update θ − θ0 against the reference's, relative over all weights (N = 1000 takes every
    retain sample of the tiny task; N = 20 stops after sample index 21, as the reference)."""
    task, objectives = tiny
    alpha = 5.0
    front = InfluenceUnlearning(alpha=alpha, damping=damping, batch_size=BATCH, progress=False).run(
        task, objectives)
    ours = flat_params(rebuild_model(task, front, 0)) - flat_params(task.original)
    theirs = _reference_wfisher(task, alpha, damping, BATCH)
    assert np.linalg.norm(ours - theirs) <= TOL * np.linalg.norm(theirs)
    if damping < len(task.retain) - 2:  # one retain sample more changes the update beyond the tolerance
        longer = _reference_wfisher(task, alpha, damping, BATCH, stop=damping + 1)
        assert np.linalg.norm(longer - theirs) > 100 * TOL * np.linalg.norm(theirs)


def test_iu_refuses_settings_it_does_not_have(tiny):
    """IU is one shot: an lr or epochs in its grid, or a non-positive α, is refused in one line."""
    from pareto_unlearn.exceptions import ConfigError
    from pareto_unlearn.solvers._names import IU
    from pareto_unlearn.solvers._registry import baseline_candidates

    for grid in ({"epochs": 3, "lr": ()}, {"epochs": 1, "lr": (0.1,)}):
        with pytest.raises(ConfigError, match="takes alpha only"):
            baseline_candidates(IU, **grid, alpha=(5.0,), batch_size=BATCH, seed=0)
    with pytest.raises(ConfigError, match="alpha must be a positive number"):
        InfluenceUnlearning(alpha=-1.0, progress=False).run(*tiny)
