"""The record grammar of batch input: JSON Lines records and text records, one a line.

    for number, record in read_records(lines):   # record: a dict of JSON_KEYS, or a RecordError
        ...

  - JSON Lines: {"expr": "x**2", "bindings": {"x": 3}, "gradient": ..., "wrt": ["x"],
    "mode": "grad" | "hessian" | "jacobian" | "derivatives" | "jvp", "order": 3,
    "tangents": {"x": 1}, "id": ...}; only "expr" is required.
  - text:  EXPR | NAME=VALUE ... | --gradient VALUE --wrt x,y --mode hessian --order 3 --tangent x=1 --id NAME
    (see parse_text_record).
The format is detected per line, so a file may mix both. Blank lines and lines starting with `#`
are skipped; CRLF line ends, a UTF-8 byte order mark and invalid UTF-8 (a RecordError for that
line) are handled; line numbers are physical lines.
"""
import json
from itertools import chain

from ..calculus import MODES as CALCULUS_MODES
from ..errors import AutodiffError
from ..settings.limits import MAX_RECORD_DEPTH
from .reader import NOT_READY, LongLine

MODES = (*CALCULUS_MODES, "minimize")      # a record's "mode": every mode of calculus/, and minimize
# the options of `autodiff minimize`, for "mode": "minimize" records (minimize() checks their values)
MINIMIZE_KEYS = ("optimizer", "lr", "momentum", "steps", "tol", "clip_value", "clip_norm", "trace")
JSON_KEYS = ("expr", "bindings", "gradient", "wrt", "mode", "order", "tangents", "id")   # every record has these (None if absent)
TEXT_OPTIONS = {"--gradient": "gradient", "-g": "gradient", "--wrt": "wrt", "--mode": "mode", "--order": "order",
                "--tangent": "tangents", "--id": "id", **{"--" + key.replace("_", "-"): key for key in MINIMIZE_KEYS}}
BOM = "\ufeff"


class RecordError(AutodiffError):
    """An input line that cannot become a record (kind "record"), with what it could salvage:
    the expression text and the record's id, echoed in the error record."""

    def __init__(self, message, *, expression="", record_id=None, kind="record"):
        super().__init__(kind, message, None)
        self.expression = expression
        self.record_id = record_id



def read_records(lines):
    """(line number, record) for every record line of `lines` (bytes or str, with or without line
    ends); a record is a dict with the keys of JSON_KEYS (absent ones None), or a RecordError
    saying why the line is not one. Blank lines and `#` comment lines yield nothing.
    (A NOT_READY from a non-blocking reader is passed on as (None, NOT_READY).)"""
    number = 0
    for raw in lines:
        if raw is NOT_READY:
            yield None, NOT_READY
            continue
        number += 1
        if isinstance(raw, LongLine):
            yield number, RecordError(f"line is {raw.size} bytes long, over the limit of {raw.limit} "
                                      f"(set AUTODIFF_MAX_LINE_BYTES to raise it)")
            continue
        if isinstance(raw, (bytes, bytearray)):
            try:
                text = bytes(raw).decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, RecordError(
                    f"line is not valid UTF-8: byte 0x{raw[exc.start]:02x} at byte {exc.start + 1} "
                    f"of the line ({exc.reason})")
                continue
        else:
            text = raw
        text = text.rstrip("\r\n")
        if text.startswith(BOM):              # file start, or files concatenated with `cat`
            text = text[1:]
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            record = parse_json_record(text) if stripped.startswith("{") else parse_text_record(text)
        except RecordError as err:
            yield number, err
        except AutodiffError as err:          # pragma: no cover - the parsers raise RecordError
            yield number, RecordError(str(err))
        else:
            yield number, record


