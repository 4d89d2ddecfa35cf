"""Symbolic derivatives: derived once per expression, compiled, then evaluated in float64 at each point.

`derive(program, result, mode, seed)` returns a `Derivation` for the problem's *shape* (expression,
mode, differentiated names, input shapes): every input is a symbol (the constants too), so the same
Derivation serves every point and is kept in a bounded in-process LRU cache. Its one compiled
function maps the point (one flat float64 vector) to, for every derivative entry,
  - the symbolic value,
  - a rounding scale: the entry's terms in absolute value. They are taken from a copy of the
    program in which every use of an input is its own symbol (x*x -> x@0*x@1), whose partial
    derivatives are the terms the engine's chain rule adds up: nothing cancels before the absolute
    values are taken ((x+1e10)**2 - x**2 - 2e10*x has derivative 0 but terms of 2e10; z/z is 1);
and for every switch of the derivative (a Piecewise condition from abs/relu/max/min, or a sign,
Heaviside or DiracDelta argument) its value and scale, and how far apart the branches it selects
are: a switch at 0 between branches of different values is a kink this entry goes through (where
the branches agree, as for d(abs(z)*w)/dw = abs(z) at z = 0, the entry is still judged).

Evaluating in float64 by a compiled function is also what keeps the check bounded: SymPy never
does big-number arithmetic (exp(exp(exp(23.5))) is inf, as in the engine, not a 6 GB integer).

CAS: SymEngine (a C++ CAS with SymPy-compatible bindings; derivation plus compilation of a small
expression takes ~2 ms where SymPy + lambdify takes ~18 ms), else SymPy + `lambdify` on numpy.
SymEngine cannot differentiate Abs/Max/Min, so it is handed them as the equivalent Piecewise.
"""
import importlib
import os
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np

from ..settings import limits
from ..settings.deadline import TimeLimitExceeded, time_limit
from ..language import fold, lower_to_sympy
from ..language.nodes import Binary, Call, Index, Name, Program, Stack, Unary


DISPLAYED = 64       # first-derivative entries of one variable shown as text, at most


class Unsuitable(Exception):
    """The symbolic route cannot serve this problem; the message says why (shown as a note)."""


# --- the two computer-algebra back ends ------------------------------------------------------------

class _Namespace:
    """A CAS module as the lowering's `sp`, changed where the check needs what the engine computes:
      - pi and e are symbols (<pi>, <e>) given the float64 numbers the engine uses when the
        derivation is evaluated (exact, sin(pi) would be 0 where the engine has 1.2e-16, and
        x*sin(pi) would not check), and the CAS's own pi and E in what is shown;
      - abs/max/min are written as Piecewise: SymEngine cannot differentiate Abs/Max/Min, and
        SymPy's lambdify takes seconds to print their derivatives.
    """

    def __init__(self, module):
        self._se = module
        real = {} if module.__name__ != "sympy" else {"real": True}
        self.pi, self.E = module.Symbol("<pi>", **real), module.Symbol("<e>", **real)
        self.constants = ((self.pi, float(np.pi), module.pi), (self.E, float(np.e), module.E))

    def __getattr__(self, name):
        return getattr(self._se, name)

    def Float(self, value):
        if self._se.__name__ == "sympy":       # 17 digits: lambdify prints a Float with its digits,
            return self._se.Float(value, 17)   # and 15 do not give back the float64
        return self._se.Float(value)

    def Abs(self, u):
        if u.is_Number:
            return self._se.Abs(u)
        return self._se.Piecewise((u, u > 0), (-u, True))

    def Max(self, *args):
        return self._first_winner(args, lambda a, b: a >= b, self._se.Max)

    def Min(self, *args):
        return self._first_winner(args, lambda a, b: a <= b, self._se.Min)

    def _first_winner(self, args, beats, numeric):
        """The first argument that beats every later one (which is the extremum: see the note below)."""
        if all(a.is_Number for a in args) or len(args) == 1:
            return numeric(*args)
        # If a_i beats all later a_j and every earlier one lost to some later one, a_i is the extremum:
        # an earlier winner over a_i would need an ever-better later one, without end.
        pieces = [(a, self._se.And(*[beats(a, b) for b in args[i + 1:]])) for i, a in enumerate(args[:-1])]
        return self._se.Piecewise(*pieces, (args[-1], True))


