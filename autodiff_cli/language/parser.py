"""Parse program text into a `Program` (see nodes.py), without recursion.

Grammar (Python's precedence, loosest first):

    program    := statement ((';' | newline) statement)*        blank statements are skipped
    statement  := NAME '=' expr | expr                           only the last may be a bare expr
    expr       := expr ('+' | '-') term                          left-associative
    term       := term ('*' | '/' | '@') factor                  left-associative
    factor     := ('+' | '-') factor | power
    power      := postfix (('**' | '^') factor)?                 right-associative: 2**3**2 == 512,
                                                                 and -x**2 == -(x**2), x**-y allowed
    postfix    := atom ('[' item (',' item)* ']')*              indexing binds tightest: -x[0] == -(x[0])
    item       := INT | [INT] ':' [INT] [':' [INT]]              integers and slices only
    atom       := NUMBER | NAME | 'pi' | 'e' | '(' expr ')'
               |  '[' expr (',' expr)* ']'                       a stacking literal
               |  FUNC '(' expr (',' expr)* (',' keyword)* ')'   keyword := ('axis' | 'keepdims') '=' INT
               |  'reshape' '(' expr (',' INT)+ ')'             sizes are integers; one may be -1
    INT        := ['-'] DIGITS

Expressions are parsed by operator precedence with two explicit stacks (operands, and pending
operators/open parentheses), so neither deep nesting nor a 200,000-term sum can overflow
Python's stack; nesting deeper than `limits.max_nesting_depth()` is refused with a clear error.

Every rejection is `AutodiffError(kind, message, position=<1-based column>, hint=, source=text)`.
"""
import difflib

from ..settings import limits
from ..errors import AutodiffError
from .functions import CONSTANTS, FUNCTIONS, arity_text
from .nodes import Binary, Call, Index, Name, Num, Program, Stack, Statement, Unary, paused_gc
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
    """An open '(' or '[' on the operator stack: parentheses, a call's arguments, or a stacking literal.

    `start` is where the node will start (the function name, or the bracket itself), `paren` the
    offset of the bracket, `base` the operand-stack height when it opened: its arguments are
    operands[base:]. `func` is the function's name for a call, `_LIST` for a stacking literal,
    None for plain parentheses.
    """
    __slots__ = ("func", "start", "paren", "base", "axis", "keepdims", "keyword_start", "sizes")

    def __init__(self, func, start, paren, base):
        self.func, self.start, self.paren, self.base = func, start, paren, base
        self.axis = None
        self.keepdims = None
        self.keyword_start = None       # offset of the first keyword argument, for errors
        self.sizes = None               # reshape's integer sizes

    @property
    def is_call(self):
        return self.func is not None and self.func is not _LIST