def _type_name(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _too_deep(obj):
    """The key of `obj` whose value nests lists/objects more than MAX_RECORD_DEPTH deep, or None.
    Level by level, without recursion (a deep value must not exhaust the stack here, nor later
    when it is pickled for a worker or written out); a level of numbers is looked at in C."""
    for key, value in obj.items():
        level, depth = ([value] if type(value) in (list, dict) else []), 1
        while level:
            if depth > MAX_RECORD_DEPTH:
                return key
            values = list(chain.from_iterable(c.values() if type(c) is dict else c for c in level))
            kinds = set(map(type, values))
            level = [v for v in values if type(v) in (list, dict)] if list in kinds or dict in kinds else []
            depth += 1
    return None


def _no_duplicate_keys(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise RecordError(f"invalid JSON record: key {json.dumps(key)} appears twice")
        seen[key] = value
    return seen


def parse_json_record(text):
    """One JSON Lines record -> the normalized record dict; RecordError if it is not one."""
    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise RecordError(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise RecordError("invalid JSON record: nested too deeply") from None
    except ValueError as exc:   # e.g. an integer of more than 4300 digits
        raise RecordError(f"invalid JSON record: {exc}") from None
    if not isinstance(obj, dict):
        raise RecordError(f"a JSON record must be an object like {{\"expr\": \"x**2\"}}, not {_type_name(obj)}")
    expr = obj.get("expr")
    shown = expr if isinstance(expr, str) else ""
    # (fewer brackets than the limit cannot nest deeper: most records skip the walk)
    too_deep = text.count("[") + text.count("{") > MAX_RECORD_DEPTH and _too_deep(obj)
    if too_deep:
        echoed = obj.get("id") if _too_deep({"id": obj.get("id")}) is None else None
        raise RecordError(f"invalid JSON record: {json.dumps(too_deep)} is nested more than "
                          f"{MAX_RECORD_DEPTH} deep", expression=shown, record_id=echoed)
    record_id = obj.get("id")

    def fail(message):
        raise RecordError(message, expression=shown, record_id=record_id)

    unknown = [k for k in obj if k not in JSON_KEYS and k not in MINIMIZE_KEYS]
    if unknown:
        names = ", ".join(json.dumps(k) for k in unknown)
        fail(f"unknown key{'s' if len(unknown) > 1 else ''} {names}: a record has "
             f"{', '.join(JSON_KEYS)} (only expr is required), and with mode minimize "
             f"{', '.join(MINIMIZE_KEYS)}")
    if "expr" not in obj:
        fail('missing "expr": a record needs at least {"expr": "..."}')
    if not isinstance(expr, str):
        fail(f'"expr" must be a string, not {_type_name(expr)}')
    bindings = obj.get("bindings")
    for key, values in (("bindings", bindings), ("tangents", obj.get("tangents"))):
        if values is None:
            continue
        if not isinstance(values, dict):
            fail(f'"{key}" must be an object like {{"x": 2}}, not {_type_name(values)}')
        what = "binding" if key == "bindings" else "tangent"
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, (int, float, str, list)):
                fail(f"{what} {json.dumps(name)} must be a number, a list or a string like \"rand(3)\", "
                     f"not {_type_name(value)}")
    order = obj.get("order")
    if order is not None and (isinstance(order, bool) or not isinstance(order, int)):
        fail(f'"order" must be a whole number like 3, not {_type_name(order)}')
    gradient = obj.get("gradient")
    if gradient is not None and (isinstance(gradient, bool) or not isinstance(gradient, (int, float, str, list))):
        fail(f'"gradient" must be a number, a list, "ones" or a string value, not {_type_name(gradient)}')
    wrt = obj.get("wrt")
    if wrt is not None:
        if isinstance(wrt, str):
            wrt = [w.strip() for w in wrt.split(",") if w.strip()]
        elif not isinstance(wrt, list) or not all(isinstance(w, str) for w in wrt):
            fail(f'"wrt" must be a list of variable names like ["x", "y"] or a string "x,y", not {_type_name(wrt)}')
    mode = obj.get("mode")
    if mode is not None and mode not in MODES:
        fail(f'"mode" must be one of {", ".join(json.dumps(m) for m in MODES)}, not {json.dumps(mode)[:40]}')
    for key in MINIMIZE_KEYS:
        value = obj.get(key)
        wanted = (str,) if key == "optimizer" else (int, float)
        if value is not None and (isinstance(value, bool) or not isinstance(value, wanted)):
            fail(f'"{key}" must be {"a string" if key == "optimizer" else "a number"}, not {_type_name(value)}')
    record = {"expr": expr, "bindings": bindings, "gradient": gradient, "wrt": wrt, "mode": mode, "order": order,
              "tangents": obj.get("tangents"), "id": record_id}
    record.update({key: obj[key] for key in MINIMIZE_KEYS if obj.get(key) is not None})
    _check_mode_options(record, fail, lambda key: json.dumps(key))
    return record


def _check_mode_options(record, fail, spell):
    """The options of minimize only with "mode": "minimize"."""
    given = [key for key in MINIMIZE_KEYS if record.get(key) is not None]
    if record["mode"] != "minimize" and given:
        fail(f"{spell(given[0])} is an option of mode minimize (this record's mode is {record['mode'] or 'grad'})")


def _split_fields(text, start):
    """Tokens after the expression: [(text, column, quoted)], split at whitespace and `|` outside
    quotes and brackets; a `#` starting a token begins a comment."""
    tokens = []
    buf, tok_start, quoted, quote, depth = [], None, False, None, 0
    i, n = start, len(text)
    while i < n:
        c = text[i]
        if quote:
            if c == quote:
                quote = None
            else:
                buf.append(c)
        elif c in "\"'":
            if tok_start is None:
                tok_start = i
            quote, quoted = c, True
        elif depth == 0 and (c in " \t|" or c == "\f" or c == "\v"):
            if tok_start is not None:
                tokens.append(("".join(buf), tok_start + 1, quoted))
                buf, tok_start, quoted = [], None, False
        elif c == "#" and tok_start is None:
            break
        else:
            if tok_start is None:
                tok_start = i
            if c in "([":
                depth += 1
            elif c in ")]" and depth > 0:
                depth -= 1
            buf.append(c)
        i += 1
    if quote:
        raise RecordError(f"unterminated {quote} quote starting in the token at column {tok_start + 1}")
    if tok_start is not None:
        tokens.append(("".join(buf), tok_start + 1, quoted))
    return tokens


def parse_text_record(line):
    """One text-format record -> the normalized record dict; RecordError if it is not one.

        EXPR | NAME=VALUE NAME=VALUE ... | --gradient VALUE --wrt x,y --mode hessian --id NAME

    The expression runs to the first `|` (which the expression language never uses). After it,
    whitespace and `|` both separate items, so the `|` between bindings and options is optional.
    An item is a binding `NAME=VALUE` (VALUE in the binding grammar; spaces are allowed inside
    brackets and parentheses: `x=[1, 2]`, `A=rand(2, 3)`), or an option: `--gradient VALUE` (also
    `-g`), `--wrt x,y`, `--mode grad|hessian|jacobian|derivatives|jvp`, `--order N`, `--tangent NAME=VALUE`
    (once per variable), `--id NAME`, each also as `--opt=VALUE`.
    Quotes (single or double) keep spaces and `|`/`#` in a value: `--id "first try"`,
    `f="@my data.npy"`. A `#` outside quotes at the start of an item, or anywhere in the
    expression, begins a comment.
    """
    text = line.rstrip("\r\n")
    if text.startswith(BOM):
        text = text[1:]
    end = 0
    while end < len(text) and text[end] not in "|#":
        end += 1
    expr = text[:end].strip()
    if end < len(text) and text[end] == "#":
        tokens = []
    else:
        try:
            tokens = _split_fields(text, end)
        except RecordError as err:
            err.expression = expr
            raise
    record = {"expr": expr, "bindings": None, "gradient": None, "wrt": None, "mode": None, "order": None,
              "tangents": None, "id": None}
    bindings, tangents, given = {}, {}, set()

    def fail(message):
        raise RecordError(message, expression=expr, record_id=record["id"])

    # the id first, so that every other error can echo it
    for k, (tok, _col, _q) in enumerate(tokens):
        if tok == "--id" and k + 1 < len(tokens):
            record["id"] = tokens[k + 1][0]
        elif tok.startswith("--id="):
            record["id"] = tok[5:]
    k = 0
    while k < len(tokens):
        tok, col, quoted = tokens[k]
        name, eq, value = tok.partition("=")
        if tok.startswith("-") and not quoted:
            option = TEXT_OPTIONS.get(name)
            if option is None:
                fail(f"unknown option '{name}' at column {col}: the options of a record are "
                     f"--gradient (-g), --wrt, --mode, --order, --tangent, --id, and for --mode minimize "
                     f"{', '.join('--' + key.replace('_', '-') for key in MINIMIZE_KEYS)}")
            if not eq:
                if k + 1 >= len(tokens):
                    fail(f"option {name} at column {col} needs a value")
                k += 1
                value = tokens[k][0]
            if option in given and option != "tangents":
                fail(f"option {name} is given twice (column {col})")
            given.add(option)
            if option == "tangents":
                variable, has_value, tangent = value.partition("=")
                if not (variable.isidentifier() and has_value and tangent):
                    fail(f"--tangent at column {col} needs NAME=VALUE, like --tangent x=1")
                if variable in tangents:
                    fail(f"the tangent of {variable} is given twice (column {col})")
                tangents[variable] = tangent
            elif option == "order":
                if not value.isdigit():
                    fail(f"--order at column {col} must be a whole number like 3, not '{value[:40]}'")
                record["order"] = int(value)
            elif option == "wrt":
                names = [w.strip() for w in value.split(",") if w.strip()]
                if not names:
                    fail(f"--wrt at column {col} needs variable names, like --wrt x,y")
                record["wrt"] = names
            elif option == "mode":
                if value not in MODES:
                    fail(f"--mode at column {col} must be one of {', '.join(MODES)}, not '{value[:40]}'")
                record["mode"] = value
            elif option == "gradient":
                if value == "":
                    fail(f"--gradient at column {col} needs a value (a number, a list, or ones)")
                record["gradient"] = value
            elif option in MINIMIZE_KEYS:
                record[option] = value          # text; minimize() reads and checks the number
            else:
                record["id"] = value
        elif eq and name.isidentifier():
            if name in bindings:
                fail(f"{name} is bound twice (column {col})")
            if value == "":
                fail(f"binding {name}= at column {col} needs a value, like {name}=2")
            bindings[name] = value
        elif eq:
            fail(f"'{name[:40]}' is not a variable name (binding at column {col})")
        else:
            fail(f"expected NAME=VALUE or an option at column {col}, got '{tok[:40]}' "
                 f"(records look like: EXPR | x=2 y=[1,2] | --wrt x)")
        k += 1
    if not expr:
        fail("missing expression: a text record starts with the expression, like x**2 | x=3")
    _check_mode_options(record, fail, lambda key: "--" + key.replace("_", "-"))
    record["bindings"] = bindings or None
    record["tangents"] = tangents or None
    return record