class _Backend:
    """What the check needs from a CAS: build, differentiate, walk trees, compile to float64."""

    def __init__(self, name):
        self.name = name
        if name == "symengine":
            se = self.module = importlib.import_module("symengine")
            self.namespace = _Namespace(se)
            self.relationals = (se.StrictLessThan, se.LessThan, se.Equality, se.Unequality)
            self.booleans = (se.And, se.Or, se.Not)
            self.switch_functions = (se.sign,)
            self.undefined = (se.Derivative, se.Subs)
        else:
            sp = self.module = importlib.import_module("sympy")
            self.namespace = _Namespace(sp)
            self.relationals = (sp.core.relational.Relational,)
            self.booleans = (sp.And, sp.Or, sp.Not)
            self.switch_functions = (sp.sign, sp.Heaviside, sp.DiracDelta)   # discontinuous at 0
            self.undefined = (sp.Derivative, sp.Subs)
        m = self.module
        self.Add, self.Mul, self.Pow, self.Piecewise = m.Add, m.Mul, m.Pow, m.Piecewise
        self._slopes = {}

    def symbol(self, name):
        return self.module.Symbol(name) if self.name == "symengine" else self.module.Symbol(name, real=True)

    def diff(self, expr, symbol, piecewise=True):
        """d expr / d symbol; `piecewise=False` says expr has no Piecewise (saves looking)."""
        with self.failures("differentiate this"):
            derivative = self.module.diff(expr, symbol)
        if self.name == "symengine" and piecewise and self.contains(expr, self.Piecewise):
            derivative = self._collapse(derivative)
        return derivative

    def _collapse(self, expr):
        """Piecewise((0, z > 0), (0, True)) -> 0: SymEngine leaves such branches, and they would
        make every entry through them look like it went through the kink."""
        if not expr.args:
            return expr
        if isinstance(expr, self.Piecewise):
            pieces = [(self._collapse(v), c) for v, c in self.pieces(expr)]
            if all(v == pieces[0][0] for v, _ in pieces):
                return pieces[0][0]
            return self.Piecewise(*pieces)
        if isinstance(expr, self.relationals + self.booleans):
            return expr
        return self.rebuild(expr, [self._collapse(a) for a in expr.args])

    def substitute(self, expr, values):
        """expr with some symbols replaced by float64 numbers, for display; never evaluated in big
        numbers (SymPy would compute exp(exp(exp(23.5))) exactly)."""
        if self.name == "symengine":
            return expr.subs(values)      # SymEngine's floats are float64s
        with self.module.evaluate(False):
            return expr.xreplace(values)

    def lower(self, program, env, on_node=None):
        """The program's output as an object array of this CAS's expressions (`on_node(node, value)`
        is told every node's value, before anything multiplies it by 0)."""
        with self.failures("build this expression"):
            return lower_to_sympy(program, env, on_node=on_node, cas=self.namespace)[0]

    @contextmanager
    def failures(self, what):
        """SymEngine says it cannot (x ** zoo, Derivative(abs(x), x)) with a RuntimeError: Unsuitable.
        Anything else, RecursionError included, is not SymEngine's to say and is not caught here."""
        try:
            yield
        except RuntimeError as err:
            if isinstance(err, RecursionError) or self.name != "symengine":
                raise
            raise Unsuitable(f"{self.name} cannot {what}: {err}") from err

    def slope(self, expr):
        """f'(u) for expr = f(u), a function of one argument; None if the CAS does not know it."""
        function = type(expr)
        if function not in self._slopes:
            u = self.symbol("<u>")
            try:
                derivative = self.diff(self.rebuild(expr, [u]), u)
                known = not self.contains(derivative, self.undefined)
            except Unsuitable:
                known = False
            self._slopes[function] = (u, derivative) if known else None
        if self._slopes[function] is None:
            return None
        u, derivative = self._slopes[function]
        return derivative.subs({u: expr.args[0]})

    def replace(self, expr, mapping):
        """expr with some subexpressions replaced, as they are (no evaluation of numbers)."""
        if self.name == "symengine":
            return expr.subs(mapping)
        return expr.xreplace(mapping)

    def rebuild(self, expr, args):
        return type(expr)(*args) if self.name == "symengine" else expr.func(*args)

    def contains(self, expr, types):
        stack = [expr]
        while stack:
            e = stack.pop()
            if isinstance(e, types):
                return True
            stack.extend(e.args)
        return False

    def pieces(self, expr):
        """[(value, condition)] of a Piecewise (SymEngine keeps them flat: v0, c0, v1, c1, ...)."""
        args = expr.args
        if self.name == "symengine":
            return list(zip(args[0::2], args[1::2]))
        return [tuple(piece) for piece in args]

    def compile(self, arguments, expressions):
        """A function of one flat float64 vector returning every expression's float64 value."""
        m = self.module
        if self.name == "symengine":
            expressions = [e.subs({m.zoo: m.nan}) if e.has(m.zoo) else e for e in expressions]
            with self.failures("compile this"):
                # no common-subexpression pass: it costs more to compile than it saves in the few
                # evaluations of one expression's derivatives a batch makes
                function = m.Lambdify(arguments, expressions, real=True, cse=False, backend="lambda")
            return lambda point: np.asarray(function(point), dtype=np.float64).ravel()
        undefined_at_0 = {"DiracDelta": lambda x, k=0: np.where(np.asarray(x) == 0, np.nan, 0.0)}
        function = m.lambdify([arguments], [e.subs(m.zoo, m.nan) for e in expressions],
                              modules=[undefined_at_0, "numpy"], cse=True)
        return lambda point: np.asarray(function(point), dtype=np.float64).ravel()


