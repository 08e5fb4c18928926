"""Run settings: defaults, a TOML file (``--config FILE``) and command-line flags, in that order.

Unknown keys and bad values are refused with the list of valid ones.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pareto_unlearn.exceptions import ConfigError
from pareto_unlearn.objectives import KL_DIRECTIONS, REFERENCES
from pareto_unlearn.solvers._names import JD
from pareto_unlearn.solvers._registry import (
    baseline_grid,
    default_settings,
    default_solvers,
    resolve_settings,
    solver_names,
)
from pareto_unlearn.task import (
    DATASETS,
    MODELS,
    SIZES,
    TrainRecipe,
    UnlearningTask,
    default_recipe,
    load_task,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["RunConfig", "MethodSpec", "load_config", "default_methods", "TABLE_METHODS"]

TABLE_METHODS = (*solver_names("baseline"), "RAUL-LS", "RAUL-UPGrad")


@dataclass(frozen=True)
class MethodSpec:
    """Epochs and hyper-parameter grids of one unlearning method (docs/definitions.md §2)."""

    epochs: int
    lr: tuple[float, ...]
    alpha: tuple[float, ...] = ()

    @classmethod
    def from_dict(cls, name: str, data: dict[str, Any], base: MethodSpec) -> MethodSpec:
        """``base`` updated by a ``[methods.NAME]`` table, every key and value checked."""
        allowed = {"epochs", "lr", "alpha"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ConfigError(
                f"[methods.{name}] has unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(allowed))}"
            )
        out = base
        if "epochs" in data:
            if not isinstance(data["epochs"], int) or data["epochs"] < 1:
                raise ConfigError(f"[methods.{name}] epochs must be an integer >= 1, got {data['epochs']!r}")
            out = replace(out, epochs=data["epochs"])
        for key in ("lr", "alpha"):
            if key in data:
                values = data[key] if isinstance(data[key], list) else [data[key]]
                if not values or not all(isinstance(v, (int, float)) and v > 0 for v in values):
                    raise ConfigError(
                        f"[methods.{name}] {key} must be a list of positive numbers, got {data[key]!r}"
                    )
                update: dict[str, Any] = {key: tuple(float(v) for v in values)}
                out = replace(out, **update)
        return out


def default_methods(task: str) -> dict[str, MethodSpec]:
    """Grids per task. CIFAR: the paper's. Digits (batch 64): scaled by a scan of each method's lr from
    'barely leaves θ0' to 'retain accuracy collapses' on random 50 % forgetting (docs/definitions.md §2)."""
    specs = {name: MethodSpec(**baseline_grid(name, task)) for name in solver_names("baseline")}
    lrs = tuple(default_settings(task)[JD]["lrs"])  # the task's sweep lrs (the registry's)
    return {**specs, "RAUL-LS": MethodSpec(5, lrs), "RAUL-UPGrad": MethodSpec(5, lrs)}


@dataclass(frozen=True)
class RunConfig:
    """Every setting a command may take. Fields are the TOML keys; flags use dashes (``--kl-direction``)."""

    task: str = "digits"
    forget: str = "random:0.1"
    model: str | None = None
    size: str | None = None
    seeds: tuple[int, ...] = (0,)
    device: str = "auto"
    data_root: str | None = None
    download: bool = False
    cache_dir: str | None = None
    reference: str = "uniform"
    kl_direction: str = "model-ref"
    objectives: tuple[str, ...] = ("forget_kl", "retain_ce")
    solvers: tuple[str, ...] = field(default_factory=default_solvers)
    batch_size: int | None = None
    threads: int | None = None
    recipe: dict[str, Any] = field(default_factory=dict)
    methods: dict[str, Any] = field(default_factory=dict)
    explore: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def keys(cls) -> list[str]:
        """The settings a config file may hold."""
        return [f.name for f in fields(cls)]

    def merged(self, overrides: dict[str, Any]) -> RunConfig:
        """A copy with the non-None ``overrides`` applied (flags over file over defaults)."""
        data = {k: v for k, v in overrides.items() if v is not None}
        return _validated(replace(self, **data))

    def method_specs(self) -> dict[str, MethodSpec]:
        """Each table method's grid: the task's defaults updated by ``[methods.*]``."""
        specs = default_methods(self.task)
        for name, data in self.methods.items():
            if name not in specs:
                raise ConfigError(f"[methods.{name}] is not a method; valid: {', '.join(specs)}")
            if not isinstance(data, dict):
                raise ConfigError(f"[methods.{name}] must be a table with epochs / lr / alpha")
            specs[name] = MethodSpec.from_dict(name, data, specs[name])
        return specs

    def unlearn_batch_size(self) -> int:
        """The unlearning batch size: the setting, else 64 on digits and 256 otherwise."""
        return self.batch_size or (64 if self.task == "digits" else 256)


def _as_tuple(name: str, value: Any, kind: type) -> tuple:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)):
        value = [value]
    try:
        return tuple(kind(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a list of {kind.__name__}s, got {value!r}") from None


def _validated(cfg: RunConfig) -> RunConfig:
    if cfg.task not in DATASETS:
        raise ConfigError(f"task {cfg.task!r} is not known; choose one of {', '.join(DATASETS)}")
    if cfg.size is not None and cfg.size not in SIZES:
        raise ConfigError(f"size {cfg.size!r} is not known; choose one of {', '.join(SIZES)}")
    if cfg.model is not None and cfg.model not in MODELS:
        raise ConfigError(f"model {cfg.model!r} is not known; choose one of {', '.join(MODELS)}")
    if cfg.reference not in REFERENCES:
        raise ConfigError(f"reference {cfg.reference!r} is not known; choose one of {', '.join(REFERENCES)}")
    if cfg.kl_direction not in KL_DIRECTIONS:
        raise ConfigError(
            f"kl_direction {cfg.kl_direction!r} is not known; choose one of {', '.join(KL_DIRECTIONS)}"
        )
    seeds = _as_tuple("seeds", cfg.seeds, int)
    if not seeds or min(seeds) < 0:
        raise ConfigError(f"seeds must be non-negative integers, e.g. 0,1,2; got {cfg.seeds!r}")
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:  # one seed counted twice would fake a spread over seeds
        raise ConfigError(
            f"seeds {','.join(map(str, seeds))} name seed {repeated[0]} twice; give each seed once"
        )
    for name in ("recipe", "methods", "explore"):
        if not isinstance(getattr(cfg, name), dict):
            raise ConfigError(f"[{name}] must be a TOML table")
    if cfg.batch_size is not None and (not isinstance(cfg.batch_size, int) or cfg.batch_size < 1):
        raise ConfigError(f"batch_size must be an integer >= 1, got {cfg.batch_size!r}")
    if cfg.threads is not None and (not isinstance(cfg.threads, int) or cfg.threads < 1):
        raise ConfigError(f"threads must be an integer >= 1, got {cfg.threads!r}")
    solvers = _as_tuple("solvers", cfg.solvers, str)
    resolve_settings(cfg.task, cfg.explore, solvers)  # unknown solvers and [explore.*] keys: refused here
    return replace(cfg, seeds=seeds, objectives=_as_tuple("objectives", cfg.objectives, str), solvers=solvers)


def load_config(path: str | Path | None) -> RunConfig:
    """Defaults, updated from a TOML file when given. Unknown keys are refused."""
    if path is None:
        return _validated(RunConfig())
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--config {path}: no such file; give the path of a TOML file (see configs/)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--config {path}: not valid TOML ({exc})") from None
    valid = RunConfig.keys()
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise ConfigError(f"--config {path}: unknown key {unknown[0]!r}; valid keys: {', '.join(valid)}")
    if "seeds" in data:
        data["seeds"] = _as_tuple("seeds", data["seeds"], int)
    for key in ("objectives", "solvers"):
        if key in data:
            data[key] = _as_tuple(key, data[key], str)
    return _validated(RunConfig(**data))


def recipe_for(cfg: RunConfig) -> TrainRecipe:
    """The training recipe of Original / Retrain: the task's default updated by ``[recipe]``."""
    base = asdict(default_recipe(cfg.task))
    unknown = sorted(set(cfg.recipe) - set(base))
    if unknown:
        raise ConfigError(f"[recipe] has unknown key {unknown[0]!r}; valid keys: {', '.join(base)}")
    return TrainRecipe(**{**base, **cfg.recipe})


def task_from_config(cfg: RunConfig, seed: int, *, progress: bool = True) -> UnlearningTask:
    """Load the task a config describes, for one seed (Original and Retrain from the cache or trained)."""
    return load_task(
        cfg.task,
        forget=cfg.forget,
        seed=seed,
        model=cfg.model,
        device=cfg.device,
        data_root=cfg.data_root,
        download=cfg.download,
        cache_dir=cfg.cache_dir,
        recipe=recipe_for(cfg),
        progress=progress,
        size=cfg.size,
    )


__all__ += ["recipe_for", "task_from_config"]
