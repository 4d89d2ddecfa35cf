"""The `NAME=VALUE` grammar of bindings (and of `--gradient`).

VALUE is one of
  - a number: `2`, `-2.5`, `1e-3`, `inf`, `-inf`, `nan`, `pi`, `e`
  - a nested list: `[[1,2,3],[4,5,6]]` (rectangular; `[]` has shape (0,))
  - a constructor: `rand(2,3)`, `randn(3)`, `ones(2,3)`, `zeros(3)`, `eye(3)`, `eye(2,3)`,
    `arange(4)`, `arange(1,5)`, `arange(0,1,0.25)`, `linspace(0,1,5)`
  - a file: `@path.npy` (never unpickled) or `@path.csv` (comma separated, one row a line, `#` comments,
    UTF-8 with or without a byte order mark). Inside `files_under(folder, root)` (batch mode) a
    relative path is read from `folder`, and a path that resolves outside `root` is refused.

Every value comes back as a float64 numpy array (0-d for a number). Every rejection is an
AutodiffError; array sizes are checked against `limits.max_elements()` before anything is allocated
(a CSV: element by element as it is read), an empty dimension counting as 1 (see `_size`). Parsing
is linear in the text: no backtracking pattern, and a number has at most MAX_NUMBER_LENGTH characters.
Positions are 1-based columns into the text given (plus `offset`, see `parse_value`).
"""
import functools
import math
import os
import re
from array import array
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

from ..settings import limits
from ..errors import AutodiffError
from ..settings.limits import MAX_LIST_DEPTH, MAX_NUMBER_LENGTH   # the tokenizer's number limit too


# Every quantifier is possessive and no two parts can match the same characters, so a match (or a
# failed one) costs time linear in the text: `111...1x` is refused at once, whatever its length.
_NUMBER = re.compile(
    r"[+-]?(?:(?:\d++(?:\.\d*+)?+|\.\d++)(?:e[+-]?\d++)?+|inf(?:inity)?+|nan|pi|e)",
    re.IGNORECASE,
)
_INTEGER = re.compile(r"[+-]?\d++")
_CALL = re.compile(r"([A-Za-z_]\w*)\s*\((.*)\)\s*$", re.DOTALL)
_CONSTANTS = {"pi": math.pi, "e": math.e}
_EXPECTED = ("expected a number, a list like [1,2], rand(2,3)/randn/arange/ones/zeros/linspace/eye, "
             "or @file.npy/.csv")
_TOO_LONG = f"longer than {MAX_NUMBER_LENGTH} characters, the most a number may have"


def _for(name):
    return f" for {name}" if name else ""


def _show(text, width=40):
    text = text.strip()
    return text if len(text) <= width else text[: width - 3] + "..."


def _number_value(token):
    """float of a token that fully matches _NUMBER."""
    body = token.lstrip("+-").lower()
    if body in _CONSTANTS:
        return -_CONSTANTS[body] if token[0] == "-" else _CONSTANTS[body]
    return float(token)


def _number(token, fail, what, column=None):
    """float of `token` if it is a number, else None. A number longer than MAX_NUMBER_LENGTH is a
    limit error (`what` names it in the message)."""
    if not _NUMBER.fullmatch(token):
        return None
    if len(token) > MAX_NUMBER_LENGTH:
        fail(f"{what} is {_TOO_LONG}", column, "limit")
    return _number_value(token)


def _limit(max_elements):
    return limits.max_elements() if max_elements is None else max_elements


_size = limits.counted_elements     # an empty dimension counts as 1


# While value_of_shape builds a value: what it must be ("x has shape ()", for a tangent of x):
# then a value over its element limit is a shape error, refused before it is allocated.
_MUST_HAVE_SHAPE = ContextVar("autodiff_must_have_shape", default=None)


def _check_size(what, count, max_elements, shape=None, fail=None, column=None):
    """Refuse more than max_elements elements; the message shows `shape` if given, and `fail`
    (parse_value's) places the error at `column`."""
    if count <= max_elements:
        return
    shown = ""
    if shape is not None:
        empty = ", an empty dimension counting as 1" if 0 in shape else ""
        shown = f" (shape {tuple(shape)}{empty})"
    must = _MUST_HAVE_SHAPE.get()
    if must is not None:
        kind, message = "shape", f"{what} would have {count} elements{shown}, but {must}"
    else:
        kind, message = "limit", (f"{what} would have {count} elements{shown}; the limit is {max_elements} "
                                  f"(set AUTODIFF_MAX_ELEMENTS to raise it)")
    if fail is not None:
        fail(message, column, kind)
    raise AutodiffError(kind, message)