_backends = {}


def backend():
    """SymEngine when installed, else SymPy; AUTODIFF_CHECK_CAS=sympy forces SymPy."""
    wanted = os.environ.get("AUTODIFF_CHECK_CAS", "").strip().lower() or None
    for name in ([wanted] if wanted in ("sympy", "symengine") else ["symengine", "sympy"]):
        if name not in _backends:
            try:
                _backends[name] = _Backend(name)
            except ImportError:
                _backends[name] = None
        if _backends[name] is not None:
            return _backends[name]
    raise Unsuitable("neither SymEngine nor SymPy can be imported")


# --- one problem, derived --------------------------------------------------------------------------

@dataclass
class Derivation:
    """Everything about a problem that does not depend on the point; see the module docstring."""
    backend: str
    layout: list            # [(input name, shape)] in the order of the flat point, then the seed
    gather: np.ndarray      # the compiled function's arguments, as indices into the flat point (`point`)
    labels: list            # entry -> "x", "W[0,1]", "x/y" (Hessian), "f[2]/x" (Jacobian); in the order
                            # of `engine_entries` (a Hessian's rows follow the gradient of their name)
    variables: list         # entry -> set of variable names it differentiates by
    blocks: dict            # wrt name -> slice of the entries that belong to it
    switches: list          # entry -> array of the switches (indices into `switch_kinds`) in it
    switch_text: list       # switch -> its condition's arguments as text
    function: object        # flat point -> values (N), scales (N), the output's values (V) and scales (V),
                            # then every relational argument (R: value, scale) and branch value (B: value, scale)
    display: dict           # wrt name -> first-derivative expressions (to show), or None when too long
    parameters: list        # (symbol, input name, flat index) of inputs not differentiated and of the
                            # seed: shown as their numbers
    switch_kinds: list = None   # switch -> ("piecewise", [(branch index, condition tree)]) or ("jump", relational)
    sizes: tuple = (0, 0, 0)    # (V output values, R relational arguments, B branch values)
    expressions: list = None    # entry -> its CAS expression (for the values a convention allows at a kink)
    switch_exprs: list = None   # switch -> its CAS expression (a Piecewise)
    branch_exprs: list = None   # branch -> its CAS expression
    arguments: list = None      # the compiled function's arguments (CAS symbols), in order
    conventions: object = None  # (entry, kinked switches' choices) -> their compiled values (a small LRU)
    texts: dict = field(default_factory=dict)   # display/'s: the derivatives' text, made once per
                            # Derivation (when there are no parameters: the same for every point)

    def point(self, inputs, seed):
        """The flat float64 point: every input's elements, then the seed's, then a 1 (for the tags),
        then pi and e."""
        parts = [np.ravel(seed if name == "<seed>" else inputs[name]) for name, _ in self.layout]
        return np.concatenate(parts + [[1.0, np.pi, np.e]]).astype(np.float64)

    def evaluate(self, inputs, seed):
        """An `At`: every number the compiled function gives at this point, by kind."""
        arguments = self.point(inputs, seed)[self.gather]
        out = self.function(arguments)
        n = len(self.labels)
        v, r, b = self.sizes[:3]
        parts = np.split(out, np.cumsum([n, n, v, v, r, r, b, b]))
        return At(*parts[:8], arguments=arguments, slopes=parts[8])

    def convention_values(self, entry, choices, arguments):
        """The entry's value with every switch `s` of `choices` {s: [CAS values]} replaced by each of
        its values in turn (every combination), evaluated at `arguments`: what a convention at a kink
        may give. None when the CAS cannot say."""
        key = (entry, tuple((s, tuple(map(str, values))) for s, values in choices.items()))
        if self.conventions is None:
            self.conventions = OrderedDict()
        if key not in self.conventions:
            cas = backend()
            combinations = [[]]
            for s, values in choices.items():
                combinations = [c + [(s, v)] for c in combinations for v in values]
            # one switch at a time, the outermost first (a longer expression cannot be inside a shorter
            # one): a nested switch's choice then reaches the copies an outer choice brought in
            order = sorted(choices, key=lambda s: -len(str(self.switch_exprs[s])))
            expressions = []
            for combination in combinations:
                chosen, expr = dict(combination), self.expressions[entry]
                for s in order:
                    expr = cas.replace(expr, {self.switch_exprs[s]: chosen[s]})
                expressions.append(expr)
            try:
                _require_compilable(expressions)       # bounded like the derivation itself
                self.conventions[key] = cas.compile(self.arguments, expressions)
            except (Unsuitable, RuntimeError, TypeError, ValueError, ZeroDivisionError):
                self.conventions[key] = None
            while len(self.conventions) > limits.CHECK_CACHE_SIZE:
                self.conventions.popitem(last=False)
        function = self.conventions[key]
        return None if function is None else function(arguments)


