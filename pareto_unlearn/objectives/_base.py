"""What every objective module shares: the :class:`Objective` base and batched logits of a model.

Its own module so that ``_objectives`` (ForgetKL, RetainCE, the list, the builders) and ``_distill``
(the teacher objectives) both build on it without importing each other in a circle.
"""

from __future__ import annotations

import torch

__all__ = ["Objective", "batched_logits"]


class Objective:
    """A loss over one split, minimised. Subclasses set ``name``, ``subset`` and ``per_sample``.

    :meth:`describe` says what it is (the dict run directories and checkpoint fingerprints store);
    :meth:`spec` adds ``kind``, what :func:`~pareto_unlearn.objectives.objectives_from_spec` rebuilds it
    from (``None`` for an objective it cannot rebuild, such as a user-defined subclass).
    """

    name: str
    subset: str
    kind: str | None = None

    def per_sample(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def __call__(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean over samples: logits [..., n, C], y [n] → [...]."""
        return self.per_sample(logits, y).mean(dim=-1)

    def batch_loss(self, logits: torch.Tensor, y: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Mean over a mini-batch of the split's samples at positions ``idx`` [b] (logits [..., b, C],
        y [b]). What gradient solvers call; objectives with per-sample targets aligned with the split
        (``push_pull``, ``distill_retain``) use ``idx``, the others ignore it."""
        return self(logits, y)

    def describe(self) -> dict:
        return {"name": self.name, "subset": self.subset}

    def spec(self) -> dict:
        """JSON-able: :meth:`describe` plus ``kind`` and every setting needed to rebuild it on a task."""
        return {"kind": self.kind, **self.describe()}


@torch.no_grad()
def batched_logits(model: torch.nn.Module, x: torch.Tensor, *, batch_size: int = 2048) -> torch.Tensor:
    """Logits [n, C] of ``model`` in eval mode, in batches of ``batch_size`` (the same computation as
    :func:`pareto_unlearn.metrics.predict_logits`, kept here so objectives need no metrics)."""
    model.eval()
    if len(x) == 0:
        raise ValueError("predict_logits got an empty input")
    return torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
