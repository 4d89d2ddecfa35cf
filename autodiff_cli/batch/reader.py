"""The byte-bounded line reader of batch input: large chunks in, one line at a time out.

    for line in LineReader(sys.stdin.buffer):   # bytes with their line end, or a LongLine
        ...

A line longer than the limit (limits.max_line_bytes()) is skipped, never held whole, and stands
as a LongLine. A non-blocking reader yields NOT_READY instead of waiting for input, so that the
worker pool can write results meanwhile. Also here: opening the source and refusing UTF-16.
"""
import os
import sys

from ..settings import limits


class LongLine:
    """Stands for an input line longer than the limit (its content was skipped)."""

    def __init__(self, size, limit):
        self.size, self.limit = size, limit


class _NotReady:
    """Yielded by a non-blocking LineReader when no whole line has arrived yet."""


NOT_READY = _NotReady()


class LineReader:
    """Lines (bytes, with their line end) of a binary stream, read in large chunks.

    Never holds more than about `limit` bytes of one line: a longer line is skipped and stands as
    a LongLine. With `blocking = False` it yields NOT_READY instead of waiting for input that has
    not arrived (a pipe, a terminal), so that the parallel loop can write results meanwhile.
    Streams without a file descriptor (io.BytesIO) are read with .read() and never wait.
    """

    CHUNK = 1 << 18

    def __init__(self, stream, limit=None):
        self.stream = stream
        self.limit = limits.max_line_bytes() if limit is None else limit
        self.bytes_read = 0
        self.blocking = True
        self.buf, self.pos = bytearray(), 0
        self.eof = False
        self.skipping = None          # bytes of an over-long line skipped so far
        try:
            self.fd = stream.fileno()
        except (AttributeError, OSError, ValueError):
            self.fd = None
        if self.fd is not None:
            self._read = lambda n: os.read(self.fd, n)
        else:
            self._read = getattr(stream, "read1", None) or stream.read

    def fileno(self):
        return self.fd

    def _fill(self):
        chunk = self._read(self.CHUNK)
        if not chunk:
            self.eof = True
            return
        self.bytes_read += len(chunk)
        if self.pos and (self.pos > len(self.buf) // 2 or self.pos > self.CHUNK):
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += chunk

    def _readable(self):
        if self.fd is None:
            return True
        import select
        try:
            return bool(select.select([self.fd], [], [], 0)[0])
        except (OSError, ValueError):
            return True

    def head(self, n):
        """Up to n bytes of what comes next, without consuming them (at most one read)."""
        if len(self.buf) - self.pos < n and not self.eof:
            self._fill()
        return bytes(self.buf[self.pos:self.pos + n])

    def __iter__(self):
        while True:
            item = self._next()
            if item is None:
                return
            yield item

    def _next(self):
        while True:
            newline = self.buf.find(b"\n", self.pos)
            if newline >= 0:
                start, self.pos = self.pos, newline + 1
                if self.skipping is not None or newline - start > self.limit:
                    size, self.skipping = (self.skipping or 0) + (newline - start), None
                    return LongLine(size, self.limit)
                return bytes(self.buf[start:newline + 1])
            waiting = len(self.buf) - self.pos
            if self.skipping is not None or waiting > self.limit:
                self.skipping = (self.skipping or 0) + waiting
                del self.buf[:]
                self.pos = 0
            if self.eof:
                if self.skipping is not None:
                    size, self.skipping = self.skipping, None
                    return LongLine(size, self.limit)
                if waiting:
                    line = bytes(self.buf[self.pos:])
                    del self.buf[:]
                    self.pos = 0
                    return line
                return None
            if not self.blocking and not self._readable():
                return NOT_READY
            self._fill()


def open_source(source, stdin):
    """(binary stream, size in bytes or None, close?) for a path or "-", or why not (a str)."""
    if source == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        return stream, None, False
    try:
        stream = open(source, "rb")  # noqa: SIM115 - closed by run_batch
    except FileNotFoundError:
        return f"no such file: {source}"
    except IsADirectoryError:
        return f"{source} is a directory, not a batch file"
    except PermissionError:
        return f"cannot read {source}: permission denied"
    except OSError as exc:
        return f"cannot read {source}: {exc.strerror or exc}"
    try:
        size = os.fstat(stream.fileno()).st_size if os.path.isfile(source) else None
    except OSError:
        size = None
    return stream, size, True


def encoding_problem(reader, source):
    """Why the input cannot be read as UTF-8 (it is UTF-16), or None."""
    head = reader.head(4)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        name = "stdin" if source == "-" else source
        return (f"{name} is UTF-16 encoded; batch input must be UTF-8 "
                f"(convert it with: iconv -f UTF-16 -t UTF-8)")
    return None
