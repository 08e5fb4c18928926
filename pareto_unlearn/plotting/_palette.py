"""One colour per solver in every figure, static (matplotlib) or interactive (plotly): a fixed palette
keyed by solver name.

The solvers and baselines ``explore`` knows (five NSGA-II/SMS-EMOA spaces, ``jd``, ``ls``, the common
``jd-*`` aggregators, the six baselines) have a colour of their own, chosen so that no two of them are
near-identical (CIELAB distance ΔE76 of at least 25 between any two, Original and Retrain included); a
name it does not know gets the first colour of a reserve list that no other name of the same figure
uses, in the order of a hash of the name (so it does not depend on the order in which solvers appear).
Baselines (one-point methods) also get a marker shape each, so they stay visible next to θ0 and Retrain.

Examples
--------
>>> solver_color("jd")
'#d62728'
>>> solver_colors(["ls", "jd"]) == {"ls": solver_color("ls"), "jd": solver_color("jd")}
True
>>> round(color_distance("#000000", "#ffffff"))
100
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import numpy as np

from pareto_unlearn.solvers._registry import REGISTRY, palette

__all__ = ["SOLVER_PALETTE", "BASELINE_MARKERS", "RESERVE", "ORIGINAL_COLOR", "RETRAIN_COLOR", "solver_color",
           "solver_colors", "color_distance", "is_baseline"]

ORIGINAL_COLOR = "#000000"
RETRAIN_COLOR = "#7a7a7a"

# Every registered solver's colour (the registry holds them), then the two references.
SOLVER_PALETTE: dict[str, str] = {**palette(), "Original": ORIGINAL_COLOR, "Retrain": RETRAIN_COLOR}

# Marker of each baseline (matplotlib names; plotly names in _views.PLOTLY_MARKERS).
BASELINE_MARKERS: dict[str, str] = {n: e.marker for n, e in REGISTRY.items() if e.marker}

# For names the palette does not know (the other jd-* aggregators, bring-your-own solvers).
RESERVE: tuple[str, ...] = ("#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf", "#377eb8", "#e41a1c",
                            "#66c2a5", "#fc8d62", "#8da0cb", "#a6d854", "#ffd92f", "#e5c494", "#1b9e77",
                            "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d")


def is_baseline(name: str) -> bool:
    """Whether ``name`` is one of the one-point baselines (drawn as a large marker of its own)."""
    return name in BASELINE_MARKERS


def solver_color(name: str) -> str:
    """The fixed colour of a known solver; for another name, its reserve colour by hash (see
    :func:`solver_colors` to keep unknown names of one figure apart)."""
    if name in SOLVER_PALETTE:
        return SOLVER_PALETTE[name]
    return RESERVE[zlib.crc32(name.encode()) % len(RESERVE)]


def solver_colors(solvers: Iterable[str]) -> dict[str, str]:
    """Colour of each solver of one figure (hex strings, usable by matplotlib and plotly alike).

    Known names get their fixed colour; the others get distinct reserve colours, taken in the order of
    a hash of their names, skipping the colours already used in the figure.

    Examples
    --------
    >>> colors = solver_colors(["mine", "yours", "jd"])
    >>> colors["jd"], len(set(colors.values()))
    ('#d62728', 3)
    """
    names = list(dict.fromkeys(str(s) for s in solvers))
    colors = {name: SOLVER_PALETTE[name] for name in names if name in SOLVER_PALETTE}
    used = set(colors.values())
    for name in sorted((n for n in names if n not in colors), key=lambda n: (zlib.crc32(n.encode()), n)):
        start = zlib.crc32(name.encode()) % len(RESERVE)
        free = [RESERVE[(start + k) % len(RESERVE)] for k in range(len(RESERVE))]
        color = next((c for c in free if c not in used), free[0])
        colors[name] = color
        used.add(color)
    return {name: colors[name] for name in names}


def _lab(color: str) -> np.ndarray:
    """CIELAB (D65) of a ``#rrggbb`` colour."""
    code = color.lstrip("#")
    rgb = np.array([int(code[k:k + 2], 16) / 255.0 for k in (0, 2, 4)])
    linear = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ linear
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
    return np.array([116.0 * f[1] - 16.0, 500.0 * (f[0] - f[1]), 200.0 * (f[1] - f[2])])


def color_distance(a: str, b: str) -> float:
    """CIELAB ΔE76 between two ``#rrggbb`` colours (≈ 2.3 is just noticeable; < 15 reads as one colour)."""
    return float(np.linalg.norm(_lab(a) - _lab(b)))
