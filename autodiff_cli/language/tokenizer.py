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

from ..settings.limits import MAX_NUMBER_LENGTH
from .functions import FUNCTIONS


class Token(NamedTuple):
    kind: str
    text: str
    start: int
    end: int
    hint: str | None = None



# One match per token, with the blanks before it (group 1): a name, a number, an operator, or
# (rare) a newline, a comment, an unsupported operator or an unexpected character. The operators'
# lookaheads leave `**=`, `//`, `==`, `+=` ... whole to the last group, where they are explained.
_TOKEN = re.compile(r"""([ \t\f]*)(?:
    ([A-Za-z_][A-Za-z0-9_]*)
  | ((?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?)
  | (\*\*(?!=)|\*(?![*=])|/(?![/=])|[-+@^:=](?!=)|[()\[\],;])
  | (\r\n|\r|\n|\#[^\r\n]*|\*\*=|//=?|>>=?|<<=?|==|!=|<=|>=|:=|[-+*/@%&|^]=|[%<>&|~{}'"`\\$?!.]|.)
  | \Z                                      # blanks at the end of the text
)""", re.VERBOSE | re.DOTALL)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

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
_PYTHON_KEYWORDS = frozenset(keyword.kwlist)


def _number_error(number, word):
    """Why the number token `number` directly followed by the name token `word` is wrong, or None."""
    if number.text == "0" and word.text[0] in "xXoObB":
        return Token("error", "hexadecimal, octal and binary literals are not supported",
                     number.start, word.end, "write the number in decimal")
    if word.text in ("j", "J"):
        return Token("error", "complex numbers are not supported", number.start, word.end)
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


def _rare_token(text, start, end, source, tokens):
    """The token (or None) for a match of the last group: a newline, a comment, an unsupported
    operator or an unexpected character. May turn the token before it into an error (`r'...'`)."""
    if text[0] == "#":
        return None
    if text in _UNSUPPORTED or len(text) > 1:
        if text in _QUOTES and tokens and tokens[-1].kind == "name" and tokens[-1].end == start \
                and _STRING_PREFIX.fullmatch(tokens[-1].text):
            previous = tokens[-1]
            tokens[-1] = Token("error", "strings (including f-strings) are not supported",
                               previous.start, previous.end)
        if text == ".":
            follow = _NAME.match(source, end)
            if follow is not None:
                attribute = follow.group()
                hint = f"write {attribute}(...) without a prefix" if attribute in FUNCTIONS else None
                return Token("error", f"attribute access ('.{attribute}') is not supported", start, start + 1, hint)
        if text not in _UNSUPPORTED:        # += -= *= /= **= //= ... (== etc. are listed)
            return Token("error", f"augmented assignment '{text}' is not supported", start, end,
                         "name a new intermediate instead: y2 = y + 1")
        message, hint = _UNSUPPORTED[text]
        return Token("error", message, start, end, hint)
    return _unexpected_character(text, start)


# Building tokens with tuple.__new__ skips NamedTuple's Python-level constructor: a 200,000-term
# sum has 800,000 tokens, and this loop is the tokenizer's hot path.
_new_token = tuple.__new__
_OP_KIND = {op: op for op in ("**", "+", "-", "*", "/", "@", "(", ")", "[", "]", ":", ",", "=")}
_OP_KIND.update({"^": "**", ";": "sep"})
_BRACKETS = {"(": 1, "[": 1, ")": -1, "]": -1}
_NEWLINES = ("\n", "\r\n", "\r")
_QUOTES = ("'", '"')


def tokenize(source):
    """Return the list of tokens of `source`, ending with an "eof" token."""
    tokens = []
    append = tokens.append
    depth = 0              # open brackets; newlines inside them are not statement separators
    end = 0
    number_end = -1        # where the last number token ended: a name right there is `2x`, `0x1F`, `1j`
    for blanks, name, number, op, rare in _TOKEN.findall(source):
        start = end + len(blanks) if blanks else end
        if name:
            end = start + len(name)
            if start == number_end:
                tokens[-1] = _number_error(tokens[-1], Token("name", name, start, end)) or tokens[-1]
            if name in _PYTHON_KEYWORDS:
                append(Token("error", _KEYWORDS.get(name, f"the Python keyword '{name}' is not supported"),
                             start, end))
            else:
                append(_new_token(Token, ("name", name, start, end, None)))
        elif op:
            end = start + len(op)
            if op in _BRACKETS:
                depth = max(depth + _BRACKETS[op], 0)
            append(_new_token(Token, (_OP_KIND[op], op, start, end, None)))
        elif number:
            end = number_end = start + len(number)
            if end - start > MAX_NUMBER_LENGTH:
                append(Token("limit", f"number literal is {end - start} characters long; "
                             f"the limit is {MAX_NUMBER_LENGTH}", start, end))
                number_end = -1
            else:
                append(_new_token(Token, ("num", number, start, end, None)))
        elif rare:
            end = start + len(rare)
            if rare in _NEWLINES:
                if depth == 0:
                    append(Token("sep", rare, start, end))
            else:
                token = _rare_token(rare, start, end, source, tokens)
                if token is not None:
                    append(token)
        else:
            end = start           # blanks at the end of the text
    append(Token("eof", "", len(source), len(source)))
    return tokens
