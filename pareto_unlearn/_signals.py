"""Ctrl-C and SIGTERM that always stop the run: :func:`interruptible` (the CLI wraps every command in it).

Python turns SIGINT into ``KeyboardInterrupt`` wherever the main thread is. When that is inside a
destructor (``tqdm.__del__`` tearing a progress bar down, a temporary folder's finaliser), Python cannot
propagate it: it prints "Exception ignored in ..." and the run goes on. :func:`interruptible` installs a
``sys.unraisablehook`` that catches exactly that case and delivers the interrupt again to the main
thread a moment later, outside the destructor. SIGTERM raises :class:`Terminated`, a
``KeyboardInterrupt``, so every ``except KeyboardInterrupt`` that saves the finished work runs for it too.
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["Terminated", "interruptible", "exit_code"]

_REDELIVER_S = 0.02  # long enough for the destructor that swallowed the interrupt to return


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: the run stops as it does for Ctrl-C (exit 143 from the CLI)."""


def exit_code(exc: KeyboardInterrupt) -> int:
    """128 + the signal's number: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + int(signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` and no interrupt is lost in a destructor.

    Only the main thread can install signal handlers; elsewhere the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous_term = signal.getsignal(signal.SIGTERM)
    previous_hook = sys.unraisablehook
    waiting: list[type[KeyboardInterrupt]] = []  # interrupts swallowed and not yet delivered again
    guard = threading.Lock()

    def on_term(signum: int, frame: Any) -> None:
        raise Terminated

    def deliver(kind: type[KeyboardInterrupt]) -> None:
        with guard:
            if kind not in waiting:
                return
            waiting.remove(kind)
            _thread.interrupt_main(signal.SIGTERM if kind is Terminated else signal.SIGINT)

    def on_unraisable(unraisable: Any) -> None:
        exc_type = getattr(unraisable, "exc_type", None)
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            kind = Terminated if issubclass(exc_type, Terminated) else KeyboardInterrupt
            with guard:
                waiting.append(kind)
            timer = threading.Timer(_REDELIVER_S, deliver, args=(kind,))
            timer.daemon = True
            timer.start()
            return
        previous_hook(unraisable)

    signal.signal(signal.SIGTERM, on_term)
    sys.unraisablehook = on_unraisable
    try:
        yield
    finally:
        sys.unraisablehook = previous_hook
        signal.signal(signal.SIGTERM, previous_term)
        with guard:
            lost = waiting[:1]
            waiting.clear()
        if lost:  # the block ended before the swallowed interrupt came back: it still counts
            raise lost[0]
