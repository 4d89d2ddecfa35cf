"""The `autodiff` command line: option parsing, output routing and exit codes.

    autodiff grad "3*x**2 + 2*x*y + y**2" x=2 y=1

Everything heavy (numpy results, rich, SymPy) is imported inside the command functions, so that
`autodiff --help` and `autodiff grad ... --no-check` start quickly and never import SymPy.
Output rules (docs/cli-contract): with `--json` stdout carries exactly one JSON record and nothing
else; warnings, errors and progress always go to stderr. Exit codes: 0 ok, 1 a cross-check
mismatch (or a batch record not ok), 2 bad input (and, with "internal error", a bug of ours).
"""
import gc
import re
import sys
from typing import Annotated, Optional

import typer
from typer.core import TyperCommand, TyperGroup

try:                       # typer >= 0.20 vendors click as typer._click
    from typer import _click as click
except ImportError:        # pragma: no cover - older typer uses click itself
    import click

from . import __version__

EXIT_OK, EXIT_MISMATCH, EXIT_USAGE = 0, 1, 2


# --- parsing: an expression may start with '-' --------------------------------------------------

_LONG_OPTION = re.compile(r"--[A-Za-z][-A-Za-z0-9]*(=|$)")   # --json, --wrt=x (not "------x")


def _positionals_last(command, ctx, args):
    """Reorder argv so that anything that is not one of the command's options is positional.

    Click treats every argument that starts with '-' as an option, which would reject
    `autodiff grad "-x**2" x=1` (and split "-log(x)" into short options). Here the command's own
    options (and their values) are moved in front, and everything else goes after a `--`, in its
    original order. Unknown `--long` options stay options, so click still reports them. After an
    explicit `--` everything is positional except the command's own `--long` options (so
    `autodiff grad -- -g x=1` differentiates `-g`, and a trailing `--json` still counts).
    """
    takes_value, flags = set(), set()
    for param in command.get_params(ctx):
        if getattr(param, "param_type_name", None) == "option":
            names = list(param.opts) + list(param.secondary_opts)
            (flags if param.is_flag or param.count else takes_value).update(names)
    options, positionals = [], []
    after_dashes = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--" and not after_dashes:
            after_dashes = True
        elif arg in takes_value and not (after_dashes and not arg.startswith("--")):
            if i + 1 == len(args):
                raise click.exceptions.BadOptionUsage(arg, f"option '{arg}' requires an argument", ctx=ctx)
            options.extend(args[i:i + 2])
            i += 1
        elif arg in flags and not (after_dashes and not arg.startswith("--")):
            options.append(arg)
        elif _LONG_OPTION.match(arg) and (
                not after_dashes or arg.split("=", 1)[0] in takes_value):
            options.append(arg)   # --name=value, or an unknown --option that click will report
        else:
            positionals.append(arg)
        i += 1
    return options + (["--"] + positionals if positionals else [])


_HELP_NOISE = ((re.compile(r"\{([A-Z=]+)\}"), r"\1"),            # {EXPR} -> EXPR
               (re.compile(r"\[\[FILE\|-\]\]"), "[FILE|-]"),
               (re.compile(r" <(?:str|list\[str\])>"), ""))         # EXPR <str> -> EXPR


class HelpCommand(TyperCommand):
    """A command whose help shows the placeholders as written (EXPR, NAME=VALUE, [FILE|-]), without
    typer's type decorations ({EXPR}, <list[str]>, [[FILE|-]]), keeping the columns aligned."""

    def get_help(self, ctx):
        text = super().get_help(ctx)
        for pattern, replacement in _HELP_NOISE:
            text = pattern.sub(lambda m: _padded(m, replacement), text)
        return text


def _padded(match, replacement):
    """The replacement, padded to the matched width when it is followed by spaces (a help column)."""
    new = match.expand(replacement)
    following = match.string[match.end():match.end() + 2]
    return new.ljust(len(match.group(0))) if following == "  " else new


class ExprCommand(HelpCommand):
    """A command whose positional EXPR and NAME=VALUE arguments may start with '-'."""

    def parse_args(self, ctx, args):
        return super().parse_args(ctx, _positionals_last(self, ctx, list(args)))


def _lower_first(message):
    return message[:1].lower() + message[1:] if message[1:2].islower() else message


