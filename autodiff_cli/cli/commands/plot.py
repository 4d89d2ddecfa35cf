"""`autodiff plot`: f, f' (and f'') over a range (plot/), drawn in the terminal or as an image (ui/charts)."""
import sys
from typing import Annotated, Optional

import typer

from .. import options as opt
from ..boundary import ExitCode, guarded

EPILOG = """\b
Examples:
  autodiff plot "sin(x)*x" x=-6:6                  f and f' in the terminal
  autodiff plot "sin(x)*x" x=-6:6 --order 2 --out f.png
  autodiff plot "x**2 + 3*y**2" x=-2:2 y=-2:2 --out field.png
  autodiff plot "a*x**3" x=-1:1:21 a=2 --json

\b
A range is start:stop, start:stop:count or linspace(start, stop, count); a variable left
unbound is swept over -5:5. Exit code 1 if the check disagrees anywhere.
"""


def register(app, expr_command):
    app.command(cls=expr_command, epilog=EPILOG, short_help="Plot EXPR and its derivatives over a range.")(plot)


def plot(
    expr: opt.Expr,
    bindings: opt.Bindings = None,
    order: Annotated[int, typer.Option("--order", metavar="1|2", help="Also draw f'' (2).")] = 1,
    out: Annotated[Optional[str], typer.Option(
        "--out", metavar="FILE", help="Write an image (.png, .svg, .pdf) instead of the terminal plot.")] = None,
    points: Annotated[Optional[int], typer.Option(
        "--points", metavar="N", help="Points of a range that gives no count (default 200; 81 per axis for two).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="The sampled points as one JSON object on stdout.")] = False,
    check: opt.Check = True,
    random_seed: opt.RandomSeed = None,
    debug: opt.Debug = False,
):
    """f, f' (and f'') of EXPR over a range of one variable; contours and gradient arrows for two."""

    def work():
        from ...plot import sample
        from ...ui import charts
        from ...ui.console import escape_text, write_stderr
        samples = sample(expr, opt.checked_bindings(bindings), order=order, points=points, check=check,
                         random_seed=random_seed)
        if out:
            charts.write_image(samples, out)
        elif not json_output:
            text = charts.terminal_plot(samples, **charts.terminal_size_and_colour())
        for note in samples.notes:
            write_stderr(f"note: {escape_text(note)}")
        try:
            if json_output:
                from ...result import dumps
                sys.stdout.write(dumps(samples.as_dict()) + "\n")
            else:
                sys.stdout.write(("" if out else text) + "\n".join(charts.summary_lines(samples)) + "\n")
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:           # a full disk, /dev/full: one line, as the other commands
            from ...ui.console import cannot_write
            write_stderr(cannot_write(exc))
            return ExitCode.USAGE
        if out:
            write_stderr(f"wrote {escape_text(out)}")
        if samples.check is not None and samples.check.passed is False:
            write_stderr("error: cross-check mismatch: the engine's derivative and the independent check disagree")
            return ExitCode.MISMATCH
        return ExitCode.OK

    raise typer.Exit(int(guarded(expr, json_output, debug, work)))
