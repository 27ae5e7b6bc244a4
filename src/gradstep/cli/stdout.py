"""Checked writes to standard output: a full disk or a closed pipe is one line, not a traceback.

Commands print with ``click.echo``, which writes and flushes ``sys.stdout``. While a
command runs, :func:`checked_stdout` puts a thin proxy there whose failed writes raise
:class:`StdoutError`, so ``main`` can tell "standard output is gone" apart from a file
the command failed to write, and answer each the way Unix tools do.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Iterator


class StdoutError(Exception):
    """Writing to standard output failed; ``error`` is the ``OSError`` (ENOSPC, EPIPE, EIO...)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error

    @property
    def closed_pipe(self) -> bool:
        return isinstance(self.error, BrokenPipeError) or self.error.errno == errno.EPIPE


class _CheckedStream:
    """``sys.stdout`` with ``write`` and ``flush`` failures raised as :class:`StdoutError`.

    Not an ``OSError``, on purpose: click turns an EPIPE ``OSError`` into ``sys.exit(1)``
    on its own, and a command's ``except OSError`` around a file write must not claim it.
    Text goes to the binary layer in a loop: with ``PYTHONUNBUFFERED`` that layer is the
    raw file, whose short write (a disk that fills up mid-way, a reader that leaves) the
    text layer drops without a word, so a command could exit 0 with half its output.
    """

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            binary = getattr(self._stream, "buffer", None)
            if binary is None:  # an in-memory stream (tests): no file to fill up
                return self._stream.write(text)
            self._stream.flush()  # whatever went through the text layer stays first
            _write_all(binary, self._encode(text))
            binary.flush()
        except OSError as exc:
            raise StdoutError(exc) from None
        return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise StdoutError(exc) from None

    def _encode(self, text: str) -> bytes:
        if os.linesep != "\n":  # what the text layer would do on Windows
            text = text.replace("\n", os.linesep)
        return text.encode(self._stream.encoding or "utf-8", self._stream.errors or "strict")

    def __getattr__(self, name):  # encoding, isatty, fileno, buffer...
        return getattr(self._stream, name)


def _write_all(binary, data: bytes) -> None:
    """Write every byte of ``data``, or raise: a short write is retried, and the retry fails."""
    view = memoryview(data)
    while view:
        written = binary.write(view)
        if not written:  # None (would block) or 0: no progress, and no errno to say why
            raise OSError(errno.EIO, "standard output accepted no data")
        view = view[written:]


@contextlib.contextmanager
def checked_stdout() -> Iterator[None]:
    """Check every write to standard output in the block, and flush it at the end.

    The final flush is inside the block: text still buffered when the command returns
    would otherwise fail at interpreter shutdown, as "Exception ignored ..." and exit 120.
    """
    real = sys.stdout
    if real is None:  # no standard output at all (pythonw): nothing to check
        yield
        return
    sys.stdout = _CheckedStream(real)
    try:
        yield
        sys.stdout.flush()
    finally:
        sys.stdout = real


def silence_stdout() -> None:
    """Point file descriptor 1 at the null device once standard output has failed.

    Python flushes ``sys.stdout`` once more at exit; what is left in its buffer would
    fail again and print "Exception ignored" (Python's docs on SIGPIPE recommend this).
    """
    with contextlib.suppress(OSError, ValueError, AttributeError):
        fd = sys.stdout.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)