_LIST = "[...]"     # the `func` of a stacking literal's group (not a function name)
_CLOSER = {"(": ")", "[": "]"}
_INDEX_FORMS = "x[0], x[-1], W[1, 2], W[:, 0], x[1:3] or x[::-1]"


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
        expressions = self.expressions()
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
            expr, nodes = next(expressions)
            statement = Statement(target, expr, first.start, expr.end)
            statement.nodes = nodes
            statements.append(statement)
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

    def expressions(self):
        """Parse expressions one after another: each time it is resumed, one from the token at
        self.i, stopping before the `;`/newline/end that ends the statement.

        Yields (root node, its nodes in post-order): nodes are made children first, left to right,
        so the order they are made in is the order every later pass walks them in. (A generator,
        so that a 100,000-statement program sets up the helpers below once, not per statement.)"""
        tokens = self.tokens
        operands = []           # finished sub-trees
        made = []               # every node made, in order: the post-order of the tree
        stack = []              # _Operator and _Group entries, innermost last
        depth = 0               # open groups + pending signs, limited by max_nesting_depth

        def reduce_operators():
            """Turn pending operators above the innermost open group into nodes."""
            while stack and type(stack[-1]) is _Operator:
                apply(stack.pop())

        def apply(entry):
            nonlocal depth
            if entry.unary:
                operand = operands.pop()
                node = Unary(entry.op, operand, entry.start, operand.end)
                depth -= 1
            else:
                right = operands.pop()
                left = operands.pop()
                node = Binary(entry.op, left, right, left.start, right.end, entry.start)
            operands.append(node)
            made.append(node)

        def push_nested(entry, offset):
            nonlocal depth
            depth += 1
            if depth > self.max_depth:
                raise self.error(f"the expression nests deeper than {self.max_depth} levels "
                                 "(parentheses, calls and signs)", offset, kind="limit",
                                 hint="set AUTODIFF_MAX_DEPTH to raise the limit")
            stack.append(entry)

        while True:
            operands, made, depth = [], [], 0
            expect_operand = True   # are we before an operand (or after one, expecting an operator)?
            i = self.i              # index of the current token (self.i is synced for the helper methods)
            while True:
                token = tokens[i]
                kind = token.kind
                if expect_operand:
                    if tokens[i - 1].kind == "," and self.takes_sizes(stack[-1], operands):
                        self.i = i
                        i = self.size_arguments(stack[-1])
                        expect_operand = False               # now at the ')' that closes the call
                        continue
                    if kind == "name":
                        following = tokens[i + 1].kind
                        if following in _ORDINARY_FOLLOWERS and token.text not in _RESERVED:
                            # the common case, a plain variable: inlined for speed
                            node = Name(token.text, token.start, token.end)
                            self.names.append(node)
                        elif following == "(":
                            self.check_function(token)
                            paren = tokens[i + 1].start
                            push_nested(_Group(token.text, token.start, paren, len(operands)), paren)
                            i += 2                           # also skip the '('
                            continue
                        elif following == "=" and stack and type(stack[-1]) is _Group \
                                and stack[-1].is_call and tokens[i - 1].kind in ("(", ","):
                            self.i = i
                            i = self.keyword_arguments(stack[-1])
                            expect_operand = False           # now at the ')' that closes the call
                            continue
                        else:
                            self.i = i
                            node = self.name_or_constant(token)
                    elif kind == "num":
                        node = Num(float(token.text), token.start, token.end)
                    elif kind == "(":
                        push_nested(_Group(None, token.start, token.start, len(operands)), token.start)
                        i += 1
                        continue
                    elif kind == "[":
                        if tokens[i + 1].kind == "]":
                            raise self.error("an empty list '[]' has no shape", token.start,
                                             hint="a stacking literal needs at least one element, e.g. [x, y]")
                        push_nested(_Group(_LIST, token.start, token.start, len(operands)), token.start)
                        i += 1
                        continue
                    elif kind == "+" or kind == "-":
                        push_nested(_Operator(kind, _UNARY_PRECEDENCE, token.start, True), token.start)
                        i += 1
                        continue
                    elif kind == ")" and stack and type(stack[-1]) is _Group and tokens[i - 1].kind == "(":
                        if stack[-1].func is None:
                            raise self.error("empty parentheses '()'", stack[-1].start,
                                             hint="put an expression inside, or remove them")
                        expect_operand = False               # `f()`: let the ')' branch close the call
                        continue
                    else:
                        self.i = i
                        raise self.expected_operand(token)
                    operands.append(node)
                    made.append(node)
                    expect_operand = False
                elif kind in _BINARY_PRECEDENCE:
                    precedence = _BINARY_PRECEDENCE[kind]
                    right_associative = kind == "**"
                    while stack and type(stack[-1]) is _Operator and (
                            stack[-1].precedence > precedence
                            or (stack[-1].precedence == precedence and not right_associative)):
                        apply(stack.pop())
                    stack.append(_Operator(kind, precedence, token.start, False))
                    expect_operand = True
                elif kind == ")" or kind == "]":
                    reduce_operators()
                    if not stack:
                        opener = "(" if kind == ")" else "["
                        raise self.error(f"unmatched '{kind}'", token.start,
                                         hint=f"remove it or add a '{opener}' before it")
                    group = stack.pop()
                    depth -= 1
                    opener = "[" if group.func is _LIST else "("
                    if _CLOSER[opener] != kind:
                        raise self.error(f"the '{opener}' at column {group.paren + 1} is closed by '{kind}'",
                                         token.start, hint=f"close it with '{_CLOSER[opener]}'")
                    node = self.close_group(group, operands, token)
                    operands.append(node)
                    if group.func is not None:       # plain parentheses make no node
                        made.append(node)
                elif kind == "[":
                    # Indexing binds tighter than any operator: it applies to the last operand.
                    target = operands[-1]
                    self.i = i
                    key, i = self.index_key()
                    operands[-1] = node = Index(target, key, target.start, tokens[i].end)
                    made.append(node)
                elif kind == ",":
                    reduce_operators()
                    if not stack or stack[-1].func is None:
                        raise self.error("',' is only allowed between function arguments or list elements "
                                         "(tuples are not supported)", token.start)
                    expect_operand = True
                elif kind == ":":
                    raise self.error("':' is only allowed inside an index, like " + _INDEX_FORMS, token.start)
                elif kind == "sep" or kind == "eof":
                    reduce_operators()
                    if stack:
                        group = stack[-1]           # the innermost unclosed one
                        if group.func is _LIST:
                            raise self.error("the '[' is never closed", group.paren, hint="add the missing ']'")
                        what = f"the '(' of {group.func}(...)" if group.func else "'('"
                        raise self.error(f"{what} is never closed", group.paren, hint="add the missing ')'")
                    self.i = i
                    yield operands[0], made
                    break
                elif kind in ("num", "name", "("):
                    raise self.missing_operator(tokens[i - 1], token)
                elif kind == "=":
                    if not any(type(entry) is _Group for entry in stack):
                        raise self.error("cannot assign to an expression: write name = expression",
                                         token.start, hint="'==' comparisons are not supported either")
                    raise self.error("unexpected '='", token.start,
                                     hint="the keyword arguments are axis=k and keepdims=1, e.g. sum(x, axis=0)")
                elif kind == "error" or kind == "limit":
                    raise self.token_error(token)
                else:
                    raise self.error(f"unexpected '{token.text}'", token.start)
                i += 1

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
        if group.func is _LIST:
            return Stack(args, group.start, closing.end)
        overloads = FUNCTIONS[group.func]
        overload = overloads.get(len(args))
        if overload is None:
            hint = None
            if len(args) == 2 and any(o.axis for o in overloads.values()):
                hint = f"to reduce along an axis, write {group.func}(x, axis=k)"
            raise self.error(f"{group.func}() takes {arity_text(group.func)} ({len(args)} given)",
                             group.start, hint=hint)
        if group.axis is not None and not overload.axis:
            raise self.error(f"{group.func}() with {len(args)} arguments takes no axis=", group.keyword_start,
                             hint=f"axis= goes with the one-argument reduction, e.g. {group.func}(x, axis=0)")
        if group.keepdims is not None and not (overload.axis and overload.keepdims):
            raise self.error(f"{group.func}() with {len(args)} arguments takes no keepdims=", group.keyword_start)
        if overload.sizes and group.sizes is None:
            raise self.error(f"{group.func}() needs the new sizes after the array, like {group.func}(x, 2, 3)",
                             closing.start)
        return Call(group.func, args, group.axis, group.start, closing.end,
                    keepdims=bool(group.keepdims), sizes=group.sizes)

    def keyword_arguments(self, group):
        """Parse `axis=k` and `keepdims=0|1` at the current token; return the index of the ')' after them."""
        tokens = self.tokens
        overloads = FUNCTIONS[group.func].values()
        if not any(o.axis for o in overloads):
            raise self.error(f"{group.func}() takes no keyword arguments", tokens[self.i].start)
        group.keyword_start = tokens[self.i].start
        j = self.i
        while True:
            keyword = tokens[j]
            if keyword.kind != "name" or tokens[j + 1].kind != "=":
                raise self.error("keyword arguments (axis=, keepdims=) must be the last arguments",
                                 tokens[j - 1].start)
            takes_keepdims = any(o.axis and o.keepdims for o in overloads)
            if keyword.text not in ("axis", "keepdims") or (keyword.text == "keepdims" and not takes_keepdims):
                known = "axis=k and keepdims=1" if takes_keepdims else "axis=k"
                raise self.error(f"unknown keyword argument '{keyword.text}' for {group.func}()", keyword.start,
                                 hint=f"the keyword arguments are {known}")
            if getattr(group, keyword.text) is not None:
                raise self.error(f"{keyword.text}= is given twice", keyword.start)
            value_start = tokens[j + 2].start
            value, j = self.integer(j + 2)
            wrong = ("axis must be an integer, like axis=0 or axis=-1" if keyword.text == "axis"
                     else "keepdims must be 0 or 1, like keepdims=1")
            if value is None or (keyword.text == "keepdims" and value not in (0, 1)):
                raise self.error(wrong, value_start)
            setattr(group, keyword.text, value)
            if tokens[j].kind == ")":
                return j
            if tokens[j].kind != ",":
                if tokens[j].kind in ("error", "limit"):
                    raise self.token_error(tokens[j])
                raise self.error(wrong, value_start)
            j += 1

    def integer(self, j):
        """An integer literal with an optional sign at token j: (value or None if there is none, next j)."""
        tokens = self.tokens
        sign = 1
        if tokens[j].kind in ("+", "-"):
            sign = -1 if tokens[j].kind == "-" else 1
            if tokens[j + 1].kind != "num":
                return None, j
            j += 1
        token = tokens[j]
        if token.kind != "num" or not token.text.replace("_", "").isdigit():
            return None, j
        return sign * int(token.text), j + 1

    def takes_sizes(self, group, operands):
        """Are we after the first argument of a call whose further arguments are integer sizes?"""
        return group.is_call and len(operands) > group.base and any(
            o.sizes for o in FUNCTIONS[group.func].values())

    def size_arguments(self, group):
        """Parse reshape's sizes `2, 3` / `-1, 2` at the current token; return the index of the ')'."""
        tokens = self.tokens
        wrong = (f"{group.func}() sizes must be integers (one of them may be -1), "
                 f"like {group.func}(x, 2, 3) or {group.func}(x, -1)")
        sizes = []
        j = self.i
        while True:
            value, after = self.integer(j)
            if value is None or value < -1:
                raise self.error(wrong, tokens[j].start)
            if value == -1 and -1 in sizes:
                raise self.error("only one size may be -1", tokens[j].start)
            sizes.append(value)
            j = after
            if tokens[j].kind == ")":
                group.sizes = tuple(sizes)
                return j
            if tokens[j].kind in ("error", "limit"):
                raise self.token_error(tokens[j])
            if tokens[j].kind != ",":
                raise self.error(wrong, tokens[j].start)
            j += 1

    def index_key(self):
        """Parse `[item, ...]` at the current '[' after an operand; return (key, index of the ']').

        An item is an integer or a slice `start:stop:step` with optional integer parts: the key is
        the tuple numpy's basic indexing takes (ints and `slice` objects).
        """
        tokens = self.tokens
        opening = tokens[self.i]
        j = self.i + 1
        items = []
        while True:
            parts = []
            while True:
                value, j = self.integer(j)
                token = tokens[j]
                if value is None and token.kind not in (":", ",", "]"):
                    raise self.bad_index(token, opening)
                parts.append(value)
                if token.kind != ":":
                    break
                if len(parts) == 3:
                    raise self.error("a slice has at most two ':' (start:stop:step)", token.start)
                j += 1
            if len(parts) == 1:
                if parts[0] is None:
                    raise self.error("expected an index like " + _INDEX_FORMS, tokens[j].start)
                items.append(parts[0])
            else:
                if len(parts) == 3 and parts[2] == 0:
                    raise self.error("a slice step cannot be zero", tokens[j - 1].start)
                items.append(slice(*parts))
            if tokens[j].kind == "]":
                return tuple(items), j
            if tokens[j].kind != ",":
                raise self.bad_index(tokens[j], opening)
            j += 1

    def bad_index(self, token, opening):
        if token.kind in ("eof", "sep"):
            return self.error(f"the '[' at column {opening.start + 1} is never closed", opening.start,
                              hint="add the missing ']'")
        if token.kind in ("error", "limit"):
            return self.token_error(token)
        if token.kind == "num":
            return self.error(f"indices must be integers or slices, not '{token.text}'", token.start,
                              hint="for example " + _INDEX_FORMS)
        return self.error(f"indices must be integer numbers or slices, not '{token.text}' "
                          "(no expressions, arrays or booleans)", token.start, hint="for example " + _INDEX_FORMS)

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
        if token.kind == "]" and previous is not None and previous.kind == ",":
            return self.error("expected an element after ','", token.start)
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
