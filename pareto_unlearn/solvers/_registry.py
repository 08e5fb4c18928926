"""The registry: the one place that maps a solver's name to its class, its family, its default settings
and its colour. ``explore``, ``table``, ``compare``, ``report``, the config loader, the CLI and the plots
read it; nothing else dispatches on solver names.

Examples
--------
>>> entry = get_entry("nsga2-lora")
>>> entry.family, entry.cls.__name__
('evolutionary', 'EvolutionarySolver')
>>> [n for n in solver_names("gradient")][:3]
['jd', 'ls', 'jd-last-layer']
>>> get_entry("nsga2-lorra")
Traceback (most recent call last):
...
pareto_unlearn.exceptions.ConfigError: unknown solver 'nsga2-lorra'; did you mean 'nsga2-lora'? ...
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.solvers._base import FAMILIES, Solver
from pareto_unlearn.solvers._baselines import FineTune, GradientAscent, L1Sparse, RandomLabel, SalUn
from pareto_unlearn.solvers._influence import InfluenceUnlearning
from pareto_unlearn.solvers._jd import AGGREGATORS, JacobianDescent, LinearScalarization
from pareto_unlearn.solvers._names import (
    FT,
    GA,
    IU,
    JD,
    L1_SPARSE,
    LS,
    NSDE,
    NSGA2,
    RL,
    SALUN,
    SMS_EMOA,
    evolutionary_name,
    jd_name,
)
from pareto_unlearn.solvers.evolutionary import EvolutionaryLSWarm, EvolutionaryLSWeights, EvolutionarySolver
from pareto_unlearn.spaces import (
    LastLayerSpace,
    LastLayerSVDSpace,
    LoRAActivationSpace,
    LoRASpace,
    LoRASVDSpace,
    SearchSpace,
)

__all__ = ["REGISTRY", "SolverEntry", "baseline_candidates", "baseline_grid", "build_search",
           "default_settings", "default_solvers", "get_entry", "palette", "resolve_settings", "solver_names",
           "spread_first", "space_of", "sweep_units", "warm_seed_settings"]


@dataclass(frozen=True)
class SolverEntry:
    """What the registry knows of one solver.

    ``fixed`` are the constructor arguments that make the class this solver (``aggregator="mgda"``,
    ``algorithm="sms-emoa"``); ``settings`` names the ``[explore.<table>]`` its settings come from (every
    ``jd-*`` shares ``jd``'s); ``seeded_by`` is the sweep a warm search continues; ``default`` puts it in
    ``explore``'s default list; ``space`` is the search space its points live in (``all-parameters``,
    ``last-layer``, ``lora``, ``ls-weights``, ``ls-warm``): fronts are compared fairly within one space.
    """

    name: str
    family: str
    cls: type[Solver]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    settings: str = ""
    color: str | None = None
    marker: str | None = None
    default: bool = False
    seeded_by: str | None = None

    @property
    def space(self) -> str:
        """The search space of the solver's points (a ``space`` given in ``fixed``, else the class's)."""
        space = self.fixed.get("space")
        return str(space.name) if space is not None else self.cls.fixed_space


def space_of(name: str) -> str:
    """The search space of a registered solver's points; ``""`` for a name the registry does not know.

    Examples
    --------
    >>> space_of("nsga2-lora"), space_of("jd"), space_of("mine")
    ('lora', 'all-parameters', '')
    """
    return REGISTRY[name].space if name in REGISTRY else ""


def _evolutionary(cls: type[EvolutionarySolver], algorithm: str, color: str, *,
                  space: SearchSpace | None = None, seeded_by: str | None = None,
                  seeded: bool = False) -> SolverEntry:
    fixed: dict[str, Any] = {} if algorithm == NSGA2 else {"algorithm": algorithm}
    if space is not None:
        fixed["space"] = space
    if seeded:
        fixed["seeded"] = True
    space_name = space.name if space is not None else cls.fixed_space
    name = evolutionary_name(algorithm, space_name, seeded=seeded)  # as the solver names itself
    return SolverEntry(name, "evolutionary", cls, fixed, name, color, default=True, seeded_by=seeded_by)


# Colours: no two nearer than CIELAB ΔE76 25, Original and Retrain included (tests/test_plotting.py).
_JD_COLORS = {"mgda": "#ff8c00", "pcgrad": "#c8c800", "cagrad": "#006d6d", "nash-mtl": "#a0a0ff",
              "pama": "#ff9e9e"}
_ENTRIES = [
    _evolutionary(EvolutionarySolver, NSGA2, "#1f5fbf", space=LastLayerSpace()),
    _evolutionary(EvolutionarySolver, NSGA2, "#00b4d8", space=LoRASpace()),
    _evolutionary(EvolutionaryLSWeights, NSGA2, "#7b3fa0"),
    _evolutionary(EvolutionaryLSWarm, NSGA2, "#e75fb0", seeded_by=LS),
    _evolutionary(EvolutionaryLSWarm, SMS_EMOA, "#8b5a2b", seeded_by=LS),
    # NSGA-II continuing the same-space ls sweep (its cost charged first): what the search adds to it
    _evolutionary(EvolutionarySolver, NSGA2, "#000080", space=LastLayerSpace(), seeded=True,
                  seeded_by=f"{LS}-{LastLayerSpace.name}"),
    _evolutionary(EvolutionarySolver, NSGA2, "#b03060", space=LoRASpace(), seeded=True,
                  seeded_by=f"{LS}-{LoRASpace.name}"),
    # unseeded NSGA-II over low-dimensional genomes of the same two spaces, from θ0's own SVD
    _evolutionary(EvolutionarySolver, "nsga2", "#22dd00", space=LastLayerSVDSpace()),
    _evolutionary(EvolutionarySolver, "nsga2", "#4b0036", space=LoRASVDSpace()),
    # ... and of the LoRA space from θ0's activations (A: principal inputs; B: the logits' sensitive outputs)
    _evolutionary(EvolutionarySolver, NSGA2, "#00f080", space=LoRAActivationSpace()),
    # ... searched with differential-evolution variation (NSDE; docs/fair_comparison.md)
    _evolutionary(EvolutionarySolver, NSDE, "#2200ff", space=LoRAActivationSpace()),
    SolverEntry(JD, "gradient", JacobianDescent, {"aggregator": "upgrad"}, JD, "#d62728", default=True),
    SolverEntry(LS, "gradient", LinearScalarization, {}, LS, "#2ca02c", default=True),
    # the same two families restricted to the evolutionary solvers' subspaces (same genome, same box)
    *(SolverEntry(f"{name}-{space.name}", "gradient", cls, {**fixed, "space": space}, f"{name}-{space.name}",
                  color, default=True)
      for space, colors in ((LastLayerSpace(), ("#ff4500", "#2e8b57")), (LoRASpace(), ("#8a2be2", "#20b2aa")))
      for (name, cls, fixed), color in zip(((JD, JacobianDescent, {"aggregator": "upgrad"}),
                                            (LS, LinearScalarization, {})), colors, strict=True)),
    *(SolverEntry(jd_name(a), "gradient", JacobianDescent, {"aggregator": a}, JD, _JD_COLORS.get(a))
      for a in AGGREGATORS if a != "upgrad"),
    # the baselines in the order of the paper's Table 1
    SolverEntry(FT, "baseline", FineTune, color="#556b2f", marker="P"),
    SolverEntry(GA, "baseline", GradientAscent, color="#b8860b", marker="X"),
    SolverEntry(IU, "baseline", InfluenceUnlearning, color="#e0c080", marker="p"),
    SolverEntry(L1_SPARSE, "baseline", L1Sparse, color="#00d0a0", marker="s"),
    SolverEntry(RL, "baseline", RandomLabel, color="#800020", marker="^"),
    SolverEntry(SALUN, "baseline", SalUn, color="#ff00ff", marker="v"),
]
REGISTRY: dict[str, SolverEntry] = {e.name: e for e in _ENTRIES}
assert all(e.family in FAMILIES for e in _ENTRIES)


def solver_names(family: str | None = None) -> tuple[str, ...]:
    """Registered names, in registry order (of one family when given)."""
    return tuple(n for n, e in REGISTRY.items() if family is None or e.family == family)


def default_solvers() -> tuple[str, ...]:
    """What ``explore`` runs when no solvers are named: the evolutionary searches, ``jd`` and ``ls``."""
    return tuple(n for n, e in REGISTRY.items() if e.default)


def get_entry(name: str) -> SolverEntry:
    """The entry of ``name``; :class:`ConfigError` naming the closest registered name otherwise."""
    if name not in REGISTRY:
        close = difflib.get_close_matches(str(name), list(REGISTRY), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"unknown solver {name!r}; {hint}Registered: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def palette() -> dict[str, str]:
    """The fixed colour of every registered solver that has one."""
    return {n: e.color for n, e in REGISTRY.items() if e.color}


def spread_first(weights: Any) -> list[float]:
    """``weights`` (in [0, 1]) in the order a sweep should run them so that every prefix spans the front:
    each next weight is the one farthest from 0, 1 and the weights before it (ties: the smaller). An
    extreme weight alone gives a corner of the front, a middle one most of its hypervolume, so a sweep
    read at any cost (``compare``'s budget, a user who stops it) holds the most it can.

    Examples
    --------
    >>> spread_first([0.1, 0.3, 0.5, 0.7, 0.9])
    [0.5, 0.3, 0.7, 0.1, 0.9]
    """
    left = sorted(float(w) for w in weights)
    chosen: list[float] = []
    while left:
        covered = np.array([0.0, 1.0, *chosen])
        spread = [round(float(np.abs(covered - w).min()), 9) for w in left]  # 0.55 − 0.45 ties 0.25 − 0.15
        chosen.append(left.pop(int(np.argmax(spread))))
    return chosen


def _warm_settings(ls: dict[str, Any], *, n_gen: int) -> dict[str, Any]:
    # generation 1 is the ls sweep itself (seeding, charged to it); then 6 offspring a generation, each 2
    # epochs on from the nearest survivor's model
    return {"pop_size": len(ls["weights"]), "n_offsprings": 6, "n_gen": n_gen, "max_epochs": 2,
            "lr_bounds": [-1.2, -0.4],
            "seed_sweep": {"weights": list(ls["weights"]), "lr": ls["lr"], "epochs": ls["epochs"]}}


# (Fashion-)MNIST's CPU recipe (SmallCNN28, batch 256, trained at lr 0.05): chosen by a scan on fashion-mnist
# --size small, random:0.1, seed 0 (one thread): CIFAR's lrs (≤ 0.01) barely leave θ0 in a few epochs; ls
# (weight 0.5, 3 epochs) at lr 0.02 and 0.05 both move UA 2.8 → 9.7–11.7 (Retrain 10.7) with RA ≥ 90.8. An
# epoch over D_r costs ~4.4 CPU s and scoring a full-model point ~4.3 CPU s, so quick keeps 2-epoch sweeps,
# a 4 × 2 LS-weights search and 3 × 2 one-epoch warm offspring (docs/fashion_mnist.md: the measured cost).
SMALL_IMAGE_TASKS: tuple[str, ...] = ("mnist", "fashion-mnist")
_SMALL_IMAGE_LRS = (0.005, 0.01, 0.02, 0.03, 0.05)
_SMALL_IMAGE_LOG_LR = (-2.3, -1.3)  # log10 of 0.005 and 0.05


# 2 epochs each (a candidate ~10 CPU s), the span between 'barely leaves θ0' and 'retain accuracy
# collapses' in that scan (θ0: UA 2.8, RA 97.9; Retrain: UA 10.7, RA 97.5): FT 0.01 UA 2.9, 0.3 RA 91.4;
# GA 0.005 UA 3.3, 0.05 RA 35; RL and SalUn 0.001 UA 4.8 (RL), 0.03 RA 66–70, 0.003 Avg. Gap 2.6; ℓ1-sparse
# lr 0.05: α 1e-4 UA 4.2, α 1e-2 RA 81; IU α 10 Avg. Gap 3.9, α 100 RA 62. GA, RL and SalUn reach lower
# for large forget sets: on random:0.5 (seeds 0, 1) every GA point down to 0.005 diverged or collapsed
# (UA 90) and RL / SalUn at 0.001 still lost 20–36 points of RA (Avg. Gap 12–25); GA 0.002–0.0005 and
# RL / SalUn 1e-4–3e-5 stay near θ0 (Avg. Gap 4.2–5.6, θ0 5.0–5.3). On random:0.1 and class:3 (3 seeds) no
# RL or SalUn pick was 0.01 and GA's were 0.03, 0.02 (once) and 0.01: those made room for the low end.
_SMALL_IMAGE_GRIDS: dict[str, tuple[Any, ...]] = {
    FT: (2, (0.3, 0.1, 0.03)), GA: (2, (0.03, 0.01, 0.003, 0.001)),
    RL: (2, (0.003, 0.001, 3e-4, 1e-4)), SALUN: (2, (0.003, 0.001, 3e-4, 1e-4)),
    L1_SPARSE: (2, (0.1, 0.05), (1e-3, 3e-3))}
_SMALL_IMAGE_IU_ALPHA = (3.0, 10.0, 30.0)


def _small_image_settings(settings: dict[str, dict[str, Any]], ls_weights: str, *, quick: bool) -> None:
    settings[ls_weights]["lr_bounds"] = list(_SMALL_IMAGE_LOG_LR)
    if quick:
        settings[JD].update(lrs=[0.01, 0.03], epochs=2)
        settings[LS].update(epochs=2)
        settings[ls_weights].update(pop_size=4, n_gen=2, max_epochs=2)


def default_settings(task: str, *, quick: bool = False) -> dict[str, dict[str, Any]]:
    """Settings of each settings table (``jd`` for every ``jd-*``) for ``task``. ``quick`` keeps every
    solver with at least 5 non-dominated points on digits."""
    if task == "digits":
        lrs = [0.05, 0.1, 0.15, 0.2, 0.3]
    elif task in SMALL_IMAGE_TASKS:
        lrs = list(_SMALL_IMAGE_LRS)
    else:
        lrs = [1e-3, 2.5e-3, 5e-3, 7.5e-3, 1e-2]
    last_layer, lora, ls_weights, warm, warm_sms = (e.name for e in _ENTRIES[:5])
    settings: dict[str, dict[str, Any]] = {
        JD: {"lrs": lrs, "epochs": 5, "pref_vectors": None},
        # middle weights first: the sweep's anytime front spans the trade-off from its first point on
        LS: {"weights": spread_first(np.round(np.linspace(0.05, 0.95, 10), 2)), "lr": lrs[-2], "epochs": 5},
        # population_chunks > 1: pieces of each population evaluated on the Dask workers (large models)
        last_layer: {"pop_size": 100, "n_gen": 100, "population_chunks": 1},
        lora: {"pop_size": 60, "n_gen": 60, "population_chunks": 1},
        ls_weights: {"pop_size": 16, "n_gen": 8, "max_epochs": 5},
        # small populations, so that a budget read early holds many generations (docs/fair_comparison.md
        # was written with these); on class:3 seed 1 pop 100 × 200 reached HV 5.10 against 4.61 here
        f"nsga2-{LastLayerSVDSpace.name}": {"pop_size": 40, "n_gen": 150},
        f"nsga2-{LoRASVDSpace.name}": {"pop_size": 40, "n_gen": 100},
        # 250 generations outlast a 10× budget on digits; pop 20 × 500 did worse over the 6 fair-comparison
        # runs (10×, same-space ratio: mean 0.78 / 0.83 against 0.92 / 0.88 at pop 40 on random:0.5 / class:3)
        f"nsga2-{LoRAActivationSpace.name}": {"pop_size": 40, "n_gen": 250},
    }
    # full batch on cached activations, a point every 10 steps; lr chosen by HV on digits (seed 0, random
    # 50 % and class 3; docs/evolutionary_vs_gradient.md): ls 0.1 (last layer) and 0.3 (LoRA); jd both
    # lrs of its sweep, six preference directions each
    prefs = [None, [0.9, 0.1], [0.7, 0.3], [0.5, 0.5], [0.3, 0.7], [0.1, 0.9]]
    for space, ls_lr in ((LastLayerSpace.name, 0.1), (LoRASpace.name, 0.3)):
        settings[f"{LS}-{space}"] = {**settings[LS], "lr": ls_lr, "epochs": 150, "record_every": 10}
        settings[f"{JD}-{space}"] = {"lrs": [0.1, 0.3], "epochs": 150, "pref_vectors": prefs,
                                     "record_every": 10}
    if quick:
        settings[JD].update(lrs=lrs[1::2], epochs=5)
        settings[LS].update(weights=spread_first([0.1, 0.3, 0.5, 0.7, 0.9]))
        settings[last_layer].update(pop_size=40, n_gen=25)
        settings[lora].update(pop_size=30, n_gen=15)
        settings[ls_weights].update(pop_size=8, n_gen=3)
        for space in (LastLayerSVDSpace.name, LoRASVDSpace.name, LoRAActivationSpace.name):
            settings[f"nsga2-{space}"].update(pop_size=20, n_gen=15)
        for space in (LastLayerSpace.name, LoRASpace.name):
            settings[f"{LS}-{space}"].update(weights=spread_first([0.1, 0.3, 0.5, 0.7, 0.9]), epochs=60)
            settings[f"{JD}-{space}"].update(lrs=[0.3], epochs=60,
                                             pref_vectors=[None, [0.8, 0.2], [0.5, 0.5], [0.2, 0.8]])
    if task in SMALL_IMAGE_TASKS:
        _small_image_settings(settings, ls_weights, quick=quick)
    settings[warm] = _warm_settings(settings[LS], n_gen=5 if quick else 12)
    if task in SMALL_IMAGE_TASKS:  # log10 lr within the sweep's lrs; quick: 6 one-epoch offspring
        settings[warm]["lr_bounds"] = list(_SMALL_IMAGE_LOG_LR)
        if quick:
            settings[warm].update(n_offsprings=3, n_gen=3, max_epochs=1)
    # the same search with SMS-EMOA's survival
    settings[warm_sms] = {**settings[warm], **REGISTRY[warm_sms].fixed}
    for seeded, plain in ((_ENTRIES[5].name, last_layer), (_ENTRIES[6].name, lora)):
        settings[seeded] = dict(settings[plain])
    # the activation genome under DE variation, on the same budget (DE/rand/1/bin, F 0.5, CR 0.9: the usual
    # settings; F drawn in [0.5, 1] per child or no polynomial mutation did no better in a 6-run screen)
    act = LoRAActivationSpace.name
    settings[evolutionary_name(NSDE, act)] = dict(settings[evolutionary_name(NSGA2, act)])
    return settings


def warm_seed_settings(settings: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    """The ``seed_sweep`` and ``pop_size`` a warm search takes from the sweep it is seeded by."""
    entry = get_entry(name)
    seeded = _warm_settings(settings[entry.seeded_by or LS], n_gen=settings[name]["n_gen"])
    return {"seed_sweep": seeded["seed_sweep"], "pop_size": seeded["pop_size"]}


def sweep_units(name: str, settings: dict[str, dict[str, Any]], *, seed: int,
                batch_size: int) -> list[Solver]:
    """The independent runs of a gradient family's sweep, in the order they run (``ls``: one run per
    weight; ``jd*``: one per learning rate and preference vector)."""
    entry = get_entry(name)
    if entry.family != "gradient":
        raise ConfigError(f"{name} is not a gradient sweep")
    s = settings[entry.settings]
    common: dict[str, Any] = {"batch_size": batch_size, "seed": seed, "progress": False}
    if "record_every" in s:
        common["record_every"] = s["record_every"]

    def fixed() -> dict[str, Any]:
        return copy.deepcopy(dict(entry.fixed))  # a space object per solver

    if entry.cls is LinearScalarization:
        # a sweep in a space keeps its trajectories' points; over every parameter, each run's last
        record = "last" if "space" not in entry.fixed else "epoch"
        return [LinearScalarization(**fixed(), weight=w, lr=s["lr"], epochs=s["epochs"], record=record,
                                    **common) for w in s["weights"]]
    return [JacobianDescent(**fixed(), pref_vector=p, lr=lr, epochs=s["epochs"], name=name, record="epoch",
                            **common)
            for lr in s["lrs"] for p in (s.get("pref_vectors") or [None])]


def build_search(name: str, settings: dict[str, dict[str, Any]], *, seed: int, progress: bool,
                 batch_size: int | None = None, seed_front: Any = None) -> Solver:
    """The evolutionary solver ``name`` with its settings (``batch_size``: the task's unlearning batch, for
    searches over LS fine-tunes, as the ``ls`` sweep uses; ``seed_front``: the sweep a warm search
    continues)."""
    entry = get_entry(name)
    if entry.family != "evolutionary":
        raise ConfigError(f"{name} is not an evolutionary solver")
    kwargs = {**settings[entry.settings], **copy.deepcopy(dict(entry.fixed))}  # a space object per solver
    if issubclass(entry.cls, EvolutionaryLSWeights) and batch_size is not None:
        kwargs.setdefault("batch_size", batch_size)
    if seed_front is not None:
        kwargs["seed_front"] = seed_front
    return cast(Any, entry.cls)(**kwargs, seed=seed, progress=progress)


def baseline_grid(name: str, task: str) -> dict[str, Any]:
    """A baseline's default grid for ``task``: epochs, learning rates and (ℓ1-sparse, IU) α. CIFAR: the
    paper's. Digits (batch 64): scaled by a scan of each method's lr from 'barely leaves θ0' to 'retain
    accuracy collapses' on random 50 % forgetting (docs/definitions.md §2). IU has no lr and no epochs (one
    shot), only α: the reference's grid, on digits the same scan's (its θ0 fits so closely that α ≤ 20
    leaves every metric as θ0's). (Fashion-)MNIST (batch 256): the same scan on fashion-mnist --size small,
    random 10 % (seed 0), with 2 epochs so that ``explore --quick --baselines`` stays on a laptop."""
    get_entry(name)
    if name == IU:
        if task == "digits":
            alpha: tuple[float, ...] = (50.0, 100.0, 200.0, 300.0, 500.0)
        elif task in SMALL_IMAGE_TASKS:
            alpha = _SMALL_IMAGE_IU_ALPHA
        else:
            alpha = (1.0, 5.0, 10.0, 15.0, 20.0)
        return {"epochs": 1, "lr": (), "alpha": alpha}
    digits = {FT: (10, (0.2, 0.1, 0.05, 0.02)), GA: (2, (1.0, 0.5, 0.2, 0.1)),
              RL: (10, (0.01, 0.003, 0.001, 0.0003)), SALUN: (10, (0.01, 0.003, 0.001, 0.0003)),
              L1_SPARSE: (10, (0.1, 0.03), (5e-4, 2e-3, 5e-3))}
    other = {FT: (10, (1e-1, 5e-2, 1e-2, 5e-3)), GA: (2, (2e-2, 1e-2, 5e-3, 1e-3, 1e-4)),
             RL: (10, (1e-1, 5e-2, 1e-2, 5e-3, 1e-3)), SALUN: (10, (5e-2, 1e-2, 5e-3, 1e-3, 1e-4)),
             L1_SPARSE: (10, (1e-2, 1e-3, 1e-4), (1e-4, 1e-5, 1e-6))}
    grid = (digits if task == "digits" else _SMALL_IMAGE_GRIDS if task in SMALL_IMAGE_TASKS else other)[name]
    return {"epochs": grid[0], "lr": grid[1], "alpha": grid[2] if len(grid) > 2 else ()}


def baseline_candidates(name: str, *, epochs: int, lr: tuple[float, ...], alpha: tuple[float, ...],
                        batch_size: int, seed: int) -> list[Solver]:
    """The solvers of a baseline's grid (record='last': a baseline is its last epoch; IU: one per α)."""
    entry = get_entry(name)
    if entry.cls is InfluenceUnlearning:
        if lr or epochs != 1:
            given = f"lr = {list(lr)}" if lr else f"epochs = {epochs}"
            raise ConfigError(f"[methods.{name}] takes alpha only: IU is one shot (no lr, no epochs); "
                              f"remove {given}")
        return [InfluenceUnlearning(alpha=a, batch_size=batch_size, seed=seed, progress=False) for a in alpha]
    common: dict[str, Any] = {"epochs": epochs, "batch_size": batch_size, "seed": seed, "progress": False,
                              "record": "last"}
    if entry.cls is L1Sparse:
        return [L1Sparse(lr=r, alpha=a, **common) for r in lr for a in alpha]
    return [cast(Any, entry.cls)(lr=r, **common) for r in lr]


def resolve_settings(task: str, tables: Mapping[str, Any], solvers: Any = (), *,
                     quick: bool = False) -> dict[str, dict[str, Any]]:
    """The settings a run uses: :func:`default_settings` with the config's ``[explore.<table>]`` tables
    over them, every name and key checked (:class:`ConfigError` naming the first wrong one)."""
    for name in solvers:
        entry = get_entry(name)
        if entry.fixed.get("seeded") and entry.seeded_by not in solvers:
            raise ConfigError(f"{name} continues the {entry.seeded_by} sweep; run {entry.seeded_by} too "
                              "(add it to the solvers)")
    settings = default_settings(task, quick=quick)
    for name, values in tables.items():
        key = REGISTRY[name].settings if name in REGISTRY else name
        if key not in settings or not isinstance(values, dict):
            raise ConfigError(f"[explore.{name}] is not a solver's settings table; "
                              f"valid: {', '.join(settings)}")
        bad = sorted(set(values) - set(settings[key]))
        if bad:
            raise ConfigError(f"[explore.{name}] has unknown key {bad[0]!r}; "
                              f"valid: {', '.join(settings[key])}")
        for item, value in values.items():
            default = settings[key][item]
            if isinstance(default, list) and not isinstance(value, list):
                raise ConfigError(f"[explore.{name}] {item} must be a list like {default!r}, got {value!r}")
            if isinstance(default, (int, float)) and not isinstance(value, (int, float)):
                raise ConfigError(f"[explore.{name}] {item} must be a number like {default!r}, got {value!r}")
        settings[key] = {**settings[key], **values}
    for name, entry in REGISTRY.items():
        if entry.seeded_by is None or not issubclass(entry.cls, EvolutionaryLSWarm):
            continue
        algorithm = entry.fixed.get("algorithm", NSGA2)
        if settings[name].get("algorithm", NSGA2) != algorithm:
            others = [n for n, e in REGISTRY.items() if e.cls is entry.cls and n != name]
            raise ConfigError(f"[explore.{name}] algorithm = {settings[name]['algorithm']!r} contradicts the "
                              f"solver's name; leave it out (or run one of {', '.join(others)})")
        warm = tables.get(name, {})
        if entry.seeded_by in tables and "seed_sweep" not in warm:  # the seed stays the sweep the user set
            seeded = warm_seed_settings(settings, name)
            settings[name]["seed_sweep"] = seeded["seed_sweep"]
            if "pop_size" not in warm:
                settings[name]["pop_size"] = seeded["pop_size"]
    return settings