# --------------------------------------------------------------------------------------------
# NAME=VALUE

def parse_binding_arg(text):
    """Split `NAME=VALUE` into (name, value text). The value text is everything after the first `=`."""
    name, eq, value = text.partition("=")
    if not eq:
        raise AutodiffError("binding", f"expected NAME=VALUE, got '{_show(text)}'", len(text) + 1,
                            hint="for example x=2", source=text)
    if not name.isidentifier():
        shown = f"'{name}' is not a valid variable name" if name else "missing variable name before '='"
        raise AutodiffError("binding", f"{shown} in binding '{_show(text)}'", 1, source=text)
    check_binding_name(name, f" in binding '{_show(text)}'", 1, text)
    return name, value


def check_binding_name(name, where="", column=None, source=None):
    """A binding may not be named like a constant of the expression language (`pi`, `e`): the
    expression would read the constant and silently ignore the value, so the clash is an error."""
    if isinstance(name, str) and name in _CONSTANTS:
        raise AutodiffError("binding", f"'{name}' is a constant ({_CONSTANTS[name]!r}), not a variable: it "
                                       f"cannot be bound{where}", column,
                            hint=f"rename the variable in the expression and the binding, e.g. {name}_", source=source)


def parse_binding(text, *, rng=None, max_elements=None):
    """`NAME=VALUE` -> (name, float64 array); error positions are columns into `text`."""
    name, value = parse_binding_arg(text)
    return name, parse_value(value, rng=rng, max_elements=max_elements, name=name,
                             offset=len(name) + 1, source=text)


# --------------------------------------------------------------------------------------------
# VALUE

def parse_value(text, *, rng=None, max_elements=None, name=None, offset=0, source=None):
    """Parse a binding VALUE into a float64 array.

    rng:          numpy Generator for rand/randn (default: a fresh, unseeded one)
    max_elements: size limit (default limits.max_elements())
    name:         the variable, for messages
    offset, source: error positions are `offset` + the column in `text`, and refer to `source`
    """
    source = text if source is None else source
    max_elements = _limit(max_elements)

    def fail(message, column=None, kind="binding"):
        raise AutodiffError(kind, message, None if column is None else offset + column, source=source)

    if not isinstance(text, str):
        fail(f"a binding value must be text, not {type(text).__name__}")
    stripped = text.strip()
    start = len(text) - len(text.lstrip()) + 1  # column of the first non-blank character
    if not stripped:
        fail(f"missing value{_for(name)}", start)
    try:
        if stripped[0] == "@":
            return _read_file(stripped[1:].strip(), name, max_elements, fail)
        if stripped[0] == "[":
            return _parse_list_text(text, start - 1, name, max_elements, fail)
        number = _number(stripped, fail, f"the number{_for(name)}", start)
        if number is not None:
            return np.array(number, dtype=np.float64)
        call = _CALL.match(stripped)
        if call:
            return _constructor(call, stripped, start, name, rng, max_elements, fail)
    except AutodiffError:
        raise
    except MemoryError:
        fail(f"not enough memory for the value{_for(name)} '{_show(stripped)}'", kind="limit")
    except (ValueError, OverflowError, OSError) as err:
        fail(f"cannot read value '{_show(stripped)}'{_for(name)}: {err}", start)
    fail(f"cannot read value '{_show(stripped)}'{_for(name)}: {_EXPECTED}", start)


class _Builder:
    """Assembles a nested list from open/number/close events, iteratively, checking it is rectangular."""

    def __init__(self, name, max_elements, fail):
        self.name, self.max_elements, self.fail = name, max_elements, fail
        self.flat = []
        self.elements = 0   # numbers, plus 1 for each empty list (see _size)
        self.stack = []  # frames: [column, number of children, shape of first child or None]
        self.shape = None

    def open(self, column):
        if len(self.stack) >= MAX_LIST_DEPTH:
            self.fail(f"list{_for(self.name)} is nested more than {MAX_LIST_DEPTH} deep", column, "limit")
        self.stack.append([column, 0, None])

    def number(self, value, column):
        self._count()
        self.flat.append(value)
        self._child((), column)

    def close(self):
        column, count, child = self.stack.pop()
        if count == 0:
            self._count()
        shape = (count,) + (child or ())
        if self.stack:
            self._child(shape, column)
        else:
            self.shape = shape

    def _count(self):
        """One more element (a number or an empty list), refused as soon as it is one too many."""
        self.elements += 1
        if self.elements > self.max_elements:
            _check_size(f"the list{_for(self.name)}", self.elements, self.max_elements)

    def _child(self, shape, column):
        frame = self.stack[-1]
        frame[1] += 1
        if frame[2] is None:
            frame[2] = shape
        elif frame[2] != shape:
            self.fail(f"ragged nested list{_for(self.name)}: element {frame[1]} of a list at depth "
                      f"{len(self.stack)} has shape {shape} but element 1 has shape {frame[2]}", column)

    def array(self):
        return np.array(self.flat, dtype=np.float64).reshape(self.shape)