@dataclass
class At:
    """A Derivation evaluated at a point."""
    reference: np.ndarray       # entry -> its symbolic value
    scale: np.ndarray           # entry -> its terms' magnitude
    value: np.ndarray           # output element -> its value
    value_scale: np.ndarray
    relational: np.ndarray      # relational argument -> its value (a switch's condition is lhs - rhs <=> 0)
    relational_scale: np.ndarray
    branch: np.ndarray          # branch value -> its value
    branch_scale: np.ndarray
    arguments: np.ndarray = None
    slopes: np.ndarray = None   # every local derivative (first and second) of a function or power, and every
                                # node's value, at the point


_cache = OrderedDict()


def derive(program, result, mode, seed, *, require=None, budget=None, cacheable_timeout=True):
    """The cached Derivation of this problem's shape, building it on a miss (`mode`, a calculus.Mode,
    says which derivatives are its entries): `require(program, result, mode)` may refuse it (Unsuitable), then the build runs within `budget` seconds. A refusal or
    a build over the budget is remembered too (the next record of this shape goes straight to
    finite differences), unless `cacheable_timeout` is False (a budget cut short by a record's limit)."""
    cas = backend()
    shapes = tuple((name, np.shape(value)) for name, value in result.inputs.items())
    key = (program.source, mode.name, tuple(result.wrt), shapes, None if seed is None else np.shape(seed), cas.name,
           mode.symbolic_key(result))
    if key in _cache:
        _cache.move_to_end(key)
        entry = _cache[key]
    else:
        try:
            if require is not None:
                require(program, result, mode)
            _budget[0] = budget
            with time_limit(budget):
                entry = _build(cas, program, result, mode, seed)
        except Unsuitable as why:
            entry = why
        except TimeLimitExceeded:
            entry = Unsuitable(f"the symbolic derivative took longer than {budget:g} s (set AUTODIFF_CHECK_SECONDS "
                               f"to give it longer); finite differences used instead")
            if not cacheable_timeout:
                raise entry from None
        _cache[key] = entry
        while len(_cache) > limits.CHECK_CACHE_SIZE:
            _cache.popitem(last=False)
    if isinstance(entry, Unsuitable):
        raise entry
    return entry


def forget():
    """Empty the cache (tests)."""
    _cache.clear()


def _element_symbols(cas, name, shape):
    if shape == ():
        symbols = [cas.symbol(name)]
        labels = [name]
    else:
        labels = [f"{name}[{','.join(map(str, idx))}]" for idx in np.ndindex(*shape)]
        symbols = [cas.symbol(label) for label in labels]
    array = np.empty(len(symbols), dtype=object)
    array[:] = symbols
    return array.reshape(shape), labels


