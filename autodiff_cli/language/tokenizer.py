"""Split program text into tokens, recognising (and explaining) what the language does not support.

A token is `Token(kind, text, start, end, hint)`:
  kind "num"    a number literal              kind "name"   an identifier
  kind "sep"    `;` or a newline              kind "eof"    end of text (start == len(text))
  kind "error"  something we reject: `text` is the message, `hint` an optional suggestion
  kind "limit"  a number literal too long to be sensible (`text` is the message)
  otherwise the kind is the operator itself: + - * / ** @ ( ) [ ] : , =   (`^` becomes `**`)

Lexical errors are not raised here but handed on as "error" tokens, so the parser reports
problems strictly left to right (`__import__('os')` is first an unknown function, not a string).
Newlines inside parentheses and brackets are dropped, as in Python, so a long call may span lines.
"""
import keyword
import re
import unicodedata
from typing import NamedTuple

from ..limits import MAX_NUMBER_LENGTH
from .functions import FUNCTIONS


class Token(NamedTuple):
    kind: str
    text: str
    start: int
    end: int
    hint: str | None = None



# Alternatives are tried in order: the common ones first; `unsupported` before `op` so that
# `**=`, `//` and `==` are seen whole rather than as `**` `=`, `/` `/` and `=` `=`.
_TOKEN = re.compile(r"""
    (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<num>(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?)
  | (?P<space>[ \t\f]+)
  | (?P<newline>\r\n|\r|\n)
  | (?P<comment>\#[^\r\n]*)
  | (?P<unsupported>\*\*=|//=?|>>=?|<<=?|==|!=|<=|>=|:=|[-+*/@%&|^]=|[%<>&|~{}'"`\\$?!.])
  | (?P<op>\*\*|[-+*/^@()\[\]:,;=])
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)

# What to say about each unsupported operator or bracket.
_UNSUPPORTED = {
    "//": ("floor division '//' is not supported", "use / for division"),
    "%": ("the modulo operator '%' is not supported", None),
    "==": ("comparison '==' is not supported", "'=' names an intermediate: y = x + 1"),
    "!=": ("comparison '!=' is not supported", None),
    "<": ("comparison '<' is not supported", None),
    ">": ("comparison '>' is not supported", None),
    "<=": ("comparison '<=' is not supported", None),
    ">=": ("comparison '>=' is not supported", None),
    ":=": ("assignment expressions ':=' are not supported", "write name = expression as a statement"),
    "&": ("bitwise operator '&' is not supported", None),
    "|": ("bitwise operator '|' is not supported", None),
    "~": ("bitwise operator '~' is not supported", None),
    "<<": ("bitwise operator '<<' is not supported", None),
    ">>": ("bitwise operator '>>' is not supported", None),
    "{": ("braces ('{') are not supported", None),
    "}": ("braces ('}') are not supported", None),
    "'": ("strings are not supported", None),
    '"': ("strings are not supported", None),
    "`": ("backquotes are not supported", None),
    "\\": ("backslashes are not supported", "newlines inside parentheses continue a statement"),
    "$": ("unexpected character '$'", None),
    "?": ("unexpected character '?'", None),
    "!": ("unexpected character '!'", None),
    ".": ("unexpected character '.'", None),
}

_KEYWORDS = {
    "lambda": "lambda expressions are not supported",
    "for": "comprehensions and loops ('for') are not supported",
    "in": "comprehensions and membership tests ('in') are not supported",
    "if": "conditionals ('if') are not supported",
    "else": "conditionals ('else') are not supported",
    "import": "import is not supported",
    "from": "import is not supported",
    "and": "boolean operators ('and') are not supported",
    "or": "boolean operators ('or') are not supported",
    "not": "boolean operators ('not') are not supported",
    "True": "booleans are not supported",
    "False": "booleans are not supported",
    "None": "None is not supported",
}

# Look-alike characters people paste from papers, with what to type instead.
_UNICODE_HINTS = {
    "\u03c0": "write pi", "\u00d7": "write *", "\u22c5": "write *", "\u00b7": "write *",
    "\u00f7": "write /", "\u2212": "write -", "\u00b2": "write **2", "\u00b3": "write **3",
    "\u221a": "write sqrt(...)", "\u2013": "write -", "\u2018": "strings are not supported",
    "\u2019": "strings are not supported", "\u201c": "strings are not supported",
    "\u201d": "strings are not supported",
}

_STRING_PREFIX = re.compile(r"[rRbBuUfF]{1,2}")


def _number_error(text, start, end, source):
    """Why a number literal followed by letters is wrong, or None if it is not."""
    follow = _TOKEN.match(source, end)
    if follow is None or follow.lastgroup != "name":
        return None
    word = follow.group()
    if text == "0" and word[0] in "xXoObB":
        return Token("error", "hexadecimal, octal and binary literals are not supported",
                     start, follow.end(), "write the number in decimal")
    if word in ("j", "J"):
        return Token("error", "complex numbers are not supported", start, follow.end())
    return None    # `2x`: the parser reports the missing operator, with a hint


def _unexpected_character(ch, start):
    if ch.isprintable() and not ch.isspace():
        shown = f"'{ch}'"
    else:
        shown = repr(ch)
    try:
        name = unicodedata.name(ch)
        detail = f" (U+{ord(ch):04X} {name})"
    except ValueError:
        detail = f" (U+{ord(ch):04X})"
    return Token("error", f"unexpected character {shown}{detail}", start, start + 1,
                 _UNICODE_HINTS.get(ch))


# Building tokens with tuple.__new__ skips NamedTuple's Python-level constructor: a 200,000-term
# sum has 400,000 tokens, and this is the tokenizer's hot path.
_new_token = tuple.__new__
_OP_KIND = {"^": "**", ";": "sep"}
_QUOTES = ("'", '"')


def tokenize(source):
    """Return the list of tokens of `source`, ending with an "eof" token."""
    tokens = []
    append = tokens.append
    depth = 0          # open brackets; newlines inside them are not statement separators
    for match in _TOKEN.finditer(source):
        group = match.lastgroup
        text = match.group()
        start, end = match.span()
        if group == "name":
            if keyword.iskeyword(text):
                append(Token("error", _KEYWORDS.get(text, f"the Python keyword '{text}' is not supported"),
                             start, end))
            elif source[end:end + 1] in _QUOTES and _STRING_PREFIX.fullmatch(text):
                append(Token("error", "strings (including f-strings) are not supported", start, end))
            else:
                append(_new_token(Token, ("name", text, start, end, None)))
        elif group == "op":
            if text == "(" or text == "[":
                depth += 1
            elif text == ")" or text == "]":
                depth = max(depth - 1, 0)
            append(_new_token(Token, (_OP_KIND.get(text, text), text, start, end, None)))
        elif group == "num":
            if end - start > MAX_NUMBER_LENGTH:
                append(Token("limit", f"number literal is {end - start} characters long; "
                             f"the limit is {MAX_NUMBER_LENGTH}", start, end))
                continue
            error = _number_error(text, start, end, source) if source[end:end + 1].isalpha() else None
            append(error or _new_token(Token, ("num", text, start, end, None)))
        elif group == "newline":
            if depth == 0:
                append(Token("sep", text, start, end))
        elif group == "unsupported":
            follow = _TOKEN.match(source, end)
            if text == "." and follow is not None and follow.lastgroup == "name":
                attribute = follow.group()
                hint = f"write {attribute}(...) without a prefix" if attribute in FUNCTIONS else None
                append(Token("error", f"attribute access ('.{attribute}') is not supported",
                             start, start + 1, hint))
            elif text not in _UNSUPPORTED:      # += -= *= /= **= //= ... (== etc. are listed)
                append(Token("error", f"augmented assignment '{text}' is not supported", start,
                             end, "name a new intermediate instead: y2 = y + 1"))
            else:
                message, hint = _UNSUPPORTED[text]
                append(Token("error", message, start, end, hint))
        elif group == "other":
            append(_unexpected_character(text, start))
        # "space" and "comment" produce no token
    append(Token("eof", "", len(source), len(source)))
    return tokens
