"""The Front: what every solver returns.

A Front is a column table of points. Each point has an objective vector (a row of ``F``, shape
``[n, m]``), the unlearning metrics (UA, RA, TA, MIA, gap, ...), a feasibility flag, provenance (solver,
search space, reference, hyper-parameters, seed), the solver's cumulative cost when the point was made,
and a rebuild spec from which :meth:`Front.model` rebuilds the point's ``nn.Module`` from θ0.

Fronts of several solvers concatenate into one (:meth:`Front.concat`); ``front.solvers`` lists them and
``front.only(name)`` takes one back. Saved fronts are JSON + npz + safetensors: nothing is pickled.

Examples
--------
>>> import numpy as np
>>> f = Front.from_points(np.array([[1.0, 2.0], [2.0, 1.0], [2.0, 2.0]]), solver="demo")
>>> f.nondominated().tolist()
[True, True, False]
>>> f.to_frame()[["solver", "forget_kl", "retain_ce"]].shape
(3, 3)
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence, Sized
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pareto_unlearn._io import (
    atomic_save_npz,
    atomic_write_bytes,
    atomic_write_json,
    ensure_dir,
    read_json,
    sha256_file,
)
from pareto_unlearn.exceptions import CacheError, ConfigError

__all__ = ["Front", "METRIC_NAMES", "COST_NAMES", "DEFAULT_OBJECTIVES", "ORIGINAL"]

DEFAULT_OBJECTIVES = ("forget_kl", "retain_ce")
METRIC_NAMES = ("UA", "RA", "TA", "MIA", "gap")
COST_NAMES = ("wall_s", "forward_passes", "backward_passes")
FRONT_SCHEMA = 1
ORIGINAL = "Original"  # the label of θ0's point in a run's union front


def nondominated_mask(F: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of ``F`` [n, m] that no other row dominates (pymoo's sorting)."""
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    F = np.asarray(F, dtype=float)
    mask = np.zeros(len(F), dtype=bool)
    if len(F):
        mask[NonDominatedSorting().do(F, only_non_dominated_front=True)] = True
    return mask


