"""The objectives of docs/definitions.md §1, computed from logits so one code path serves mini-batches,
full sets and whole populations (logits of shape [..., n, C])."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
import torch.nn.functional as F_nn

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.objectives._base import Objective, batched_logits
from pareto_unlearn.objectives._distill import DEFAULT_PUSH_K, DEFAULT_PUSH_WEIGHT, DistillRetain, PushPull
from pareto_unlearn.objectives._reference import Reference, make_reference

if TYPE_CHECKING:
    from pareto_unlearn.task import UnlearningTask

__all__ = [
    "Objective",
    "ForgetKL",
    "RetainCE",
    "Objectives",
    "KL_DIRECTIONS",
    "SPEC_VERSION",
    "make_objectives",
    "objectives_from_spec",
    "reference_label",
    "OBJECTIVES",
]

KL_DIRECTIONS = ("model-ref", "ref-model")
OBJECTIVES = ("forget_kl", "retain_ce")
SPEC_VERSION = 1


@dataclass
class ForgetKL(Objective):
    """Mean KL between p_θ(·|x) and the reference q(x) over the forget set.

    ``direction="model-ref"`` is KL(p_θ ‖ q) (the paper's text; ≤ log C for the uniform reference),
    ``"ref-model"`` is KL(q ‖ p_θ). Always the KL itself, never a cross-entropy.

    Examples
    --------
    >>> import torch, math
    >>> ref = Reference("uniform", torch.full((3, 3), 1 / 3), 0.0)
    >>> kl = ForgetKL(ref)
    >>> logits = torch.tensor([[2.0, 0.0, 0.0]])
    >>> p = torch.softmax(logits, -1)
    >>> bool(torch.isclose(kl(logits, torch.tensor([0])), math.log(3) + (p * p.log()).sum()))
    True
    """

    reference: Reference
    direction: str = "model-ref"
    name: str = "forget_kl"
    subset: str = field(default="forget", init=False)
    kind = "forget_kl"

    def __post_init__(self) -> None:
        if self.direction not in KL_DIRECTIONS:
            raise ConfigError(f"--kl-direction {self.direction!r} is not known; use model-ref or ref-model")

    def per_sample(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        log_p = F_nn.log_softmax(logits, dim=-1)
        q = self.reference.for_labels(y).to(logits.dtype)
        log_q = q.log()
        if self.direction == "model-ref":
            return (log_p.exp() * (log_p - log_q)).sum(dim=-1)
        return (q * (log_q - log_p)).sum(dim=-1)

    def describe(self) -> dict:
        return {
            **super().describe(),
            "reference": self.reference.name,
            "direction": self.direction,
            "reference_l1_from_uniform": self.reference.l1_from_uniform,
        }

    def spec(self) -> dict:
        """:meth:`describe` with ``reference`` the effective reference (``heldout-marginal`` where
        ``heldout`` fell back) and ``reference_requested`` the one asked for."""
        return {**super().spec(), "reference": self.reference.effective,
                "reference_requested": self.reference.name}


@dataclass
class RetainCE(Objective):
    """Mean cross-entropy −log p_θ(y|x) over the retain set."""

    name: str = "retain_ce"
    subset: str = field(default="retain", init=False)
    kind = "retain_ce"

    def per_sample(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        log_p = F_nn.log_softmax(logits, dim=-1)
        index = y.expand(*log_p.shape[:-1]).unsqueeze(-1)
        return -log_p.gather(-1, index).squeeze(-1)


class Objectives(Sequence):
    """An ordered list of objectives; evaluates all of them on a model or on precomputed logits."""

    def __init__(self, objectives: Sequence[Objective]) -> None:
        self._items = list(objectives)
        names = [o.name for o in self._items]
        if len(set(names)) != len(names):
            raise ConfigError(f"objective names must be unique, got {names}")
        if not self._items:
            raise ConfigError("at least one objective is needed")

    def __getitem__(self, i: int | slice):  # noqa: ANN204  # an int or a slice, as a Sequence takes
        return self._items[i]

    def __len__(self) -> int:
        return len(self._items)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self._items)

    def describe(self) -> list[dict]:
        """One dict per objective (what run manifests and checkpoint fingerprints store; unchanged so
        that they stay valid). :func:`objectives_from_spec` reads it back; :meth:`spec` says more."""
        return [o.describe() for o in self._items]

    @property
    def reference_label(self) -> str:
        """The effective reference(s) of the forget_kl objectives (:func:`reference_label`)."""
        return reference_label(self)

    def spec(self) -> dict[str, Any]:
        """Everything needed to rebuild these objectives on a task, JSON-able; read back (the only
        reader) by :func:`objectives_from_spec`.

        Keys: ``spec_version``; ``objectives``, one :meth:`Objective.spec` per objective, in order
        (``kind``, ``name``, ``subset``, and per kind ``reference`` (effective), ``reference_requested``,
        ``direction``, ``reference_l1_from_uniform``, or ``teacher``, ``top_k``, ``push_k``,
        ``push_weight``) — authoritative; ``columns`` (the names); ``reference`` / ``reference_requested``
        of the objective named ``forget_kl`` (None without one); ``reference_label``; ``kl_direction``
        (the forget_kl objectives' common direction, None when they differ); ``rebuildable``;
        ``names``, the :func:`make_objectives` names that rebuild exactly these objectives with that
        ``reference`` and ``kl_direction``, None when no such call exists (non-default push–pull
        settings, custom names, mixed directions).
        """
        entries = [o.spec() for o in self._items]
        forget_kls = [o for o in self._items if isinstance(o, ForgetKL)]
        primary = next((o for o in forget_kls if o.name == "forget_kl"), None)
        directions = {o.direction for o in forget_kls}
        direction = directions.pop() if len(directions) == 1 else (None if directions else "model-ref")
        return {
            "spec_version": SPEC_VERSION,
            "names": _make_objectives_names(self._items) if direction is not None else None,
            "columns": list(self.names),
            "reference": primary.reference.effective if primary is not None else None,
            "reference_requested": primary.reference.name if primary is not None else None,
            "reference_label": self.reference_label,
            "kl_direction": direction,
            "rebuildable": all(entry["kind"] is not None for entry in entries),
            "objectives": entries,
        }

    def from_logits(self, logits: dict[str, torch.Tensor], labels: dict[str, torch.Tensor]) -> torch.Tensor:
        """Objective values [..., m] from logits per subset (each [..., n_subset, C])."""
        return torch.stack([o(logits[o.subset], labels[o.subset]) for o in self._items], dim=-1)

    @torch.no_grad()
    def evaluate(self, model: torch.nn.Module, task: UnlearningTask, *, batch_size: int = 2048) -> np.ndarray:
        """Full-set values [m] with the model in eval mode."""
        model.eval()
        subsets = {o.subset for o in self._items}
        logits = {s: batched_logits(model, getattr(task, s).x, batch_size=batch_size) for s in subsets}
        labels = {s: getattr(task, s).y for s in subsets}
        return self.from_logits(logits, labels).double().cpu().numpy()

    def jacobian(
        self, model: torch.nn.Module, task: UnlearningTask, *, batch_size: int = 2048
    ) -> torch.Tensor:
        """Full-set gradients J [m, n]: row i is ∇ of objective i (mean over its whole split) with respect
        to every trainable parameter of ``model``, flattened in ``model.parameters()`` order.

        The model is put in eval mode (BatchNorm statistics frozen, as in every solver) and left unchanged:
        gradients come from ``torch.autograd.grad``, nothing is written to ``.grad``. Splits are read in
        batches of ``batch_size`` and each batch's mean is weighted by its share of the split, so the result
        is the full-set gradient whatever the batch size. What the Pareto-stationarity gap of
        docs/definitions.md §4 reads (:func:`~pareto_unlearn.indicators.pareto_stationarity_gap`).
        """
        model.eval()
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ConfigError("Objectives.jacobian: the model has no trainable parameter")
        rows = [torch.zeros(sum(p.numel() for p in params), dtype=torch.float64) for _ in self._items]
        with torch.enable_grad():
            for subset in dict.fromkeys(o.subset for o in self._items):
                split = getattr(task, subset)
                owners = [k for k, o in enumerate(self._items) if o.subset == subset]
                for start in range(0, len(split), batch_size):
                    idx = torch.arange(start, min(start + batch_size, len(split)), device=split.y.device)
                    logits = model(split.x[idx])
                    share = len(idx) / len(split)
                    for n, k in enumerate(owners):
                        loss = self._items[k].batch_loss(logits, split.y[idx], idx) * share
                        grads = torch.autograd.grad(loss, params, allow_unused=True,
                                                    retain_graph=n < len(owners) - 1)
                        rows[k] += torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                                              for g, p in zip(grads, params, strict=True)]).double().cpu()
        return torch.stack(rows)

    def at_uniform_predictor(self, task: UnlearningTask) -> np.ndarray:
        """Values [m] of a predictor that outputs the uniform distribution (zero logits)."""
        subsets = {o.subset for o in self._items}
        labels = {s: getattr(task, s).y for s in subsets}
        zeros = {s: torch.zeros(len(labels[s]), task.n_classes, device=task.device) for s in subsets}
        return self.from_logits(zeros, labels).double().cpu().numpy()


def make_objectives(
    task: UnlearningTask,
    *,
    reference: str = "uniform",
    kl_direction: str = "model-ref",
    names: Sequence[str] = OBJECTIVES,
) -> Objectives:
    """Build the objectives by name: ``forget_kl`` (with ``reference``), ``forget_kl:REF`` (one more
    forget_kl against another reference, named ``forget_kl_REF``), ``retain_ce``, and the push–pull
    distillation pair ``push_pull`` / ``distill_retain`` with their defaults (pull K = C, push K = 3,
    push weight 1; other settings through ``PushPull.from_task`` / ``DistillRetain.from_task``).

    Examples
    --------
    A toy task (:func:`~pareto_unlearn.task.toy_task`) stands in for a real one:

    >>> from pareto_unlearn.task import toy_task
    >>> task = toy_task()
    >>> objectives = make_objectives(task, reference="heldout")
    >>> objectives.names, [o["reference"] for o in objectives.describe() if "reference" in o]
    (('forget_kl', 'retain_ce'), ['heldout'])
    >>> make_objectives(task, names=("forget_kl", "forget_kl:heldout", "retain_ce")).names
    ('forget_kl', 'forget_kl_heldout', 'retain_ce')
    """
    items: list[Objective] = []
    for name in names:
        base, _, ref = name.partition(":")
        if base == "forget_kl":
            column = "forget_kl" if not ref else f"forget_kl_{ref.replace('-', '_')}"
            items.append(ForgetKL(make_reference(ref or reference, task), kl_direction, name=column))
        elif base == "retain_ce":
            items.append(RetainCE())
        elif name in ("push_pull", "distill_retain"):
            items.append(PushPull.from_task(task) if name == "push_pull" else DistillRetain.from_task(task))
        else:
            raise ConfigError(
                f"unknown objective {name!r}; choose from forget_kl, forget_kl:REFERENCE, retain_ce, "
                "push_pull, distill_retain"
            )
    return Objectives(items)


def reference_label(objectives: Iterable[Objective]) -> str:
    """The effective reference(s) of the forget_kl objectives, joined by ``+`` in order, or ``none``:
    what provenance records (``heldout-marginal``, not ``heldout``, where the class-conditional reference
    fell back under class-wise forgetting)."""
    refs = [getattr(o.reference, "effective", o.reference.name)
            for o in objectives if hasattr(o, "reference")]
    return "+".join(refs) if refs else "none"


def _make_objectives_names(items: Sequence[Objective]) -> list[str] | None:
    """The ``names`` for which :func:`make_objectives` builds exactly ``items`` (given the primary
    forget_kl's reference and the common direction), or None."""
    names = []
    for o in items:
        if isinstance(o, ForgetKL) and o.name == "forget_kl":
            names.append("forget_kl")
        elif isinstance(o, ForgetKL) and o.name == f"forget_kl_{o.reference.name.replace('-', '_')}":
            names.append(f"forget_kl:{o.reference.name}")
        elif isinstance(o, RetainCE) and o.name == "retain_ce":
            names.append("retain_ce")
        elif (isinstance(o, DistillRetain) and o.name == "distill_retain"
              and o._pull.k == o.teacher.probs.shape[-1]):
            names.append("distill_retain")
        elif (isinstance(o, PushPull) and o.name == "push_pull" and o._pull.k == o.teacher.probs.shape[-1]
              and o.push_k == DEFAULT_PUSH_K and o.push_weight == DEFAULT_PUSH_WEIGHT):
            names.append("push_pull")
        else:
            return None
    return names


def _legacy_kind(entry: Mapping[str, Any]) -> str | None:
    """The kind of an :meth:`Objectives.describe` entry (written before ``kind`` was recorded)."""
    if "reference" in entry:
        return "forget_kl"
    if "teacher" in entry:
        return "push_pull" if "push_k" in entry or entry.get("subset") == "forget" else "distill_retain"
    if entry.get("subset") == "retain":
        return "retain_ce"
    return None


def _objective_from_entry(task: UnlearningTask, entry: Any) -> Objective:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"objectives_from_spec: each objective must be a dict (Objective.spec()). "
                          f"Got {entry!r}.")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"objectives_from_spec: an objective has no name: {dict(entry)!r}.")
    kind = entry["kind"] if "kind" in entry else _legacy_kind(entry)
    if kind == "forget_kl":
        requested = entry.get("reference_requested") or entry.get("reference")
        reference = make_reference(cast(str, requested), task)  # not a str: make_reference raises
        if "reference_requested" in entry and entry.get("reference") != reference.effective:
            raise ConfigError(
                f"objectives_from_spec: {name} recorded the effective reference {entry.get('reference')!r} "
                f"for {requested!r}; on this task {requested!r} is {reference.effective!r} (a spec of "
                "another task: class-wise vs random forgetting?)."
            )
        objective: Objective = ForgetKL(reference, entry.get("direction", "model-ref"), name=name)
    elif kind == "retain_ce":
        objective = RetainCE(name=name)
    elif kind == "distill_retain":
        objective = DistillRetain.from_task(task, top_k=entry.get("top_k"), name=name)
    elif kind == "push_pull":
        objective = PushPull.from_task(task, top_k=entry.get("top_k"),
                                       push_k=entry.get("push_k", DEFAULT_PUSH_K),
                                       push_weight=entry.get("push_weight", DEFAULT_PUSH_WEIGHT), name=name)
    else:
        raise ConfigError(f"objectives_from_spec: objective {name!r} of kind {kind!r} cannot be rebuilt; "
                          "known kinds: forget_kl, retain_ce, push_pull, distill_retain.")
    if "subset" in entry and entry["subset"] != objective.subset:
        raise ConfigError(f"objectives_from_spec: {name} is recorded on the {entry['subset']!r} set, a "
                          f"{kind} is on {objective.subset!r}.")
    teacher = getattr(objective, "teacher", None)
    if "teacher" in entry and teacher is not None and entry["teacher"] != teacher.kind:
        raise ConfigError(f"objectives_from_spec: {name} was recorded with the teacher {entry['teacher']!r}; "
                          f"on this task it is {teacher.kind!r} (a spec of another task?).")
    return objective


def objectives_from_spec(
    task: UnlearningTask, spec: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> Objectives:
    """The objectives that ``spec`` describes, built on ``task``: the one reader of
    :meth:`Objectives.spec`, and ``objectives_from_spec(task, objectives.spec())`` evaluates
    bit-identically to ``objectives`` (for the task they were built on).

    Also reads what run directories stored before :meth:`Objectives.spec` existed: a list of
    :meth:`Objectives.describe` dicts (manifests, checkpoint settings), and the ``{"names", "reference",
    "kl_direction"}`` dict of :func:`make_objectives` arguments (LS-weights rebuild specs), which rebuilds
    push_pull / distill_retain with their defaults since nothing else was recorded.

    Raises
    ------
    ConfigError
        If the spec is malformed, names an objective kind it cannot build, or was written for a task on
        which its references or teachers come out differently.

    Examples
    --------
    A toy task (:func:`~pareto_unlearn.task.toy_task`) stands in for a real one:

    >>> import json
    >>> from pareto_unlearn.task import toy_task
    >>> task = toy_task()
    >>> objectives = Objectives([ForgetKL(make_reference("uniform", task)), RetainCE(),
    ...                          PushPull.from_task(task, top_k=2, push_weight=0.5)])
    >>> spec = json.loads(json.dumps(objectives.spec()))  # as a run directory stores it
    >>> [entry["kind"] for entry in spec["objectives"]], spec["objectives"][2]["top_k"]
    (['forget_kl', 'retain_ce', 'push_pull'], 2)
    >>> rebuilt = objectives_from_spec(task, spec)
    >>> bool((rebuilt.evaluate(task.original, task) == objectives.evaluate(task.original, task)).all())
    True
    """
    if isinstance(spec, Mapping):
        if "objectives" in spec:
            entries = spec["objectives"]
        elif isinstance(spec.get("names"), Sequence) and not isinstance(spec.get("names"), str):
            return make_objectives(task, reference=spec.get("reference") or "uniform",
                                   kl_direction=spec.get("kl_direction") or "model-ref", names=spec["names"])
        else:
            raise ConfigError("objectives_from_spec: a spec needs `objectives` (Objectives.spec()). "
                              f"Got keys {sorted(spec)}.")
    else:
        entries = spec
    if isinstance(entries, (str, bytes)) or not isinstance(entries, Sequence):
        raise ConfigError(f"objectives_from_spec: expected Objectives.spec() or a list of objective dicts. "
                          f"Got {type(entries).__name__}.")
    return Objectives([_objective_from_entry(task, entry) for entry in entries])
