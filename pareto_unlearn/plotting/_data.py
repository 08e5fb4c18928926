"""The data behind the explorer and the figures: everything computed once, so that views only draw.

:func:`prepare_explorer_data` turns one or several runs (run directories, or Fronts with their θ0 and
Retrain) into an :class:`ExplorerData`: one row per point with its flags (non-dominated per solver and
in the union, θ0, baseline, in the oracle-free band, the oracle-free pick, the knee), its gaps to
Retrain (evaluation only) and its hover text; the references (θ0, Retrain) per run; and the "near θ0"
box. :func:`visible_mask` applies the filters (solvers, a constraint such as ``RA >= 99``, non-dominated
only) with the selection package's own constraint parser.

Examples
--------
>>> import numpy as np
>>> from pareto_unlearn.front import Front
>>> front = Front.from_points(np.array([[0.1, 1.0], [0.5, 0.3], [0.6, 0.6]]), solver="jd",
...                           metrics={"RA": [90.0, 99.5, 99.0]})
>>> data = prepare_explorer_data(front, original=[0.9, 0.01])
>>> data.points["nondominated"].tolist(), int(data.points["knee"].sum())
([True, True, False], 1)
>>> visible_mask(data, constraint="RA >= 99").tolist()
[False, True, True]
"""

from __future__ import annotations

import html
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pareto_unlearn.exceptions import CacheError, ConfigError, RunDirError
from pareto_unlearn.front import METRIC_NAMES, Front
from pareto_unlearn.plotting._palette import is_baseline
from pareto_unlearn.rundir import load_run
from pareto_unlearn.selection import Constrained, Knee, OracleFree

__all__ = ["ExplorerData", "prepare_explorer_data", "visible_mask", "near_theta0_box", "EVALUATION_ONLY"]

logger = logging.getLogger(__name__)

SCORED = ("UA", "RA", "TA", "MIA")  # the metrics whose gap to Retrain the hover shows
EVALUATION_ONLY = "evaluation only: reads Retrain"
# the oracle-free rule's per-point report (OracleFree.explain): g̃, its prediction interval, each term
PREDICTED = ("predicted_gap", "predicted_low", "predicted_high", *(f"{k}_term" for k in SCORED))


def near_theta0_box(F: np.ndarray, original: Any, retrain: Any, *, share: float = 0.04,
                    widen: float = 1.5) -> tuple[np.ndarray, np.ndarray] | None:
    """Lower and upper corner of the "near θ0" box: the decision region around θ0 and Retrain.

    The box spans θ0 and Retrain, widened on each side by ``widen`` × their distance or by ``share`` of
    the range of the finite points ``F`` [n, m], whichever is larger. None without θ0 or Retrain.

    Examples
    --------
    >>> F = np.array([[0.0, 0.0], [10.0, 10.0]])
    >>> lo, hi = near_theta0_box(F, [9.0, 0.1], [8.8, 0.1])
    >>> lo.round(2).tolist(), hi.round(2).tolist()
    ([8.4, -0.1], [9.4, 0.5])
    """
    if original is None or retrain is None:
        return None
    ends = np.asarray([original, retrain], dtype=float)
    F = np.asarray(F, dtype=float).reshape(-1, ends.shape[1])
    F = F[np.isfinite(F).all(axis=1)]
    span = np.ptp(np.vstack([F, ends]), axis=0)
    pad = np.maximum(widen * np.ptp(ends, axis=0), share * span)
    pad = np.where(pad > 0, pad, 1e-3)
    floor = np.vstack([F, ends]).min(axis=0) - share / 4 * span  # no empty band below every point
    return np.maximum(ends.min(axis=0) - pad, floor), ends.max(axis=0) + pad