@dataclass
class Front:
    """A set of points in objective space with their metrics, provenance, cost and rebuild specs.

    Attributes
    ----------
    objective_names : tuple of str
        Column names of ``F``, e.g. ``("forget_kl", "retain_ce")``.
    F : np.ndarray [n, m]
    solver : np.ndarray [n] of str
    metrics : dict of str → np.ndarray [n]
        At least UA, RA, TA, MIA, gap (percent; gap = Avg. Gap to Retrain). Extra columns allowed
        (``forget_acc``, ``sel_acc``, ``TA_forgotten``, the oracle-free per-sample ``ofs.*`` columns...).
    cost : dict of str → np.ndarray [n]
        ``wall_s``, ``forward_passes``, ``backward_passes``: the solver's cumulative cost when the point
        was produced (its set-up included).
    provenance : list of dict
        Per point: ``space``, ``reference``, ``hyperparameters``, ``seed`` and solver-specific keys.
    rebuild : list of dict
        Per point: how to rebuild its model from θ0 (``{"kind": ...}``); see :meth:`model`.
    arrays : dict of str → np.ndarray
        Large arrays that rebuild specs refer to by key (genomes, flat parameter vectors).
    anytime : list of dict
        Per solver, the running log ``{"solver", "wall_s", "forward_passes", "backward_passes", "hv"}``.
    """

    objective_names: tuple[str, ...]
    F: np.ndarray
    solver: np.ndarray
    metrics: dict[str, np.ndarray] = field(default_factory=dict)
    cost: dict[str, np.ndarray] = field(default_factory=dict)
    provenance: list[dict[str, Any]] = field(default_factory=list)
    rebuild: list[dict[str, Any]] = field(default_factory=list)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    anytime: list[dict[str, Any]] = field(default_factory=list)
    task: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Check the columns against the number of points; arrays as numpy."""
        self.objective_names = tuple(self.objective_names)
        self.F = np.asarray(self.F, dtype=float).reshape(-1, len(self.objective_names))
        n = len(self.F)
        self.solver = np.asarray(self.solver, dtype=object).reshape(-1)
        if self.solver.shape == (1,) and n != 1:
            self.solver = np.repeat(self.solver, n)
        self.metrics = {k: np.asarray(v, dtype=float).reshape(-1) for k, v in self.metrics.items()}
        self.cost = {k: np.asarray(v, dtype=float).reshape(-1) for k, v in self.cost.items()}
        for name in COST_NAMES:
            self.cost.setdefault(name, np.full(n, np.nan))
        if not self.provenance:
            self.provenance = [{} for _ in range(n)]
        if not self.rebuild:
            self.rebuild = [{"kind": "none"} for _ in range(n)]
        columns: list[tuple[str, Sized]] = [
            ("solver", self.solver),
            ("provenance", self.provenance),
            ("rebuild", self.rebuild),
            *self.metrics.items(),
            *self.cost.items(),
        ]
        for label, column in columns:
            if len(column) != n:
                raise ConfigError(f"Front column {label!r} has {len(column)} entries for {n} points")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_points(
        cls,
        F: np.ndarray,
        *,
        solver: str = "points",
        objective_names: Sequence[str] = DEFAULT_OBJECTIVES,
        **columns: Any,
    ) -> Front:
        """A front from bare objective vectors (metrics NaN unless given)."""
        F = np.asarray(F, dtype=float)
        return cls(tuple(objective_names), F, np.array([solver] * len(F), dtype=object), **columns)

    @classmethod
    def concat(cls, fronts: Sequence[Front]) -> Front:
        """Stack fronts with the same objectives; array keys are prefixed by position to stay unique."""
        fronts = [f for f in fronts if f is not None]
        if not fronts:
            raise ConfigError("Front.concat needs at least one front")
        names = fronts[0].objective_names
        for f in fronts:
            if f.objective_names != names:
                raise ConfigError(f"cannot concatenate fronts over {names} and {f.objective_names}")
        metric_keys = sorted(set().union(*[f.metrics for f in fronts]))
        metrics = {
            k: np.concatenate([f.metrics.get(k, np.full(len(f), np.nan)) for f in fronts])
            for k in metric_keys
        }
        cost = {k: np.concatenate([f.cost[k] for f in fronts]) for k in COST_NAMES}
        arrays: dict[str, np.ndarray] = {}
        rebuild: list[dict[str, Any]] = []
        for i, f in enumerate(fronts):
            renames = {k: f"{i}.{k}" if len(fronts) > 1 else k for k in f.arrays}
            arrays.update({renames[k]: v for k, v in f.arrays.items()})
            for spec in f.rebuild:
                spec = dict(spec)
                for key in ("array", "base_array"):
                    if key in spec:
                        spec[key] = renames[spec[key]]
                rebuild.append(spec)
        return cls(
            names,
            np.concatenate([f.F for f in fronts]),
            np.concatenate([f.solver for f in fronts]),
            metrics=metrics,
            cost=cost,
            provenance=sum((list(f.provenance) for f in fronts), []),
            rebuild=rebuild,
            arrays=arrays,
            anytime=sum((list(f.anytime) for f in fronts), []),
            task=next((f.task for f in fronts if f.task is not None), None),
        )

    def with_(self, **changes: Any) -> Front:
        """A new Front with ``changes`` to its fields (checked like a new one); this one is unchanged.

        Examples
        --------
        >>> f = Front.from_points(np.eye(2), solver="a")
        >>> g = f.with_(solver=np.array(["b", "b"], dtype=object))
        >>> f.solvers, g.solvers
        (['a'], ['b'])
        """
        return replace(self, **changes)

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        """The number of points."""
        return len(self.F)

    @property
    def n_obj(self) -> int:
        """The number of objectives."""
        return len(self.objective_names)

    @property
    def solvers(self) -> list[str]:
        """Solver names in order of first appearance."""
        return list(dict.fromkeys(self.solver.tolist()))

    @property
    def feasible(self) -> np.ndarray:
        """Points whose objectives are all finite: others are kept but never ranked
        (docs/definitions.md §4)."""
        return np.isfinite(self.F).all(axis=1)

    def take(self, index: np.ndarray | Sequence[int]) -> Front:
        """The points at ``index`` (ints or a boolean mask), arrays kept whole."""
        index = np.asarray(index)
        if index.dtype != bool:
            index = index.astype(int)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        return Front(
            self.objective_names,
            self.F[index],
            self.solver[index],
            metrics={k: v[index] for k, v in self.metrics.items()},
            cost={k: v[index] for k, v in self.cost.items()},
            provenance=[self.provenance[i] for i in index],
            rebuild=[self.rebuild[i] for i in index],
            arrays=self.arrays,
            anytime=[a for a in self.anytime if a.get("solver") in set(self.solver[index])],
            task=self.task,
        )

    def only(self, solver: str) -> Front:
        """The points of one solver."""
        if solver not in self.solvers:
            raise ConfigError(f"no solver {solver!r} in this front; it holds {', '.join(self.solvers)}")
        return self.take(self.solver == solver)

    def nondominated(self) -> np.ndarray:
        """Mask of feasible points that no other feasible point of the *same solver* dominates."""
        mask = np.zeros(len(self), dtype=bool)
        feasible = self.feasible
        for name in self.solvers:
            rows = np.flatnonzero((self.solver == name) & feasible)
            mask[rows[nondominated_mask(self.F[rows])]] = True
        return mask

    def nondominated_union(self) -> np.ndarray:
        """Mask of feasible points that no feasible point of *any* solver dominates."""
        mask = np.zeros(len(self), dtype=bool)
        rows = np.flatnonzero(self.feasible)
        mask[rows[nondominated_mask(self.F[rows])]] = True
        return mask

    def to_frame(self) -> pd.DataFrame:
        """One row per point: solver, space, reference, point, feasible, objectives, metrics, cost."""
        point = np.zeros(len(self), dtype=int)
        for name in self.solvers:
            rows = self.solver == name
            point[rows] = np.arange(rows.sum())
        columns: dict[str, Any] = {
            "solver": self.solver.astype(str),
            "space": [p.get("space", "") for p in self.provenance],
            "reference": [p.get("reference", "") for p in self.provenance],
            "point": point,
            "feasible": self.feasible.astype(int),
        }
        for j, name in enumerate(self.objective_names):
            columns[name] = self.F[:, j]
        for name in METRIC_NAMES:
            columns[name] = self.metrics.get(name, np.full(len(self), np.nan))
        columns["nondominated"] = self.nondominated().astype(int)
        for name in COST_NAMES:
            columns[name] = self.cost[name]
        for name in sorted(set(self.metrics) - set(METRIC_NAMES)):
            columns[name] = self.metrics[name]
        columns["hyperparameters"] = [
            json.dumps(p.get("hyperparameters", {}), sort_keys=True) for p in self.provenance
        ]
        columns["seed"] = [p.get("seed", "") for p in self.provenance]
        # one constructor call: column by column, a front with many per-sample metrics fragments the frame
        frame = pd.DataFrame(columns)
        return frame

    def __repr__(self) -> str:
        """A summary, not the columns: points per solver, objectives, metrics, arrays by size.

        Examples
        --------
        >>> f = Front.from_points(np.eye(2), solver="jd", arrays={"g": np.zeros((2, 50))})
        >>> for part in repr(f).split("; "):
        ...     print(part)
        Front(2 points: jd 2 (2 non-dominated)
        objectives forget_kl, retain_ce
        metrics none
        arrays g [2, 50])
        """
        counts = ", ".join(f"{name} {int((self.solver == name).sum())}" for name in self.solvers)
        nd = int(self.nondominated().sum()) if len(self) else 0
        metrics = [k for k in self.metrics if not k.startswith("ofs.")]
        samples = len(self.metrics) - len(metrics)
        arrays = ", ".join(f"{k} [{', '.join(str(d) for d in v.shape)}]"
                           for k, v in list(self.arrays.items())[:4])
        more = f" and {len(self.arrays) - 4} more" if len(self.arrays) > 4 else ""
        return (f"Front({len(self)} points: {counts or 'none'} ({nd} non-dominated); objectives "
                f"{', '.join(self.objective_names)}; metrics {', '.join(metrics) or 'none'}"
                + (f" (+{samples} per-sample columns)" if samples else "")
                + (f"; arrays {arrays}{more}" if self.arrays else "") + ")")

    def _repr_html_(self) -> str:
        return self.to_frame()._repr_html_()

    # ------------------------------------------------------------------ files
    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``front.json``, ``front.npz`` and ``front_arrays.safetensors`` to ``directory``."""
        from safetensors.numpy import save as save_arrays

        directory = ensure_dir(directory)
        columns = {"F": self.F, "solver": self.solver.astype(str)}
        columns.update({f"metric:{k}": v for k, v in self.metrics.items()})
        columns.update({f"cost:{k}": v for k, v in self.cost.items()})
        atomic_save_npz(directory / "front.npz", **columns)
        blob = (
            save_arrays({k: np.ascontiguousarray(v) for k, v in self.arrays.items()}) if self.arrays else b""
        )
        atomic_write_bytes(directory / "front_arrays.safetensors", blob)
        atomic_write_json(
            directory / "front.json",
            {
                "schema_version": FRONT_SCHEMA,
                "objective_names": list(self.objective_names),
                "provenance": self.provenance,
                "rebuild": self.rebuild,
                "anytime": self.anytime,
                "sha256": {
                    name: sha256_file(directory / name) for name in ("front.npz", "front_arrays.safetensors")
                },
            },
        )
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike, task: Any = None) -> Front:
        """Read a front written by :meth:`save`; hashes are checked before anything is parsed."""
        from safetensors.numpy import load as load_arrays

        directory = Path(directory)
        meta_path = directory / "front.json"
        if not meta_path.exists():
            raise CacheError(f"{directory}: no front.json here; point to a directory written by Front.save")
        try:
            meta = read_json(meta_path)
        except ValueError as exc:
            raise CacheError(f"{meta_path}: not valid JSON ({exc}); the file is damaged") from None
        for name, digest in meta.get("sha256", {}).items():
            if not (directory / name).exists() or sha256_file(directory / name) != digest:
                raise CacheError(
                    f"{directory / name}: missing or its SHA-256 differs from front.json (tampered)"
                )
        with np.load(directory / "front.npz", allow_pickle=False) as data:
            columns = {k: data[k] for k in data.files}
        raw = (directory / "front_arrays.safetensors").read_bytes()
        arrays = dict(load_arrays(raw)) if raw else {}
        return cls(
            tuple(meta["objective_names"]),
            columns["F"],
            columns["solver"].astype(object),
            metrics={k.split(":", 1)[1]: v for k, v in columns.items() if k.startswith("metric:")},
            cost={k.split(":", 1)[1]: v for k, v in columns.items() if k.startswith("cost:")},
            provenance=meta["provenance"],
            rebuild=meta["rebuild"],
            arrays=arrays,
            anytime=meta["anytime"],
            task=task,
        )
