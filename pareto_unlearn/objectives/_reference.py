"""Reference distributions q for forget_kl, fixed once from θ0 and detached (docs/definitions.md §1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from pareto_unlearn.exceptions import ConfigError

if TYPE_CHECKING:
    from pareto_unlearn.task import UnlearningTask

__all__ = ["Reference", "make_reference", "effective_reference", "REFERENCES"]

REFERENCES = ("uniform", "heldout", "heldout-marginal")


@dataclass(frozen=True)
class Reference:
    """A reference distribution per label.

    Attributes
    ----------
    name : str
        The reference asked for (what ``make_reference`` was given; ``describe()`` reports it).
    table : Tensor [C, C]
        Row y is q for forget samples of label y (all rows equal for ``uniform`` and ``heldout-marginal``).
        No gradient flows into it.
    l1_from_uniform : float
        Mean over rows of ‖q_y − U‖₁ (docs/definitions.md §1 asks to report it for the marginal reference).
    effective : str
        The reference ``table`` actually is: ``name``, except ``heldout`` under class-wise forgetting, which
        falls back to ``heldout-marginal`` (the same table as asking for ``heldout-marginal``). Defaults to
        ``name``.
    """

    name: str
    table: torch.Tensor
    l1_from_uniform: float
    effective: str = ""

    def __post_init__(self) -> None:
        if not self.effective:
            object.__setattr__(self, "effective", self.name)

    def for_labels(self, y: torch.Tensor) -> torch.Tensor:
        """q for each sample, shape [n, C]."""
        return self.table.to(y.device)[y]


@torch.no_grad()
def _mean_probs(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    return torch.softmax(model(x), dim=-1).mean(dim=0)


@torch.no_grad()
def make_reference(name: str, task: UnlearningTask) -> Reference:
    """Build a reference from θ0 of ``task`` on the reference-held-out set D_h,ref.

    ``heldout`` (class-conditional): q_y = mean of p_θ0(·|x') over held-out x' of class y; under
    class-wise forgetting no held-out sample of a forgotten class may serve, so it falls back to
    ``heldout-marginal`` = the mean of p_θ0 over held-out samples of the retained classes.
    """
    n_classes = task.n_classes
    uniform = torch.full((n_classes,), 1.0 / n_classes, device=task.device)
    if name == "uniform":
        table = uniform.expand(n_classes, n_classes).clone()
    elif name in ("heldout", "heldout-marginal"):
        x, y = task.heldout_reference.x, task.heldout_reference.y
        keep = torch.ones_like(y, dtype=torch.bool)
        for c in task.forgotten_classes:
            keep &= y != c
        if not keep.any():
            raise ConfigError(
                "the held-out reference set has no sample of a retained class; use --reference uniform"
            )
        marginal = _mean_probs(task.original, x[keep])
        table = marginal.expand(n_classes, n_classes).clone()
        if name == "heldout" and not task.forgotten_classes:
            for c in range(n_classes):
                members = y == c
                if members.any():  # a class absent from D_h,ref keeps the marginal row
                    table[c] = _mean_probs(task.original, x[members])
    else:
        raise ConfigError(f"unknown reference {name!r}; choose one of {', '.join(REFERENCES)}")
    table = table.detach().clamp_min(1e-12)
    table = table / table.sum(dim=1, keepdim=True)
    l1 = float((table - uniform).abs().sum(dim=1).mean())
    return Reference(name, table, l1, effective_reference(name, task))


def effective_reference(name: str, task: UnlearningTask) -> str:
    """The reference that ``make_reference(name, task)`` builds: ``heldout`` falls back to
    ``heldout-marginal`` under class-wise forgetting (``task.forgotten_classes`` not empty)."""
    return "heldout-marginal" if name == "heldout" and task.forgotten_classes else name
