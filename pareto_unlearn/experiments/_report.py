"""``pareto-unlearn report``: a Markdown report of one run directory, with its figures beside it.

:func:`write_report` reads a run (no model is rebuilt, nothing is trained) and writes ``report.md``: the
task, Original and Retrain, the solver comparison of :func:`~pareto_unlearn.experiments._compare.compare`,
the oracle-free and knee operating points, links to five PNG figures written next to it (objective space,
metric space, anytime HV, trajectories, parallel metrics) and the run's settings. With the ``jupyter``
extra (plotly) it also writes ``report.html``: the explorer's linked, hoverable views as one
self-contained page (plotly.js embedded, nothing fetched, no kernel needed).

Examples
--------
>>> path = write_report("runs/demo")  # doctest: +SKIP
>>> path.name  # doctest: +SKIP
'report.md'
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pareto_unlearn._io import atomic_write_text, to_jsonable
from pareto_unlearn.exceptions import CacheError, ConfigError, MissingDependencyError, RunDirError
from pareto_unlearn.experiments._compare import _oracle_free_rule, compare, markdown_table
from pareto_unlearn.front import METRIC_NAMES, Front
from pareto_unlearn.plotting import (
    plot_anytime,
    plot_fronts,
    plot_metric_space,
    plot_parallel_metrics,
    plot_trajectories,
    prepare_explorer_data,
    save_figure,
    write_explorer_html,
)
from pareto_unlearn.rundir import load_run
from pareto_unlearn.selection import Knee
from pareto_unlearn.solvers._registry import REGISTRY

__all__ = ["write_report", "write_report_html", "REPORT_FIGURES", "REPORT_HTML"]

logger = logging.getLogger(__name__)

# File name → (title, what it shows), in report order.
REPORT_FIGURES = {
    "report_fronts.png": ("Objective space", "each solver's points; its non-dominated front in bold, "
                          "Original (star) and Retrain (diamond), HV per solver in the box"),
    "report_metric_space.png": ("Metric space", "UA against TA and MIA-efficacy against RA; bold points are "
                                "non-dominated in objective space"),
    "report_anytime.png": ("Anytime hypervolume", "HV reached against wall-clock seconds and sample-passes"),
    "report_trajectories.png": ("Trajectories", "gradient solvers epoch by epoch over the other fronts"),
    "report_parallel_metrics.png": ("Parallel metrics",
                                    "UA, RA, TA, MIA and gap of the non-dominated points"),
}


def _figures(front: Front, summary: dict[str, Any]) -> dict[str, Any]:

    original, retrain = summary.get("original", {}), summary.get("retrain", {})
    solvers = front.take(front.solver != "Original") if (front.solver != "Original").any() else front
    return {
        "report_fronts.png": plot_fronts(front, original=original.get("objectives"),
                                         retrain=retrain.get("objectives"),
                                         ref_point=summary.get("hv_reference_point")),
        "report_metric_space.png": plot_metric_space(solvers, original=original.get("metrics"),
                                                     retrain=retrain.get("metrics")),
        "report_anytime.png": plot_anytime(solvers),
        "report_trajectories.png": plot_trajectories(solvers, original=original.get("objectives")),
        "report_parallel_metrics.png": plot_parallel_metrics(solvers, original=original.get("metrics"),
                                                             retrain=retrain.get("metrics")),
    }


REPORT_HTML = "report.html"


def write_report_html(run_dir: str | os.PathLike) -> Path:
    """Write ``run_dir/report.html``: the explorer's linked views of the run, self-contained.

    Raises
    ------
    MissingDependencyError
        plotly is not installed (``pip install -e ".[jupyter]"``).
    """

    run_dir = Path(run_dir)
    path = run_dir / "summary.json"
    summary = json.loads(path.read_text()) if path.is_file() else {}
    task = summary.get("task", {})
    title = (f"Pareto unlearning explorer: {task.get('name', run_dir.name)}, forget {task.get('forget')}, "
             f"seed {task.get('seed')}")
    return write_explorer_html(run_dir / REPORT_HTML, prepare_explorer_data(run_dir), title=title,
                               notes=[f"Run directory {run_dir}."])


def _no_markup(text: str) -> str:
    """``text`` with every ``<`` written ``&lt;``: names and settings read from a run directory (a folder,
    a hyper-parameter, a task's forget set) show as text in any Markdown viewer, never as HTML. The report
    writes no HTML of its own into report.md.

    Examples
    --------
    >>> _no_markup("RA >= 95; <img src=x onerror=alert(1)>")
    'RA >= 95; &lt;img src=x onerror=alert(1)>'
    """
    return text.replace("<", "&lt;")


def _reference_table(summary: dict[str, Any], objective_names: list[str]) -> str:
    rows = []
    for name in ("original", "retrain"):
        entry = summary.get(name, {})
        metrics, values = entry.get("metrics", {}), entry.get("objectives", [])
        row: dict[str, Any] = {"model": "Original (θ0)" if name == "original" else "Retrain"}
        row.update({k: float(v) if v is not None else np.nan
                    for k, v in zip(objective_names, values, strict=False)})
        row.update({k: float(metrics[k]) if metrics.get(k) is not None else np.nan for k in METRIC_NAMES})
        rows.append(row)
    return markdown_table(pd.DataFrame(rows))


def _operating_points(front: Front, summary: dict[str, Any]) -> str:
    """Oracle-free and knee picks among every solver's points (Original excepted)."""

    candidates = np.flatnonzero(front.solver != "Original")
    if len(candidates) == 0:
        return "No solver point in this run.\n"
    part = front.take(candidates)
    rows = []
    for label, rule in (("oracle-free", _oracle_free_rule(summary)), ("knee", Knee())):
        try:
            i = int(candidates[rule(part)])
        except ConfigError as exc:
            rows.append({"rule": label, "solver": f"none ({exc})"})
            continue
        same = np.flatnonzero(front.solver == front.solver[i])
        row: dict[str, Any] = {"rule": label, "solver": str(front.solver[i]),
                               "point": int(np.searchsorted(same, i))}
        row.update({name: float(front.F[i, j]) for j, name in enumerate(front.objective_names)})
        row.update({k: float(front.metrics[k][i]) if k in front.metrics else np.nan for k in METRIC_NAMES})
        row["hyperparameters"] = json.dumps(front.provenance[i].get("hyperparameters", {}), sort_keys=True)
        rows.append(row)
    return markdown_table(pd.DataFrame(rows)) + "\n"


def write_report(run_dir: str | os.PathLike, *, dpi: int = 120) -> Path:
    """Write ``run_dir/report.md`` and its PNG figures (``report_*.png``) beside it.

    Parameters
    ----------
    run_dir : str or path-like
        A directory written by ``explore`` / ``demo``.
    dpi : int
        Resolution of the figures.

    Returns
    -------
    Path
        The report's path.

    Raises
    ------
    RunDirError
        ``run_dir`` is not a run directory, or its front is missing or damaged.
    """

    run_dir = Path(run_dir)
    try:
        summary, front = load_run(run_dir)
    except CacheError as exc:
        raise RunDirError(f"{run_dir} is not a usable run directory: {exc}") from None
    table = compare([run_dir])
    for name, fig in _figures(front, summary).items():
        save_figure(fig, run_dir / name, dpi=dpi)
    try:
        html: Path | None = write_report_html(run_dir)
    except MissingDependencyError as exc:
        logger.warning("report.html not written: %s", exc)
        html = None
    task = summary.get("task", {})
    manifest = summary.get("manifest", {})
    lines = [
        f"# Pareto unlearning report: {task.get('name')}, forget {task.get('forget')}, "
        f"seed {task.get('seed')}",
        "",
        f"Run directory `{str(run_dir).replace('`', chr(39))}`"
        + ("" if summary.get("complete") else " (**incomplete run**)") + ".",
        "",
        "## Task",
        "",
        f"- data: {task.get('name')} ({task.get('n_classes')} classes), split sizes "
        + ", ".join(f"{k} {v}" for k, v in task.get("sizes", {}).items()),
        f"- model: {task.get('model')}, seed {task.get('seed')}, "
        f"θ0 SHA-256 `{str(task.get('theta0_sha256'))[:16]}…`",
        f"- objectives: {', '.join(summary.get('objectives', []))}; reference `{summary.get('reference')}`, "
        f"KL direction `{summary.get('kl_direction')}`",
        f"- HV reference point: {[round(float(v), 6) for v in summary.get('hv_reference_point', [])]}; "
        f"HV@utility counts points with RA >= {summary.get('hv_utility_ra_min')}",
        "",
        "## Original and Retrain",
        "",
        _reference_table(summary, list(summary.get("objectives", front.objective_names))),
        "",
        "## Solvers",
        "",
        f"Equal cost: {table.attrs['budget_s']:.4g} s and {table.attrs['budget_passes']:.4g} sample-passes "
        "(the cheapest solver's); `best_gap_nd` and the gaps read Retrain's metrics: evaluation only. "
        f"Gradient budget: {table.attrs['gradient_budget_s']:.4g} s, when the best gradient front "
        f"({table.attrs['gradient_reference'] or 'none'}) is within 1 % of its final HV; `hv_ratio` and "
        "`hv_utility_ratio` are each solver's HV and HV@utility there over that front's.",
        "",
        markdown_table(table.drop(columns=["run"])),
        "",
        "## Operating points (no oracle: oracle-free score on D_h,sel; knee of the union front)",
        "",
        _operating_points(front, summary),
        "## Figures",
        "",
    ]
    if html is not None:
        lines += [f"Interactive: [{html.name}]({html.name}) (hover a point for its solver, hyper-parameters "
                  "and metrics; select in one view to highlight the same points in every view; works "
                  "offline).", ""]
    for name, (title, what) in REPORT_FIGURES.items():
        lines += [f"### {title}", "", f"{what}.", "", f"![{title}]({name})", ""]
    settings = summary.get("settings", {})
    per_solver = settings.get("solver_settings", {})
    lines += ["## Settings", "", f"Quick settings: {bool(settings.get('quick'))}.", ""]
    for name in settings.get("solvers", []):
        key = REGISTRY[name].settings if name in REGISTRY else name
        if key in per_solver:
            lines.append(f"- `{name}`: `{json.dumps(to_jsonable(per_solver[key]), sort_keys=True)}`")
    lines += [
        "",
        f"Versions: {', '.join(f'{k} {v}' for k, v in manifest.get('versions', {}).items() if v)}; "
        f"git commit {manifest.get('git_commit')}; hardware {manifest.get('hardware', {}).get('cpu')} "
        f"({manifest.get('hardware', {}).get('device')}).",
        "",
    ]
    path = run_dir / "report.md"
    atomic_write_text(path, _no_markup("\n".join(lines)))
    logger.info("wrote %s", path)
    return path
