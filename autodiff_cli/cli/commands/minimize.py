"""`autodiff minimize`: walk downhill with SGD or Adam (optimize/minimize.py), then show the run."""
import sys
from typing import Annotated, Optional

import typer

from .. import options as opt
from ..boundary import ExitCode, guarded, print_record_and_messages, reported

EPILOG = """\b
Examples:
  autodiff minimize "(x-3)**2 + (y+1)**2" x=0 y=0
  autodiff minimize "(1-x)**2 + 100*(y-x**2)**2" x=-1.2 y=1 --optimizer adam --lr 0.01 --steps 20000
  autodiff minimize "sum((w - t)**2)" w=zeros(3) t=[1,2,3] --wrt w --json

\b
Stops after --steps updates (at most AUTODIFF_MAX_MINIMIZE_STEPS, default 100000), when the
gradient norm is <= --tol, or when the value or the gradient stops being finite ("diverged",
exit code 1). Updates follow torch.optim.SGD / torch.optim.Adam step for step.
"""


def register(app, expr_command):
    app.command(cls=expr_command, epilog=EPILOG,
                short_help="Walk downhill on a scalar EXPR with SGD or Adam, from the bindings.")(minimize)


def minimize(
    expr: opt.Expr,
    bindings: opt.Bindings = None,
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
    json_output: opt.Json = False,
    random_seed: opt.RandomSeed = None,
    debug: opt.Debug = False,
    full: Annotated[bool, typer.Option(
        "--full", help="Keep parameters of more than 1000 elements whole in the trajectory (else shape, "
                       "min, max, norm).")] = False,
):
    """Minimize the scalar value of EXPR over its variables, starting at the bindings."""
    options = dict(wrt=wrt, optimizer=optimizer, lr=lr, momentum=momentum, steps=steps, tol=tol,
                   clip_value=clip_value, clip_norm=clip_norm, trace=trace, random_seed=random_seed, full=full)

    def work():
        from ...optimize.minimize import minimize as run_minimize
        from ...ui.console import isatty
        values = opt.checked_bindings(bindings)
        if plot:
            from ...ui.charts import image_format
            image_format(plot)          # a bad file name is known before the run
        if json_output or not isatty(sys.stderr):
            result = run_minimize(expr, values, **options)
        else:
            from ...ui.minimize_report import progress_bar
            with progress_bar(sys.stderr, steps) as bar:
                result = run_minimize(expr, values, on_step=bar.update, **options)
        code = reported(result, _print_minimize, json_output=json_output)
        if plot and result.error is None:
            code = max(code, _plot_minimize(result, plot, values, random_seed))
        return code

    raise typer.Exit(int(guarded(expr, json_output, debug, work)))


def _plot_minimize(result, path, bindings, random_seed):
    """--plot: the image of a finished run (the contours need two scalar variables). Exit code."""
    from ...errors import AutodiffError
    from ...ui import minimize_report as ui
    from ...ui.console import escape_text, write_stderr
    field = None
    if len(result.point) == 2 and all(getattr(v, "size", 1) == 1 for v in result.point.values()):
        from ...plot import sample
        try:
            field = sample(result.expression, {**bindings, **ui.path_box(result)}, check=False,
                           random_seed=random_seed)
        except AutodiffError as err:
            write_stderr(f"note: no contour plot: {escape_text(err)}")
    try:
        ui.write_image(result, path, field)
    except AutodiffError as err:
        from ...ui.error_line import error_text
        write_stderr(error_text(err))
        return ExitCode.USAGE
    write_stderr(f"wrote {escape_text(path)}")
    return ExitCode.OK


def _print_minimize(result, *, json_output):
    print_record_and_messages(result, json_output)
    if result.error is None and not json_output:
        from ...ui.console import console, print_lines
        from ...ui.minimize_report import render_minimize
        out = console()
        print_lines(out, render_minimize(result, out.width))
    return result.exit_code