@dataclass
class ExplorerData:
    """Finished arrays of the explorer (built by :func:`prepare_explorer_data`; views only draw them).

    Attributes
    ----------
    points : pd.DataFrame
        One row per point (``uid`` = row number): ``run``, ``index`` (into the run's Front), ``solver``,
        ``point`` (number within its solver), ``space``, ``reference``, ``hyperparameters`` (JSON),
        the objectives, UA/RA/TA/MIA/gap, ``gap_UA`` … (|metric − Retrain's|, evaluation only),
        ``feasible``, ``nondominated`` (within its solver), ``nondominated_union`` (within its run),
        ``theta0``, ``baseline``, ``in_band``, ``predicted_gap`` (with ``predicted_low`` / ``predicted_high``,
        its 90 % prediction interval, and ``UA_term`` … the expected gap per metric), ``oracle_free_pick``,
        ``knee``, ``hover``.
    objective_names : tuple of str
    references : pd.DataFrame
        One row per run and reference (``run``, ``kind`` in {"Original (θ0)", "Retrain"}, the objectives,
        the metrics).
    picks : dict of str → dict
        Per run: ``oracle_free`` (the pick's report, or None), ``oracle_free_note`` and ``knee`` (uids).
    zoom : tuple of two arrays [m], or None
        The near-θ0 box of the first run with θ0 and Retrain.
    fronts : dict of str → Front
        The runs' Fronts (for filters and export).
    run_dirs : dict of str → Path or None
    """

    points: pd.DataFrame
    objective_names: tuple[str, ...]
    references: pd.DataFrame
    picks: dict[str, dict[str, Any]] = field(default_factory=dict)
    zoom: tuple[np.ndarray, np.ndarray] | None = None
    fronts: dict[str, Front] = field(default_factory=dict)
    run_dirs: dict[str, Path | None] = field(default_factory=dict)

    @property
    def runs(self) -> list[str]:
        return list(self.fronts)

    @property
    def solvers(self) -> list[str]:
        return list(dict.fromkeys(self.points["solver"].tolist()))

    def __repr__(self) -> str:
        return (f"ExplorerData({len(self.points)} points, runs {self.runs}, solvers {self.solvers}, "
                f"objectives {list(self.objective_names)})")


def _fmt(value: Any, spec: str = ".4g") -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "n/a" if not np.isfinite(v) else format(v, spec)


def _hover(row: Mapping[str, Any], objective_names: Sequence[str], has_retrain: bool) -> str:
    """The hover text of one point: who made it, where, with what, its objectives, metrics and gaps."""
    esc = html.escape  # names and settings come from run directories: text, never markup
    title = ("Original (θ0)" if row["theta0"]
             else f"{esc(str(row['solver']))} · point {esc(str(row['point']))}")
    lines = [f"<b>{title}</b>" + (f" · run {esc(str(row['run']))}" if row.get("multi_run") else ""),
             f"space: {esc(str(row['space'] or 'n/a'))}; reference: {esc(str(row['reference'] or 'n/a'))}"]
    hyper = json.loads(row["hyperparameters"]) if row["hyperparameters"] else {}
    if hyper:
        lines.append("hyper-parameters: "
                     + ", ".join(f"{esc(str(k))}={esc(_fmt(v))}" for k, v in hyper.items()))
    lines.append(", ".join(f"{name} {_fmt(row[name])}" for name in objective_names))
    lines.append(" · ".join(f"{k} {_fmt(row[k], '.2f')}" for k in SCORED))
    flags = [label for key, label in (("oracle_free_pick", "ORACLE-FREE PICK"), ("in_band", "in the band"),
                                      ("knee", "KNEE"), ("nondominated", "non-dominated")) if row[key]]
    if np.isfinite(row["predicted_gap"]):
        flags.append(f"predicted gap g̃ {row['predicted_gap']:.2f} (90 % prediction interval "
                     f"{_fmt(row.get('predicted_low'), '.2f')}–{_fmt(row.get('predicted_high'), '.2f')})")
    if flags:
        lines.append("; ".join(flags))
    terms = [f"{k} {row[f'{k}_term']:.2f}" for k in SCORED if np.isfinite(row.get(f"{k}_term", np.nan))]
    if terms:  # the expected |candidate − drawn Retrain| per metric, without Retrain (definitions §6)
        lines.append("predicted gap per term: " + ", ".join(terms))
    if has_retrain:
        gaps = ", ".join(f"{k} {_fmt(row[f'gap_{k}'], '.2f')}" for k in SCORED)
        lines.append(f"<i>gap to Retrain ({EVALUATION_ONLY}): {_fmt(row['gap'], '.2f')} pp avg.; {gaps}</i>")
    return "<br>".join(lines)


def _load(source: Any) -> tuple[str | None, dict[str, Any], Front, Path | None]:
    if isinstance(source, Front):
        return None, {}, source, None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_dir():
            raise RunDirError(f"{path} is not a directory; give the --out of an explore or demo run, "
                              "or a Front")
        try:
            summary, front = load_run(path)
        except CacheError as exc:
            raise RunDirError(f"{path} is not a usable run directory: {exc}") from None
        return path.name or str(path), summary, front, path
    raise ConfigError(f"FrontExplorer: a source is a run directory or a Front. Got {type(source).__name__}.")


