"""`autodiff minimize` for people: a progress bar while it runs, then where it stopped and why,
and a short table of the way there (the first steps, every k-th, the last).

Pure functions of a MinimizeResult (plus the progress bar, a context manager); the CLI decides
where things are printed. The expression is escaped, never read as markup.
"""
import math

import numpy as np
from rich import box
from rich.console import Group
from rich.text import Text

from .arrays import View, brief, nested, number
from .console import escape_text
from .tables import Table, shorten

DIGITS = 10              # significant digits of the values where it stopped (a minimum is read closely)


def format_number(x, digits=DIGITS):
    return number(x, digits)


def cell_array(a):
    """A point's value inside the summary table: nested lists when short, else shape and norm."""
    view = View(precision=DIGITS)
    return nested(a, view, 60) or brief(a, view)


TABLE_ROWS = 12          # most trajectory rows shown (the JSON has up to --trace entries)
FIRST_ROWS = 3           # of which the first steps
POINT_COLUMNS = 4        # up to this many scalar variables get a column each


def stop_reason(result):
    """Why the run stopped, in words."""
    if result.stopped == "tol":
        return (f"the gradient norm fell to {format_number(result.grad_norm, 3)} "
                f"<= {format_number(result.options['tol'], 3)} (--tol)")
    if result.stopped == "steps":
        return f"it took all {result.steps} steps (--steps)"
    return result.warnings[-1] if result.warnings else "the value or the gradient became non-finite"


def settings_text(result):
    """`adam, lr 0.01` / `sgd, lr 0.1, momentum 0.9, clip-norm 1`: how the run was made."""
    options = result.options
    parts = [result.optimizer, f"lr {format_number(options['lr'], 6)}"]
    if result.optimizer == "sgd":
        parts.append(f"momentum {format_number(options['momentum'], 6)}")
    for key in ("clip_value", "clip_norm"):
        if options.get(key) is not None:
            parts.append(f"{key.replace('_', '-')} {format_number(options[key], 6)}")
    return ", ".join(parts)


def render_minimize(result, width=80):
    """The summary table and the trajectory table of a finished run."""
    header = Text()
    header.append("minimize ", style="bold")
    header.append(shorten(escape_text(result.expression), 200), style="bold cyan")
    header.append(f"  with {settings_text(result)}")

    summary = Table(show_header=False, box=box.SIMPLE, pad_edge=False)
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("value", format_number(result.value))
    for name, value in result.point.items():
        summary.add_row(escape_text(name), cell_array(value))
    summary.add_row("grad_norm", format_number(result.grad_norm, 6))
    summary.add_row("steps", str(result.steps))
    style = "red" if result.stopped == "diverged" else ""
    summary.add_row("stopped", Text(f"{result.stopped}: {escape_text(stop_reason(result))}", style=style))
    parts = [header, summary]
    if len(result.trajectory) > 1:
        parts.append(render_trajectory(result, width))
    return Group(*parts)


def table_rows(trajectory, limit=TABLE_ROWS, first=FIRST_ROWS):
    """At most `limit` entries: the first few, then evenly spaced ones, and the last."""
    if len(trajectory) <= limit:
        return list(trajectory)
    head, rest = trajectory[:first], trajectory[first:-1]
    room = limit - first - 1
    picked = [rest[round(i * (len(rest) - 1) / max(room - 1, 1))] for i in range(room)] if room > 0 else []
    unique = {entry["step"]: entry for entry in head + picked + [trajectory[-1]]}
    return [unique[k] for k in sorted(unique)]


def render_trajectory(result, width=80):
    """The trajectory table; when its columns are wider than `width`, in column blocks (each with
    the step column), so that no number is cut or folded."""
    rows = table_rows(result.trajectory)
    names = list(result.point)
    scalar_columns = (len(names) <= POINT_COLUMNS
                      and all(np.asarray(result.point[n]).size == 1 for n in names))
    headers = ["step", "value", "grad_norm"]
    if scalar_columns:
        for name in names:      # a one-element array x=[0] is shown as its element, headed x[0]
            ndim = np.ndim(result.point[name])
            headers.append(escape_text(name) + (f"[{','.join('0' * ndim)}]" if ndim else ""))
    else:
        headers.append("point")
    cells = []
    for entry in rows:
        row = [str(entry["step"]), format_number(entry["value"]), format_number(entry["grad_norm"], 4)]
        if scalar_columns:
            row += [format_number(entry["point"][n]) for n in names]
        else:
            row.append("  ".join(f"{escape_text(n)}={_short(entry['point'][n])}" for n in names))
        cells.append(row)
    widths = [max([len(h)] + [len(r[k]) for r in cells]) + 2 for k, h in enumerate(headers)]
    blocks, block = [], [0]
    for k in range(1, len(headers)):
        if block != [0] and sum(widths[c] for c in block) + widths[k] > width:
            blocks.append(block)
            block = [0]
        block.append(k)
    blocks.append(block)
    parts = []
    for number, block in enumerate(blocks):
        title = "trajectory" if len(blocks) == 1 else f"trajectory, part {number + 1} of {len(blocks)}"
        parts.append(Text(title, style="italic"))
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
        for k in block:
            table.add_column(headers[k], justify="left" if headers[k] == "point" else "right")
        for row in cells:
            table.add_row(*[row[k] for k in block])
        parts.append(table)
    return Group(*parts)


