"""Where human output goes: one pipe-aware rich console, the escaping of every text that came from
input, stderr lines, and a quiet end after the reader of stdout went away.

Text from input (an expression, an id, a comment, an error message quoting either) is passed
through `escape_text` and shown as plain `rich.text.Text`, never parsed as rich markup: a control
or bidi character is shown escaped (`\\x1b`, `\\u202e`), so input cannot move the cursor, erase
rows or reorder what the terminal shows.
"""
import os
import sys
import unicodedata

_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_UNSAFE_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")   # controls, bidi/format, surrogates, ...


def escape_text(text):
    """`text` with every control, format (bidi, zero-width), separator and unpaired surrogate
    character written as its Python escape; printable text comes back unchanged."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(_escape_char(ch) for ch in text)


def _escape_char(ch):
    if ch.isprintable() or (ch == " "):
        return ch
    if unicodedata.category(ch) not in _UNSAFE_CATEGORIES:    # e.g. U+00A0, a no-break space
        return ch
    if ch in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def console(file=None, *, quiet_broken_pipe=False, **options):
    """A rich Console (options as rich's) that reports a broken pipe as BrokenPipeError; rich's
    default is SystemExit(1) after pointing *sys.stdout* at /dev/null, whatever file the console
    has. With quiet_broken_pipe it just stops printing (for stderr: a progress bar, a summary)."""
    from rich.console import Console

    class PipeAwareConsole(Console):
        def on_broken_pipe(self):
            self.quiet = True
            if not quiet_broken_pipe:
                raise BrokenPipeError

    out = PipeAwareConsole(file=file, **options)
    if "width" not in options:
        out.width = usable_width(out.width)
    return out


MIN_WIDTH = 40          # a narrower COLUMNS (0, 5) or terminal is treated as DEFAULT_WIDTH
DEFAULT_WIDTH = 80
MAX_WIDTH = 4096        # a wider one is treated as this (COLUMNS=1000000)


def usable_width(width):
    """The width to lay output out in: `width` (COLUMNS, the terminal's), DEFAULT_WIDTH when it is
    below MIN_WIDTH (COLUMNS=0 used to empty every table), at most MAX_WIDTH."""
    try:
        width = int(width)
    except (TypeError, ValueError):
        return DEFAULT_WIDTH
    return DEFAULT_WIDTH if width < MIN_WIDTH else min(width, MAX_WIDTH)


def print_lines(out, renderable):
    """Print on the rich console `out`; when it is not a terminal (a pipe, a file), without the
    spaces rich pads table rows with, so that piped lines never end in blanks."""
    if out.is_terminal:
        out.print(renderable)
        return
    with out.capture() as captured:
        out.print(renderable)
    text = "\n".join(line.rstrip() for line in captured.get().split("\n"))
    out.file.write(text)
    out.file.flush()


def write_stderr(text):
    """One message on stderr, flushed (escape what came from input before: escape_text)."""
    sys.stderr.write(text if text.endswith("\n") else text + "\n")
    sys.stderr.flush()


def quiet_output(out=None):
    """After EPIPE (`autodiff ... | head -1`): point the output's file descriptor at /dev/null, so
    that the interpreter's final flush does not complain (the recipe of the Python docs, "Note on
    SIGPIPE")."""
    out = sys.stdout if out is None else out
    try:
        fd = out.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except (AttributeError, ValueError, OSError):
        pass


def cannot_write(exc, out=None):
    """After a failed write to the output (a full disk, /dev/full): silence the output as
    quiet_output does, and return the one-line message for stderr."""
    quiet_output(out)
    return f"error: cannot write output: {exc.strerror or exc}"


def isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False