def _oracle_free(front: Front, summary: dict[str, Any],
                 kind: str | None) -> tuple[dict | None, pd.DataFrame | None, str]:
    """The oracle-free pick and its band (definitions §6) among every point of the run, θ0 included."""
    if summary:
        rule = OracleFree.for_summary(summary)
    elif kind is not None:
        rule = OracleFree(kind)
    elif front.task is not None and getattr(front.task, "forget_spec", None) is not None:
        rule = OracleFree.for_task(front.task)
    else:
        return None, None, "no oracle-free pick: give a run directory, or oracle_free_kind='random'/'class'"
    try:
        pick, table = rule.choose(front), rule.explain(front)
    except ConfigError as exc:
        logger.info("no oracle-free pick: %s", exc)
        return None, None, f"no oracle-free pick: {exc}"
    return pick.to_dict(), table, pick.message


def _knee(front: Front) -> int | None:
    rows = np.flatnonzero((front.solver != "Original") & front.feasible)
    if len(rows) == 0:
        return None
    return int(rows[Knee()(front.take(rows))])


def _run_frame(label: str, front: Front, summary: dict[str, Any], kind: str | None,
               original: Any, retrain: Mapping[str, Any] | None) -> tuple[pd.DataFrame, dict[str, Any]]:
    frame = front.to_frame()
    n = len(frame)
    frame.insert(0, "index", np.arange(n))
    frame.insert(0, "run", label)
    frame["nondominated"] = frame["nondominated"].astype(bool)
    frame["feasible"] = frame["feasible"].astype(bool)
    frame["nondominated_union"] = front.nondominated_union()
    frame["theta0"] = [s == "Original" or r.get("kind") == "original"
                       for s, r in zip(front.solver, front.rebuild, strict=True)]
    frame["baseline"] = [is_baseline(str(s)) for s in front.solver]
    retrain_metrics = (retrain or {}).get("metrics") or {}
    for k in SCORED:
        target = retrain_metrics.get(k)
        frame[f"gap_{k}"] = np.abs(frame[k] - float(target)) if target is not None else np.nan
    pick, table, note = _oracle_free(front, summary, kind)
    frame["in_band"] = False
    frame["oracle_free_pick"] = False
    for column in PREDICTED:
        frame[column] = np.nan
    if table is not None:
        assert pick is not None  # _oracle_free returns both or neither
        rows = table["index"].to_numpy()
        frame.loc[rows, "in_band"] = table["in_band"].to_numpy(dtype=bool)
        for column in PREDICTED:
            source = {"predicted_low": "low", "predicted_high": "high"}.get(column, column)
            if source in table:
                frame.loc[rows, column] = table[source].to_numpy(dtype=float)
        frame.loc[int(pick["index"]), "oracle_free_pick"] = True
    knee = _knee(front)
    frame["knee"] = False
    if knee is not None:
        frame.loc[knee, "knee"] = True
    return frame, {"oracle_free": pick, "oracle_free_note": note, "knee_index": knee}


