"""Choose an operating point of a run and export its model (definitions §6): ``pareto-unlearn select``.

:func:`select_and_export` reads a run directory, rebuilds its task from the model cache, applies a
selection rule (optionally behind constraints, optionally among one solver's points), rebuilds the chosen
point's model from θ0 and, when asked, writes atomically

- ``<stem>.safetensors``: the full model weights (a plain ``state_dict``),
- ``<stem>.adapter.safetensors``: the Δ of the last layer or the LoRA factors alone, for points found in
  a subspace (rebuild kind ``last_layer`` or ``lora``), with their rebuild spec in the file's metadata,
- ``<stem>.json``: the metrics (UA, RA, TA, MIA, gap to Retrain) and objectives recomputed on the
  exported weights, the values the run recorded, the provenance, the rule, the run directory and the task;
  for the oracle-free rule also ``oracle_free``: the predicted gap, its 90 % prediction interval, the band
  size, whether θ0 was in the band and each term (docs/definitions.md §6's report).

:func:`load_exported` builds a fresh model and loads the exported weights back (hash and shapes checked).

Examples
--------
>>> result = select_and_export("runs/demo", method="knee", export="knee.safetensors")  # doctest: +SKIP
>>> model, record = load_exported("knee.safetensors")  # doctest: +SKIP
>>> record["metrics"]["RA"] == result["metrics"]["RA"]  # doctest: +SKIP
True
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pareto_unlearn._io import atomic_write_bytes, atomic_write_json, read_json, sha256_bytes
from pareto_unlearn.exceptions import CacheError, ConfigError, RunDirError
from pareto_unlearn.front import METRIC_NAMES, Front
from pareto_unlearn.metrics import MetricEvaluator, is_sample_column
from pareto_unlearn.objectives import make_objectives
from pareto_unlearn.rundir import load_run
from pareto_unlearn.selection import Constrained, make_rule
from pareto_unlearn.solvers import rebuild_model
from pareto_unlearn.task import DATASETS, TrainRecipe, build_model, load_state_checked, load_task

__all__ = ["select_and_export", "load_exported", "export_paths", "ADAPTER_KINDS", "EXPORT_SCHEMA"]

logger = logging.getLogger(__name__)

EXPORT_SCHEMA = 1
ADAPTER_KINDS = ("last_layer", "lora", "subspace")  # rebuild kinds whose genome is exported alone as well
_ARRAY_KEYS = ("array", "base_array")  # keys of a rebuild spec that name an entry of Front.arrays


def export_paths(export: str | os.PathLike) -> dict[str, Path]:
    """The three files of an export: ``model``, ``adapter`` and ``json`` (``<stem>.*`` beside each other).

    Parameters
    ----------
    export : str or path-like
        Path of the model file; it must end in ``.safetensors``.

    Examples
    --------
    >>> sorted(p.name for p in export_paths("out/knee.safetensors").values())
    ['knee.adapter.safetensors', 'knee.json', 'knee.safetensors']
    """
    path = Path(export)
    if path.suffix != ".safetensors" or path.name == ".safetensors":
        raise ConfigError(f"--export {path}: give a file name ending in .safetensors, e.g. knee.safetensors")
    stem = path.with_suffix("")
    return {"model": path, "adapter": Path(f"{stem}.adapter.safetensors"), "json": Path(f"{stem}.json")}


def _load(run_dir: Path, task: Any = None) -> tuple[dict[str, Any], Front]:
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir} is not a directory; give the --out of an explore or demo run")
    try:
        summary, front = load_run(run_dir, task=task)
    except CacheError as exc:
        raise RunDirError(f"{run_dir} is not a usable run directory: {exc}") from None
    if not summary.get("complete", False):
        raise RunDirError(f"{run_dir} holds an incomplete run (summary.json says complete: false); "
                          "run explore again")
    if "task" not in summary or "theta0_sha256" not in summary["task"]:
        raise RunDirError(f"{run_dir}/summary.json has no task description; it was not written by explore")
    return summary, front


def _rebuild_task(summary: dict[str, Any], run_dir: Path, *, cache_dir: str | None, device: str | None):
    """The run's task, from the data and the model cache; θ0 and the data are checked against the run."""
    info = summary["task"]
    saved = summary.get("settings", {}).get("config", {}) or {}
    if info.get("name") not in DATASETS:
        raise RunDirError(f"{run_dir} was made on the task {info.get('name')!r}, which cannot be rebuilt by "
                          "name; pass task= (the UnlearningTask the run used)")
    try:
        recipe = TrainRecipe(**info["recipe"])
    except (TypeError, KeyError) as exc:
        raise RunDirError(f"{run_dir}/summary.json: the task's recipe cannot be read ({exc})") from None
    task = load_task(info["name"], forget=info["forget"], seed=int(info["seed"]), model=info.get("model"),
                     device=device or "auto", data_root=saved.get("data_root"), download=False,
                     cache_dir=cache_dir if cache_dir is not None else saved.get("cache_dir"), recipe=recipe,
                     progress=False, size=info.get("size"))
    _check_task(task, summary, run_dir)
    return task


