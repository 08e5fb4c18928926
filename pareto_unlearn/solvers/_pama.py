"""PAMA-style closed-form weighting (``jd-pama``), after "Pareto Multi-Objective Alignment for Language
Models" (He & Maghsudi, 2025): MGDA's min-norm QP replaced by a closed form that is exact when the m
gradients are scalar multiples of one direction."""

from __future__ import annotations

import torch
from torch import Tensor
from torchjd.aggregation import GramianWeightedAggregator, Weighting
from torchjd.linalg import PSDMatrix

from pareto_unlearn.exceptions import ConfigError

__all__ = ["PAMA", "PAMAWeighting", "pama_weights"]


def pama_weights(projections: Tensor, /) -> Tensor:
    """Simplex weights λ [m] of the min-norm point of {a_i u} for projections a [m] (u a unit vector).

    The convex hull of the a_i u is the segment [min a, max a] · u; its min-norm point is the projection
    of 0 onto [min a, max a]:

    - all a_i > 0: min a, reached by λ = 1 on the argmin (split equally among ties);
    - all a_i < 0: max a, reached by λ = 1 on the argmax (ties split);
    - min a ≤ 0 ≤ max a (a conflict, or a zero projection): 0, reached by
      λ_max = −min a / (max a − min a) on the argmax and λ_min = max a / (max a − min a) on the argmin
      (ties split); when every a_i = 0, λ = 1/m.

    Examples
    --------
    >>> pama_weights(torch.tensor([2.0, 1.0, 3.0]))
    tensor([0., 1., 0.])
    >>> pama_weights(torch.tensor([-2.0, -1.0]))
    tensor([0., 1.])
    >>> pama_weights(torch.tensor([3.0, -1.0]))
    tensor([0.2500, 0.7500])
    """
    a = projections
    if a.dim() != 1 or len(a) == 0:
        raise ConfigError(
            f"pama_weights: `projections` must be a non-empty vector [m]. Got shape {tuple(a.shape)}."
        )
    lo, hi = a.min(), a.max()
    weights = torch.zeros_like(a)
    at_lo, at_hi = a == lo, a == hi
    if lo > 0:
        weights[at_lo] = 1.0 / at_lo.sum()
    elif hi < 0:
        weights[at_hi] = 1.0 / at_hi.sum()
    elif hi == lo:  # every projection is 0
        weights.fill_(1.0 / len(a))
    else:
        span = hi - lo
        weights[at_hi] = (-lo / span) / at_hi.sum()
        weights[at_lo] = (hi / span) / at_lo.sum()
    return weights


class PAMAWeighting(Weighting[PSDMatrix]):
    r"""Weighting [PSDMatrix] of :class:`PAMA`: from the Gramian G = J Jᵀ [m, m] to simplex weights λ [m].

    Each gradient g_i is reduced to its projection a_i = ⟨g_i, u⟩ on the shared direction u = ḡ / ‖ḡ‖,
    ḡ the mean gradient: a = G 1 / √(1ᵀ G 1), O(m²) from the Gramian. Then :func:`pama_weights` gives the
    min-norm combination of the a_i u in closed form (no QP, no iteration). When ḡ = 0, λ = 1/m (the
    combination is then the zero vector, a Pareto-stationary point).

    When the gradients are NOT parallel, it only sees their components along u; what is orthogonal to u
    is ignored, so the update d = Jᵀλ can conflict with an objective to first order (⟨d, g_i⟩ < 0):

    - all a_i > 0: d = g_k, k = argmin a; it conflicts with every g_j with ⟨g_k, g_j⟩ < 0 (MGDA would
      not);
    - mixed signs: λ makes d ⊥ u (Σ λ_i a_i = 0). For m = 2, ⟨d, g_1⟩ + ⟨d, g_2⟩ = ‖g_1 + g_2‖ ⟨d, u⟩ = 0,
      so unless d = 0 exactly one of the two objectives increases to first order;
    - with u the normalised mean, Σ a_i = m ‖ḡ‖ ≥ 0, so the all-negative case of
      :func:`pama_weights` does not occur here.

    Hence, for m = 2, the update conflicts with one objective exactly when the two gradients conflict
    (⟨g_1, g_2⟩ < 0, unless d = 0): PAMA never resolves a gradient conflict, it only chooses which side
    loses. Measured on digits (random 50 %, MLP, push_pull / distill_retain, 55 real steps along UPGrad's
    trajectory): 89 % of steps conflict to first order with PAMA, 7 % with UPGrad, 0 % with MGDA
    (``pareto_unlearn.experiments._families.aggregator_conflicts``).

    Examples
    --------
    >>> J = torch.tensor([[2.0, 0.0], [1.0, 0.0]])
    >>> PAMAWeighting()(J @ J.T)
    tensor([0., 1.])
    """

    def forward(self, gramian: PSDMatrix, /) -> Tensor:
        return pama_weights(self.projections(gramian))

    @staticmethod
    def projections(gramian: Tensor, /) -> Tensor:
        """a_i = ⟨g_i, u⟩ [m] with u the normalised mean gradient (a = G 1 when the mean is zero)."""
        row_sums = gramian.sum(dim=1)  # ⟨g_i, Σ_j g_j⟩
        norm2 = row_sums.sum()  # ‖Σ_j g_j‖²
        return row_sums / norm2.sqrt() if norm2 > 0 else row_sums


class PAMA(GramianWeightedAggregator):
    r"""Aggregator [m, n] → [n]: Jᵀ λ with λ from :class:`PAMAWeighting` (closed form, O(m² n) for G).

    It equals MGDA's min-norm direction when the rows of J are parallel, and is conflict-free then
    (⟨d, g_i⟩ ≥ 0 for every i when they also share a sign); otherwise see :class:`PAMAWeighting`.

    Examples
    --------
    >>> PAMA()(torch.tensor([[2.0, 1.0], [1.0, 0.5]]))
    tensor([1.0000, 0.5000])
    """

    gramian_weighting: PAMAWeighting

    def __init__(self) -> None:
        super().__init__(PAMAWeighting())
