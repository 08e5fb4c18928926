"""The unlearning task: data, splits, Original (θ0) and Retrain, all on one device."""

from __future__ import annotations

import contextlib
import copy
import logging
import time
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from pareto_unlearn._io import sha256_bytes
from pareto_unlearn.exceptions import ConfigError, DataError
from pareto_unlearn.task._cache import ModelCache, state_dict_hash
from pareto_unlearn.task._datasets import RawDataset, default_size, load_dataset
from pareto_unlearn.task._models import build_model
from pareto_unlearn.task._splits import ForgetSpec, Splits, make_splits, parse_forget
from pareto_unlearn.task._training import (
    CIFAR_RECIPE,
    CPU_THREAD_RULE,
    DIGITS_RECIPE,
    FASHION_MNIST_RECIPE,
    TRAINING_VERSION,
    TrainRecipe,
    one_cpu_thread,
    train_model,
)

__all__ = ["Subset", "UnlearningTask", "load_task", "resolve_device", "default_model", "default_recipe"]

logger = logging.getLogger(__name__)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` → cuda when available, else cpu; ``cuda`` without a GPU is refused with a clear message."""
    name = str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda: no CUDA GPU is visible to torch; use --device cpu or auto")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise ConfigError(f"--device {name!r} is not known; use auto, cpu or cuda")


@dataclass(frozen=True)
class Subset:
    """Inputs and labels of one split, on the task's device."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])


def _frozen(model: nn.Module) -> nn.Module:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


class UnlearningTask:
    """Everything that states an unlearning problem; built by :func:`load_task` or :meth:`from_data`.

    Attributes
    ----------
    name : str
    n_classes : int
    forget_spec : ForgetSpec
    seed : int
    splits : Splits
    forget, retain, heldout_reference, heldout_selection, test : Subset
    original : nn.Module
        θ0, eval mode, frozen. Never modified: solvers copy it (:meth:`copy_original`).
    retrain : nn.Module
        The gold standard, trained from scratch on the retain set with the same recipe.
    train_seconds : dict
        Training wall-clock of ``original`` and ``retrain`` (recorded when trained, kept in the cache).
    train_cpu_seconds : dict
        The CPU seconds this process spent on each (recorded when trained; NaN for entries cached before
        it was recorded): on a shared machine it says what the training costs where wall-clock does not.
    mia_members : np.ndarray
        Positions in ``retain`` of the fixed member subset of the MIA attack (size of its non-member set).
    size : str
        The named size of the training split (``small`` / ``full``, :data:`pareto_unlearn.task.SIZES`).
    """

    def __init__(
        self,
        *,
        name: str,
        raw: RawDataset,
        splits: Splits,
        forget_spec: ForgetSpec,
        architecture: nn.Module,
        model_name: str,
        seed: int,
        recipe: TrainRecipe,
        device: torch.device,
        original: nn.Module,
        retrain: nn.Module,
        train_seconds: dict[str, float],
        data_fingerprint: str,
        size: str = "full",
        train_cpu_seconds: dict[str, float] | None = None,
    ) -> None:
        self.name = name
        self.size = size
        self.n_classes = raw.n_classes
        self.input_shape = raw.input_shape
        self.forget_spec = forget_spec
        self.forgotten_classes = tuple(forget_spec.classes) if forget_spec.kind == "class" else ()
        self.seed = seed
        self.model_name = model_name
        self.recipe = recipe
        self.device = device
        self.splits = splits
        self.data_fingerprint = data_fingerprint
        self._architecture = architecture

        def subset(idx: np.ndarray, test: bool = False) -> Subset:
            x, y = (raw.x_test, raw.y_test) if (test and raw.separate_test) else (raw.x_train, raw.y_train)
            index = torch.as_tensor(idx, dtype=torch.long)
            return Subset(x[index].to(device), y[index].to(device))

        self.forget = subset(splits.forget)
        self.retain = subset(splits.retain)
        self.heldout_reference = subset(splits.heldout_reference)
        self.heldout_selection = subset(splits.heldout_selection)
        self.test = subset(splits.test, test=True)
        self.original = _frozen(original.to(device))
        self.retrain = _frozen(retrain.to(device))
        self.train_seconds = dict(train_seconds)
        self.train_cpu_seconds = dict(train_cpu_seconds or {})
        self.theta0_hash = state_dict_hash(self.original)
        rng = np.random.default_rng([seed, 7])
        n_members = min(len(self.retain), int(self.test_nonforgotten_mask().sum()))
        self.mia_members = np.sort(rng.choice(len(self.retain), size=n_members, replace=False))

    # ------------------------------------------------------------------ helpers
    def test_nonforgotten_mask(self) -> torch.Tensor:
        """Test samples of the retained classes (all of them under random forgetting)."""
        if not self.forgotten_classes:
            return torch.ones(len(self.test), dtype=torch.bool, device=self.device)
        forgotten = torch.as_tensor(self.forgotten_classes, device=self.device)
        return ~torch.isin(self.test.y, forgotten)

    def copy_original(self) -> nn.Module:
        """A trainable deep copy of θ0 (BatchNorm statistics frozen: eval mode, docs/definitions.md §1)."""
        model = copy.deepcopy(self.original)
        for p in model.parameters():
            p.requires_grad_(True)
        model.eval()
        return model

    def describe(self) -> dict[str, Any]:
        """JSON-ready facts that identify the task (summary.json's ``task``)."""
        return {
            "name": self.name,
            "n_classes": self.n_classes,
            "size": self.size,
            "forget": str(self.forget_spec),
            "forgotten_classes": list(self.forgotten_classes),
            "seed": self.seed,
            "model": self.model_name,
            "recipe": self.recipe.to_dict(),
            "device": str(self.device),
            "sizes": {k: int(len(v)) for k, v in self.splits.as_dict().items()},
            "data_fingerprint": self.data_fingerprint,
            "splits_fingerprint": self.splits.fingerprint,
            "theta0_sha256": self.theta0_hash,
        }

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v)}" for k, v in self.splits.as_dict().items())
        return f"UnlearningTask({self.name!r}, forget={str(self.forget_spec)!r}, seed={self.seed}, {sizes})"

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_data(
        cls,
        model: nn.Module,
        x_train: torch.Tensor,
        y_train: torch.Tensor,
        x_test: torch.Tensor,
        y_test: torch.Tensor,
        forget_indices: np.ndarray,
        *,
        n_classes: int | None = None,
        seed: int = 0,
        recipe: TrainRecipe = DIGITS_RECIPE,
        trained: bool = False,
        name: str = "custom",
        device: str | torch.device = "auto",
        cache_dir: str | None = None,
        progress: bool = True,
    ) -> UnlearningTask:
        """Bring your own model and data: ``forget_indices`` index ``x_train``.

        ``model`` is the architecture; with ``trained=True`` its current weights are θ0, else θ0 is
        trained with ``recipe``. Retrain always starts from a re-initialised copy.
        """
        x_train, y_train = torch.as_tensor(x_train, dtype=torch.float32), torch.as_tensor(y_train).long()
        x_test, y_test = torch.as_tensor(x_test, dtype=torch.float32), torch.as_tensor(y_test).long()
        if len(x_train) != len(y_train) or len(x_test) != len(y_test):
            raise DataError("x and y must have the same number of samples (train and test)")
        n_classes = int(n_classes or int(max(y_train.max(), y_test.max())) + 1)
        raw = RawDataset(name, x_train, y_train, x_test, y_test, n_classes, separate_test=True)
        spec = ForgetSpec("random", ratio=0.5)  # placeholder kind: the index array decides
        splits = make_splits(
            y_train.numpy(), spec, seed=seed, y_test=y_test.numpy(), forget_indices=np.asarray(forget_indices)
        )
        forgotten = sorted(set(y_train[splits.forget].tolist()) - set(y_train[splits.retain].tolist()))
        spec = (
            ForgetSpec("class", classes=tuple(forgotten))
            if forgotten
            else ForgetSpec("random", ratio=len(splits.forget) / (len(splits.forget) + len(splits.retain)))
        )
        architecture = copy.deepcopy(model)
        pretrained = copy.deepcopy(model) if trained else None
        return _assemble(
            name,
            raw,
            splits,
            spec,
            architecture,
            "custom",
            seed,
            recipe,
            device,
            cache_dir,
            progress,
            pretrained=pretrained,
        )


def _reinit(model: nn.Module, seed: int) -> nn.Module:
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        for module in model.modules():
            if hasattr(module, "reset_parameters"):
                cast(Any, module).reset_parameters()
    finally:
        torch.random.set_rng_state(state)
    return model


def _fingerprint(raw: RawDataset) -> str:
    parts = [raw.name, str(raw.n_classes)]
    for t in (raw.x_train, raw.y_train, raw.x_test, raw.y_test):
        parts.append(sha256_bytes(t.contiguous().numpy().tobytes()))
    return sha256_bytes("|".join(parts).encode())


def _assemble(
    name: str,
    raw: RawDataset,
    splits: Splits,
    spec: ForgetSpec,
    architecture: nn.Module,
    model_name: str,
    seed: int,
    recipe: TrainRecipe,
    device: str | torch.device,
    cache_dir: str | None,
    progress: bool,
    pretrained: nn.Module | None = None,
    size: str = "full",
) -> UnlearningTask:
    device = resolve_device(device)
    cache = ModelCache(cache_dir)
    fingerprint = _fingerprint(raw)
    train_seconds: dict[str, float] = {}
    train_cpu_seconds: dict[str, float] = {}

    def trained(role: str, idx: np.ndarray) -> nn.Module:
        idx = np.sort(idx)  # the key names a set of samples: train on it in one order, whatever the split's
        model = _reinit(copy.deepcopy(architecture), seed).to(device)
        fields = {
            "role": role,
            "task": name,
            "data": fingerprint,
            "train_idx": sha256_bytes(idx.tobytes()),
            "seed": seed,
            "model": model_name,
            "architecture": repr(architecture),
            "recipe": recipe.to_dict(),
            # Everything else that changes the weights a seed gives: the procedure, the thread rule
            # (CPU training runs on one thread, one_cpu_thread) and torch itself.
            "training_version": TRAINING_VERSION,
            "cpu_thread_rule": CPU_THREAD_RULE if device.type == "cpu" else None,
            "cpu_threads": 1 if device.type == "cpu" else None,
            "torch": torch.__version__,
        }
        expect = {"torch": torch.__version__, "training_version": TRAINING_VERSION,
                  "cpu_threads": fields["cpu_threads"]}
        x = raw.x_train[torch.as_tensor(idx)].to(device)
        y = raw.y_train[torch.as_tensor(idx)].to(device)

        def train(m: nn.Module) -> dict[str, Any]:
            logger.info("training %s (%d samples, %d epochs)", role, len(y), recipe.epochs)
            start, cpu_start = time.perf_counter(), time.process_time()
            with one_cpu_thread() if device.type == "cpu" else contextlib.nullcontext():
                threads = torch.get_num_threads() if device.type == "cpu" else None
                train_model(m, x, y, recipe, seed=seed, progress=progress, description=f"train {role}")
            return {"train_seconds": time.perf_counter() - start,
                    "train_cpu_seconds": time.process_time() - cpu_start, "torch": torch.__version__,
                    "training_version": TRAINING_VERSION, "cpu_threads": threads}

        model, facts = cache.get_or_train(model, fields, train, expect=expect)
        train_seconds[role] = float(facts.get("train_seconds", float("nan")))
        train_cpu_seconds[role] = float(facts.get("train_cpu_seconds", float("nan")))
        return model

    if pretrained is not None:
        original = pretrained.to(device)
        train_seconds["original"] = float("nan")
    else:
        original = trained("original", np.concatenate([splits.forget, splits.retain]))
    retrain = trained("retrain", splits.retain)
    return UnlearningTask(
        name=name,
        raw=raw,
        splits=splits,
        forget_spec=spec,
        architecture=architecture,
        model_name=model_name,
        seed=seed,
        recipe=recipe,
        device=device,
        original=original,
        retrain=retrain,
        train_seconds=train_seconds,
        data_fingerprint=fingerprint,
        size=size,
        train_cpu_seconds=train_cpu_seconds,
    )


def default_model(task: str, input_shape: tuple[int, ...]) -> str:
    """The model a task trains when none is named: ``cnn`` for 28×28 (Fashion-)MNIST, ``resnet18`` for
    other large images, ``mlp`` for digits.

    >>> default_model("fashion-mnist", (1, 28, 28)), default_model("cifar10", (3, 32, 32))
    ('cnn', 'resnet18')
    """
    if task in ("mnist", "fashion-mnist"):
        return "cnn"
    return "resnet18" if input_shape[-1] >= 28 else "mlp"


def default_recipe(task: str) -> TrainRecipe:
    """The training recipe of θ0 and Retrain a task uses when none is given (docs/definitions.md §2).

    >>> default_recipe("fashion-mnist").epochs == FASHION_MNIST_RECIPE.epochs
    True
    """
    if task == "digits":
        return DIGITS_RECIPE
    if task in ("mnist", "fashion-mnist"):
        return FASHION_MNIST_RECIPE
    return CIFAR_RECIPE


def load_task(
    task: str = "digits",
    *,
    forget: str | ForgetSpec = "random:0.1",
    seed: int = 0,
    model: str | None = None,
    device: str | torch.device = "auto",
    data_root: str | None = None,
    download: bool = False,
    cache_dir: str | None = None,
    recipe: TrainRecipe | None = None,
    progress: bool = True,
    size: str | None = None,
) -> UnlearningTask:
    """Build a named task: load data, draw the splits, train (or load from cache) Original and Retrain.

    ``size`` names how much of the training split the task keeps (``small``: a stratified 10,000 of
    (Fashion-)MNIST's 60,000, the default for them; ``full``: all, the default elsewhere). Without
    ``model`` / ``recipe`` the task's defaults apply (:func:`default_model`, :func:`default_recipe`).

    Examples
    --------
    >>> task = load_task("digits", forget="random:0.1", seed=0, progress=False)  # doctest: +SKIP
    >>> len(task.forget), task.n_classes  # doctest: +SKIP
    (129, 10)
    """
    size = default_size(task) if size is None else size
    raw = load_dataset(task, data_root=data_root, download=download, size=size)
    spec = parse_forget(forget, n_classes=raw.n_classes)
    if spec.kind == "class":
        present = set(raw.y_train.unique().tolist())
        absent = [c for c in spec.classes if c not in present]
        if absent:
            raise DataError(f"--forget {spec}: class {absent[0]} has no training sample in {task}")
    splits = make_splits(
        raw.y_train.numpy(), spec, seed=seed, y_test=raw.y_test.numpy() if raw.separate_test else None
    )
    model_name = model or default_model(task, raw.input_shape)
    architecture = build_model(model_name, n_classes=raw.n_classes, input_shape=raw.input_shape, seed=seed)
    if recipe is None:
        recipe = default_recipe(task)
    return _assemble(
        task, raw, splits, spec, architecture, model_name, seed, recipe, device, cache_dir, progress,
        size=size,
    )
