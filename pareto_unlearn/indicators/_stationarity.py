"""Pareto-stationarity gap of a point from its objective gradients (docs/definitions.md §4)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pareto_unlearn.exceptions import ConfigError, MissingDependencyError

__all__ = ["pareto_stationarity_gap"]


def _float64(G: Any) -> Any:
    """G as a float64 matrix [m, n]: a tensor stays a tensor on its device, anything else becomes numpy."""
    G = G.detach().double() if hasattr(G, "detach") else np.asarray(G, dtype=float)  # torch, not imported
    if G.ndim != 2:
        raise ConfigError(f"Parameter `G` should be a matrix [m, n] of objective gradients. "
                          f"Found `G.shape = {tuple(G.shape)}`.")
    return G


def _to_numpy(x: Any) -> np.ndarray:
    return x.cpu().numpy() if hasattr(x, "cpu") else np.asarray(x)


def _min_norm_weights(Q: np.ndarray) -> np.ndarray:
    """argmin over the simplex of λᵀQλ, by quadprog through qpsolvers (a tiny ridge keeps P definite)."""
    try:
        from qpsolvers import solve_qp
    except ImportError:  # pragma: no cover - shipped by torchjd[quadprog-projector]
        raise MissingDependencyError(
            "pareto_stationarity_gap with more than two objectives needs qpsolvers and quadprog; "
            "install them with: pip install 'torchjd[quadprog-projector]'"
        ) from None
    m = len(Q)
    for ridge in (1e-12, 1e-9, 1e-6):
        lam = solve_qp(Q + ridge * np.eye(m), np.zeros(m), A=np.ones((1, m)), b=np.ones(1),
                       lb=np.zeros(m), solver="quadprog")
        if lam is not None:
            lam = np.clip(lam, 0.0, None)
            return lam / lam.sum()
    raise RuntimeError(f"pareto_stationarity_gap: quadprog found no solution for the Gramian {Q.tolist()}")


def pareto_stationarity_gap(G: Any, /) -> float:
    """Pareto-stationarity gap: min over λ in the simplex of ‖Σ_i λ_i g_i / ‖g_i‖‖.

    0 at a Pareto-stationary point (some convex combination of the normalised gradients vanishes: no
    direction improves every objective), up to 1 when all gradients point the same way. Two objectives
    have the closed form ``‖u1 + u2‖ / 2 = sqrt((1 + cos θ) / 2)`` (the minimum is at λ = ½ for unit
    vectors); more are solved as a small QP on the Gramian with ``qpsolvers.solve_qp(...,
    solver="quadprog")``. Work is in float64, on G's device for a tensor; only [m, m] comes back.

    Parameters
    ----------
    G : np.ndarray or torch.Tensor [m, n]
        Row i is the gradient of objective i over all trainable parameters (full-set objectives).

    Returns
    -------
    float
        The gap in [0, 1]; ``0.0`` when some gradient is exactly zero (that objective is stationary);
        NaN when G holds a NaN or inf.

    Examples
    --------
    >>> pareto_stationarity_gap([[1.0, 0.0], [-3.0, 0.0]])
    0.0
    >>> round(pareto_stationarity_gap([[1.0, 0.0], [0.0, 2.0]]), 6)
    0.707107
    >>> round(pareto_stationarity_gap([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), 6)
    0.57735
    """
    G = _float64(G)
    m = G.shape[0]
    if m == 0:
        raise ConfigError("Parameter `G` should have at least one row (one objective gradient). Found none.")
    K = _to_numpy(G @ G.T)
    if not np.isfinite(K).all():
        return float("nan")
    norms = np.sqrt(np.clip(np.diag(K), 0.0, None))
    if (norms == 0).any():
        return 0.0
    if m == 1:
        return 1.0
    if m == 2:  # ‖u1 + u2‖ / 2 on the unit rows: exact near 0, where sqrt((1 + cos) / 2) would cancel
        return float(_to_numpy(((G[0] / float(norms[0]) + G[1] / float(norms[1])) ** 2).sum())) ** 0.5 / 2
    Q = K / np.outer(norms, norms)
    lam = _min_norm_weights(Q)
    return math.sqrt(max(float(lam @ Q @ lam), 0.0))
