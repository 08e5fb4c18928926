"""Fused objectives of a whole population of last-layer weights on cached features.

For an individual with last-layer weights W [C, d] and bias b [C], the logits of a sample with features
h [d] are z = W h + b. The population's logits come from one GEMM per chunk of individuals,

    Z [N, C·Pc] = [H, 1, −m] [N, d + 2]  @  [Wᵀ; b; 1] [d + 2, C·Pc],

where the two extra columns add the bias and subtract m_n, the largest logit of θ0 on sample n (so the
exponentials stay in range without a max pass), and the left operand is scaled by log₂ e once, so Z holds
the logits in base 2 and one ``exp2`` per logit gives exp(z − m) (torch's ``exp2`` costs about a third
of its ``exp`` on CPU; the rounding is the same). Z is laid out class-major per sample ([N, C, Pc]) so
every reduction over classes is an elementwise operation between contiguous slabs. Per chunk, one
``exp2``, one class sum s and one ``log`` serve every objective (a softmax-dot objective adds a multiply
and a class sum on its rows), and each objective is reduced to [Pc] values by a mean over its samples.
The population is cut into equal chunks (P = 200 with at most 45 a chunk: five of 40, not five of 45 with
25 rows of padding):

- ``lse-linear`` objectives — retain_ce (q = one-hot label) and forget_kl with ``ref-model``
  (KL(q ‖ p) = Σ q log q − Σ q z + lse) — are ``const + mean_n lse_n − Σ_c (G_c · ΔW_c + g_c Δb_c)``,
  with G_c = mean_n q_nc h_n and g_c = mean_n q_nc precomputed once (θ0's share of the linear part is a
  float64 constant, so the small deltas carry no cancellation): the linear part costs P·C·d.
- ``softmax-dot`` objectives — forget_kl with ``model-ref``, KL(p ‖ q) = Σ p (z − log q) − lse — are
  ``mean_n (Σ_c e_c (z_c − log q_c)) / s − log s`` (log q is a constant for a uniform reference).

Both forms are invariant to the per-sample shift. When s leaves [e^-80, e^80] in a chunk (an
exponential could overflow or underflow, or a NaN came in), that chunk is redone shifted by its exact
per-sample maximum, as ``log_softmax`` does. Measured against float64 on digits, the errors are of the
plain float32 ``log_softmax`` path's order: within 1e-6 relative over the whole genome box, with a 1e-6
absolute floor where an objective nears 0 (retain_ce 0.034 at θ0 of the digits CNN is 2.6e-6 off relative,
8.7e-8 absolute; checked by ``tests/test_fast_paths.py``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch

from pareto_unlearn.objectives import ForgetKL, Objectives, RetainCE

__all__ = ["FusedPlan", "fused_plan"]

logger = logging.getLogger(__name__)

# Accepted range of s = Σ_c exp(z_c − m_n) without the exact max pass (e^±88 over/underflows float32).
_S_RANGE = (math.exp(-80.0), math.exp(80.0))
# The GEMM returns logits in base 2 (its left operand is scaled by log2 e once, when the plan is built), so
# one exp2 per logit replaces exp: the same value, but exp2 is about three times cheaper than exp in torch.
_LOG2E, _LN2 = 1.0 / math.log(2.0), math.log(2.0)


@dataclass
class _Term:
    kind: str  # "lse-linear" or "softmax-dot"
    rows: slice
    const: float
    G: torch.Tensor | None = None  # [C, d]
    g: torch.Tensor | None = None  # [C]
    log2_q: torch.Tensor | None = None  # [n, C, 1], log₂ q (None: uniform, folded into const)


class FusedPlan:
    """Precomputed pieces to evaluate forget_kl / retain_ce objectives of many last-layer weights at once.

    Built by :func:`fused_plan`; ``__call__(xW, xb, unit, chunk_size)`` returns F [P, m]. With
    ``compile=True`` the per-chunk tail (everything after the GEMM) goes through ``torch.compile``, which
    fuses it into one loop; if compiling fails the plan falls back to eager, with a warning.
    """

    def __init__(self, H_aug: torch.Tensor, terms: list[_Term], W0: torch.Tensor, b0: torch.Tensor, *,
                 compile: bool = False) -> None:
        self.H_aug = H_aug  # [N, d + 2]
        self.W0, self.b0 = W0, b0
        self.terms = terms
        self.compile = compile
        self._tail = self._compiled_tail() if compile else self.tail

    @property
    def n_rows(self) -> int:
        return int(self.H_aug.shape[0])

    def _compiled_tail(self):
        try:
            return torch.compile(self.tail, dynamic=False, fullgraph=True)
        except Exception as exc:  # noqa: BLE001 - any failure means: run eager
            logger.warning("torch.compile is not available (%s); the fused objectives run eagerly", exc)
            return self.tail

    def tail(self, Z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-term values [T, pc] of one chunk's shifted logits in base 2, Z = log₂e · (z − m) [N, C, pc]
        (before the linear part and constants), and the smallest and largest class sum s (the range
        check)."""
        E = torch.exp2(Z)  # = exp(z − m)
        s = E.sum(dim=1)
        log_s = s.log()
        values = []
        for term in self.terms:
            rows = term.rows
            if term.kind == "lse-linear":
                values.append(log_s[rows].mean(dim=0))
            else:  # Σ_c p_c (z_c − log q_c) = ln 2 · Σ_c e_c (Z_c − log₂ q_c) / s
                T = Z[rows] if term.log2_q is None else Z[rows] - term.log2_q
                values.append((_LN2 * (E[rows] * T).sum(dim=1) / s[rows] - log_s[rows]).mean(dim=0))
        return torch.stack(values), s.amin(), s.amax()

    def _run_tail(self, Z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        try:
            return self._tail(Z)
        except Exception as exc:  # noqa: BLE001 - a compile error surfaces at the first call
            if self._tail is self.tail:
                raise
            logger.warning("torch.compile failed (%s); the fused objectives run eagerly", exc)
            self._tail = self.tail
            return self.tail(Z)

    @torch.no_grad()
    def __call__(self, xW: torch.Tensor, xb: torch.Tensor | None, unit: float,
                 chunk_size: int) -> torch.Tensor:
        """Objectives [P, m] of the layers W0 + unit·xW, b0 + unit·xb (xW [P, C, d], xb [P, C] or None)."""
        P, C, d = xW.shape
        N, device = self.n_rows, xW.device
        n_chunks = -(-P // min(chunk_size, P))
        pc = -(-P // n_chunks)  # balanced chunks: at most n_chunks − 1 padding rows, not up to a chunk
        pad = n_chunks * pc - P
        if pad:  # pad with θ0 (x = 0) so every chunk has one shape; the padding's values are dropped
            xW = torch.cat([xW, xW.new_zeros(pad, C, d)])
            xb = None if xb is None else torch.cat([xb, xb.new_zeros(pad, C)])
        w_aug = torch.empty(n_chunks, d + 2, C, pc, device=device)  # chunk-major GEMM operands, built once
        torch.add(self.W0.T[None, :, :, None], xW.view(n_chunks, pc, C, d).permute(0, 3, 2, 1), alpha=unit,
                  out=w_aug[:, :d])
        if xb is None:
            w_aug[:, d] = self.b0[None, :, None]
        else:
            torch.add(self.b0[None, :, None], xb.view(n_chunks, pc, C).transpose(1, 2), alpha=unit,
                      out=w_aug[:, d])
        w_aug[:, d + 1] = 1.0
        values = torch.empty(len(self.terms), n_chunks, pc, device=device)
        Z = torch.empty(N, C * pc, device=device)
        for k in range(n_chunks):
            torch.mm(self.H_aug, w_aug[k].view(d + 2, C * pc), out=Z)
            v, lo, hi = self._run_tail(Z.view(N, C, pc))
            if not (_S_RANGE[0] <= float(lo) and float(hi) <= _S_RANGE[1]):  # also NaN: the exact maximum
                top = Z.view(N, C, pc).amax(dim=1, keepdim=True)
                v, _, _ = self.tail(Z.view(N, C, pc).sub_(top))
                for j, term in enumerate(self.terms):
                    if term.kind == "lse-linear":
                        v[j] += _LN2 * top[term.rows, 0].mean(dim=0)
            values[:, k] = v
        values = values.reshape(len(self.terms), -1)[:, :P]
        out = torch.empty(P, len(self.terms), device=device)
        for j, term in enumerate(self.terms):
            out[:, j] = values[j] + term.const
            if term.kind == "lse-linear":  # minus the linear part's change from θ0: unit·(xW·G + xb·g)
                assert term.G is not None and term.g is not None  # _lse_linear sets both
                linear = xW[:P].reshape(P, C * d) @ term.G.reshape(C * d)
                if xb is not None:
                    linear += xb[:P] @ term.g
                out[:, j] -= unit * linear
        return out


def _lse_linear(rows: slice, const: float, q: torch.Tensor, h: torch.Tensor, W0: torch.Tensor,
                b0: torch.Tensor) -> _Term:
    """const + mean lse − mean Σ_c q_c z_c, with θ0's share of the linear part folded into const (float64)."""
    G, g = q.T @ h / len(h), q.mean(dim=0)
    G64, g64 = q.double().T @ h.double() / len(h), q.double().mean(dim=0)
    linear0 = float((G64 * W0.double()).sum() + g64 @ b0.double())
    return _Term("lse-linear", rows, const - linear0, G=G, g=g)


@torch.no_grad()
def fused_plan(objectives: Objectives, features: dict[str, torch.Tensor], labels: dict[str, torch.Tensor],
               W0: torch.Tensor, b0: torch.Tensor, *, compile: bool = False) -> FusedPlan | None:
    """A :class:`FusedPlan` for ``objectives``, or None when one of them is not forget_kl / retain_ce.

    ``features[s]`` [n_s, d] are the cached inputs of the last layer on subset ``s``; ``W0`` [C, d] and
    ``b0`` [C] the layer at θ0 (its logits set the per-sample shift).
    """
    if not all(isinstance(o, (ForgetKL, RetainCE)) for o in objectives):
        return None
    subsets = list(dict.fromkeys(o.subset for o in objectives))
    blocks, rows, shift_mean, start = [], {}, {}, 0  # shift_mean: subset → mean_n m_n
    for s in subsets:
        h = features[s]
        m = (h @ W0.T + b0).amax(dim=1, keepdim=True)  # θ0's largest logit per sample
        blocks.append(torch.cat([h, torch.ones_like(m), -m], dim=1))
        rows[s] = slice(start, start + len(h))
        shift_mean[s] = float(m.double().mean())
        start += len(h)
    H_aug = (torch.cat(blocks) * _LOG2E).contiguous()  # logits in base 2 (see _LOG2E)
    C = W0.shape[0]
    terms: list[_Term] = []
    for o in objectives:
        h, y, r = features[o.subset], labels[o.subset], rows[o.subset]
        if isinstance(o, RetainCE):
            q = torch.nn.functional.one_hot(y, C).to(h.dtype)
            terms.append(_lse_linear(r, 0.0 + shift_mean[o.subset], q, h, W0, b0))
            continue
        q = o.reference.for_labels(y).to(h.dtype)  # [n, C]
        if o.direction == "ref-model":
            const = float((q.double() * q.double().log()).sum(dim=1).mean())
            terms.append(_lse_linear(r, const + shift_mean[o.subset], q, h, W0, b0))
        elif torch.allclose(q, q[:1].expand_as(q)) and torch.allclose(q[0], q[0, :1].expand(C)):
            terms.append(_Term("softmax-dot", r, -math.log(float(q[0, 0]))))  # uniform: −log q = log C
        else:
            terms.append(_Term("softmax-dot", r, 0.0, log2_q=q.log2().unsqueeze(-1)))
    return FusedPlan(H_aug, terms, W0, b0, compile=compile)
