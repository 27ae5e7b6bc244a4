"""Ctrl-C (SIGINT) at moments when it must not tear what is being done.

Python raises ``KeyboardInterrupt`` between any two bytecodes, so a Ctrl-C can
land between the two renames that replace a run folder, or while the command
line prints its one-line message. :func:`held_interrupts` postpones it to the end
of a block. Signal handlers can only be changed in the main thread; elsewhere the
block runs unguarded (a ``KeyboardInterrupt`` is only ever raised in the main
thread anyway).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


def in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def held_interrupts() -> Iterator[None]:
    """Run the block with Ctrl-C postponed; afterwards hand a Ctrl-C that came to the
    handler that was in place (which raises ``KeyboardInterrupt`` unless it ignores it)."""
    if not in_main_thread():
        yield
        return
    came = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: came.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if came:
        deliver(previous, came[0])


def deliver(handler, frame) -> None:
    if callable(handler):
        handler(signal.SIGINT, frame)
    elif handler == signal.SIG_DFL:
        raise KeyboardInterrupt
    # SIG_IGN: the process was told to ignore Ctrl-C
