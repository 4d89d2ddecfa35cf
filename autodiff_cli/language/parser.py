"""Parse program text into a `Program` (see nodes.py), without recursion.

Grammar (Python's precedence, loosest first):

    program    := statement ((';' | newline) statement)*        blank statements are skipped
    statement  := NAME '=' expr | expr                           only the last may be a bare expr
    expr       := expr ('+' | '-') term                          left-associative
    term       := term ('*' | '/' | '@') factor                  left-associative
    factor     := ('+' | '-') factor | power
    power      := atom (('**' | '^') factor)?                    right-associative: 2**3**2 == 512,
                                                                 and -x**2 == -(x**2), x**-y allowed
    atom       := NUMBER | NAME | 'pi' | 'e' | '(' expr ')'
               |  FUNC '(' expr (',' expr)* (',' 'axis' '=' ['-'] INTEGER)? ')'

Expressions are parsed by operator precedence with two explicit stacks (operands, and pending
operators/open parentheses), so neither deep nesting nor a 200,000-term sum can overflow
Python's stack; nesting deeper than `limits.max_nesting_depth()` is refused with a clear error.

Every rejection is `AutodiffError(kind, message, position=<1-based column>, hint=, source=text)`.
"""
import difflib

from .. import limits
from ..errors import AutodiffError
from .functions import CONSTANTS, FUNCTIONS, arity_text
from .nodes import Binary, Call, Name, Num, Program, Statement, Unary, paused_gc
from .tokenizer import tokenize

# How tightly each binary operator binds; `**` groups to the right, the others to the left.
_BINARY_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "@": 2, "**": 4}
# A sign binds tighter than * and looser than **: -x*y is (-x)*y, -x**2 is -(x**2).
_UNARY_PRECEDENCE = 3
# Names that are not variables, and tokens after which a name is surely just a variable.
_RESERVED = set(FUNCTIONS) | set(CONSTANTS)
_ORDINARY_FOLLOWERS = set(_BINARY_PRECEDENCE) | {")", ",", "sep", "eof"}


class _Operator:
    """A pending binary operator or sign on the operator stack."""
    __slots__ = ("op", "precedence", "start", "unary")

    def __init__(self, op, precedence, start, unary):
        self.op, self.precedence, self.start, self.unary = op, precedence, start, unary


class _Group:
    """An open '(' on the operator stack: plain parentheses, or a call's argument list.

    `start` is where the node will start (the function name, or the '(' itself), `paren` the
    offset of the '(', `base` the operand-stack height when it opened: its arguments are
    operands[base:].
    """
    __slots__ = ("func", "start", "paren", "base", "axis", "axis_start")

    def __init__(self, func, start, paren, base):
        self.func, self.start, self.paren, self.base = func, start, paren, base
        self.axis = None
        self.axis_start = None


def parse(text):
    """Parse a program; return a `Program` or raise `AutodiffError`."""
    if not isinstance(text, str):
        raise AutodiffError("parse", "the expression must be text")
    limit = limits.max_expression_length()
    if len(text) > limit:
        raise AutodiffError("limit", f"the expression is {len(text)} characters long; the limit is {limit}",
                            hint="set AUTODIFF_MAX_EXPR_LENGTH to raise it", source=None)
    with paused_gc():       # see paused_gc: halves the parse time of a 200,000-term sum
        return _Parser(text).program()