def _short(value):
    if isinstance(value, dict):        # a large parameter, kept in the trajectory as a summary
        norm = value.get("norm")
        return f"shape {tuple(value['shape'])}, norm {format_number(norm, 5) if norm is not None else '—'}"
    a = np.asarray(value, dtype=np.float64)
    if a.size == 1:
        return format_number(a, 6)
    if a.size <= 4:
        return "[" + ", ".join(format_number(v, 5) for v in a.ravel()) + "]"
    norm = float(np.linalg.norm(a)) if np.isfinite(a).all() else math.nan
    return f"shape {a.shape}, norm {format_number(norm, 5)}"


class progress_bar:
    """A rich progress bar on `stream` for `total` steps; `update(step)` is the on_step callback."""

    def __init__(self, stream, total):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        from .console import console
        self.progress = Progress(TextColumn("minimizing"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=console(stream, quiet_broken_pipe=True),
                                 transient=True)
        self.task = self.progress.add_task("minimize", total=total)

    def update(self, step):
        self.progress.update(self.task, completed=step)

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()


# --- --plot: an image ----------------------------------------------------------------------------

def write_image(result, path, field=None, *, dpi=100):
    """Value and gradient norm per step; with `field` (sampling.Samples over the two minimized
    variables) also the path over the contour plot. Image format from the file name."""
    from .charts import _require, image_format, printable, save_figure
    fmt = image_format(path)
    _require("matplotlib", "the image")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = 2 if field is None else 3
    figure, axes = plt.subplots(1, panels, figsize=(4.5 * panels, 4), dpi=dpi, layout="constrained")
    steps = np.arange(len(result.values))
    for ax, series, label in ((axes[0], result.values, "value"), (axes[1], result.grad_norms, "gradient norm")):
        series = np.ma.masked_invalid(np.asarray(series, dtype=np.float64))
        ax.plot(steps, series, color="C0" if label == "value" else "C1")
        ax.set_yscale("log" if series.count() and series.min() > 0 else "symlog")
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    if field is not None:
        _draw_path(figure, axes[2], result, field)
    title = printable(f"minimize {result.expression} ({settings_text(result)}): stopped {result.stopped} "
                      f"after {result.steps} steps", 110).replace("$", r"\$")    # no mathtext from input
    figure.suptitle(title, fontsize=10)
    save_figure(figure, path, fmt, dpi)


def _draw_path(figure, ax, result, field):
    x, y = field.axes
    name_x, name_y = field.variables
    filled = ax.contourf(x, y, np.ma.masked_invalid(field.value), levels=20, cmap="viridis", alpha=0.5)
    ax.contour(x, y, np.ma.masked_invalid(field.value), levels=20, colors="0.3", linewidths=0.6)
    figure.colorbar(filled, ax=ax, label="value")
    path = path_points(result, [name_x, name_y])
    if len(path):
        ax.plot(path[:, 0], path[:, 1], ".-", color="tab:red", linewidth=1.2, markersize=3, label="path")
        ax.plot(*path[0], "o", color="tab:red", label="start")
        ax.plot(*path[-1], "*", color="white", markeredgecolor="black", markersize=12, label="end")
    ax.set_xlabel(name_x)
    ax.set_ylabel(name_y)
    ax.legend(loc="best", fontsize=8)


def path_points(result, names):
    """The finite points of the trajectory (or, when --trace 0 kept none, where it stopped) of
    scalar variables `names`, as an (n, len(names)) array; n may be 0 (a run that diverged at once)."""
    entries = result.trajectory or [{"point": result.point}]
    points = np.array([[float(np.asarray(e["point"][n]).reshape(())) for n in names] for e in entries],
                      dtype=np.float64).reshape(-1, len(names))
    return points[np.isfinite(points).all(axis=1)]


def path_box(result, margin=0.15):
    """{name: "lo:hi:80"} ranges around the finite trajectory of two scalar variables (for sampling);
    AutodiffError when no point of it is finite (then there is no contour plot)."""
    from ..errors import AutodiffError
    names = list(result.point)
    points = path_points(result, names)
    if not len(points):
        raise AutodiffError("usage", "no point of the path is finite")
    ranges = {}
    for k, name in enumerate(names):
        low, high = float(points[:, k].min()), float(points[:, k].max())
        pad = max((high - low) * margin, 1e-3 * max(1.0, abs(low), abs(high)))
        ranges[name] = f"{low - pad!r}:{high + pad!r}:80"
    return ranges
