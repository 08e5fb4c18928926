"""Fused objectives of a whole population of last-layer weights on cached features.

For an individual with last-layer weights W [C, d] and bias b [C], the logits of a sample with features
h [d] are z = W h + b. The population's logits come from one GEMM per chunk of individuals,

    Z [N, C·Pc] = [H, 1, −m] [N, d + 2]  @  [Wᵀ; b; 1] [d + 2, C·Pc],

where the two extra columns add the bias and subtract m_n, the largest logit of θ0 on sample n (so the
exponentials stay in range without a max pass). Z is laid out class-major per sample ([N, C, Pc]) so
every reduction over classes is an elementwise operation between contiguous slabs. Then one ``exp``,
one sum over classes (s) and one ``log`` serve every objective:

- ``lse-linear`` objectives — retain_ce (q = one-hot label) and forget_kl with ``ref-model``
  (KL(q ‖ p) = Σ q log q − Σ q z + lse) — are ``const + mean_n lse_n − Σ_c (G_c · W_c + g_c b_c)``,
  with G_c = mean_n q_nc h_n and g_c = mean_n q_nc precomputed once: the linear part costs P·C·d.
- ``softmax-dot`` objectives — forget_kl with ``model-ref`` (KL(p ‖ q) = Σ p (z − log q) − lse) — need
  Σ_c e_c (z_c − log q_c) / s, one multiply and one class sum on the forget rows (the log q term vanishes
  into a constant for a uniform reference).

Both forms are invariant to the per-sample shift. When the cheap bound ‖h_n‖·‖ΔW_c‖ + |Δb_c| says an
exponential could overflow, the chunk is shifted by its exact per-sample maximum instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from pareto_unlearn.objectives import ForgetKL, RetainCE

__all__ = ["FusedPlan", "fused_plan"]

# Largest logit shift (after subtracting θ0's maximum) that skips the exact max pass: e^60 cannot overflow.
_SAFE_SHIFT = 60.0


@dataclass
class _Term:
    kind: str  # "lse-linear" or "softmax-dot"
    rows: slice
    const: float
    G: torch.Tensor | None = None  # [C, d]
    g: torch.Tensor | None = None  # [C]
    log_q: torch.Tensor | None = None  # [n, C, 1] (None: uniform, folded into const)


class FusedPlan:
    """Precomputed pieces to evaluate forget_kl / retain_ce objectives of many last-layer weights at once.

    Built by :func:`fused_plan`; ``__call__(W, b, dW, db, chunk_size)`` returns F [P, m].
    """

    def __init__(self, H_aug: torch.Tensor, h_max: float, terms: list[_Term], n_classes: int) -> None:
        self.H_aug = H_aug  # [N, d + 2]
        self.h_max = h_max
        self.terms = terms
        self.n_classes = n_classes
        self._buffers: tuple[torch.Tensor, torch.Tensor] | None = None

    @property
    def n_rows(self) -> int:
        return int(self.H_aug.shape[0])

    def _work(self, numel: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self._buffers is None or self._buffers[0].numel() < numel:
            self._buffers = (torch.empty(numel, device=self.H_aug.device),
                             torch.empty(numel, device=self.H_aug.device))
        return self._buffers

    @torch.no_grad()
    def __call__(self, W: torch.Tensor, b: torch.Tensor, dW: torch.Tensor, db: torch.Tensor,
                 chunk_size: int) -> torch.Tensor:
        """Objectives [P, m] for weights W [P, C, d] and biases b [P, C], which are θ0's plus dW and db.

        The linear parts use the small deltas (θ0's share is a float64 constant): no cancellation.
        """
        P, C, d = W.shape
        N = self.n_rows
        linear = {}
        for j, term in enumerate(self.terms):
            if term.kind == "lse-linear":
                linear[j] = torch.einsum("cd,pcd->p", term.G, dW) + db @ term.g
        bound = self.h_max * dW.norm(dim=2).amax(dim=1) + db.abs().amax(dim=1)
        out = torch.empty(P, len(self.terms), device=W.device)
        z_buf, e_buf = self._work(N * C * chunk_size)
        w_aug = torch.empty(d + 2, C, chunk_size, device=W.device)
        for start in range(0, P, chunk_size):
            stop = min(P, start + chunk_size)
            pc = stop - start
            wc = w_aug[:, :, :pc]
            wc[:d].copy_(W[start:stop].permute(2, 1, 0))
            wc[d].copy_(b[start:stop].T)
            wc[d + 1].fill_(1.0)
            Z = torch.mm(self.H_aug, wc.reshape(d + 2, C * pc), out=z_buf[: N * C * pc].view(N, C * pc))
            Z = Z.view(N, C, pc)
            extra = None
            if float(bound[start:stop].max()) > _SAFE_SHIFT:
                extra = Z.amax(dim=1, keepdim=True)  # [N, 1, pc]
                Z.sub_(extra)
            E = torch.exp(Z, out=e_buf[: N * C * pc].view(N, C, pc))
            s = E.sum(dim=1)  # [N, pc]
            log_s = s.log()
            for j, term in enumerate(self.terms):
                rows = term.rows
                if term.kind == "lse-linear":
                    value = log_s[rows].mean(dim=0) + term.const
                    if extra is not None:
                        value = value + extra[rows, 0].mean(dim=0)
                    out[start:stop, j] = value - linear[j][start:stop]
                else:
                    T = Z[rows] if term.log_q is None else Z[rows] - term.log_q
                    num = (E[rows].mul_(T) if self._last_use(j) else E[rows] * T).sum(dim=1)
                    out[start:stop, j] = (num.div_(s[rows]).sub_(log_s[rows])).mean(dim=0) + term.const
        return out

    def _last_use(self, j: int) -> bool:
        """True when no later softmax-dot term reads the exponentials of term ``j``'s rows."""
        rows = self.terms[j].rows
        return not any(t.kind == "softmax-dot" and _overlap(rows, t.rows) for t in self.terms[j + 1:])


def _overlap(a: slice, b: slice) -> bool:
    return a.start < b.stop and b.start < a.stop


def _lse_linear(rows: slice, const: float, q: torch.Tensor, h: torch.Tensor, W0: torch.Tensor,
                b0: torch.Tensor) -> _Term:
    """const + mean lse − mean Σ_c q_c z_c, with θ0's share of the linear part folded into const (float64)."""
    G, g = q.T @ h / len(h), q.mean(dim=0)
    G64, g64 = q.double().T @ h.double() / len(h), q.double().mean(dim=0)
    linear0 = float((G64 * W0.double()).sum() + g64 @ b0.double())
    return _Term("lse-linear", rows, const - linear0, G=G, g=g)


@torch.no_grad()
def fused_plan(objectives, features: dict[str, torch.Tensor], labels: dict[str, torch.Tensor],
               W0: torch.Tensor, b0: torch.Tensor) -> FusedPlan | None:
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
    H_aug = torch.cat(blocks).contiguous()
    h_max = float(torch.cat([features[s] for s in subsets]).norm(dim=1).max())
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
            terms.append(_Term("softmax-dot", r, -math.log(float(q[0, 0]))))
        else:
            terms.append(_Term("softmax-dot", r, 0.0, log_q=q.log().unsqueeze(-1)))
    return FusedPlan(H_aug, h_max, terms, C)
