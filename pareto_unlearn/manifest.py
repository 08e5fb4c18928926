"""What every run records about itself: package versions, seeds, git commit, hardware, θ0's hash."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["manifest"]

_PACKAGES = (
    "pareto-unlearn",
    "torch",
    "torchvision",
    "pymoo",
    "torchjd",
    "numpy",
    "scikit-learn",
    "scipy",
    "pandas",
    "safetensors",
    "matplotlib",
)


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def manifest(**extra: Any) -> dict[str, Any]:
    """What a run records of where it ran: versions, git commit, hardware, time, plus ``extra``."""
    import torch

    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "versions": {**versions, "python": platform.python_version()},
        "git_commit": _git_commit(),
        "hardware": {
            "cpu": _cpu_name(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
            "platform": platform.platform(),
        },
        **extra,
    }
