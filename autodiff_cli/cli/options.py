"""Every option of the CLI, declared once (the contract's table), and the parsing of NAME=VALUE
arguments. A command lists the options it takes by these names."""
from typing import Annotated, Optional

import typer

from ..errors import AutodiffError

Json = Annotated[bool, typer.Option("--json", help="Machine output: one JSON record on stdout, nothing else.")]
Wrt = Annotated[Optional[str], typer.Option(
    "--wrt", metavar="x,y", help="Differentiate only w.r.t. these variables; the others are constants.")]
Check = Annotated[bool, typer.Option(
    "--check/--no-check", help="Cross-check against SymPy (or finite differences for big expressions).")]
RandomSeed = Annotated[Optional[int], typer.Option(
    "--random-seed", metavar="N", min=0, help="Seed for rand/randn bindings (N >= 0), so runs repeat.")]
Debug = Annotated[bool, typer.Option("--debug", help="Show the Python traceback of an internal error.")]
Graph = Annotated[bool, typer.Option("--graph", help="Show the grad_fn graph of the output as a tree.")]
Dot = Annotated[Optional[str], typer.Option(
    "--dot", metavar="FILE", help="Write the graph as Graphviz DOT (FILE.svg/.png/.pdf: rendered if 'dot' is installed).")]
Steps = Annotated[bool, typer.Option(
    "--steps", help="Show every node of the forward pass with its value and gradient (the chain rule).")]
Precision = Annotated[int, typer.Option(
    "--precision", metavar="N", min=1, max=17, help="Significant digits of the numbers shown (default 6).")]
Full = Annotated[bool, typer.Option(
    "--full", help="Show every element of large arrays (and echo large inputs whole in --json).")]
Latex = Annotated[bool, typer.Option("--latex", help="Show the symbolic derivatives as LaTeX (also \"latex\" in --json).")]
Expr = Annotated[str, typer.Argument(
    metavar="EXPR", show_default=False, help="The expression, e.g. \"x**2 + sin(y)\" or \"z = x*y; z + x\".")]
Bindings = Annotated[Optional[list[str]], typer.Argument(
    metavar="NAME=VALUE", show_default=False, help="Values of the variables, e.g. x=2 \"y=[1,2,3]\" (quote brackets and parentheses).")]

# the options of one mode (calculus.Mode.options), by the mode's name for them
Gradient = Annotated[Optional[str], typer.Option(
    "-g", "--gradient", metavar="VALUE",
    help="Seed of the backward pass for a non-scalar output: a binding value, or 'ones'.")]
Order = Annotated[int, typer.Option(
    "--order", min=1, metavar="N", help="Highest order (N >= 1), by repeated double backward.")]
Tangents = Annotated[Optional[list[str]], typer.Option(
    "--tangent", "-t", metavar="NAME=VALUE",
    help="The tangent of a variable (its shape); once per variable, zero where not given.")]
MODE_OPTIONS = {"gradient": Gradient, "order": Order, "tangents": Tangents}

# what a mode's result can also show: by Mode.shows
SHOWS = {"steps": Steps, "graph": Graph, "dot": Dot}


def parse_bindings(args, what="binding"):
    """NAME=VALUE arguments (bindings, or --tangent values) -> {name: value text}; the texts are
    parsed by evaluate()."""
    from ..inputs.bindings import parse_binding_arg
    values = {}
    for arg in args or ():
        if "=" not in arg and what == "tangent":
            raise AutodiffError("usage", f"--tangent needs NAME=VALUE, like --tangent x=1, got '{arg}'")
        if "=" not in arg:
            if arg.startswith("-"):
                raise AutodiffError("usage", f"no such option: {arg}",
                                    hint="see --help; bindings are NAME=VALUE, after the expression")
            raise AutodiffError("binding", f"expected NAME=VALUE after the expression, got '{arg}'",
                                hint="the expression comes first, e.g. autodiff grad \"x**2 + y\" x=3 y=1")
        name, text = parse_binding_arg(arg)
        if name in values:
            raise AutodiffError("binding", f"{name} is bound twice" if what == "binding" else
                                f"the tangent of {name} is given twice", len(name) + 1, source=arg,
                                hint="give each variable one value")
        values[name] = text
    return values


def checked_bindings(args):
    """The environment's settings checked, then the NAME=VALUE arguments parsed (AutodiffError)."""
    from .boundary import settings_problem
    problem = settings_problem()
    if problem:
        raise problem
    return parse_bindings(args)
