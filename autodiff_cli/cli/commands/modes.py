"""One command per mode of calculus.MODES (grad, hessian, jacobian, derivatives, jvp), made from
the mode's own declaration: its summary, its examples, its options and what it can show."""
import inspect

from ...errors import AutodiffError
from .. import options as opt
from ..boundary import ExitCode, guarded, print_record_and_messages, reported

BINDINGS_HELP = """\b
Bindings: NAME=VALUE, VALUE one of 2, -2.5, 1e-3, pi, [[1,2],[3,4]], rand(2,3), randn(3),
arange(4), ones(2,3), zeros(3), eye(3), linspace(0,1,5), @file.npy, @file.csv
(quote a binding with brackets or parentheses for the shell: "x=[1,2]" "W=randn(3)")."""

# the parameters every mode command takes, in the order --help shows them
COMMON = [("expr", opt.Expr, inspect.Parameter.empty), ("bindings", opt.Bindings, None)]
AFTER = [("wrt", opt.Wrt, None), ("json_output", opt.Json, False), ("check", opt.Check, True),
         ("random_seed", opt.RandomSeed, None), ("debug", opt.Debug, False)]
DISPLAY = [("precision", opt.Precision, 6), ("full", opt.Full, False), ("latex", opt.Latex, False)]


def register(app, expr_command):
    from ...calculus import MODES
    for mode in MODES.values():
        app.command(mode.name, cls=expr_command, help=mode.summary, short_help=mode.summary,
                    epilog=_epilog(mode))(_command(mode))


def _epilog(mode):
    examples = "\n".join(f"  {line}" for line in mode.examples)
    return f"\b\nExamples:\n{examples}\n\n{BINDINGS_HELP}\n"


def _command(mode):
    """A function whose signature is the mode's options (typer reads the signature)."""
    parameters = list(COMMON)
    parameters += [(name, opt.MODE_OPTIONS[name], default) for name, default in mode.options.items()]
    parameters += AFTER + [(name, opt.SHOWS[name], None if name == "dot" else False) for name in mode.shows]
    parameters += DISPLAY

    def command(**arguments):
        raise _exit(run(mode, **arguments))

    command.__signature__ = inspect.Signature([
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
        for name, annotation, default in parameters])
    command.__annotations__ = {name: annotation for name, annotation, _ in parameters}
    command.__name__ = mode.name
    return command


def _exit(code):
    import typer
    return typer.Exit(int(code))


def run(mode, *, expr, bindings, wrt, json_output, check, random_seed, debug, precision, full, latex,
        steps=False, graph=False, dot=None, **mode_options):
    """One expression through evaluate(), printed where each part belongs; the exit code."""
    if "tangents" in mode_options:
        mode_options["tangents"] = mode_options["tangents"] or []

    def work():
        from ...api import evaluate
        values = opt.checked_bindings(bindings)
        if dot:                          # --dot g.svg without Graphviz: refused before the run
            from ...ui.graph_drawing import dot_problem
            problem = dot_problem(dot)
            if problem:
                raise AutodiffError("usage", problem)
        if mode_options.get("tangents") is not None:
            mode_options["tangents"] = opt.parse_bindings(mode_options["tangents"], "tangent")
        if check:
            from ...display import prepare   # the CAS (and SymPy for LaTeX) imported outside the check's time budget
            prepare(sympy=latex)
        result = evaluate(expr, values, wrt=wrt, mode=mode.name, check=check, random_seed=random_seed,
                          trace=bool(steps or graph or dot), latex=latex, simplify=not json_output, **mode_options)
        shown = {"precision": precision, "full": full, "latex": latex}
        return reported(result, print_result, json_output=json_output, steps=steps, graph=graph, dot=dot,
                        shown=shown)

    return guarded(expr, json_output, debug, work)


def print_result(result, *, json_output, steps, graph, dot, shown):
    print_record_and_messages(result, json_output, full=shown["full"])
    if result.error is not None:
        return result.exit_code
    from ...ui.console import escape_text, write_stderr
    if result.status == "mismatch":
        write_stderr("error: cross-check mismatch: the engine's derivative and the independent check disagree")
    if json_output and not (steps or graph or dot):
        return result.exit_code        # the JSON path never imports rich

    from ...ui import graph_drawing as graphs
    from ...ui import tables
    from ...ui.console import console, print_lines
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
            return ExitCode.USAGE
    return result.exit_code
