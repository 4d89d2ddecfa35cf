"""The `autodiff` command line: a thin layer over the library (api, batch, optimize, plot, ui).

    autodiff grad "3*x**2 + 2*x*y + y**2" x=2 y=1

app.py builds the typer app (one command per mode of calculus.MODES, and minimize, batch, plot),
options.py declares every option once, boundary.py is the one place where errors become an
`error: ...` line and an exit code (ExitCode). Everything heavy (rich, SymPy) is imported inside
the commands, so `autodiff --help` and `autodiff grad ... --no-check` start quickly.
Output rules (docs/cli-contract.md): with `--json` stdout carries exactly one JSON record and
nothing else; warnings, errors and progress always go to stderr.
"""
from .app import app, main

__all__ = ["app", "main"]