def _parse_list_text(text, i, name, max_elements, fail):
    """The list grammar, one token at a time: `[`, `]`, `,`, numbers, blanks. No recursion."""
    builder = _Builder(name, max_elements, fail)
    expect_value = True  # after `[` or `,`: a value (or `]` right after `[`)
    just_opened = False
    n = len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if builder.shape is not None:
            fail(f"unexpected '{c}' after the end of the list{_for(name)}", i + 1)
        if c == "[" and expect_value:
            builder.open(i + 1)
            just_opened = True
            i += 1
            continue
        if c == "]" and (not expect_value or just_opened):
            builder.close()
            expect_value = just_opened = False
            i += 1
            continue
        if c == "," and not expect_value and builder.stack:
            expect_value, i = True, i + 1
            continue
        match = _NUMBER.match(text, i) if expect_value else None
        if match and _ends_list_item(text, match.end()):
            if match.end() - i > MAX_NUMBER_LENGTH:
                fail(f"a number in the list{_for(name)} is {_TOO_LONG}", i + 1, "limit")
            builder.number(_number_value(match.group()), i + 1)
            expect_value = just_opened = False
            i = match.end()
            continue
        wanted = "a number or '['" if expect_value else "',' or ']'"
        fail(f"expected {wanted} in the list{_for(name)}, got '{_show(text[i:], 10)}'", i + 1)
    if builder.shape is None:
        fail(f"unclosed '['{_for(name)}: expected ']'", n + 1)
    return builder.array()


def _ends_list_item(text, i):
    """Whether a number may end before text[i] in a list (`[1x]`, `[1.2.3]` and `[1e]` are not lists)."""
    return i == len(text) or text[i] in ",]" or text[i].isspace()


def _constructor(call, text, start, name, rng, max_elements, fail):
    func, body = call.group(1), call.group(2)
    if func not in _CONSTRUCTORS:
        fail(f"unknown function '{func}' in the value{_for(name)}: {_EXPECTED}", start)
    # arguments: (token, column) pairs
    args, column = [], start + call.start(2)
    if body.strip():
        for piece in body.split(","):
            token = piece.strip()
            col = column + len(piece) - len(piece.lstrip())
            if _number(token, fail, f"{func}: argument {len(args) + 1}", col) is None:
                fail(f"{func}: argument '{_show(token, 20)}' is not a number", col)
            args.append((token, col))
            column += len(piece) + 1
    low, high, usage = _CONSTRUCTORS[func]
    if not low <= len(args) <= high:
        fail(f"{func} takes {usage}, got {len(args)} argument{'s' if len(args) != 1 else ''}", start)

    def dim(arg):
        token, col = arg
        if not _INTEGER.fullmatch(token):
            fail(f"{func}: '{token}' is not a whole number", col)
        if token.lstrip("+-").lstrip("0").__len__() > 18:   # beyond any array: and int() of 5000 digits refuses
            fail(f"{func}: size {token[:20]}... is far beyond the element limit {max_elements} "
                 f"(set AUTODIFF_MAX_ELEMENTS to raise it)", col, kind="limit")
        if int(token) < 0:
            fail(f"{func}: negative size {token}", col)
        return int(token)

    def real(arg):
        return _number_value(arg[0])

    if func in ("rand", "randn", "ones", "zeros"):
        shape = tuple(dim(a) for a in args)
    elif func == "eye":
        shape = (dim(args[0]), dim(args[-1]))
    elif func == "linspace":
        shape = (dim(args[2]) if len(args) == 3 else 50,)
    else:  # arange
        begin, stop, step = (0.0, real(args[0]), 1.0) if len(args) == 1 else (
            real(args[0]), real(args[1]), real(args[2]) if len(args) == 3 else 1.0)
        if not all(map(math.isfinite, (begin, stop, step))):
            fail("arange: arguments must be finite", start)
        if step == 0:
            fail("arange: step must not be zero", args[2][1])
        count = (stop - begin) / step
        if not math.isfinite(count):
            fail("arange: too many elements", start, "limit")
        shape = (max(0, math.ceil(count)),)
    _check_size(text, _size(shape), max_elements, shape, fail, start)

    with np.errstate(all="ignore"):
        if func in ("rand", "randn"):
            rng = np.random.default_rng() if rng is None else rng
            out = rng.random(shape) if func == "rand" else rng.standard_normal(shape)
        elif func == "ones":
            out = np.ones(shape)
        elif func == "zeros":
            out = np.zeros(shape)
        elif func == "eye":
            out = np.eye(*shape)
        elif func == "linspace":
            out = np.linspace(real(args[0]), real(args[1]), shape[0])
        else:
            out = begin + step * np.arange(shape[0], dtype=np.float64)
    return np.asarray(out, dtype=np.float64)