def _check_task(task: Any, summary: dict[str, Any], run_dir: Path) -> None:
    info = summary["task"]
    if info.get("data_fingerprint") and task.data_fingerprint != info["data_fingerprint"]:
        raise RunDirError(f"{run_dir}: the data loaded now differ from the run's (fingerprint "
                          f"{task.data_fingerprint[:12]}… vs {info['data_fingerprint'][:12]}…); "
                          "point --data-root to the files the run used")
    if task.theta0_hash != info["theta0_sha256"]:
        raise RunDirError(f"{run_dir}: θ0 rebuilt now has SHA-256 {task.theta0_hash[:12]}… but the run "
                          f"recorded {info['theta0_sha256'][:12]}…; pass the --cache-dir the run used")


def _weights(weights: Sequence[float] | str | None) -> list[float] | None:
    if weights is None:
        return None
    if isinstance(weights, str):
        try:
            return [float(w) for w in weights.split(",") if w.strip()]
        except ValueError:
            raise ConfigError(f"--weights {weights!r}: write comma-separated numbers, e.g. 0.3,0.7") from None
    return [float(w) for w in weights]


def _constraints(constraints: str | Sequence[str] | None) -> list[str]:
    if constraints is None:
        return []
    items = [constraints] if isinstance(constraints, str) else list(constraints)
    return [c for c in items if not (isinstance(c, str) and not c.strip())]  # Constrained checks the rest


def _make_rule(method: str, constraints: list[str], weights: list[float] | None, task: Any):
    if method == "preference" and weights is None:
        raise ConfigError("--method preference needs --weights, e.g. --weights 0.3,0.7 (one per objective)")
    if method != "preference" and weights is not None:
        raise ConfigError(f"--weights is only used with --method preference; got --method {method}")
    kwargs: dict[str, Any] = {}
    if method == "oracle-free":
        kwargs["task"] = task
    elif method == "preference":
        kwargs["weights"] = weights
    return make_rule(method, constraints=constraints or None, **kwargs)


def _oracle_free_pick(rule: Any, front: Front, candidates: np.ndarray) -> tuple[int, dict[str, Any]]:
    """The oracle-free pick among ``candidates`` (θ0 among them) behind any constraints, and its report:
    predicted gap, interval, band size, θ0 in band, and the message."""
    base: Any = rule.then if isinstance(rule, Constrained) else rule
    part = front.take(candidates)
    rows = rule.rows(part) if isinstance(rule, Constrained) else np.arange(len(part))
    pick = base.choose(part.take(rows))
    index = int(candidates[rows[pick.index]])
    report = pick.to_dict()
    report.update(index=index, best_index=int(candidates[rows[pick.best_index]]))
    return index, report


def _point(front: Front, i: int) -> dict[str, Any]:
    """Everything recorded about point ``i`` (objectives by name, metrics, provenance, cost)."""
    same = np.flatnonzero(front.solver == front.solver[i])
    point: dict[str, Any] = {"solver": str(front.solver[i]), "point": int(np.searchsorted(same, i)),
                             "index": i}
    point.update({name: float(front.F[i, j]) for j, name in enumerate(front.objective_names)})
    extra = sorted(k for k in set(front.metrics) - set(METRIC_NAMES) if not is_sample_column(k))
    for name in (*METRIC_NAMES, *extra):
        point[name] = float(front.metrics[name][i]) if name in front.metrics else float("nan")
    point["provenance"] = dict(front.provenance[i])
    point["cost"] = {k: float(v[i]) for k, v in front.cost.items()}
    point["rebuild"] = dict(front.rebuild[i])
    return point