def _references(label: str, front: Front, summary: dict[str, Any], original: Mapping[str, Any] | None,
                retrain: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    rows = []
    for kind, entry in (("Original (θ0)", original), ("Retrain", retrain)):
        if not entry or entry.get("objectives") is None:
            continue
        row: dict[str, Any] = {"run": label, "kind": kind}
        values = zip(front.objective_names, entry["objectives"], strict=False)
        row.update({name: float(v) for name, v in values})
        metrics = entry.get("metrics") or {}
        row.update({k: float(metrics[k]) if metrics.get(k) is not None else np.nan for k in METRIC_NAMES})
        rows.append(row)
    return rows


def _as_reference(value: Any, front: Front, theta0: bool) -> dict[str, Any] | None:
    """A reference given as a dict ``{"objectives", "metrics"}`` or as a bare objective vector; θ0 falls
    back on the front's Original point."""
    if isinstance(value, Mapping):
        return dict(value)
    if value is not None:
        return {"objectives": [float(v) for v in np.asarray(value, dtype=float).reshape(-1)], "metrics": {}}
    if theta0 and (front.solver == "Original").any():
        i = int(np.flatnonzero(front.solver == "Original")[0])
        return {"objectives": front.F[i].tolist(),
                "metrics": {k: float(v[i]) for k, v in front.metrics.items() if k in METRIC_NAMES}}
    return None


def prepare_explorer_data(sources: Any, *, labels: Sequence[str] | None = None, original: Any = None,
                          retrain: Any = None, oracle_free_kind: str | None = None) -> ExplorerData:
    """Everything the explorer and report.html draw, computed once.

    Parameters
    ----------
    sources : run directory, Front, or a sequence of them
        Several runs are shown together (one colour per solver, one marker shape per run); their
        objectives must be the same.
    labels : sequence of str, optional
        A name per run (default: the run directory's name, ``front``, ``front1``...).
    original, retrain : dict or array-like, optional
        For a Front without its run directory: θ0 and Retrain as ``{"objectives": [...], "metrics":
        {...}}`` or bare objective vectors (θ0 defaults to the front's ``Original`` point).
    oracle_free_kind : {"random", "class"}, optional
        For a Front without its run directory or task: the kind of forgetting of the oracle-free rule.

    Returns
    -------
    ExplorerData
    """
    items = list(sources) if isinstance(sources, (list, tuple)) else [sources]
    if not items:
        raise ConfigError("FrontExplorer: give at least one run directory or Front")
    if labels is not None and len(labels) != len(items):
        raise ConfigError(f"FrontExplorer: {len(labels)} labels for {len(items)} runs")
    frames, references, picks, fronts, run_dirs = [], [], {}, {}, {}
    names: tuple[str, ...] | None = None
    zoom = None
    for k, item in enumerate(items):
        label, summary, front, path = _load(item)
        label = labels[k] if labels is not None else (label or ("front" if k == 0 else f"front{k}"))
        if label in fronts:
            label = f"{label}#{k}"
        if names is None:
            names = front.objective_names
        elif front.objective_names != names:
            raise ConfigError(f"FrontExplorer: run {label!r} has objectives {list(front.objective_names)}, "
                              f"the first run {list(names)}; explore runs over the same objectives together")
        theta0 = _as_reference(summary.get("original") if summary else original, front, theta0=True)
        target = _as_reference(summary.get("retrain") if summary else retrain, front, theta0=False)
        frame, pick = _run_frame(label, front, summary, oracle_free_kind, theta0, target)
        frames.append(frame)
        references += _references(label, front, summary, theta0, target)
        picks[label] = pick
        fronts[label], run_dirs[label] = front, path
        if zoom is None and theta0 is not None and target is not None:
            zoom = near_theta0_box(front.F, theta0["objectives"], target["objectives"])
    points = pd.concat(frames, ignore_index=True)
    points.insert(0, "uid", np.arange(len(points)))
    points["multi_run"] = len(fronts) > 1
    has_retrain = bool(np.isfinite(points[[f"gap_{k}" for k in SCORED]].to_numpy(dtype=float)).any())
    assert names is not None
    points["hover"] = [_hover(row, names, has_retrain) for row in points.to_dict("records")]
    for label, pick in picks.items():
        rows = points[points["run"] == label]
        pick["uid"] = (int(rows["uid"].iloc[pick["oracle_free"]["index"]])
                       if pick["oracle_free"] is not None else None)
        pick["knee"] = int(rows["uid"].iloc[pick["knee_index"]]) if pick["knee_index"] is not None else None
    columns = ["run", "kind", *names, *METRIC_NAMES]
    return ExplorerData(points=points, objective_names=tuple(names), references=pd.DataFrame(references,
                        columns=columns), picks=picks, zoom=zoom, fronts=fronts, run_dirs=run_dirs)


def visible_mask(data: ExplorerData, *, solvers: Sequence[str] | None = None, constraint: str | None = None,
                 nondominated: bool = False) -> np.ndarray:
    """Which points pass the filters (θ0 always does, so the reference stays in view).

    Parameters
    ----------
    solvers : sequence of str, optional
        Keep these solvers' points (default: all).
    constraint : str, optional
        ``"RA >= 99"``, ``"RA>=99,TA>=95"``: read by :class:`~pareto_unlearn.selection.Constrained`;
        NaN never passes.
    nondominated : bool
        Keep only the points non-dominated within their solver.
    """
    points = data.points
    keep = points["feasible"].to_numpy(dtype=bool).copy()
    if solvers is not None:
        unknown = set(solvers) - set(data.solvers)
        if unknown:
            raise ConfigError(f"FrontExplorer: no solver {sorted(unknown)}; there are {data.solvers}")
        keep &= points["solver"].isin(list(solvers)).to_numpy()
    if nondominated:
        keep &= points["nondominated"].to_numpy(dtype=bool)
    if constraint is not None and str(constraint).strip():
        rule = Constrained(constraint, then=Knee())
        passing = np.zeros(len(points), dtype=bool)
        for label, front in data.fronts.items():
            uids = points.loc[points["run"] == label, "uid"].to_numpy()
            try:
                passing[uids[rule.rows(front)]] = True
            except ConfigError as exc:
                if "satisfies" not in str(exc):
                    raise
                logger.info("run %s: %s", label, exc)
        keep &= passing
    return keep | points["theta0"].to_numpy(dtype=bool)
