"""The ``pareto-unlearn`` executable (and ``python -m pareto_unlearn``): signals first, then the commands.

Importing the commands loads torch, pymoo and matplotlib, which takes seconds. A Ctrl-C or SIGTERM in
that time, or while the interpreter shuts down after the command, must end the process as it does
mid-run: one line, exit 130 / 143, no traceback. So this module imports only the standard library and
:mod:`pareto_unlearn._signals`, installs the handlers, and only then imports :mod:`pareto_unlearn.cli`.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from pareto_unlearn._signals import Terminated, exit_code

__all__ = ["main"]


def _command(argv: Sequence[str]) -> str:
    """The sub-command's name for the one-line message (the parser has not run yet)."""
    return next((arg for arg in argv if not arg.startswith("-")), "")


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def _exit_at_once(signum: int, frame: FrameType | None) -> None:
    # The command has finished and written its results; only the interpreter's teardown is left.
    os.write(2, b"pareto-unlearn: interrupted while exiting; the command had finished\n")
    os._exit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; 0 ok, 2 bad input, 130 Ctrl-C, 143 SIGTERM, at whatever moment they land."""
    args = list(sys.argv[1:] if argv is None else argv)
    prefix = f"pareto-unlearn {_command(args)}".rstrip()
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        from pareto_unlearn.cli import main as run_command  # lazy: signals must be handled before torch loads

        code = run_command(args)
    except KeyboardInterrupt as exc:  # landed while the commands were being imported
        code = exit_code(exc)
        name = "SIGTERM" if code == 143 else "Ctrl-C"
        print(f"{prefix}: interrupted ({name}) while starting; nothing was written", file=sys.stderr)
    signal.signal(signal.SIGINT, _exit_at_once)
    signal.signal(signal.SIGTERM, _exit_at_once)
    return code


if __name__ == "__main__":
    sys.exit(main())
