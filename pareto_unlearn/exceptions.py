"""Typed errors of pareto_unlearn.

Every error the package raises on purpose is a subclass of :class:`ParetoUnlearnError` and of the builtin
that fits: ``ValueError`` for bad settings, data, caches and run directories (:class:`ConfigError`,
:class:`DataError`, :class:`CacheError`, :class:`RunDirError`, :class:`IncompatibleRunsError`),
``ImportError`` for a missing optional dependency, ``RuntimeError`` for work lost where it was sent and
``OSError`` for a result that cannot be written. Messages name the bad value and say how to fix it; the
CLI prints the message alone on stderr (no traceback) and exits with code 2, whichever of them it is.
"""

from __future__ import annotations

__all__ = [
    "ParetoUnlearnError",
    "ConfigError",
    "DataError",
    "CacheError",
    "RunDirError",
    "IncompatibleRunsError",
    "MissingDependencyError",
    "ComputeError",
    "OutputError",
]


class ParetoUnlearnError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(ParetoUnlearnError, ValueError):
    """A setting (flag, config key, argument) has a value that is not allowed."""


class DataError(ParetoUnlearnError, ValueError):
    """A data set, split or forget set cannot be built from what was given."""


class CacheError(ParetoUnlearnError, ValueError):
    """A cache, checkpoint or saved file is corrupt, tampered with or does not fit the model."""


class RunDirError(ParetoUnlearnError, ValueError):
    """An output or run directory cannot be used (holds another run, is not writable, is incomplete)."""


class IncompatibleRunsError(ParetoUnlearnError, ValueError):
    """Runs that differ in task, reference, KL direction or θ0 cannot be compared."""


class MissingDependencyError(ParetoUnlearnError, ImportError):
    """An optional dependency is not installed."""


class ComputeError(ParetoUnlearnError, RuntimeError):
    """Work could not be finished where it was sent (a Dask unit lost with its workers too often)."""


class OutputError(ParetoUnlearnError, OSError):
    """A result cannot be written where asked (no such folder, no permission, a read-only file system)."""
