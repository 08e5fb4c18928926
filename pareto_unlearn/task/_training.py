"""Training recipes for Original (θ0) and Retrain (docs/definitions.md §2)."""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from pareto_unlearn.exceptions import ConfigError

__all__ = ["TrainRecipe", "DIGITS_RECIPE", "FASHION_MNIST_RECIPE", "CIFAR_RECIPE", "train_model",
           "augment_crop_flip", "one_cpu_thread", "TRAINING_VERSION", "CPU_THREAD_RULE"]

logger = logging.getLogger(__name__)

# Bump when train_model (or what runs around it) changes the weights a seed gives: the model cache's key
# holds it, so entries trained by an earlier procedure are not served as if they were today's.
# 3: θ0 and Retrain train on their samples in index order, so the model is a function of the set its key
# names (before, θ0 of one train set trained in each forget split's order and the first one cached won).
TRAINING_VERSION = 3
# How CPU training picks its thread count (one_cpu_thread); part of the cache key for the same reason.
CPU_THREAD_RULE = "one-thread"


@dataclass(frozen=True)
class TrainRecipe:
    """SGD with momentum and step decay; what trains Original and Retrain.

    ``augment`` is ``"none"`` or ``"crop-flip"`` (RandomCrop(32, pad 4) + horizontal flip, on tensors).
    """

    epochs: int = 30
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 32
    milestones: tuple[int, ...] = (20,)
    gamma: float = 0.1
    augment: str = "none"

    def __post_init__(self) -> None:
        def is_int(v: object) -> bool:
            return isinstance(v, int) and not isinstance(v, bool)

        def is_real(v: object) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool)

        for name in ("epochs", "batch_size"):
            if not is_int(getattr(self, name)):
                raise ConfigError(f"recipe {name} must be an integer, got {getattr(self, name)!r}")
        for name in ("lr", "momentum", "weight_decay", "gamma"):
            if not is_real(getattr(self, name)):
                raise ConfigError(f"recipe {name} must be a number, got {getattr(self, name)!r}")
        if not isinstance(self.milestones, (list, tuple)) or not all(is_int(m) for m in self.milestones):
            raise ConfigError(f"recipe milestones must be a list of integer epochs, got {self.milestones!r}")
        if self.epochs < 1:
            raise ConfigError(f"recipe epochs must be >= 1, got {self.epochs}")
        if not self.lr > 0:
            raise ConfigError(f"recipe lr must be > 0, got {self.lr}")
        if self.batch_size < 1:
            raise ConfigError(f"recipe batch_size must be >= 1, got {self.batch_size}")
        if self.augment not in ("none", "crop-flip"):
            raise ConfigError(f"recipe augment must be 'none' or 'crop-flip', got {self.augment!r}")
        object.__setattr__(self, "milestones", tuple(int(m) for m in self.milestones))

    def to_dict(self) -> dict:
        return asdict(self)


# Digits: a short recipe that trains in seconds on a CPU and reaches >= 97 % test accuracy.
DIGITS_RECIPE = TrainRecipe(epochs=30, lr=0.1, batch_size=32, milestones=(20,))
# (Fashion-)MNIST's CPU recipe (size small, model cnn): chosen by measurement on one CPU thread so that
# θ0 + Retrain train in under 3 minutes on a 2-core laptop (docs/definitions.md §2, docs/fashion_mnist.md).
FASHION_MNIST_RECIPE = TrainRecipe(epochs=12, lr=0.05, batch_size=64, milestones=(9,))
# CIFAR-10 / ResNet-18 as in the paper.
CIFAR_RECIPE = TrainRecipe(
    epochs=182, lr=0.1, batch_size=256, milestones=(91, 136), augment="crop-flip", weight_decay=5e-4
)


def augment_crop_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """RandomCrop(size, padding=4) and a horizontal flip with probability ½, batched on tensors."""
    n, _, h, w = x.shape
    padded = nn.functional.pad(x, (4, 4, 4, 4))
    dx = torch.randint(0, 9, (n,), generator=generator).tolist()
    dy = torch.randint(0, 9, (n,), generator=generator).tolist()
    flips = torch.rand(n, generator=generator) < 0.5
    out = torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])
    out[flips] = out[flips].flip(-1)
    return out


@contextlib.contextmanager
def one_cpu_thread():
    """Run the block on one CPU thread, then restore the caller's count: CPU kernels split their sums by
    thread, so a model trained at 1 and at 2 threads differs in its last bits and, after 30 epochs, in
    its accuracy; one thread makes θ0 and Retrain the same whatever ``--threads`` says.

    Examples
    --------
    >>> before = torch.get_num_threads()
    >>> with one_cpu_thread():
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_model(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    recipe: TrainRecipe,
    *,
    seed: int,
    progress: bool = True,
    description: str = "train",
) -> nn.Module:
    """Train ``model`` in place on (x, y) with ``recipe``; same seed, same weights (on one device)."""
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, list(recipe.milestones), gamma=recipe.gamma)
    n = len(y)
    steps = math.ceil(n / recipe.batch_size)
    model.train()
    bar = tqdm(range(recipe.epochs), desc=description, disable=not progress, leave=False)
    for _ in bar:
        order = torch.randperm(n, generator=generator)
        for s in range(steps):
            idx = order[s * recipe.batch_size : (s + 1) * recipe.batch_size]
            xb = x[idx.to(x.device)]
            if recipe.augment == "crop-flip":
                xb = augment_crop_flip(xb.cpu(), generator).to(x.device)
            loss = nn.functional.cross_entropy(model(xb.to(device)), y[idx.to(y.device)].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        scheduler.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    model.eval()
    return model
