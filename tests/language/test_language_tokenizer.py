"""language/tokenizer.py: the tokens of program text, where each one is (0-based offsets; the
parser's columns are those plus one), what is rejected with which message, and the length limit
of a number literal."""
import pytest

from autodiff_cli.errors import AutodiffError
from autodiff_cli.language import parse
from autodiff_cli.language.tokenizer import Token, tokenize
from autodiff_cli.settings.limits import MAX_NUMBER_LENGTH


def kinds(text):
    return [t.kind for t in tokenize(text)]


def test_tokens_of_a_small_program_with_their_offsets():
    tokens = tokenize("y = 2.5*x ** 2; f = sin(y)@W")
    assert [(t.kind, t.text, t.start, t.end) for t in tokens] == [
        ("name", "y", 0, 1), ("=", "=", 2, 3), ("num", "2.5", 4, 7), ("*", "*", 7, 8), ("name", "x", 8, 9),
        ("**", "**", 10, 12), ("num", "2", 13, 14), ("sep", ";", 14, 15), ("name", "f", 16, 17),
        ("=", "=", 18, 19), ("name", "sin", 20, 23), ("(", "(", 23, 24), ("name", "y", 24, 25),
        (")", ")", 25, 26), ("@", "@", 26, 27), ("name", "W", 27, 28), ("eof", "", 28, 28)]
    assert all(isinstance(t, Token) and t.hint is None for t in tokens)


def test_every_offset_points_at_the_token_text():
    source = "  a_1\t+ .5e-3 -\f W[1:, ::-1] / (b , c)  "
    for token in tokenize(source)[:-1]:
        assert source[token.start:token.end] == token.text
    assert tokenize(source)[-1] == Token("eof", "", len(source), len(source))


@pytest.mark.parametrize("number", ["0", "12", "1_000", "3.", "3.25", ".5", "1e10", "1E-3", "2.5e+7", "1_0.0_1e1_0"])
def test_number_literals(number):
    assert [(t.kind, t.text) for t in tokenize(number)] == [("num", number), ("eof", "")]


def test_caret_becomes_power_and_semicolons_separate():
    tokens = tokenize("x^2;y")
    assert [(t.kind, t.text) for t in tokens] == [("name", "x"), ("**", "^"), ("num", "2"), ("sep", ";"),
                                                  ("name", "y"), ("eof", "")]


def test_newlines_separate_statements_except_inside_brackets():
    assert kinds("a = 1\nb = a\r\nb") == ["name", "=", "num", "sep", "name", "=", "name", "sep", "name", "eof"]
    assert kinds("f(x,\n  y)\n[1,\n 2]") == ["name", "(", "name", ",", "name", ")", "sep",
                                             "[", "num", ",", "num", "]", "eof"]
    # an unmatched closing bracket does not make the depth negative: the next newline still separates
    assert kinds(")\nx") == [")", "sep", "name", "eof"]


def test_comments_are_dropped():
    assert kinds("x + 1  # a comment with ** and 'quotes'\ny") == ["name", "+", "num", "sep", "name", "eof"]


@pytest.mark.parametrize("text, message, start, end", [
    ("x // 2", "floor division '//' is not supported", 2, 4),
    ("x % 2", "the modulo operator '%' is not supported", 2, 3),
    ("x == 2", "comparison '==' is not supported", 2, 4),
    ("x <= 2", "comparison '<=' is not supported", 2, 4),
    ("y := 2", "assignment expressions ':=' are not supported", 2, 4),
    ("x += 1", "augmented assignment '+=' is not supported", 2, 4),
    ("x **= 2", "augmented assignment '**=' is not supported", 2, 5),
    ("x & y", "bitwise operator '&' is not supported", 2, 3),
    ("{x}", "braces ('{') are not supported", 0, 1),
    ("x $ y", "unexpected character '$'", 2, 3),
])
def test_unsupported_operators_are_error_tokens_at_their_place(text, message, start, end):
    errors = [t for t in tokenize(text) if t.kind == "error"]
    assert errors[0].text == message
    assert (errors[0].start, errors[0].end) == (start, end)