# name: (fewest arguments, most arguments, how to call it)
_CONSTRUCTORS = {
    "rand": (1, MAX_LIST_DEPTH, "the shape, like rand(2,3)"),
    "randn": (1, MAX_LIST_DEPTH, "the shape, like randn(2,3)"),
    "ones": (1, MAX_LIST_DEPTH, "the shape, like ones(2,3)"),
    "zeros": (1, MAX_LIST_DEPTH, "the shape, like zeros(2,3)"),
    "eye": (1, 2, "eye(n) or eye(rows, columns)"),
    "arange": (1, 3, "arange(stop), arange(start, stop) or arange(start, stop, step)"),
    "linspace": (2, 3, "linspace(start, stop) or linspace(start, stop, count)"),
}


# --------------------------------------------------------------------------------------------
# files

# (folder, root) while a batch record is evaluated; None: any file, relative to the current directory
_FILES = ContextVar("autodiff_files", default=None)


@contextmanager
def files_under(folder, root):
    """Within: `@path` reads a relative path from `folder`, and refuses any path that resolves
    (after symlinks) outside `root` (a batch file must not read any local file)."""
    token = _FILES.set((folder, _real_folder(os.path.abspath(root))))
    try:
        yield
    finally:
        _FILES.reset(token)


@functools.lru_cache(maxsize=16)
def _real_folder(folder):
    """os.path.realpath, remembered: a batch enters files_under once per record, with the same root."""
    return os.path.realpath(folder)


def _locate(path, name, fail):
    """The file `@path` names, under the rules of files_under. Refusals do not say whether a
    file outside the root exists."""
    full = os.path.expanduser(path)
    policy = _FILES.get()
    if policy is None:
        return full
    folder, root = policy
    full = os.path.realpath(os.path.join(folder, full))
    if os.path.commonpath([full, root]) != root:
        fail(f"cannot read {path}{_for(name)}: it is outside {root}, the folder a batch may read files "
             f"from (the batch file's folder, or --files-root DIR)")
    return full


def _read_file(path, name, max_elements, fail):
    if not path:
        fail(f"missing file name after '@'{_for(name)}")
    full = _locate(path, name, fail)
    extension = os.path.splitext(path)[1].lower()
    if extension not in (".npy", ".csv"):
        fail(f"cannot read {path}{_for(name)}: unknown file type '{extension}' (expected .npy or .csv)")
    if not os.path.exists(full):
        fail(f"cannot read {path}{_for(name)}: no such file")
    if os.path.isdir(full):
        fail(f"cannot read {path}{_for(name)}: it is a directory")
    if not os.path.isfile(full):   # /dev/zero, a FIFO: no size to check, and maybe no end
        fail(f"cannot read {path}{_for(name)}: not a regular file")
    try:
        if extension == ".npy":
            return _read_npy(full, path, name, max_elements, fail)
        return _read_csv(full, path, name, max_elements, fail)
    except AutodiffError:
        raise
    except MemoryError:
        fail(f"not enough memory to read {path}{_for(name)}", kind="limit")
    except (ValueError, OverflowError, OSError, EOFError) as err:
        fail(f"cannot read {path}{_for(name)}: {err}")