def _build(cas, program, result, mode, seed):
    symbols, labels, layout, parameters, starts = {}, {}, [], [], {}
    offset = 0
    for name, value in result.inputs.items():
        array, labels[name] = _element_symbols(cas, name, np.shape(value))
        symbols[name] = list(array.ravel())
        layout.append((name, np.shape(value)))
        if name not in result.wrt:
            parameters.extend((s, name, offset + i) for i, s in enumerate(symbols[name]))
        starts[name] = offset
        offset += len(symbols[name])
    arguments = [s for name, _ in layout for s in symbols[name]]

    # The program with every use of an input its own symbol (x*x -> x@0*x@1) and every function's
    # argument tagged (see _split_uses), all evaluated at the input's value: a derivative is the sum
    # of the partial derivatives by the uses, the terms the engine's chain rule adds up.
    split_program, uses, tags = _split_uses(program)
    env, split_symbols, gather, back = {}, {}, [], {}
    for name, names in uses.items():
        split_symbols[name] = []
        for use in names:
            env[use], _ = _element_symbols(cas, use, np.shape(result.inputs[name]))
            split_symbols[name].append(list(env[use].ravel()))
            gather.extend(range(starts[name], starts[name] + len(symbols[name])))
            back.update(zip(split_symbols[name][-1], symbols[name]))
    env.update((tag, _element_symbols(cas, tag, ())[0]) for tag in tags)
    tag_symbols = [env[tag][()] for tag in tags]
    back.update((tag, 1) for tag in tag_symbols)
    recorded = {}                    # every node's value: its local derivatives are looked at too

    def on_node(node, value):
        recorded[id(node)] = (node, value)

    output = cas.lower(split_program, env, on_node=on_node)
    constants = [symbol for symbol, _, _ in cas.namespace.constants]
    back.update((symbol, shown) for symbol, _, shown in cas.namespace.constants)   # pi and e shown as such
    split_arguments = [s for name in uses for use in split_symbols[name] for s in use] + tag_symbols + constants

    outputs = list(output.ravel())
    seed_symbols = None
    if seed is not None:
        seed_symbols = [cas.symbol(f"<seed>[{i}]") for i in range(int(np.size(seed)))]
        layout.append(("<seed>", np.shape(seed)))
        parameters.extend((s, "<seed>", len(arguments) + i) for i, s in enumerate(seed_symbols))
        arguments += seed_symbols
    functions = mode.symbolic_functions(outputs, seed_symbols, cas.Add)

    def by(name, f):
        """[(d f / d s, the magnitude of its terms)] for every element s of `name`."""
        out, piecewise = [], cas.contains(f, cas.Piecewise)
        for i in range(len(symbols[name])):
            parts = [cas.diff(f, use[i], piecewise) for use in split_symbols[name]]
            out.append((cas.Add(*parts), cas.Add(*[_magnitude(cas, p) for p in parts])))
        return out

    out_labels = [f"f{list(idx)}".replace(" ", "") if output.ndim else "f" for idx in np.ndindex(*output.shape)]
    entries, entry_labels, entry_variables, blocks, display = [], [], [], {}, {}
    for name in result.wrt:
        found, names, display[name] = mode.reference_entries(name, functions, by, labels, out_labels, result.wrt,
                                                             result=result, parameters=seed_symbols)
        entries += found
        entry_labels += [label for label, _ in names]
        entry_variables += [variables for _, variables in names]
        blocks[name] = slice(len(entry_labels) - len(names), len(entry_labels))

    values = [d for d, _ in entries]
    if cas.name == "sympy" and any(cas.contains(d, cas.undefined) for d in values):   # SymEngine's fail to compile
        raise Unsuitable(f"{cas.name} cannot differentiate a function of this expression")
    switches = _Switches(cas)
    entry_switches = [np.array(switches.of(d), dtype=np.intp) for d in values]
    value_scales = [_magnitude(cas, o) for o in outputs]
    compiled_exprs = (values + [scale for _, scale in entries] + outputs + value_scales
                      + switches.relationals + [_magnitude(cas, r) for r in switches.relationals]
                      + switches.branches + [_magnitude(cas, b) for b in switches.branches]
                      + _local_slopes(cas, [e for _, value in recorded.values() for e in np.ravel(value)])
                      + _node_values(recorded) + _operator_slopes(cas, recorded))
    _require_compilable(compiled_exprs)
    function = cas.compile(arguments + split_arguments, compiled_exprs)
    with cas.failures("show this derivative"):     # x*sin(x/0): SymEngine refuses to substitute
        shown = {name: [e.subs(back) for e in exprs] if exprs is not None and len(exprs) <= DISPLAYED else None
                 for name, exprs in display.items()}
        switch_texts = [switches.text(k, back) for k in range(len(switches.kinds))]
    one = len(arguments)                     # the point ends in a 1 (for the tags), pi and e
    gather = np.concatenate([np.arange(len(arguments)), gather, [one] * len(tags),
                             [one + 1, one + 2]]).astype(np.intp)
    return Derivation(cas.name, layout, gather, entry_labels, entry_variables, blocks, entry_switches,
                      switch_texts, function, shown, parameters, switches.kinds,
                      (len(outputs), len(switches.relationals), len(switches.branches)),
                      values, switches.expressions, switches.branches, arguments + split_arguments)


