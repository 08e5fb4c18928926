"""What every run records about itself: package versions, seeds, git commit, hardware, θ0's hash."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from pareto_unlearn.exceptions import RunDirError

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


def check_manifest(value: Any, where: str = "manifest") -> dict[str, Any]:
    """``value`` if it has the shape :func:`manifest` writes, else
    :class:`~pareto_unlearn.exceptions.RunDirError`.

    Examples
    --------
    >>> check_manifest({"versions": {"torch": "2.4"}})["versions"]["torch"]
    '2.4'
    >>> check_manifest({"versions": ["torch"]})
    Traceback (most recent call last):
    ...
    pareto_unlearn.exceptions.RunDirError: manifest: versions is ['torch'], not an object of package → version
    """
    if not isinstance(value, dict):
        raise RunDirError(f"{where}: is a JSON {type(value).__name__}, not an object")
    versions = value.get("versions", {})
    if not isinstance(versions, dict) or not all(v is None or isinstance(v, str) for v in versions.values()):
        raise RunDirError(f"{where}: versions is {versions!r}, not an object of package → version")
    for key in ("hardware",):
        if key in value and not isinstance(value[key], dict):
            raise RunDirError(f"{where}: {key} is {value[key]!r}, not an object")
    commit = value.get("git_commit")
    if commit is not None and not isinstance(commit, str):
        raise RunDirError(f"{where}: git_commit is {commit!r}, not a string")
    return value


__all__ += ["check_manifest"]
