"""Model architectures. Every model is an ``nn.Sequential`` of named stages, so a prefix can be frozen
and its activations cached (the NSGA-II subspaces run only the stages after the first adapted layer).
"""

from __future__ import annotations

import torch
from torch import nn

from pareto_unlearn.exceptions import ConfigError

__all__ = ["MODELS", "build_model", "DigitsMLP", "DigitsCNN", "SmallCNN28", "resnet18_cifar", "last_linear"]

MODELS = ("mlp", "cnn", "resnet18")


class DigitsMLP(nn.Sequential):
    """Two hidden layers on flattened 8×8 digits: 64 → 128 → 64 → C."""

    def __init__(self, n_classes: int = 10, in_features: int = 64, hidden: int = 128) -> None:
        super().__init__()
        self.add_module("flatten", nn.Flatten())
        self.add_module("fc1", nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU()))
        self.add_module("fc2", nn.Sequential(nn.Linear(hidden, hidden // 2), nn.ReLU()))
        self.add_module("fc", nn.Linear(hidden // 2, n_classes))


class DigitsCNN(nn.Sequential):
    """A small CNN with BatchNorm for 1×8×8 digits (BatchNorm exercises the frozen-statistics rule)."""

    def __init__(self, n_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.add_module(
            "conv1",
            nn.Sequential(
                nn.Conv2d(in_channels, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU()
            ),
        )
        self.add_module(
            "conv2",
            nn.Sequential(
                nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2)
            ),
        )
        self.add_module("flatten", nn.Flatten())
        self.add_module("fc1", nn.Sequential(nn.Linear(32 * 4 * 4, 64), nn.ReLU()))
        self.add_module("fc", nn.Linear(64, n_classes))


class SmallCNN28(nn.Sequential):
    """A small CNN with BatchNorm for 1×28×28 images (MNIST, Fashion-MNIST): two conv + pool stages
    (16 and 32 channels, 28 → 14 → 7), then 1568 → 64 → C; 110k parameters, trains on one CPU thread."""

    def __init__(self, n_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.add_module(
            "conv1",
            nn.Sequential(
                nn.Conv2d(in_channels, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                nn.MaxPool2d(2),
            ),
        )
        self.add_module(
            "conv2",
            nn.Sequential(
                nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2)
            ),
        )
        self.add_module("flatten", nn.Flatten())
        self.add_module("fc1", nn.Sequential(nn.Linear(32 * 7 * 7, 64), nn.ReLU()))
        self.add_module("fc", nn.Linear(64, n_classes))


class _BasicBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


def resnet18_cifar(n_classes: int = 10, in_channels: int = 3) -> nn.Sequential:
    """ResNet-18 with the CIFAR stem (3×3 conv, stride 1, no max-pool) and fc 512 → C
    (docs/definitions.md §2)."""
    stages: list[tuple[str, nn.Module]] = [
        (
            "stem",
            nn.Sequential(nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()),
        )
    ]
    in_planes = 64
    for i, (planes, stride) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)], start=1):
        for j, s in enumerate([stride, 1]):
            stages.append((f"layer{i}_{j}", _BasicBlock(in_planes, planes, s)))
            in_planes = planes
    stages += [
        ("pool", nn.AdaptiveAvgPool2d(1)),
        ("flatten", nn.Flatten()),
        ("fc", nn.Linear(512, n_classes)),
    ]
    model = nn.Sequential()
    for name, module in stages:
        model.add_module(name, module)
    return model


def build_model(name: str, *, n_classes: int, input_shape: tuple[int, ...], seed: int) -> nn.Sequential:
    """Build a freshly initialised model; the same seed gives the same weights.

    Examples
    --------
    >>> m = build_model("mlp", n_classes=10, input_shape=(1, 8, 8), seed=0)
    >>> m(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """
    generator_state = torch.random.get_rng_state()
    model: nn.Sequential
    torch.manual_seed(seed)  # init draws from the global generator; restore it so no global state leaks
    try:
        if name == "mlp":
            n_in = 1
            for s in input_shape:
                n_in *= s
            model = DigitsMLP(n_classes, in_features=n_in)
        elif name == "cnn":
            if tuple(input_shape[1:]) == (8, 8):
                model = DigitsCNN(n_classes, in_channels=input_shape[0])
            elif tuple(input_shape[1:]) == (28, 28):
                model = SmallCNN28(n_classes, in_channels=input_shape[0])
            else:
                raise ConfigError(
                    f"model 'cnn' is built for 8×8 digits and 28×28 (Fashion-)MNIST images, got input shape "
                    f"{input_shape}; use resnet18 or mlp"
                )
        elif name == "resnet18":
            model = resnet18_cifar(n_classes, in_channels=input_shape[0])
        else:
            raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    finally:
        torch.random.set_rng_state(generator_state)
    return model


def last_linear(model: nn.Module) -> tuple[str, nn.Linear]:
    """The final ``nn.Linear`` of a model and its qualified name."""
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not found:
        raise ConfigError("the model has no nn.Linear layer; the last-layer search space needs one")
    return found[-1]