# The compiled function is built in one call into the CAS that no time limit interrupts (SymEngine's
# Lambdify is C++), and its cost grows with each expression's tree written out (the compiled code
# shares no subexpressions) times its depth: measured on a shared 2-core machine, a 60-deep chain of
# sqrt (62,000 nodes, depth 246) took 1.3 s, a softmax Hessian (87,000 nodes, depth 15) 0.3 s.
# A derivation above what its budget allows is refused up front (the check then uses finite
# differences) instead of running past --timeout and AUTODIFF_CHECK_SECONDS: COMPILED_COST for a
# budget of 2 s (the default), in proportion to the budget.
COMPILED_COST = 8_000_000
_budget = [None]          # the build's budget, for _require_compilable (derive sets it)


def _compiled_cost_limit():
    budget = _budget[0]
    if budget is None:
        return 10 * COMPILED_COST
    return int(COMPILED_COST * min(10.0, max(0.02, budget / 2.0)))


def _require_compilable(expressions):
    """Refuse (Unsuitable) expressions whose trees, written out, times their depths, sum to more than
    the budget allows; counted over the shared DAG, so the count itself costs the DAG's size."""
    limit = _compiled_cost_limit()
    sizes, depths, total = {}, {}, 0
    for root in expressions:
        stack = [(root, False)]
        while stack:
            e, done = stack.pop()
            if done:
                sizes[e] = 1 + sum(sizes[a] for a in e.args)
                depths[e] = 1 + max((depths[a] for a in e.args), default=0)
                continue
            if e in sizes:
                continue
            stack.append((e, True))
            stack.extend((a, False) for a in e.args if a not in sizes)
        total += sizes[root] * depths[root]
        if total > limit:
            raise Unsuitable("the symbolic derivatives are too large to compile within the check's time budget "
                             "(compiling cannot be stopped half-way)")


_RELATIONS = {"StrictLessThan": "<", "LessThan": "<=", "StrictGreaterThan": ">", "GreaterThan": ">=",
              "Equality": "==", "Unequality": "!="}


