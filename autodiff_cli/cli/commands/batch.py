"""`autodiff batch`: every record of a file or stdin (batch/), serially, on forked workers or on Dask."""
import re
from typing import Annotated, Optional

import typer

from .. import options as opt
from ..boundary import guarded, settings_problem
from ..parsing import HelpCommand

EPILOG = """\b
Examples:
  autodiff batch records.jsonl --json
  cat records.jsonl | autodiff batch - --json --jobs 4 --timeout 5
  autodiff batch records.jsonl --json --dask tcp://scheduler:8786

\b
A JSON Lines record: {"expr": "x**2", "bindings": {"x": 3}, "mode": "grad", "id": "a"}
(only "expr" is required; "mode" is one of MODES). Every record yields one result, in input order;
a bad record yields status "error" and the batch goes on. Exit code 1 if any record is not ok.
"""

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


def register(app, expr_command):
    # batch.records.MODES, without importing the batch package on every start of the CLI
    from ...calculus import MODES as CALCULUS_MODES
    MODES = (*CALCULUS_MODES, "minimize")
    epilog = EPILOG.replace("one of MODES", "one of " + ", ".join(f'"{m}"' for m in MODES))
    app.command(cls=BatchCommand, epilog=epilog, short_help="Every record of a file (or stdin), in input order.")(batch)


def batch(
    source: Annotated[str, typer.Argument(
        metavar="[FILE|-]", help="JSON Lines or text records; '-' (the default) reads stdin.")] = "-",
    json_output: opt.Json = False,
    jobs: Annotated[Optional[int], typer.Option(
        "-j", "--jobs", min=0, metavar="N",
        help="Worker processes (0: one per CPU; 1, the default: no workers; at most 4 per CPU).")] = None,
    timeout: Annotated[Optional[float], typer.Option(
        "--timeout", metavar="SECONDS", min=0.0, max=1_000_000.0,
        help="Time limit per record in seconds, up to 10^6 (0: none; default: AUTODIFF_TIMEOUT or 10).")] = None,
    wrt: opt.Wrt = None,
    check: opt.Check = True,
    random_seed: opt.RandomSeed = None,
    files_root: Annotated[Optional[str], typer.Option(
        "--files-root", metavar="DIR",
        help="Folder whose files @path bindings may read (default: the batch file's folder; stdin: the "
             "current directory).")] = None,
    debug: opt.Debug = False,
    dask: Annotated[Optional[str], typer.Option(
        "--dask", metavar="[ADDRESS]",
        help="Run on a Dask cluster: a new local one, or the scheduler at ADDRESS (tcp://HOST:8786).")] = None,
    partition_size: Annotated[Optional[str], typer.Option(
        "--partition-size", metavar="SIZE", help="With --dask: input bytes per task, like 4MiB (default: automatic).")] = None,
    output_dir: Annotated[Optional[str], typer.Option(
        "--output-dir", metavar="DIR", help="With --dask: a JSON Lines file per partition and manifest.json in DIR.")] = None,
    quiet: Annotated[bool, typer.Option(
        "-q", "--quiet", help="No progress bar (it is shown on a terminal's stderr) and no terminal hint.")] = False,
    precision: opt.Precision = 6,
):
    """Every record of FILE (or stdin), one result per record, in input order."""

    def work():
        problem = settings_problem()
        if problem:
            raise problem
        if dask is not None or partition_size is not None or output_dir is not None:
            from ...batch.dask import run_batch_dask_cli
            return run_batch_dask_cli(source, dask=dask, jobs=jobs, partition_size=partition_size,
                                      output_dir=output_dir, json_output=json_output, timeout=timeout,
                                      check=check, random_seed=random_seed, wrt=wrt, files_root=files_root)
        from ...batch import run_batch
        return run_batch(source, json_output=json_output, jobs=1 if jobs is None else jobs, timeout=timeout,
                         check=check, random_seed=random_seed, wrt=wrt, files_root=files_root,
                         quiet=quiet, precision=precision)

    raise typer.Exit(int(guarded(None, False, debug, work)))   # the records say what went wrong with each
