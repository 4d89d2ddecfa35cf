"""The `NAME=VALUE` grammar of bindings (and of `--gradient`).

VALUE is one of
  - a number: `2`, `-2.5`, `1e-3`, `inf`, `-inf`, `nan`, `pi`, `e`
  - a nested list: `[[1,2,3],[4,5,6]]` (rectangular; `[]` has shape (0,))
  - a constructor: `rand(2,3)`, `randn(3)`, `ones(2,3)`, `zeros(3)`, `eye(3)`, `eye(2,3)`,
    `arange(4)`, `arange(1,5)`, `arange(0,1,0.25)`, `linspace(0,1,5)`
  - a file: `@path.npy` (never unpickled) or `@path.csv` (comma separated, one row a line, `#` comments)

Every value comes back as a float64 numpy array (0-d for a number). Every rejection is an
AutodiffError; array sizes are checked against `limits.max_elements()` before anything is allocated.
Positions are 1-based columns into the text given (plus `offset`, see `parse_value`).
"""
import math
import os
import re

import numpy as np

from . import limits
from .errors import AutodiffError
from .limits import MAX_LIST_DEPTH


_NUMBER = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?|inf(?:inity)?|nan|pi|e)(?![\w.])",
    re.IGNORECASE,
)
_INTEGER = re.compile(r"[+-]?\d+")
_CALL = re.compile(r"([A-Za-z_]\w*)\s*\((.*)\)\s*$", re.DOTALL)
_CONSTANTS = {"pi": math.pi, "e": math.e}
_EXPECTED = ("expected a number, a list like [1,2], rand(2,3)/randn/arange/ones/zeros/linspace/eye, "
             "or @file.npy/.csv")


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


def _limit(max_elements):
    return limits.max_elements() if max_elements is None else max_elements


def _check_size(what, count, max_elements):
    if count > max_elements:
        raise AutodiffError(
            "limit",
            f"{what} would have {count} elements; the limit is {max_elements} "
            f"(set AUTODIFF_MAX_ELEMENTS to raise it)",
        )


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
    return name, value


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
        if _NUMBER.fullmatch(stripped):
            return np.array(_number_value(stripped), dtype=np.float64)
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
        self.stack = []  # frames: [column, number of children, shape of first child or None]
        self.shape = None

    def open(self, column):
        if len(self.stack) >= MAX_LIST_DEPTH:
            self.fail(f"list{_for(self.name)} is nested more than {MAX_LIST_DEPTH} deep", column, "limit")
        self.stack.append([column, 0, None])

    def number(self, value, column):
        if len(self.flat) >= self.max_elements:
            _check_size(f"the list{_for(self.name)}", len(self.flat) + 1, self.max_elements)
        self.flat.append(value)
        self._child((), column)

    def close(self):
        column, count, child = self.stack.pop()
        shape = (count,) + (child or ())
        if self.stack:
            self._child(shape, column)
        else:
            self.shape = shape

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
        if match:
            builder.number(_number_value(match.group()), i + 1)
            expect_value = just_opened = False
            i = match.end()
            continue
        wanted = "a number or '['" if expect_value else "',' or ']'"
        fail(f"expected {wanted} in the list{_for(name)}, got '{_show(text[i:], 10)}'", i + 1)
    if builder.shape is None:
        fail(f"unclosed '['{_for(name)}: expected ']'", n + 1)
    return builder.array()


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
            if not _NUMBER.fullmatch(token):
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
    _check_size(text, math.prod(shape), max_elements)

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

def _read_file(path, name, max_elements, fail):
    if not path:
        fail(f"missing file name after '@'{_for(name)}")
    full = os.path.expanduser(path)
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
    _check_size(f"@{path}", math.prod(shape), max_elements)
    return np.asarray(np.load(full, allow_pickle=False), dtype=np.float64)


def _read_csv(full, path, name, max_elements, fail):
    # A number rarely needs more than 64 characters: refuse a file far too big before reading it.
    size = os.path.getsize(full)
    if size > 64 * max_elements + 2**20:
        raise AutodiffError("limit", f"@{path} is {size} bytes, too big for the limit of {max_elements} "
                                     f"elements (set AUTODIFF_MAX_ELEMENTS to raise it)")
    rows, width, first_line, count = [], None, None, 0
    with open(full, encoding="utf-8") as f:
        for line_number, line in enumerate(f, 1):
            line = line.split("#", 1)[0]
            if not line.strip():
                continue
            row = []
            for column, field in enumerate(line.split(","), 1):
                token = field.strip()
                if not _NUMBER.fullmatch(token):
                    shown = f"'{_show(token, 20)}' is not a number" if token else "empty field"
                    fail(f"cannot read {path}{_for(name)}: line {line_number}, field {column}: {shown}")
                row.append(_number_value(token))
            if width is None:
                width, first_line = len(row), line_number
            elif len(row) != width:
                fail(f"cannot read {path}{_for(name)}: ragged rows: line {line_number} has {len(row)} "
                     f"values but line {first_line} has {width}")
            count += len(row)
            _check_size(f"@{path}", count, max_elements)
            rows.append(np.array(row, dtype=np.float64))
    if not rows:
        return np.zeros((0,))
    out = np.stack(rows)
    return out.reshape(-1) if out.shape[0] == 1 or out.shape[1] == 1 else out


# --------------------------------------------------------------------------------------------
# JSON records and --gradient

def value_from_json(obj, *, rng=None, max_elements=None, name=None):
    """A binding from a JSON record: a number, a nested list (numbers or "nan"/"inf" strings), or a
    string in the binding grammar. Bools, null and objects are rejected."""
    max_elements = _limit(max_elements)

    def fail(message, column=None, kind="binding"):
        raise AutodiffError(kind, message, None)

    if isinstance(obj, str):
        return parse_value(obj, rng=rng, max_elements=max_elements, name=name)
    if isinstance(obj, np.ndarray) and obj.dtype.kind in "biuf":   # from the library: no walk needed
        if obj.size > max_elements:
            fail(f"the value{_for(name)} has {obj.size} elements; the limit is {max_elements} "
                 f"(set AUTODIFF_MAX_ELEMENTS to raise it)", kind="limit")
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


def _json_number(item, name, fail):
    if isinstance(item, str) and _NUMBER.fullmatch(item.strip()):
        return _number_value(item.strip())
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
        _check_size("ones", math.prod(output_shape), _limit(max_elements))
        return np.ones(output_shape)
    if isinstance(value, str):
        seed = parse_value(value, rng=rng, max_elements=max_elements, name="gradient",
                           offset=offset, source=source)
    else:
        seed = value_from_json(value, rng=rng, max_elements=max_elements, name="gradient")
    if seed.shape != output_shape:
        raise AutodiffError("shape", f"gradient has shape {seed.shape} but the output has shape {output_shape}")
    return seed