class _Switches:
    """The switches of the derivatives (each Piecewise, and each sign/Heaviside/DiracDelta), with
    what deciding their branches needs: every relational argument (lhs - rhs) and every branch value,
    numbered once over all entries."""

    def __init__(self, cas):
        self.cas = cas
        self.kinds, self.expressions = [], []      # switch -> ("piecewise", pieces) | ("jump", relational)
        self.relationals, self.branches = [], []
        self._switch, self._relational, self._branch = {}, {}, {}

    def of(self, expr):
        """The switches in expr (numbered on first sight), sorted."""
        found, stack, seen = set(), [expr], set()
        cas = self.cas
        while stack:
            e = stack.pop()
            if e in seen:             # a shared subexpression is looked at once
                continue
            seen.add(e)
            if isinstance(e, cas.Piecewise):
                found.add(self._number(e, lambda: ("piecewise", [(self._number_branch(v), self._condition(c))
                                                                 for v, c in cas.pieces(e)])))
            elif isinstance(e, cas.switch_functions):
                found.add(self._number(e, lambda: ("jump", self._number_relational(e.args[0]))))
            stack.extend(e.args)
        return sorted(found)

    def _number(self, e, kind):
        if e not in self._switch:
            self._switch[e] = len(self.kinds)
            self.kinds.append(None)
            self.expressions.append(e)
            self.kinds[self._switch[e]] = kind()
        return self._switch[e]

    def _number_relational(self, r):
        if r not in self._relational:
            self._relational[r] = len(self.relationals)
            self.relationals.append(r)
        return self._relational[r]

    def _number_branch(self, v):
        if v not in self._branch:
            self._branch[v] = len(self.branches)
            self.branches.append(v)
        return self._branch[v]

    def _condition(self, c):
        """A condition as a tree: ("rel", op, relational), ("and"|"or", [trees]), ("not", tree), ("const", bool)."""
        cas = self.cas
        if isinstance(c, cas.relationals):
            op = _RELATIONS.get(type(c).__name__)
            if op is None:
                return ("unknown",)
            return ("rel", op, self._number_relational(c.args[0] - c.args[1]))
        if isinstance(c, cas.booleans):
            kind = type(c).__name__.lower()
            children = [self._condition(a) for a in c.args]
            return ("not", children[0]) if kind == "not" else (kind, children)
        if c == True:           # noqa: E712  (SymEngine's and SymPy's true compare equal to True)
            return ("const", True)
        if c == False:          # noqa: E712
            return ("const", False)
        return ("unknown",)

    def text(self, k, back):
        kind = self.kinds[k]
        if kind[0] == "jump":
            indices = [kind[1]]
        else:
            indices, stack = [], [tree for _, tree in kind[1]]
            while stack:
                tree = stack.pop()
                if tree[0] == "rel":
                    indices.append(tree[2])
                elif tree[0] in ("and", "or"):
                    stack.extend(tree[1])
                elif tree[0] == "not":
                    stack.append(tree[1])
        return " and ".join(dict.fromkeys(str(self.relationals[i].subs(back)) for i in sorted(indices)[:2]))


def _split_uses(program):
    """A copy of the program in which every use of an input is an input of its own (x -> x@0, x@1,
    ...) and every function's argument is multiplied by a tag of its own, an input whose value is 1
    (sin(acos(x)) -> sin(<tag0>*acos(<tag1>*x@0)), which the CAS cannot rewrite as sqrt(1 - x**2)):
    the terms and rounding errors of the engine's chain rule stay visible. Returns the program,
    {input: [its uses' names]} and the tags' names. Intermediates stay shared, as in the engine's graph."""
    uses = {name: [] for name in program.inputs}
    tags = []
    assigned = set()

    def tagged(arg):
        tags.append(f"<tag{len(tags)}>")
        return Binary("*", Name(tags[-1], arg.start, arg.start), arg, arg.start, arg.end, arg.start)

    def rebuild(node, args):
        if isinstance(node, Name):
            if node.id in uses and node.id not in assigned:
                uses[node.id].append(f"{node.id}@{len(uses[node.id])}")
                return replace(node, id=uses[node.id][-1])
            return node
        if isinstance(node, Binary):
            return replace(node, left=args[0], right=args[1])
        if isinstance(node, Unary):
            return replace(node, operand=args[0])
        if isinstance(node, Call):
            return replace(node, args=[tagged(a) for a in args])
        if isinstance(node, Stack):          # list literals and indexing: their operands' uses are split too
            return replace(node, elements=list(args))
        if isinstance(node, Index):
            return replace(node, target=args[0])
        return node

    statements = []
    for statement in program.statements:
        statements.append(replace(statement, expr=fold(statement.postorder(), rebuild)))
        if statement.name is not None:
            assigned.add(statement.name)
    split = Program(program.source, statements, [use for names in uses.values() for use in names] + tags,
                    list(program.intermediates))
    return split, uses, tags


def _magnitude(cas, expr):
    """The size of expr's terms and of the rounding errors they carry: sums and products over
    absolute values, and a function's argument's size times the function's slope there
    (sin(298 + 1e-13) moves by 1e-13 where sin itself is of size 1)."""
    if isinstance(expr, cas.Add):
        return cas.Add(*[_magnitude(cas, a) for a in expr.args])
    if isinstance(expr, cas.Mul):
        return cas.Mul(*[_magnitude(cas, a) for a in expr.args])
    if isinstance(expr, cas.Piecewise):
        return cas.Piecewise(*[(_magnitude(cas, v), c) for v, c in cas.pieces(expr)])
    if isinstance(expr, cas.Pow):
        base, exponent = expr.args
        if _positive_number(exponent):
            return _magnitude(cas, base) ** exponent
        size = abs(expr) + abs(exponent * base ** (exponent - 1)) * _magnitude(cas, base)
        return size if exponent.is_Number else size + abs(expr * cas.module.log(base)) * _magnitude(cas, exponent)
    if isinstance(expr, cas.module.Abs):
        return _magnitude(cas, expr.args[0])
    if len(expr.args) == 1 and not isinstance(expr, cas.switch_functions + cas.relationals + cas.booleans):
        slope = cas.slope(expr)
        if slope is not None:
            return abs(expr) + abs(slope) * _magnitude(cas, expr.args[0])
    return abs(expr)