class _Parser:
    def __init__(self, source):
        self.source = source
        self.tokens = tokenize(source)
        self.i = 0                          # index of the current token
        self.max_depth = limits.max_nesting_depth()
        self.names = []                     # Name nodes of the statement being parsed, in order

    # --- errors ----------------------------------------------------------------------------

    def error(self, message, offset, hint=None, kind="parse"):
        return AutodiffError(kind, message, offset + 1, hint=hint, source=self.source)

    def token_error(self, token):
        """The AutodiffError an "error"/"limit" token from the tokenizer stands for."""
        return self.error(token.text, token.start, token.hint, "limit" if token.kind == "limit" else "parse")

    # --- programs ----------------------------------------------------------------------------

    def program(self):
        tokens = self.tokens
        statements = []
        names_per_statement = []
        assigned = {}                       # name -> index of the statement assigning it
        while True:
            while tokens[self.i].kind == "sep":
                self.i += 1
            first = tokens[self.i]
            if first.kind == "eof":
                break
            target = None
            if first.kind == "name" and tokens[self.i + 1].kind == "=":
                self.check_assignment_target(first, assigned)
                target = first.text
                assigned[target] = len(statements)
                self.i += 2
            self.names = []
            expr = self.expression()
            statements.append(Statement(target, expr, first.start, expr.end))
            names_per_statement.append(self.names)

        if not statements:
            raise self.error("the expression is empty", 0, hint="for example: x**2 + 1")
        for statement in statements[:-1]:
            if statement.name is None:
                snippet = self.source[statement.start:statement.end]
                raise self.error("only the last statement may be a bare expression", statement.start,
                                 hint=f"name it, e.g. t = {_shorten(snippet)}")
        inputs = self.resolve_names(names_per_statement, assigned)
        intermediates = [s.name for s in statements[:-1]]
        return Program(self.source, statements, inputs, intermediates)

    def check_assignment_target(self, token, assigned):
        name = token.text
        if name in FUNCTIONS:
            raise self.error(f"cannot assign to '{name}': it is a function name", token.start,
                             hint="choose another name")
        if name in CONSTANTS:
            raise self.error(f"cannot assign to the constant '{name}'", token.start, hint="choose another name")
        if name in assigned:
            raise self.error(f"'{name}' is assigned twice", token.start,
                             hint="give each intermediate its own name")

    def resolve_names(self, names_per_statement, assigned):
        """Return the input variables, in order of first appearance; check intermediates' order."""
        inputs = {}
        for index, names in enumerate(names_per_statement):
            for node in names:
                assigned_in = assigned.get(node.id)
                if assigned_in is None:
                    inputs.setdefault(node.id, None)
                elif assigned_in >= index:
                    raise self.error(f"'{node.id}' is used before it is assigned", node.start,
                                     hint=f"assign '{node.id}' in an earlier statement")
        return list(inputs)

    # --- expressions -----------------------------------------------------------------------

    def expression(self):
        """Parse one expression, stopping before the `;`/newline/end that ends the statement."""
        tokens = self.tokens
        operands = []           # finished sub-trees
        stack = []              # _Operator and _Group entries, innermost last
        depth = 0               # open groups + pending signs, limited by max_nesting_depth
        expect_operand = True   # are we before an operand (or after one, expecting an operator)?

        def reduce_operators():
            """Turn pending operators above the innermost open group into nodes."""
            while stack and type(stack[-1]) is _Operator:
                apply(stack.pop())

        def apply(entry):
            nonlocal depth
            if entry.unary:
                operand = operands.pop()
                operands.append(Unary(entry.op, operand, entry.start, operand.end))
                depth -= 1
            else:
                right = operands.pop()
                left = operands.pop()
                operands.append(Binary(entry.op, left, right, left.start, right.end, entry.start))

        def push_nested(entry, offset):
            nonlocal depth
            depth += 1
            if depth > self.max_depth:
                raise self.error(f"the expression nests deeper than {self.max_depth} levels "
                                 "(parentheses, calls and signs)", offset, kind="limit",
                                 hint="set AUTODIFF_MAX_DEPTH to raise the limit")
            stack.append(entry)

        while True:
            token = tokens[self.i]
            kind = token.kind
            if expect_operand:
                if kind == "num":
                    operands.append(Num(float(token.text), token.start, token.end))
                    expect_operand = False
                elif kind == "name":
                    following = tokens[self.i + 1].kind
                    if following in _ORDINARY_FOLLOWERS and token.text not in _RESERVED:
                        # the common case, a plain variable: inlined for speed
                        node = Name(token.text, token.start, token.end)
                        operands.append(node)
                        self.names.append(node)
                        expect_operand = False
                    elif following == "(":
                        self.check_function(token)
                        paren = tokens[self.i + 1].start
                        push_nested(_Group(token.text, token.start, paren, len(operands)), paren)
                        self.i += 1                      # also skip the '('
                    elif following == "=" and stack and type(stack[-1]) is _Group \
                            and stack[-1].func is not None and tokens[self.i - 1].kind in ("(", ","):
                        self.i = self.keyword_argument(stack[-1])
                        expect_operand = False           # now at the ')' that closes the call
                        continue
                    else:
                        operands.append(self.name_or_constant(token))
                        expect_operand = False
                elif kind == "(":
                    push_nested(_Group(None, token.start, token.start, len(operands)), token.start)
                elif kind == "+" or kind == "-":
                    push_nested(_Operator(kind, _UNARY_PRECEDENCE, token.start, True), token.start)
                elif kind == ")" and stack and type(stack[-1]) is _Group and tokens[self.i - 1].kind == "(":
                    if stack[-1].func is None:
                        raise self.error("empty parentheses '()'", stack[-1].start,
                                         hint="put an expression inside, or remove them")
                    expect_operand = False               # `f()`: let the ')' branch close the call
                    continue
                else:
                    raise self.expected_operand(token)
            else:
                if kind in _BINARY_PRECEDENCE:
                    precedence = _BINARY_PRECEDENCE[kind]
                    right_associative = kind == "**"
                    while stack and type(stack[-1]) is _Operator and (
                            stack[-1].precedence > precedence
                            or (stack[-1].precedence == precedence and not right_associative)):
                        apply(stack.pop())
                    stack.append(_Operator(kind, precedence, token.start, False))
                    expect_operand = True
                elif kind == ")":
                    reduce_operators()
                    if not stack:
                        raise self.error("unmatched ')'", token.start, hint="remove it or add a '(' before it")
                    group = stack.pop()
                    depth -= 1
                    operands.append(self.close_group(group, operands, token))
                elif kind == ",":
                    reduce_operators()
                    if not stack or stack[-1].func is None:
                        raise self.error("',' is only allowed between function arguments "
                                         "(tuples are not supported)", token.start)
                    expect_operand = True
                elif kind == "sep" or kind == "eof":
                    reduce_operators()
                    if stack:
                        group = stack[-1]           # the innermost unclosed one
                        what = f"the '(' of {group.func}(...)" if group.func else "'('"
                        raise self.error(f"{what} is never closed", group.paren, hint="add the missing ')'")
                    return operands[0]
                elif kind in ("num", "name", "("):
                    raise self.missing_operator(tokens[self.i - 1], token)
                elif kind == "=":
                    if not any(type(entry) is _Group for entry in stack):
                        raise self.error("cannot assign to an expression: write name = expression",
                                         token.start, hint="'==' comparisons are not supported either")
                    raise self.error("unexpected '='", token.start,
                                     hint="the only keyword argument is axis=k, e.g. sum(x, axis=0)")
                elif kind == "error" or kind == "limit":
                    raise self.token_error(token)
                else:
                    raise self.error(f"unexpected '{token.text}'", token.start)
            self.i += 1

    def name_or_constant(self, token):
        name = token.text
        if name in CONSTANTS:
            return Num(float(CONSTANTS[name]), token.start, token.end, constant=name)
        if name in FUNCTIONS:
            raise self.error(f"'{name}' is a function; call it like {name}(x)", token.start)
        node = Name(name, token.start, token.end)
        self.names.append(node)
        return node

    def close_group(self, group, operands, closing):
        """Pop a group's arguments off the operand stack; return the node it stands for."""
        args = operands[group.base:]
        del operands[group.base:]
        if group.func is None:
            # Plain parentheses hold exactly one expression (a ',' inside was refused already).
            # Widen its span to include them, so snippets of enclosing nodes stay balanced.
            node = args[0]
            node.start, node.end = group.start, closing.end
            return node
        overloads = FUNCTIONS[group.func]
        overload = overloads.get(len(args))
        if overload is None:
            hint = None
            if len(args) == 2 and any(o.axis for o in overloads.values()):
                hint = f"to reduce along an axis, write {group.func}(x, axis=k)"
            raise self.error(f"{group.func}() takes {arity_text(group.func)} ({len(args)} given)",
                             group.start, hint=hint)
        if group.axis is not None and not overload.axis:
            raise self.error(f"{group.func}() with {len(args)} arguments takes no axis=", group.axis_start,
                             hint=f"axis= goes with the one-argument reduction, e.g. {group.func}(x, axis=0)")
        return Call(group.func, args, group.axis, group.start, closing.end)

    def keyword_argument(self, group):
        """Parse `axis=k` at the current token; return the index of the ')' that must follow."""
        tokens = self.tokens
        keyword = tokens[self.i]
        if not any(o.axis for o in FUNCTIONS[group.func].values()):
            raise self.error(f"{group.func}() takes no keyword arguments", keyword.start)
        if keyword.text != "axis":
            raise self.error(f"unknown keyword argument '{keyword.text}' for {group.func}()", keyword.start,
                             hint="the only keyword argument is axis=k")
        j = self.i + 2
        sign = 1
        if tokens[j].kind in ("+", "-"):
            sign = -1 if tokens[j].kind == "-" else 1
            j += 1
        value = tokens[j]
        if value.kind != "num" or not value.text.replace("_", "").isdigit():
            raise self.error("axis must be an integer, like axis=0 or axis=-1", tokens[self.i + 2].start)
        group.axis = sign * int(value.text)
        group.axis_start = keyword.start
        j += 1
        if tokens[j].kind == ",":
            raise self.error("axis= must be the last argument", tokens[j].start)
        if tokens[j].kind != ")":
            if tokens[j].kind in ("error", "limit"):
                raise self.token_error(tokens[j])
            raise self.error("axis must be an integer, like axis=0 or axis=-1", tokens[self.i + 2].start)
        return j

    def check_function(self, token):
        name = token.text
        if name in FUNCTIONS:
            return
        if name in CONSTANTS:
            raise self.error(f"'{name}' is a constant, not a function", token.start,
                             hint=f"to multiply, write {name}*(...)")
        close = difflib.get_close_matches(name, list(FUNCTIONS), n=1, cutoff=0.6)
        if close:
            hint = f"did you mean '{close[0]}'?"
        elif len(name) <= 2:
            hint = f"to multiply, write {name}*(...)"
        else:
            hint = "the functions are " + ", ".join(FUNCTIONS)
        raise self.error(f"unknown function '{name}'", token.start, hint=hint)

    def expected_operand(self, token):
        """The error for a token found where an operand (number, name, '(' ...) should be."""
        if token.kind in ("error", "limit"):
            return self.token_error(token)
        previous = self.tokens[self.i - 1] if self.i > 0 else None
        after = f" after '{previous.text}'" if previous is not None and previous.kind not in ("sep",) else ""
        if token.kind == "eof":
            return self.error(f"unexpected end of input: expected an expression{after}", token.start)
        if token.kind == "sep":
            return self.error(f"expected an expression{after}, found the end of the statement", token.start)
        if token.kind == ")" and previous is not None and previous.kind == ",":
            return self.error("expected an argument after ','", token.start)
        if token.kind == "=":
            return self.error("unexpected '='", token.start,
                              hint="assignments look like name = expression, at the start of a statement")
        return self.error(f"expected an expression{after}, found '{token.text}'", token.start)

    def missing_operator(self, previous, token):
        def shown(t):
            return t.text if t.kind in ("num", "name") else "(...)"
        hint = f"write {shown(previous)}*{shown(token)}"
        return self.error(f"missing operator between '{previous.text}' and '{token.text}'", token.start, hint=hint)


def _shorten(text, width=30):
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."