def _read_npy(full, path, name, max_elements, fail):
    with open(full, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    if dtype.hasobject:
        fail(f"cannot read {path}{_for(name)}: it holds Python objects, which are never unpickled")
    if dtype.kind not in "biuf":
        fail(f"cannot read {path}{_for(name)}: dtype {dtype} is not real numbers")
    if any(d < 0 for d in shape):
        fail(f"cannot read {path}{_for(name)}: its header gives the shape {shape}, with a negative dimension")
    _check_size(f"@{path}", _size(shape), max_elements, shape)
    return np.asarray(np.load(full, allow_pickle=False), dtype=np.float64)


def _read_csv(full, path, name, max_elements, fail):
    # A number rarely needs more than 64 characters: refuse a file far too big before reading it.
    size = os.path.getsize(full)
    if size > 64 * max_elements + 2**20:
        must = _MUST_HAVE_SHAPE.get()
        if must is not None:
            raise AutodiffError("shape", f"@{path} is {size} bytes, far more than {max_elements} elements need, "
                                         f"but {must}")
        raise AutodiffError("limit", f"@{path} is {size} bytes, too big for the limit of {max_elements} "
                                     f"elements (set AUTODIFF_MAX_ELEMENTS to raise it)")
    reader = _CsvReader(path, name, max_elements, fail)
    with open(full, encoding="utf-8-sig") as f:   # -sig: a byte order mark (Excel's) is skipped
        while chunk := f.read(_CSV_CHUNK):
            *lines, rest = chunk.split("\n")
            for line in lines:
                reader.feed(line, line_ends=True)
            reader.feed(rest, line_ends=False)
    reader.feed("", line_ends=True)
    return reader.array()


_CSV_CHUNK = 1 << 16   # characters read at a time


class _CsvReader:
    """Comma-separated numbers, one row a line, `#` comments, fed a chunk at a time.

    Elements are counted as they are read (the first one past the limit is refused at once), and
    a field cut by a chunk's end is carried over only while it can still be a number: memory is
    the values themselves plus one chunk, whatever the length of a line.
    """

    def __init__(self, path, name, max_elements, fail):
        self.where, self.path, self.max_elements, self.fail = f"{path}{_for(name)}", path, max_elements, fail
        self.values = array("d")
        self.line = 1            # line number of the text being fed
        self.fields = 0          # fields read so far on this line
        self.partial = ""        # the start of a field that the next chunk continues
        self.in_comment = False  # past a `#` on this line
        self.rows, self.width, self.first_line = 0, None, None

    def feed(self, text, line_ends):
        """The next piece of the current line (no newline in `text`); `line_ends`: the line ends after it."""
        if not self.in_comment:
            comment = text.find("#")
            if comment >= 0:
                text, self.in_comment = text[:comment], True
            pieces = text.split(",")
            pieces[0] = self.partial + pieces[0]
            cut = None if line_ends or self.in_comment else pieces.pop()   # continued by the next chunk
            if cut is None and self.fields == 0 and len(pieces) == 1 and not pieces[0].strip():
                pieces = []      # a blank line, or only a comment
            for piece in pieces:
                self._field(piece.strip())
            self.partial = "" if cut is None else self._carry(cut)
        if line_ends:
            self._end_row()

    def _error(self, message, kind="binding"):
        self.fail(f"cannot read {self.where}: line {self.line}, field {self.fields}: {message}", kind=kind)

    def _carry(self, piece):
        """What to keep of a field cut by a chunk's end: its text without the blanks around it,
        plus one blank if it ended in blanks (so that `1   2` stays two words)."""
        token = piece.strip()
        if len(token) > MAX_NUMBER_LENGTH:
            self.fields += 1
            self._error(_TOO_LONG, "limit")
        return token + " " if token and piece[-1].isspace() else token

    def _field(self, token):
        self.fields += 1
        if not token:
            self._error("empty field")
        if len(token) > MAX_NUMBER_LENGTH:
            self._error(_TOO_LONG, "limit")
        if not _NUMBER.fullmatch(token):
            self._error(f"'{_show(token, 20)}' is not a number")
        if self.width is not None and self.fields > self.width:
            self.fail(f"cannot read {self.where}: ragged rows: line {self.line} has more than {self.width} "
                      f"values but line {self.first_line} has {self.width}")
        if len(self.values) >= self.max_elements:
            _check_size(f"@{self.path}", len(self.values) + 1, self.max_elements)
        self.values.append(_number_value(token))

    def _end_row(self):
        if self.fields:
            if self.width is None:
                self.width, self.first_line = self.fields, self.line
            elif self.fields != self.width:
                self.fail(f"cannot read {self.where}: ragged rows: line {self.line} has {self.fields} values "
                          f"but line {self.first_line} has {self.width}")
            self.rows += 1
        self.line += 1
        self.fields, self.partial, self.in_comment = 0, "", False

    def array(self):
        if not self.rows:
            return np.zeros((0,))
        out = np.frombuffer(self.values, dtype=np.float64).copy()
        return out if self.rows == 1 or self.width == 1 else out.reshape(self.rows, self.width)


# --------------------------------------------------------------------------------------------
# JSON records and --gradient

def value_from_json(obj, *, rng=None, max_elements=None, name=None):
    """A binding from a JSON record: a number, a nested list (numbers or "nan"/"inf" strings), or a
    string in the binding grammar. Bools, null and objects are rejected."""
    max_elements = _limit(max_elements)
    check_binding_name(name)

    def fail(message, column=None, kind="binding"):
        raise AutodiffError(kind, message, None)

    if isinstance(obj, str):
        return parse_value(obj, rng=rng, max_elements=max_elements, name=name)
    if isinstance(obj, np.ndarray) and obj.dtype.kind in "biuf":   # from the library: no walk needed
        _check_size(f"the value{_for(name)}", _size(obj.shape), max_elements, obj.shape)
        return np.asarray(obj, dtype=np.float64)
    if isinstance(obj, np.ndarray):
        obj = obj.tolist()
    if not isinstance(obj, list):
        return np.array(_json_number(obj, name, fail), dtype=np.float64)
    builder = _Builder(name, max_elements, fail)
    builder.open(None)
    iterators = [iter(obj)]
    try:
        while iterators:
            item = next(iterators[-1], _Builder)  # _Builder: a sentinel for "exhausted"
            if item is _Builder:
                iterators.pop()
                builder.close()
            elif isinstance(item, list):
                builder.open(None)
                iterators.append(iter(item))
            else:
                builder.number(_json_number(item, name, fail), None)
        return builder.array()
    except MemoryError:
        fail(f"not enough memory for the value{_for(name)}", kind="limit")


def value_of_shape(obj, shape, *, rng=None, name=None, must=None, hint=None):
    """value_from_json for a value that must have `shape` (a tangent: its variable's shape), known
    before it is built: it is built with an element limit of that shape's size, so a larger one is
    refused as a shape error ("..., but `must`") before it is allocated (`ones(100000000)` for a
    scalar costs nothing); then its shape is compared. `hint` goes with either error."""
    shape = tuple(shape)
    must = must or f"it must have the shape {shape}"
    token = _MUST_HAVE_SHAPE.set(must)
    try:
        value = value_from_json(obj, rng=rng, max_elements=_size(shape), name=name)
        if value.shape != shape:
            raise AutodiffError("shape", f"the {name or 'value'} has shape {value.shape} but {must}")
    except AutodiffError as err:
        if err.kind == "shape" and err.hint is None:
            err.hint = hint
        raise
    finally:
        _MUST_HAVE_SHAPE.reset(token)
    return value


def _json_number(item, name, fail):
    if isinstance(item, str):
        number = _number(item.strip(), fail, f"a number{_for(name)}")
        if number is not None:
            return number
    if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, float, np.number)):
        shown = "a bool" if isinstance(item, (bool, np.bool_)) else repr(item)[:40]
        fail(f"value{_for(name)} must be a number or a list of numbers, not {shown}")
    try:
        return float(item)
    except OverflowError:
        fail(f"number{_for(name)} is too large for float64")


def parse_gradient_seed(value, output_shape, *, rng=None, max_elements=None, offset=0, source=None):
    """The `--gradient` seed: the binding grammar (text or JSON) or the word `ones`.
    Its shape must equal the output's shape exactly."""
    output_shape = tuple(output_shape)
    if isinstance(value, str) and value.strip() == "ones":
        _check_size("ones", _size(output_shape), _limit(max_elements), output_shape)
        return np.ones(output_shape)
    if isinstance(value, str):
        seed = parse_value(value, rng=rng, max_elements=max_elements, name="gradient",
                           offset=offset, source=source)
    else:
        seed = value_from_json(value, rng=rng, max_elements=max_elements, name="gradient")
    if seed.shape != output_shape:
        raise AutodiffError("shape", f"gradient has shape {seed.shape} but the output has shape {output_shape}")
    return seed