def _local_slopes(cas, outputs):
    """The first and second derivatives of every function application and power of the outputs by
    its own argument(s), as expressions of the point: where one is not finite, PyTorch's chain rule
    gives nan where a zero gradient meets it (0 * inf), whatever the derivative's true value."""
    out, seen, stack = [], set(), list(outputs)
    while stack:
        e = stack.pop()
        if e in seen:
            continue
        seen.add(e)
        stack.extend(e.args)
        if isinstance(e, cas.Pow):
            base, exponent = e.args
            out += [exponent * base ** (exponent - 1), exponent * (exponent - 1) * base ** (exponent - 2)]
            if not exponent.is_Number:
                out.append(e * cas.module.log(base))
        elif (len(e.args) == 1 and not e.is_Number
              and not isinstance(e, cas.switch_functions + cas.relationals + cas.booleans + (cas.Piecewise,))):
            out += _slopes_of(cas, e)
    return out


def _node_values(recorded):
    """The value of every node where inf or nan can start (a function, a power, a division; once each,
    finite numbers left out): where one is not finite, the engine's forward pass went through inf or
    nan (x / (y / 0)), and PyTorch's chain rule may give nan there."""
    seen, out = set(), []
    for node, value in recorded.values():
        if not (isinstance(node, Call) or (isinstance(node, Binary) and node.op in ("/", "**"))):
            continue
        for e in np.ravel(value):
            if not _finite_number(e) and e not in seen:
                seen.add(e)
                out.append(e)
    return out


def _operator_slopes(cas, recorded):
    """The local derivatives of every power and division, from its operands' values (the CAS may
    have folded the result, (x - 1)**(0.0/x) -> 1.0, where the engine's d/dexponent is log(x - 1) = nan)."""
    out = []
    for node, _ in recorded.values():
        if isinstance(node, Binary) and node.op in ("**", "/"):
            operands = [recorded.get(id(c)) for c in (node.left, node.right)]
        elif isinstance(node, Call) and node.func == "pow" and len(node.args) == 2:
            operands = [recorded.get(id(c)) for c in node.args]
        else:
            continue
        if any(o is None for o in operands):
            continue
        try:
            lefts, rights = np.broadcast_arrays(*[np.asarray(v, dtype=object) for _, v in operands])
        except ValueError:
            continue
        for a, b in zip(lefts.ravel(), rights.ravel()):
            if _finite_number(a) and _finite_number(b):
                continue
            if isinstance(node, Binary) and node.op == "/":
                out += [b ** -1, a * b ** -2]
            else:
                out += [b * a ** (b - 1), b * (b - 1) * a ** (b - 2), a ** b * cas.module.log(a)]
    return out


def _finite_number(e):
    if not e.is_Number:
        return False
    try:
        return bool(np.isfinite(float(e)))
    except (RuntimeError, TypeError, ValueError, OverflowError):   # zoo, nan: not a number float() knows
        return False


_second_slopes = {}


def _slopes_of(cas, e):
    """[f'(u), f''(u)] for e = f(u) ([] if the CAS does not know f')."""
    key = (cas.name, type(e))
    if key not in _second_slopes:
        u = cas.symbol("<u>")
        try:
            first = cas.diff(cas.rebuild(e, [u]), u)
            second = cas.diff(first, u)
            known = not cas.contains(second, cas.undefined)
        except (Unsuitable, TypeError, ValueError):
            known = False
        _second_slopes[key] = (u, first, second) if known else None
    if _second_slopes[key] is None:
        return []
    u, first, second = _second_slopes[key]
    return [first.subs({u: e.args[0]}), second.subs({u: e.args[0]})]


def _positive_number(value):
    if not value.is_Number:
        return False
    try:
        return float(value) > 0
    except (RuntimeError, TypeError):   # zoo, nan: not a number float() knows
        return False