def test_keywords_and_literals_python_has_and_we_do_not():
    (error,) = [t for t in tokenize("lambda x: x") if t.kind == "error"]
    assert (error.text, error.start, error.end) == ("lambda expressions are not supported", 0, 6)
    (error,) = [t for t in tokenize("x if x else 1") if t.kind == "error"][:1]
    assert error.text == "conditionals ('if') are not supported" and error.start == 2
    (error,) = [t for t in tokenize("x + while") if t.kind == "error"]
    assert error.text == "the Python keyword 'while' is not supported" and error.start == 4
    hexadecimal = tokenize("1 + 0x1F")[2]
    assert (hexadecimal.kind, hexadecimal.start, hexadecimal.end) == ("error", 4, 8)
    assert "hexadecimal" in hexadecimal.text and hexadecimal.hint == "write the number in decimal"
    complex_number = tokenize("3j")[0]
    assert (complex_number.kind, complex_number.text, complex_number.end) == (
        "error", "complex numbers are not supported", 2)
    # `2x` is left to the parser (a missing operator): two ordinary tokens
    assert kinds("2x") == ["num", "name", "eof"]


def test_strings_and_string_prefixes():
    tokens = tokenize("f'{x}'")
    assert tokens[0].kind == "error" and tokens[0].text == "strings (including f-strings) are not supported"
    assert (tokens[0].start, tokens[0].end) == (0, 1)
    assert tokenize("'a'")[0] == Token("error", "strings are not supported", 0, 1, None)


def test_attribute_access_and_unicode_lookalikes_have_hints():
    dot = [t for t in tokenize("np.sin(x)") if t.kind == "error"][0]
    assert dot.text == "attribute access ('.sin') is not supported"
    assert (dot.start, dot.hint) == (2, "write sin(...) without a prefix")
    times = [t for t in tokenize("2 \u00d7 x") if t.kind == "error"][0]
    assert times.text == "unexpected character '\u00d7' (U+00D7 MULTIPLICATION SIGN)"
    assert (times.start, times.end, times.hint) == (2, 3, "write *")
    control = [t for t in tokenize("x\x01") if t.kind == "error"][0]
    assert control.text.startswith("unexpected character '\\x01' (U+0001") and control.start == 1


def test_number_length_limit():
    longest = "1" * MAX_NUMBER_LENGTH
    assert tokenize(longest)[0] == Token("num", longest, 0, MAX_NUMBER_LENGTH, None)
    too_long = "x + " + "1" * (MAX_NUMBER_LENGTH + 1)
    token = tokenize(too_long)[2]
    assert token.kind == "limit"
    assert (token.start, token.end) == (4, 4 + MAX_NUMBER_LENGTH + 1)
    assert token.text == (f"number literal is {MAX_NUMBER_LENGTH + 1} characters long; "
                          f"the limit is {MAX_NUMBER_LENGTH}")


@pytest.mark.parametrize("text, kind, column", [
    ("x // 2", "parse", 3),
    ("(1 +\n  y % 2)", "parse", 10),
    ("sin(x) + \u03c0", "parse", 10),
    ("x + " + "9" * (MAX_NUMBER_LENGTH + 1), "limit", 5),
    ("lambda: 1", "parse", 1),
])
def test_parser_reports_the_first_lexical_error_at_its_one_based_column(text, kind, column):
    with pytest.raises(AutodiffError) as caught:
        parse(text)
    assert (caught.value.kind, caught.value.position) == (kind, column)
    assert caught.value.source == text


def test_lexical_errors_are_reported_left_to_right():
    # the unknown function comes first, the string after it is never reached
    with pytest.raises(AutodiffError) as caught:
        parse("__import__('os')")
    assert caught.value.position == 1 and "'" not in caught.value.message[:1]
    with pytest.raises(AutodiffError) as caught:
        parse("x + 1 // y % 2")
    assert caught.value.position == 7 and "//" in caught.value.message