def _adapter_arrays(front: Front, spec: dict[str, Any]) -> dict[str, np.ndarray]:
    """The arrays a subspace point's rebuild spec refers to (its genome), under the spec's own keys."""
    out = {}
    for key in _ARRAY_KEYS:
        name = spec.get(key)
        if isinstance(name, str) and name in front.arrays:
            array = np.asarray(front.arrays[name])
            row = spec.get("row")
            if key == "array" and isinstance(row, int) and array.ndim >= 2:
                array = array[row]  # one genome out of a population matrix
            out[key] = np.ascontiguousarray(array)
    return out


def _evaluate(model: Any, task: Any, summary: dict[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
    """Metrics (with the gap to Retrain) and objectives of ``model``, recomputed on the task."""
    names = summary.get("settings", {}).get("config", {}).get("objectives") or summary["objectives"]
    objectives = make_objectives(task, reference=summary["reference"], kl_direction=summary["kl_direction"],
                                 names=names)
    values = objectives.evaluate(model, task)
    metrics = MetricEvaluator(task)(model)
    return ({k: float(v) for k, v in metrics.items() if not is_sample_column(k)},
            {name: float(v) for name, v in zip(objectives.names, values, strict=True)})


def _max_difference(recomputed: dict[str, float], recorded: dict[str, Any]) -> float:
    diffs = [abs(v - float(recorded[k])) for k, v in recomputed.items()
             if k in recorded and np.isfinite(v) and np.isfinite(float(recorded[k]))]
    return float(max(diffs, default=0.0))


def _write_export(paths: dict[str, Path], model: Any, front: Front, i: int, record: dict[str, Any]) -> None:
    """Weights, then the adapter (subspace points), then the JSON last: its presence means complete."""
    from safetensors.numpy import save as save_numpy
    from safetensors.torch import save as save_torch

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"format": "pt", "producer": "pareto_unlearn", "solver": record["provenance"]["solver"],
            "theta0_sha256": record["task"]["theta0_sha256"]}
    blob = save_torch(state, metadata=meta)
    atomic_write_bytes(paths["model"], blob)
    record["files"] = {"model": paths["model"].name, "model_sha256": sha256_bytes(blob)}
    spec = front.rebuild[i]
    if spec.get("kind") in ADAPTER_KINDS:
        arrays = _adapter_arrays(front, spec)
        if not arrays:
            raise CacheError(f"point {i} ({spec.get('kind')}) names no stored genome array; cannot export it")
        adapter = save_numpy(arrays, metadata={"producer": "pareto_unlearn", "kind": str(spec["kind"]),
                                               "rebuild_spec": json.dumps(spec, sort_keys=True)})
        atomic_write_bytes(paths["adapter"], adapter)
        record["files"].update(adapter=paths["adapter"].name, adapter_sha256=sha256_bytes(adapter))
    atomic_write_json(paths["json"], record)


def select_and_export(run_dir: str | os.PathLike, *, method: str = "oracle-free",
                      constraints: str | Sequence[str] | None = None,
                      weights: str | Sequence[float] | None = None, solver: str | None = None,
                      export: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
                      device: str | None = None, task: Any = None,
                      index: int | None = None) -> dict[str, Any]:
    """Choose one point of a run by a rule of definitions §6, rebuild its model and optionally export it.

    Parameters
    ----------
    run_dir : str or path-like
        A directory written by ``explore`` / ``demo``.
    method : {"oracle-free", "knee", "preference", "closest-to-retrain"}
        The rule. ``closest-to-retrain`` reads Retrain's metrics: for evaluation only.
    constraints : str or sequence of str, optional
        ``"RA >= 99"``, ``["RA>=99", "TA>=95"]``: only points satisfying all of them are ranked
        (:class:`~pareto_unlearn.selection.Constrained`).
    weights : str or sequence of float, optional
        Preference weights, one per objective (``"0.3,0.7"``); only with ``method="preference"``.
    solver : str, optional
        Choose among this solver's points only. By default every solver's points. Original (θ0) is not
        chosen by the other rules; the oracle-free rule always has θ0 among its candidates
        (definitions §6) and
        returns it when it is in the band.
    export : str or path-like, optional
        Model file to write (``.safetensors``); ``<stem>.json`` and, for subspace points,
        ``<stem>.adapter.safetensors`` are written beside it. Nothing is written when None.
    cache_dir : str or path-like, optional
        Model cache holding θ0 and Retrain (default: the run's, else ``$PARETO_UNLEARN_CACHE``).
    device : str, optional
        ``auto`` (default), ``cpu`` or ``cuda``.
    task : UnlearningTask, optional
        The run's task, when already loaded or when it cannot be rebuilt by name (bring-your-own data);
        its θ0 must be the run's.
    index : int, optional
        Take this point of the run's front (chosen by hand, e.g. in
        :class:`~pareto_unlearn.plotting.FrontExplorer`) instead of applying a rule; recorded as method
        ``manual``.

    Returns
    -------
    dict
        ``point`` (solver, point number within the solver, index in the run's front, objectives by name,
        UA, RA, TA, MIA, gap and the other recorded metrics, provenance, cost, rebuild spec),
        ``objective_names``, ``index``, ``rule`` (its repr), ``model`` (the rebuilt ``nn.Module``), ``task``,
        ``front``, ``oracle_free`` (for that rule: the pick's predicted gap ``gap`` and its prediction
        interval ``low`` / ``high`` at ``level``, ``band_size`` of ``n_candidates``, ``theta0_in_band``,
        ``terms`` (per metric: the pick's value, Retrain's predicted value and interval, the expected
        |difference| and its interval), ``n_boot``, ``message``; else None); with ``export`` also
        ``metrics`` and ``objectives`` recomputed on the exported weights, ``max_abs_difference`` to the
        recorded values, ``model_path``, ``json_path`` and ``adapter_path`` (None unless the point came
        from a subspace).

    Raises
    ------
    RunDirError
        ``run_dir`` is not a complete run directory, or the task rebuilt now is not the run's (data or θ0).
    ConfigError
        Unknown rule or solver, malformed constraint or weights, or no point satisfies the constraints.
    """
    run_dir = Path(run_dir)
    summary, front = _load(run_dir)
    paths = export_paths(export) if export is not None else None
    if task is None:
        task = _rebuild_task(summary, run_dir, cache_dir=None if cache_dir is None else str(cache_dir),
                             device=device)
    else:
        _check_task(task, summary, run_dir)
    front.task = task
    if index is not None:
        return _export_manual(run_dir, summary, front, task, int(index), paths)
    constraint_list = _constraints(constraints)
    weight_list = _weights(weights)
    rule = _make_rule(method, constraint_list, weight_list, task)
    if solver is not None:
        front.only(solver)  # refuses an unknown solver, naming the ones there are
        chosen_from = front.solver == solver
    else:
        chosen_from = front.solver != "Original"
        if not chosen_from.any():
            raise ConfigError(f"{run_dir} holds no point besides Original; run explore with some --solvers")
    report = None
    if method == "oracle-free":  # θ0 is always a candidate (docs/definitions.md §6)
        candidates = np.flatnonzero(chosen_from | (front.solver == "Original"))
        index, report = _oracle_free_pick(rule, front, candidates)
    else:
        candidates = np.flatnonzero(chosen_from)
        index = int(candidates[rule(front.take(candidates))])
    logger.info("chose front index %d by %r", index, rule)
    rule_record = {"method": method, "constraints": constraint_list, "weights": weight_list, "solver": solver,
                   "repr": repr(rule)}
    return _finish(run_dir, summary, front, task, index, paths, rule_record, report)


def _export_manual(run_dir: Path, summary: dict[str, Any], front: Front, task: Any, index: int,
                   paths: dict[str, Path] | None) -> dict[str, Any]:
    if not 0 <= index < len(front):
        raise ConfigError(f"point {index} does not exist; this run has points 0..{len(front) - 1}")
    if not front.feasible[index]:
        raise ConfigError(f"point {index} is infeasible (its objectives are not finite); choose another")
    rule_record: dict[str, Any] = {"method": "manual", "constraints": [], "weights": None, "solver": None,
                   "repr": f"manual(index={index})"}
    return _finish(run_dir, summary, front, task, index, paths, rule_record, None)


def _finish(run_dir: Path, summary: dict[str, Any], front: Front, task: Any, index: int,
            paths: dict[str, Path] | None, rule_record: dict[str, Any],
            report: dict[str, Any] | None) -> dict[str, Any]:
    """Rebuild the chosen point's model and, with ``paths``, export it with its JSON record."""
    point = _point(front, index)
    model = rebuild_model(task, front, index)
    result: dict[str, Any] = {
        "point": point, "objective_names": list(front.objective_names), "index": index,
        "rule": rule_record["repr"], "model": model, "task": task, "front": front, "oracle_free": report,
        "model_path": None, "json_path": None, "adapter_path": None,
    }
    if paths is None:
        return result
    metrics, objectives = _evaluate(model, task, summary)
    recorded = {k: point[k] for k in (*objectives, *metrics) if k in point}
    difference = _max_difference({**metrics, **objectives}, recorded)
    if difference > 1e-4:
        logger.warning("the rebuilt model's metrics differ from the recorded ones by up to %.3g", difference)
    record = {
        "schema_version": EXPORT_SCHEMA,
        "metrics": metrics,
        **{k: metrics.get(k, float("nan")) for k in METRIC_NAMES},
        "objectives": objectives,
        "recorded": {"metrics": {k: point[k] for k in metrics if k in point},
                     "objectives": {k: point[k] for k in objectives if k in point}},
        "max_abs_difference": difference,
        "retrain_metrics": summary.get("retrain", {}).get("metrics", {}),
        "original_metrics": summary.get("original", {}).get("metrics", {}),
        "provenance": {"solver": point["solver"], "point": point["point"], "index": index,
                       **point["provenance"], "cost": point["cost"], "rebuild": point["rebuild"]},
        "rule": rule_record,
        "oracle_free": report,
        "run_dir": str(run_dir.resolve()),
        "reference": summary.get("reference"),
        "kl_direction": summary.get("kl_direction"),
        "task": summary["task"],
        "architecture": {"model": task.model_name, "n_classes": int(task.n_classes),
                         "input_shape": [int(s) for s in task.input_shape], "seed": int(task.seed)},
    }
    _write_export(paths, model, front, index, record)
    result.update(metrics=metrics, objectives=objectives, max_abs_difference=difference,
                  model_path=str(paths["model"]), json_path=str(paths["json"]),
                  adapter_path=str(paths["adapter"]) if "adapter" in record["files"] else None)
    return result


def load_exported(path: str | os.PathLike, *, model: Any = None,
                  device: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """Load an exported model: a fresh model of the recorded architecture with the exported weights.

    Parameters
    ----------
    path : str or path-like
        The ``.safetensors`` model file written by :func:`select_and_export` (its JSON must be beside it).
    model : nn.Module, optional
        The architecture to load into; needed for bring-your-own models (recorded as ``custom``).
    device : str
        Where to put the model.

    Returns
    -------
    model : nn.Module
        In eval mode.
    record : dict
        The JSON written beside the weights.

    Raises
    ------
    RunDirError
        The JSON is missing or unreadable.
    CacheError
        The weights do not match the recorded hash or the architecture's shapes.
    """
    paths = export_paths(path)
    if not paths["json"].is_file():
        raise RunDirError(f"{paths['json']} not found; load a model written by select_and_export (its JSON "
                          "sits beside it)")
    try:
        record = read_json(paths["json"])
    except ValueError as exc:
        raise RunDirError(f"{paths['json']} is not valid JSON ({exc})") from None
    if not isinstance(record, dict) or not isinstance(record.get("files", {}), dict):
        raise RunDirError(f"{paths['json']} is not the record select_and_export writes; "
                          "export the model again")
    if model is None:
        arch = record.get("architecture", {})
        if not isinstance(arch, dict) or arch.get("model") in (None, "custom"):
            raise ConfigError(f"{paths['model']} holds a bring-your-own model; "
                              "pass model= (its architecture)")
        try:
            n_classes, shape, seed = int(arch["n_classes"]), tuple(arch["input_shape"]), int(arch["seed"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RunDirError(f"{paths['json']}: its architecture cannot be read ({type(exc).__name__}: "
                              f"{exc}); export the model again") from None
        model = build_model(arch["model"], n_classes=n_classes, input_shape=shape, seed=seed)
    model = model.to(device)
    load_state_checked(model, paths["model"], record["files"].get("model_sha256"))
    model.eval()
    return model, record
