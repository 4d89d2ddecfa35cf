"""The typer app: the group, `--version`, and every command registered from commands/."""
import gc
import sys
from typing import Annotated, Optional

import typer

from .. import __version__
from .boundary import ExitCode
from .commands import batch, minimize, modes, plot
from .parsing import AutodiffGroup, ExprCommand

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


def _version_callback(value: bool):
    if value:
        sys.stdout.write(f"autodiff {__version__}\n")
        raise typer.Exit(int(ExitCode.OK))


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


for _group in (modes, minimize, batch, plot):
    _group.register(app, ExprCommand)


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
