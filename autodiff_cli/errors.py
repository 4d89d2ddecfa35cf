"""The one error type every user-facing rejection uses.

The CLI turns it into `error: ...` on stderr and exit code 2; `--json` and batch turn it into
the contract's `error` object: {"kind", "message", "position"}.
"""


class AutodiffError(Exception):
    """A rejection the user can act on.

    kind:     short category: "parse", "name", "binding", "shape", "value", "limit", "timeout", "usage".
    message:  one line, no trailing period needed, says what is wrong.
    position: 1-based column in `source` where the problem is, or None.
    hint:     optional one-line suggestion ("write 2*x").
    source:   the text the position refers to (the expression), for the caret picture.
    """

    def __init__(self, kind, message, position=None, *, hint=None, source=None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.position = position
        self.hint = hint
        self.source = source

    def __str__(self):
        where = f" at column {self.position}" if self.position is not None and "column" not in self.message else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{self.message}{where}{hint}"

    def to_dict(self):
        return {"kind": self.kind, "message": str(self), "position": self.position}