class AutodiffGroup(TyperGroup):
    """The top-level group: turns click's usage errors into one `error: ...` line and exit 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                standalone_mode=False, **extra)
            code = code if isinstance(code, int) else EXIT_OK
        except click.exceptions.NoArgsIsHelpError as exc:
            if exc.ctx.parent is None:                    # `autodiff` alone: the help is the answer
                sys.stdout.write(exc.ctx.get_help() + "\n")
                code = EXIT_OK
            else:                                         # `autodiff grad` alone: EXPR is missing
                sys.stderr.write(exc.ctx.get_help() + "\n")
                code = EXIT_USAGE
        except click.exceptions.ClickException as exc:
            from .ui.console import escape_text
            message = escape_text(_lower_first(exc.format_message()))
            lines = [f"error: {message}"]
            if (isinstance(exc, click.exceptions.NoSuchOption)
                    and not exc.option_name.lstrip("-").replace("-", "").replace("_", "").isalnum()):
                lines.append("(an expression that starts with '-' can follow '--': autodiff grad -- \"-x**2\" x=1)")
            ctx = getattr(exc, "ctx", None)
            if ctx is not None:
                lines.append(f"Try '{ctx.command_path} --help' for help.")
            sys.stderr.write("\n".join(lines) + "\n")
            code = EXIT_USAGE
        except typer.Abort:
            sys.stderr.write("error: aborted\n")
            code = 130
        if standalone_mode:
            sys.exit(code)
        return code


# --- the app --------------------------------------------------------------------------------------

APP_HELP = """Gradients, Hessians and Jacobians of expressions, by reverse-mode automatic
differentiation (PyTorch's conventions), cross-checked with SymPy."""

APP_EPILOG = """\b
Examples:
  autodiff grad "3*x**2 + 2*x*y + y**2" x=2 y=1
  autodiff grad "sum(x**2)" "x=[1,2,3]" --json
  autodiff grad "z = x*y; w = z + x" x=2 y=3 --steps --graph
  autodiff hessian "x**2*y + y**3" x=1 y=2
  autodiff jacobian "x*y" "x=[1,2]" y=3
  autodiff minimize "(x-3)**2 + (y+1)**2" x=0 y=0
  autodiff derivatives "x**4*y" x=2 y=1 --order 3
  autodiff jvp "sin(x)*y" x=1 y=2 --tangent x=1 --tangent y=0
  autodiff batch records.jsonl --json
  autodiff plot "sin(x)*x" x=-6:6

Exit codes: 0 ok, 1 a cross-check mismatch (minimize: diverged), 2 bad input.
"""

GRAD_EPILOG = """\b
Examples:
  autodiff grad "3*x**2 + 2*x*y + y**2" x=2 y=1
  autodiff grad "x**2 + x" "x=[[1,2,3],[4,5,6]]" --gradient ones
  autodiff grad "dot(X, W) + b" "X=[1.5,2.5]" "W=randn(2)" b=0.1 --wrt W,b --random-seed 0
  autodiff grad "z = x**2; y = z**3; L = log(y)" x=2 --steps
  autodiff grad "sin(x)*exp(x)" x=1 --graph --dot graph.svg
  autodiff grad -- "-x**2" x=1        (an expression starting with '-' also works without '--')

\b
Bindings: NAME=VALUE, VALUE one of 2, -2.5, 1e-3, pi, [[1,2],[3,4]], rand(2,3), randn(3),
arange(4), ones(2,3), zeros(3), eye(3), linspace(0,1,5), @file.npy, @file.csv
(quote a binding with brackets or parentheses for the shell: "x=[1,2]" "W=randn(3)").
"""

HESSIAN_EPILOG = """\b
Examples:
  autodiff hessian "x**2*y + y**3" x=1 y=2
  autodiff hessian "sum(x**3)" "x=[1,2,3]" --json
"""

JACOBIAN_EPILOG = """\b
Examples:
  autodiff jacobian "x*y" "x=[1,2]" y=3
  autodiff jacobian "A @ x" "A=[[1,2],[3,4]]" "x=[1,1]" --wrt x
"""

MINIMIZE_EPILOG = """\b
Examples:
  autodiff minimize "(x-3)**2 + (y+1)**2" x=0 y=0
  autodiff minimize "(1-x)**2 + 100*(y-x**2)**2" x=-1.2 y=1 --optimizer adam --lr 0.01 --steps 20000
  autodiff minimize "sum((w - t)**2)" w=zeros(3) t=[1,2,3] --wrt w --json

\b
Stops after --steps updates (at most AUTODIFF_MAX_MINIMIZE_STEPS, default 100000), when the
gradient norm is <= --tol, or when the value or the gradient stops being finite ("diverged",
exit code 1). Updates follow torch.optim.SGD / torch.optim.Adam step for step.
"""

DERIVATIVES_EPILOG = """\b
Examples:
  autodiff derivatives "x**4*y" x=2 y=1 --order 3
  autodiff derivatives "sin(x)*exp(y)" x=0.5 y=1 --order 4 --wrt x --json
"""

JVP_EPILOG = """\b
Examples:
  autodiff jvp "sin(x)*y" x=1 y=2 --tangent x=1 --tangent y=0
  autodiff jvp "softmax(W)" "W=[[1,2],[3,4]]" --tangent "W=[[1,0],[0,1]]" --json
(a variable without --tangent has tangent zero)
"""

BATCH_EPILOG = """\b
Examples:
  autodiff batch records.jsonl --json
  cat records.jsonl | autodiff batch - --json --jobs 4 --timeout 5
  autodiff batch records.jsonl --json --dask tcp://scheduler:8786

\b
A JSON Lines record: {"expr": "x**2", "bindings": {"x": 3}, "mode": "grad", "id": "a"}
(only "expr" is required). Every record yields one result, in input order; a bad record
yields status "error" and the batch goes on. Exit code 1 if any record is not ok.
"""


def _version_callback(value: bool):
    if value:
        sys.stdout.write(f"autodiff {__version__}\n")
        raise typer.Exit(EXIT_OK)


app = typer.Typer(
    cls=AutodiffGroup,
    name="autodiff",
    help=APP_HELP,
    epilog=APP_EPILOG,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    version: Annotated[Optional[bool], typer.Option(
        "--version", callback=_version_callback, is_eager=True, help="Show the version and exit.")] = None,
):
    """Gradients, Hessians and Jacobians of expressions, cross-checked with SymPy."""


# Options shared by the commands (the contract's table).
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine output: one JSON record on stdout, nothing else.")]
WrtOpt = Annotated[Optional[str], typer.Option(
    "--wrt", metavar="x,y", help="Differentiate only w.r.t. these variables; the others are constants.")]
CheckOpt = Annotated[bool, typer.Option(
    "--check/--no-check", help="Cross-check against SymPy (or finite differences for big expressions).")]
SeedOpt = Annotated[Optional[int], typer.Option(
    "--random-seed", metavar="N", min=0, help="Seed for rand/randn bindings (N >= 0), so runs repeat.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the Python traceback of an internal error.")]
GraphOpt = Annotated[bool, typer.Option("--graph", help="Show the grad_fn graph of the output as a tree.")]
DotOpt = Annotated[Optional[str], typer.Option(
    "--dot", metavar="FILE", help="Write the graph as Graphviz DOT (FILE.svg/.png/.pdf: rendered if 'dot' is installed).")]
PrecisionOpt = Annotated[int, typer.Option(
    "--precision", metavar="N", min=1, max=17, help="Significant digits of the numbers shown (default 6).")]
FullOpt = Annotated[bool, typer.Option(
    "--full", help="Show every element of large arrays (and echo large inputs whole in --json).")]
LatexOpt = Annotated[bool, typer.Option("--latex", help="Show the symbolic derivatives as LaTeX (also \"latex\" in --json).")]
ExprArg = Annotated[str, typer.Argument(
    metavar="EXPR", show_default=False, help="The expression, e.g. \"x**2 + sin(y)\" or \"z = x*y; z + x\".")]
BindingsArg = Annotated[Optional[list[str]], typer.Argument(
    metavar="NAME=VALUE", show_default=False, help="Values of the variables, e.g. x=2 \"y=[1,2,3]\" (quote brackets and parentheses).")]


@app.command(cls=ExprCommand, epilog=GRAD_EPILOG,
             short_help="Value and gradient of EXPR (reverse mode), cross-checked.")
def grad(
    expr: ExprArg,
    bindings: BindingsArg = None,
    gradient: Annotated[Optional[str], typer.Option(
        "-g", "--gradient", metavar="VALUE",
        help="Seed of the backward pass for a non-scalar output: a binding value, or 'ones'.")] = None,
    wrt: WrtOpt = None,
    json_output: JsonOpt = False,
    check: CheckOpt = True,
    random_seed: SeedOpt = None,
    debug: DebugOpt = False,
    steps: Annotated[bool, typer.Option(
        "--steps", help="Show every node of the forward pass with its value and gradient (the chain rule).")] = False,
    graph: GraphOpt = False,
    dot: DotOpt = None,
    precision: PrecisionOpt = 6,
    full: FullOpt = False,
    latex: LatexOpt = False,
):
    """Value of EXPR and its gradient w.r.t. every input variable (reverse mode)."""
    raise typer.Exit(_run("grad", expr, bindings, gradient=gradient, wrt=wrt, json_output=json_output,
                          check=check, random_seed=random_seed, debug=debug, steps=steps, graph=graph, dot=dot,
                          precision=precision, full=full, latex=latex))


def _derivative_matrix_command(mode, epilog, short_help, help_text):
    """`hessian` and `jacobian` take the same arguments and options: one declaration for both."""
    def command(
        expr: ExprArg,
        bindings: BindingsArg = None,
        wrt: WrtOpt = None,
        json_output: JsonOpt = False,
        check: CheckOpt = True,
        random_seed: SeedOpt = None,
        debug: DebugOpt = False,
        graph: GraphOpt = False,
        dot: DotOpt = None,
        precision: PrecisionOpt = 6,
        full: FullOpt = False,
        latex: LatexOpt = False,
    ):
        raise typer.Exit(_run(mode, expr, bindings, wrt=wrt, json_output=json_output, check=check,
                              random_seed=random_seed, debug=debug, graph=graph, dot=dot,
                              precision=precision, full=full, latex=latex))

    app.command(mode, cls=ExprCommand, epilog=epilog, short_help=short_help, help=help_text)(command)


_derivative_matrix_command("hessian", HESSIAN_EPILOG, "All second derivatives of a scalar EXPR (double backward).",
                           "All second derivatives of a scalar EXPR (double backward).")
_derivative_matrix_command("jacobian", JACOBIAN_EPILOG, "The full Jacobian of EXPR w.r.t. its variables.",
                           "The full Jacobian of EXPR (any output shape) w.r.t. its input variables.")


@app.command(cls=ExprCommand, epilog=MINIMIZE_EPILOG,
             short_help="Walk downhill on a scalar EXPR with SGD or Adam, from the bindings.")
def minimize(
    expr: ExprArg,
    bindings: BindingsArg = None,
    optimizer: Annotated[str, typer.Option(
        "--optimizer", metavar="sgd|adam", help="SGD (with --momentum) or Adam (betas 0.9, 0.999).")] = "sgd",
    lr: Annotated[float, typer.Option("--lr", metavar="RATE", help="Learning rate (step size), > 0.")] = 0.1,
    momentum: Annotated[Optional[float], typer.Option(
        "--momentum", metavar="M", help="SGD momentum (default 0.9; 0 for plain gradient descent).")] = None,
    steps: Annotated[int, typer.Option("--steps", metavar="N", help="Most optimizer steps.")] = 1000,
    tol: Annotated[float, typer.Option(
        "--tol", metavar="T", help="Stop once the gradient's 2-norm is <= T.")] = 1e-10,
    clip_value: Annotated[Optional[float], typer.Option(
        "--clip-value", metavar="C", help="Clamp each gradient element into [-C, C] before a step.")] = None,
    clip_norm: Annotated[Optional[float], typer.Option(
        "--clip-norm", metavar="N", help="Rescale the gradient to 2-norm <= N before a step.")] = None,
    wrt: Annotated[Optional[str], typer.Option(
        "--wrt", metavar="x,y", help="Minimize over these variables only; the others stay fixed.")] = None,
    trace: Annotated[int, typer.Option(
        "--trace", metavar="N", help="Keep at most N trajectory entries (first steps, every k-th, last).")] = 100,
    plot: Annotated[Optional[str], typer.Option(
        "--plot", metavar="FILE", help="Also draw value and gradient norm per step (and, for two variables, "
                                       "the path over the contours) to FILE (.png, .svg, .pdf).")] = None,
    json_output: JsonOpt = False,
    random_seed: SeedOpt = None,
    debug: DebugOpt = False,
    full: Annotated[bool, typer.Option(
        "--full", help="Keep parameters of more than 1000 elements whole in the trajectory (else shape, "
                       "min, max, norm).")] = False,
):
    """Minimize the scalar value of EXPR over its variables, starting at the bindings."""
    options = dict(wrt=wrt, optimizer=optimizer, lr=lr, momentum=momentum, steps=steps, tol=tol,
                   clip_value=clip_value, clip_norm=clip_norm, trace=trace, random_seed=random_seed, full=full)

    def work(bindings):
        from .minimize import minimize as run_minimize
        from .ui.console import isatty
        if plot:
            from .errors import AutodiffError
            from .ui.plot import image_format
            try:
                image_format(plot)          # a bad file name is known before the run
            except AutodiffError as err:
                return _input_error(err, expr, json_output)
        if json_output or not isatty(sys.stderr):
            result = run_minimize(expr, bindings, **options)
        else:
            from .ui.minimize import progress_bar
            with progress_bar(sys.stderr, steps) as bar:
                result = run_minimize(expr, bindings, on_step=bar.update, **options)
        code = _report(result, _print_minimize, json_output=json_output)
        if plot and result.error is None:
            code = max(code, _plot_minimize(result, plot, bindings, random_seed))
        return code

    raise typer.Exit(_guarded(expr, bindings, json_output, debug, work))


_SCHEDULER_ADDRESS = re.compile(r"[a-z]+://\S+|[\w.-]+:\d+|\[[0-9a-fA-F:]+\]:\d+")


class BatchCommand(HelpCommand):
    """`--dask` takes an optional value: `--dask` alone runs a local cluster, `--dask ADDRESS` a
    scheduler's (typer has no options with optional values: a bare `--dask` becomes `--dask=local`)."""

    def parse_args(self, ctx, args):
        args = list(args)
        for i, arg in enumerate(args):
            if arg == "--":
                break
            if arg == "--dask" and not (i + 1 < len(args) and _SCHEDULER_ADDRESS.fullmatch(args[i + 1])):
                args[i] = "--dask=local"
        return super().parse_args(ctx, args)


@app.command(cls=ExprCommand, epilog=DERIVATIVES_EPILOG,
             short_help="Every derivative of a scalar EXPR up to --order N (default 3).")
def derivatives(
    expr: ExprArg,
    bindings: BindingsArg = None,
    order: Annotated[int, typer.Option(
        "--order", min=1, metavar="N", help="Highest order (N >= 1), by repeated double backward.")] = 3,
    wrt: WrtOpt = None,
    json_output: JsonOpt = False,
    check: CheckOpt = True,
    random_seed: SeedOpt = None,
    debug: DebugOpt = False,
):
    """Every derivative of a scalar EXPR w.r.t. its scalar variables, up to order N."""
    raise typer.Exit(_run("derivatives", expr, bindings, order=order, wrt=wrt, json_output=json_output,
                          check=check, random_seed=random_seed, debug=debug))


@app.command(cls=ExprCommand, epilog=JVP_EPILOG,
             short_help="Forward mode: the Jacobian-vector product J.t in one forward pass.")
def jvp(
    expr: ExprArg,
    bindings: BindingsArg = None,
    tangent: Annotated[Optional[list[str]], typer.Option(
        "--tangent", "-t", metavar="NAME=VALUE",
        help="The tangent of a variable (its shape); once per variable, zero where not given.")] = None,
    wrt: WrtOpt = None,
    json_output: JsonOpt = False,
    check: CheckOpt = True,
    random_seed: SeedOpt = None,
    debug: DebugOpt = False,
):
    """J.t for any output shape, by forward mode: tangents carried beside the values."""
    raise typer.Exit(_run("jvp", expr, bindings, tangents=tangent or [], wrt=wrt, json_output=json_output,
                          check=check, random_seed=random_seed, debug=debug))


@app.command(cls=BatchCommand, epilog=BATCH_EPILOG, short_help="Every record of a file (or stdin), in input order.")
def batch(
    source: Annotated[str, typer.Argument(
        metavar="[FILE|-]", help="JSON Lines or text records; '-' (the default) reads stdin.")] = "-",
    json_output: JsonOpt = False,
    jobs: Annotated[Optional[int], typer.Option(
        "-j", "--jobs", min=0, metavar="N",
        help="Worker processes (0: one per CPU; 1, the default: no workers; at most 4 per CPU).")] = None,
    timeout: Annotated[Optional[float], typer.Option(
        "--timeout", metavar="SECONDS", min=0.0, max=1_000_000.0,
        help="Time limit per record in seconds, up to 10^6 (0: none; default: AUTODIFF_TIMEOUT or 10).")] = None,
    wrt: WrtOpt = None,
    check: CheckOpt = True,
    random_seed: SeedOpt = None,
    files_root: Annotated[Optional[str], typer.Option(
        "--files-root", metavar="DIR",
        help="Folder whose files @path bindings may read (default: the batch file's folder; stdin: the "
             "current directory).")] = None,
    debug: DebugOpt = False,
    dask: Annotated[Optional[str], typer.Option(
        "--dask", metavar="[ADDRESS]",
        help="Run on a Dask cluster: a new local one, or the scheduler at ADDRESS (tcp://HOST:8786).")] = None,
    partition_size: Annotated[Optional[str], typer.Option(
        "--partition-size", metavar="SIZE", help="With --dask: input bytes per task, like 4MiB (default: automatic).")] = None,
    output_dir: Annotated[Optional[str], typer.Option(
        "--output-dir", metavar="DIR", help="With --dask: a JSON Lines file per partition and manifest.json in DIR.")] = None,
    quiet: Annotated[bool, typer.Option(
        "-q", "--quiet", help="No progress bar (it is shown on a terminal's stderr) and no terminal hint.")] = False,
    precision: PrecisionOpt = 6,
):
    """Every record of FILE (or stdin), one result per record, in input order."""
    problem = _settings_problem()
    if problem:
        from .ui.console import escape_text, write_stderr
        write_stderr(f"error: {escape_text(problem.message)}")
        raise typer.Exit(EXIT_USAGE)
    try:
        if dask is not None or partition_size is not None or output_dir is not None:
            from .batch.dask import run_batch_dask_cli
            code = run_batch_dask_cli(source, dask=dask, jobs=jobs, partition_size=partition_size,
                                      output_dir=output_dir, json_output=json_output, timeout=timeout,
                                      check=check, random_seed=random_seed, wrt=wrt, files_root=files_root)
        else:
            from .batch import run_batch
            code = run_batch(source, json_output=json_output, jobs=1 if jobs is None else jobs, timeout=timeout,
                             check=check, random_seed=random_seed, wrt=wrt, files_root=files_root,
                             quiet=quiet, precision=precision)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback unless --debug
        code = _internal_error(exc, debug)
    raise typer.Exit(code)


PLOT_EPILOG = """\b
Examples:
  autodiff plot "sin(x)*x" x=-6:6                  f and f' in the terminal
  autodiff plot "sin(x)*x" x=-6:6 --order 2 --out f.png
  autodiff plot "x**2 + 3*y**2" x=-2:2 y=-2:2 --out field.png
  autodiff plot "a*x**3" x=-1:1:21 a=2 --json

\b
A range is start:stop, start:stop:count or linspace(start, stop, count); a variable left
unbound is swept over -5:5. Exit code 1 if the check disagrees anywhere.
"""


@app.command(cls=ExprCommand, epilog=PLOT_EPILOG,
             short_help="Plot EXPR and its derivatives over a range.")
def plot(
    expr: ExprArg,
    bindings: BindingsArg = None,
    order: Annotated[int, typer.Option("--order", metavar="1|2", help="Also draw f'' (2).")] = 1,
    out: Annotated[Optional[str], typer.Option(
        "--out", metavar="FILE", help="Write an image (.png, .svg, .pdf) instead of the terminal plot.")] = None,
    points: Annotated[Optional[int], typer.Option(
        "--points", metavar="N", help="Points of a range that gives no count (default 200; 81 per axis for two).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="The sampled points as one JSON object on stdout.")] = False,
    check: CheckOpt = True,
    random_seed: SeedOpt = None,
    debug: DebugOpt = False,
):
    """f, f' (and f'') of EXPR over a range of one variable; contours and gradient arrows for two."""
    raise typer.Exit(_run_plot(expr, bindings, order=order, out=out, points=points, json_output=json_output,
                               check=check, random_seed=random_seed, debug=debug))


# --- running one expression -----------------------------------------------------------------------
# The library does the work (evaluate, ui/*): here only where each part of the answer is printed.

def _internal_error(exc, debug, *, expression=None, json_output=False):
    """Report a bug of ours: the traceback with --debug, else one line. Returns the exit code."""
    from .ui.console import escape_text, write_stderr
    if debug:
        import traceback
        traceback.print_exception(exc, file=sys.stderr)
    else:
        write_stderr(f"error: internal error: {escape_text(f'{type(exc).__name__}: {exc}')} "
                     f"(run with --debug for the traceback)")
    if json_output and expression is not None:
        from .result import error_record
        _print_error_record(error_record(expression, "internal", f"{type(exc).__name__}: {exc}"))
    return EXIT_USAGE


def _print_error_record(record):
    """An error's JSON record on stdout (after its stderr line); a failed write is one more line."""
    from .result import dumps
    from .ui.console import cannot_write, quiet_output, write_stderr
    try:
        sys.stdout.write(dumps(record) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_output()
    except OSError as exc:
        write_stderr(cannot_write(exc))


def _input_error(err, expression, json_output):
    """A rejection found here (before evaluate): stderr line, a JSON record with --json, exit 2."""
    from .ui.console import write_stderr
    from .ui.errors import error_text
    write_stderr(error_text(err))
    if json_output:
        from .result import error_record
        _print_error_record(error_record(expression, err))
    return EXIT_USAGE


def _parse_bindings(args, what="binding"):
    """NAME=VALUE arguments (bindings, or --tangent values) -> {name: value text}; the texts are
    parsed by evaluate()."""
    from .bindings import parse_binding_arg
    from .errors import AutodiffError
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


def _settings_problem():
    """An environment variable set out of its range (AUTODIFF_TIMEOUT=1e10), as an AutodiffError."""
    from .limits import settings_problem
    from .errors import AutodiffError
    problem = settings_problem()
    return AutodiffError("usage", problem) if problem else None


def _run(mode, expr, binding_args, *, gradient=None, wrt=None, json_output=False, check=True,
         random_seed=None, debug=False, steps=False, graph=False, dot=None, precision=6, full=False,
         latex=False, order=None, tangents=None):
    def work(bindings):
        from .errors import AutodiffError
        from .evaluate import evaluate
        try:
            options = {"grad": {"gradient": gradient}, "derivatives": {"order": order},
                       "jvp": {"tangents": _parse_bindings(tangents, "tangent") if tangents is not None else None},
                       }.get(mode, {})
            if dot:                          # --dot g.svg without Graphviz: refused before the run
                from .ui.graph import dot_problem
                problem = dot_problem(dot)
                if problem:
                    raise AutodiffError("usage", problem)
        except AutodiffError as err:
            return _input_error(err, expr, json_output)
        if check:
            from .check import prepare   # import the CAS outside the check's time budget
            prepare()
        result = evaluate(expr, bindings, wrt=wrt, mode=mode, check=check, random_seed=random_seed,
                          trace=bool(steps or graph or dot), latex=latex, simplify=not json_output, **options)
        shown = {"precision": precision, "full": full, "latex": latex}
        return _report(result, _print_result, json_output=json_output, steps=steps, graph=graph, dot=dot,
                       shown=shown)

    return _guarded(expr, binding_args, json_output, debug, work)


def _guarded(expr, binding_args, json_output, debug, work):
    """Parse the bindings, then `work(bindings)` -> exit code; bad bindings, ^C and bugs of ours
    are reported here."""
    from .errors import AutodiffError
    try:
        try:
            problem = _settings_problem()
            if problem:
                raise problem
            bindings = _parse_bindings(binding_args)
        except AutodiffError as err:
            return _input_error(err, expr, json_output)
        return work(bindings)
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except MemoryError:           # the result computed, but printing it does not fit
        return _input_error(AutodiffError("limit", "out of memory while writing the result (lower "
                                                   "AUTODIFF_MAX_ELEMENTS to be stopped earlier)"), expr, json_output)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback unless --debug
        return _internal_error(exc, debug, expression=expr, json_output=json_output)


def _run_plot(expr, binding_args, *, order, out, points, json_output, check, random_seed, debug):
    from .errors import AutodiffError
    from .ui.console import escape_text, quiet_output, write_stderr
    try:
        try:
            problem = _settings_problem()
            if problem:
                raise problem
            from .sampling import sample
            from .ui import plot as plots
            samples = sample(expr, _parse_bindings(binding_args), order=order, points=points, check=check,
                             random_seed=random_seed)
            if out:
                plots.write_image(samples, out)
            elif not json_output:
                text = plots.terminal_plot(samples, **plots.terminal_size_and_colour())
        except AutodiffError as err:
            return _input_error(err, expr, json_output)
        for note in samples.notes:
            write_stderr(f"note: {escape_text(note)}")
        try:
            if json_output:
                from .result import dumps
                sys.stdout.write(dumps(samples.as_dict()) + "\n")
            else:
                sys.stdout.write(("" if out else text) + "\n".join(plots.summary_lines(samples)) + "\n")
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:           # a full disk, /dev/full: one line, as the other commands
            from .ui.console import cannot_write
            write_stderr(cannot_write(exc))
            return EXIT_USAGE
        if out:
            write_stderr(f"wrote {escape_text(out)}")
        if samples.check is not None and samples.check.passed is False:
            write_stderr("error: cross-check mismatch: the engine's derivative and the independent check disagree")
            return EXIT_MISMATCH
        return EXIT_OK
    except BrokenPipeError:
        quiet_output()
        return EXIT_OK
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback unless --debug
        return _internal_error(exc, debug, expression=expr, json_output=json_output)


def _report(result, printer, **options):
    """Print a result where it belongs with `printer(result, **options)`; returns the exit code
    (the result's, even if the reader of stdout went away early)."""
    from .ui.console import cannot_write, quiet_output, write_stderr
    try:
        return printer(result, **options)
    except BrokenPipeError:
        quiet_output()
        return result.exit_code
    except OSError as exc:           # a full disk, /dev/full: say so, without a traceback
        write_stderr(cannot_write(exc))
        return EXIT_USAGE


def _print_record_and_messages(result, json_output, full=False):
    """What every command prints first: the JSON record (--json), the warnings, the error."""
    from .ui.console import escape_text, write_stderr
    if json_output:
        sys.stdout.write((result.to_json(full=True) if full else result.to_json()) + "\n")
        sys.stdout.flush()
    for warning in result.warnings:
        write_stderr(f"warning: {escape_text(warning)}")
    if result.error is not None:
        from .ui.errors import error_text
        write_stderr(error_text(result.error))


def _plot_minimize(result, path, bindings, random_seed):
    """--plot: the image of a finished run (the contours need two scalar variables). Exit code."""
    from .errors import AutodiffError
    from .ui import minimize as ui
    from .ui.console import escape_text, write_stderr
    field = None
    if len(result.point) == 2 and all(getattr(v, "size", 1) == 1 for v in result.point.values()):
        from .sampling import sample
        try:
            field = sample(result.expression, {**bindings, **ui.path_box(result)}, check=False,
                           random_seed=random_seed)
        except AutodiffError as err:
            write_stderr(f"note: no contour plot: {escape_text(err)}")
    try:
        ui.write_image(result, path, field)
    except AutodiffError as err:
        from .ui.errors import error_text
        write_stderr(error_text(err))
        return EXIT_USAGE
    write_stderr(f"wrote {escape_text(path)}")
    return EXIT_OK


def _print_minimize(result, *, json_output):
    _print_record_and_messages(result, json_output)
    if result.error is None and not json_output:
        from .ui.console import console, print_lines
        from .ui.minimize import render_minimize
        out = console()
        print_lines(out, render_minimize(result, out.width))
    return result.exit_code


def _print_result(result, *, json_output, steps, graph, dot, shown):
    _print_record_and_messages(result, json_output, full=shown["full"])
    if result.error is not None:
        return result.exit_code
    from .ui.console import escape_text, write_stderr
    if result.status == "mismatch":
        write_stderr("error: cross-check mismatch: the engine's derivative and the independent check disagree")
    if json_output and not (steps or graph or dot):
        return result.exit_code        # the JSON path never imports rich

    from .ui import graph as graphs
    from .ui import tables
    from .ui.console import console, print_lines
    out = console(stderr=True) if json_output else console()   # --json: stdout holds only the record
    view = tables.View(width=out.width, **shown)
    extras = ([tables.render_steps(result, view)] if steps else []) + (
        [graphs.render_graph(result.output, result.leaves)] if graph else [])
    if not json_output:
        print_lines(out, tables.render_result(result, view, before_verdict=extras))
    else:
        for part in extras:
            print_lines(out, part)
    if dot:
        text = graphs.graph_to_dot(result.output, result.leaves, title=result.expression)
        written, message = graphs.write_dot(dot, text)
        write_stderr(escape_text(message))
        if not written:
            return EXIT_USAGE
    return result.exit_code


def main(argv=None):
    """Console-script entry point (`autodiff`); with argv (tests), returns instead of exiting."""
    command = typer.main.get_command(app)
    if argv is not None:
        return command.main(args=argv, prog_name="autodiff")
    code = command.main(args=None, prog_name="autodiff", standalone_mode=False)
    # The process ends here. Freezing what is still alive (a cached 200,000-node program and its
    # tape) spares the interpreter's last garbage collection from scanning it: ~0.6 s of a big run.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
