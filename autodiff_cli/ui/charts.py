"""Draw sampled curves (`sampling.Samples`): in the terminal with plotext, as an image with matplotlib.

    text = terminal_plot(samples, width=80, height=24)      # one variable: f, f', f''; two: a heat map
    write_image(samples, "plot.png")                        # .png / .svg / .pdf

Both libraries are the optional `plot` extra; without them the functions raise an AutodiffError
that says how to install it. Neither is imported until a plot is drawn.

Why plotext for the terminal (uniplot was tried too): at 80 columns without colour (a pipe,
NO_COLOR, a test snapshot) uniplot draws every curve with the same characters, so f and f' cannot
be told apart, and it has no axis labels; plotext gives each curve its own marker, shown in the
legend, and labels the axes. It is also dependency-free.
"""
import math

import numpy as np

from ..errors import AutodiffError
from .console import escape_text, isatty

INSTALL_HINT = 'pip install "autodiff-cli[plot]"'
IMAGE_FORMATS = ("png", "svg", "pdf")

# One marker per curve, so they stay distinguishable without colour; the legend shows them.
CURVE_MARKERS = (("braille", "⣿"), ("·", "·"), ("+", "+"))
SINGULAR_MARKER = "X"
FAILURE_MARKER = "!"
HEAT_RAMP = " .:-=+*#%@"       # low to high
MAX_PLOT_WIDTH = 400           # columns of the terminal plot, whatever COLUMNS says (plotext's C++ aborts at 10^6)
ARROWS_PER_AXIS = 20           # gradient arrows drawn across each axis of the image


def _require(module, purpose):
    """Import an optional plotting library, or say in one line how to install it."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise AutodiffError("dependency", f"{purpose} needs {module}, which is not installed: {INSTALL_HINT}") from None


def printable(text, limit=70):
    """Input text escaped (no control sequences reach the terminal) and shortened to `limit`."""
    text = escape_text(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def terminal_size_and_colour(stream=None):
    """{width, height, colour} for terminal_plot on `stream` (stdout): its size (COLUMNS/LINES, else
    80 x 24), colour only on a terminal without NO_COLOR."""
    import os
    import shutil
    import sys
    stream = sys.stdout if stream is None else stream
    size = shutil.get_terminal_size((80, 24))
    width = 80 if size.columns < 40 else min(size.columns, MAX_PLOT_WIDTH)   # plotext aborts at 10^6
    return {"width": width, "height": max(12, min(size.lines, 40)),
            "colour": isatty(stream) and "NO_COLOR" not in os.environ}


def function_title(samples):
    return f"f({', '.join(samples.variables)}) = {samples.expression}"


def curve_labels(samples):
    """[(label, values)] for f, f' and (if sampled) f''."""
    name = samples.variables[0]
    curves = [(f"f({name})", samples.value), (f"f'({name})", samples.derivatives[name])]
    if samples.second_derivative is not None:
        curves.append((f"f''({name})", samples.second_derivative))
    return curves


def display_limits(arrays):
    """y-limits that show the curves' shape: all finite values, unless a few huge ones (a pole)
    would squash everything else, then the central 90% with a margin."""
    finite = np.concatenate([a[np.isfinite(a)] for a in arrays]) if arrays else np.array([])
    if finite.size == 0:
        return -1.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    p5, p95 = np.percentile(finite, [5, 95])
    if high - low > 10 * (p95 - p5) and p95 > p5:
        pad = 0.5 * (p95 - p5)
        low, high = max(low, p5 - pad), min(high, p95 + pad)
    if high == low:
        low, high = low - 1.0, high + 1.0
    return low, high


SAFE_MAGNITUDES = (1e-150, 1e150)   # finite values drawn as they are; beyond, scaled by a power of ten


def _power_of_ten(arrays):
    """1.0, or a power of ten to divide the finite values of `arrays` by, so that their spread
    neither overflows (x*1e308: max - min is inf) nor is subnormal (1e-320*x): the libraries'
    axis and tick arithmetic fails on both."""
    finite = [np.abs(a[np.isfinite(a)]) for a in (np.asarray(a, dtype=np.float64) for a in arrays)]
    finite = [a for a in finite if a.size]
    if not finite:
        return 1.0
    big = max(float(a.max()) for a in finite)
    if big == 0 or SAFE_MAGNITUDES[0] <= big <= SAFE_MAGNITUDES[1]:
        return 1.0
    return 10.0 ** math.floor(math.log10(big))


def for_display(samples):
    """(samples to draw, {"x": scale, ..., "value": scale, "gradient": scale}): the axes and the
    values divided by a power of ten where their magnitudes would break the drawing (a scale of
    1.0 leaves them as they are); axis labels say the scale (`scaled_label`)."""
    import dataclasses
    scales = {name: _power_of_ten([axis]) for name, axis in zip(samples.variables, samples.axes)}
    if len(samples.variables) == 1:
        curves = [samples.value, samples.derivatives[samples.variables[0]]]
        if samples.second_derivative is not None:
            curves.append(samples.second_derivative)
        scales["value"] = scales["gradient"] = _power_of_ten(curves)
    else:
        scales["value"] = _power_of_ten([samples.value])
        scales["gradient"] = _power_of_ten(list(samples.derivatives.values()))
    if all(scale == 1.0 for scale in scales.values()):
        return samples, scales
    with np.errstate(all="ignore"):
        axes = [axis / scales[name] for name, axis in zip(samples.variables, samples.axes)]
        marks = [dataclasses.replace(m, at=tuple(a / scales[n] for a, n in zip(m.at, samples.variables)))
                 for m in samples.marks]
        shown = dataclasses.replace(
            samples, axes=axes, marks=marks, value=samples.value / scales["value"],
            derivatives={n: d / scales["gradient"] for n, d in samples.derivatives.items()},
            second_derivative=None if samples.second_derivative is None else samples.second_derivative / scales["gradient"])
    return shown, scales


def scaled_label(label, scale):
    return label if scale == 1.0 else f"{label} (×{scale:.0e})"


def quietly(draw):
    """`draw()` with numpy's floating-point warnings and Python warnings (matplotlib's overflow
    RuntimeWarnings, with their source lines) kept off stderr."""
    import warnings
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return draw()


def curve_pieces(samples, k, values, low, high, max_points):
    """Index arrays of the runs of consecutive points of curve `k` (0: f, 1: f', 2: f'') to join
    with lines: finite, inside [low, high], split at poles (and, for derivatives, at kinks, where
    they jump), and thinned to about `max_points` in all (a screen has far fewer columns)."""
    x = samples.axes[0]
    kinds = ("pole",) if k == 0 else ("pole", "kink")
    cuts = sorted({int(np.searchsorted(x, m.at[0])) for m in samples.marks if m.kind in kinds})
    runs = []
    for run in _true_runs(np.isfinite(values) & (values >= low) & (values <= high)):
        start = run.start
        for cut in cuts:
            if start < cut < run.stop:
                runs.append(slice(start, cut))
                start = cut
        runs.append(slice(start, run.stop))
    stride = max(1, math.ceil(values.size / max_points))
    return [np.unique(np.r_[np.arange(run.start, run.stop, stride), run.stop - 1]) for run in runs]


def _mark_height(samples, mark, values, low, high):
    """Where to draw a mark of a 1-D plot: on its curve if that is finite there, else on the x axis."""
    y = float(np.interp(mark.at[0], samples.axes[0], np.where(np.isfinite(values), values, np.nan)))
    return y if math.isfinite(y) and low <= y <= high else min(max(0.0, low), high)


def summary_lines(samples, limit=3):
    """What the plot shows, in words: the grid, the check, and the marked points by cause."""
    grid = " × ".join(f"{name} in [{axis[0]:.4g}, {axis[-1]:.4g}]" for name, axis in zip(samples.variables, samples.axes))
    lines = [f"{printable(function_title(samples))}: {samples.value.size} points, {grid}",
             _check_caption(samples)]
    groups = {}
    for mark in samples.marks:
        groups.setdefault((mark.kind, mark.reason), []).append(mark.at)
    for (kind, reason), points in groups.items():
        shown = "; ".join(", ".join(f"{name} = {v:.6g}" for name, v in zip(samples.variables, at))
                          for at in points[:limit])
        more = f"; ... {len(points)} points" if len(points) > limit else ""
        lines.append(f"  {kind} at {shown}{more}: {printable(reason)}")
    return lines


# --- the terminal --------------------------------------------------------------------------------

def terminal_plot(samples, *, width=80, height=24, colour=False):
    """The plot as text: `height` lines of at most `width` columns (ANSI colours only if `colour`);
    the size is clamped to 40..MAX_PLOT_WIDTH columns and 12..200 lines."""
    width, height = max(40, min(int(width), MAX_PLOT_WIDTH)), max(12, min(int(height), 200))
    if len(samples.variables) == 2:
        return heat_map(samples, width=width, height=height)
    return quietly(lambda: _terminal_curves(samples, width, height, colour))


def _terminal_curves(samples, width, height, colour):
    plotext = _require("plotext", "the terminal plot")
    samples, scales = for_display(samples)
    fig = plotext.figure
    fig.clear()
    plotext.terminal.limit(False, False)    # our size, not the terminal's (there may be none)
    fig.plot_size(width, height - 1)        # the last line is our legend
    fig.theme("clear" if not colour else "default")
    x = samples.axes[0]
    curves = curve_labels(samples)
    low, high = display_limits([values for _, values in curves])
    legend = []
    for k, ((label, values), (marker, glyph)) in enumerate(zip(curves, CURVE_MARKERS)):
        for run in curve_pieces(samples, k, values, low, high, max_points=8 * width):
            fig.draw(fig.signal(x[run].tolist(), values[run].tolist(), marker=marker).lines())
        legend.append(f"{glyph} {label}")
    # kinks and poles sit on f, check failures on f' (what was checked)
    for kinds, marker, text, values in ((("kink", "pole"), SINGULAR_MARKER, "not differentiable / pole", curves[0][1]),
                                        (("check failed",), FAILURE_MARKER, "check failed", curves[1][1])):
        marks = [m for m in samples.marks if m.kind in kinds]
        if marks:
            fig.draw(fig.signal([m.at[0] for m in marks], [_mark_height(samples, m, values, low, high) for m in marks],
                                marker=marker))
            legend.append(f"{marker} {text}")
    fig.ruler(axis="x").lim(float(x[0]), float(x[-1]))
    fig.ruler(axis="y").lim(low, high)
    fig.title(printable(function_title(samples), width - 10))
    fig.label(scaled_label(samples.variables[0], scales[samples.variables[0]]), axis="x")
    fig.label(scaled_label("value", scales["value"]), axis="y")
    lines = fig.build().string(colorless=not colour).rstrip("\n").split("\n")
    return "\n".join(line.rstrip() for line in lines) + "\n" + "   ".join(legend)[:width] + "\n"


def heat_map(samples, *, width=80, height=24):
    """Two variables in the terminal: f as characters from light to dark, y up, x across."""
    return quietly(lambda: _heat_map(samples, width, height))


def _heat_map(samples, width, height):
    samples, scales = for_display(samples)
    x, y = samples.axes
    label_width = 9
    columns, rows = width - label_width - 1, (height - 4) // 2 * 2 - 1      # odd: a middle row
    ix = np.round(np.linspace(0, x.size - 1, columns)).astype(int)
    iy = np.round(np.linspace(y.size - 1, 0, rows)).astype(int)          # top row: the largest y
    grid = samples.value[np.ix_(iy, ix)]
    finite = grid[np.isfinite(grid)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    scale = (len(HEAT_RAMP) - 1) / (high - low) if high > low else 0.0
    lines = [printable(function_title(samples), width).center(width).rstrip()]
    for r, row in enumerate(grid):
        cells = "".join("?" if not math.isfinite(v) else HEAT_RAMP[int(round((v - low) * scale))] for v in row)
        tick = f"{y[iy[r]]:.3g}" if r in (0, rows // 2, rows - 1) else ""
        lines.append(f"{tick:>{label_width - 1}} |{cells}")
    axis = f"{x[0]:.3g}".ljust(columns // 2) + f"{x[-1]:.3g}".rjust(columns - columns // 2)
    lines.append(" " * (label_width + 1) + axis)
    name_x, name_y = samples.variables
    lines.append(f"{scaled_label(name_x, scales[name_x])} across, {scaled_label(name_y, scales[name_y])} up; "
                 f"{scaled_label('f', scales['value'])} from {low:.4g} to {high:.4g} as '{HEAT_RAMP}'"
                 + ("; ? not finite" if finite.size < grid.size else ""))
    lines.append("(contour lines and the gradient field: --out plot.png)")
    return "\n".join(line[:width] for line in lines) + "\n"


# --- images --------------------------------------------------------------------------------------

def image_format(path):
    """'png' / 'svg' / 'pdf' from the file name, or an error naming the ones we write."""
    extension = path.rsplit(".", 1)[-1].lower() if "." in path else ""
    if extension not in IMAGE_FORMATS:
        raise AutodiffError("usage", f"cannot tell the image format of '{printable(path)}': "
                                     f"use a name ending in .png, .svg or .pdf")
    return extension


def write_image(samples, path, *, dpi=100):
    """Draw the samples with matplotlib (Agg, no window) and save them to `path`."""
    fmt = image_format(path)
    quietly(lambda: save_figure(draw_figure(samples, dpi=dpi), path, fmt, dpi))


def save_figure(figure, path, fmt, dpi):
    """Save a matplotlib figure and close it; a file that cannot be written is an AutodiffError."""
    try:
        figure.savefig(path, format=fmt, dpi=dpi)
    except OSError as err:
        raise AutodiffError("usage", f"cannot write {printable(path)}: {err.strerror or err}") from None
    finally:
        import matplotlib.pyplot as plt
        plt.close(figure)


def draw_figure(samples, *, dpi=100):
    """The matplotlib Figure of the samples (one axes); the tests read its transforms."""
    _require("matplotlib", "the image")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, ax = plt.subplots(figsize=(8, 5), dpi=dpi, layout="constrained")
    shown, scales = for_display(samples)
    if len(samples.variables) == 1:
        quietly(lambda: _draw_curves(ax, shown, scales))
    else:
        quietly(lambda: _draw_field(figure, ax, shown, scales))
    title = printable(function_title(samples), 80).replace("$", r"\$")     # no mathtext from input
    ax.set_title(f"{title}\n{_check_caption(samples)}", fontsize=11)
    return figure


def _check_caption(samples):
    check = samples.check
    if check is None or check.method == "none":
        return "derivatives not checked"
    method = "SymPy" if check.method == "sympy" else "finite differences"
    verdict = {True: f"agree at every judged point (max error {check.max_abs_error:.1e})",
               False: f"DISAGREE at {int(check.failed.sum())} points", None: "could not judge"}[check.passed]
    return f"engine derivatives vs {method}: {verdict}"


def _draw_curves(ax, samples, scales):
    x = samples.axes[0]
    curves = curve_labels(samples)
    low, high = display_limits([values for _, values in curves])
    for k, ((label, values), style) in enumerate(zip(curves, ("-", "--", ":"))):
        colour = f"C{k}"
        for i, run in enumerate(curve_pieces(samples, k, values, low, high, max_points=20_000)):
            ax.plot(x[run], values[run], style, color=colour, linewidth=2, label=label if i == 0 else None)
    for kind, colour, style, label in (("kink", "0.35", ":", "not differentiable"), ("pole", "tab:red", "--", "pole")):
        marks = [m for m in samples.marks if m.kind == kind]
        for i, mark in enumerate(marks):
            ax.axvline(mark.at[0], color=colour, linestyle=style, linewidth=1, label=label if i == 0 else None)
    not_finite = ~np.isfinite(samples.value)
    for i, run in enumerate(_true_runs(not_finite)):
        ax.axvspan(x[run.start], x[run.stop - 1], color="0.85", label="not finite" if i == 0 else None)
    failures = [m for m in samples.marks if m.kind == "check failed"]
    if failures:
        name = samples.variables[0]
        fx = np.array([m.at[0] for m in failures])
        ax.plot(fx, np.interp(fx, x, samples.derivatives[name]), "x", color="tab:red", markersize=8,
                markeredgewidth=2, label="check failed")
    ax.set_ylim(*_padded(low, high))
    ax.set_xlim(x[0], x[-1])
    ax.set_xlabel(scaled_label(samples.variables[0], scales[samples.variables[0]]))
    ax.set_ylabel(scaled_label("value", scales["value"]))
    ax.axhline(0, color="0.6", linewidth=0.8)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")


def _draw_field(figure, ax, samples, scales):
    x, y = samples.axes
    name_x, name_y = samples.variables
    value = np.ma.masked_invalid(samples.value)
    filled = ax.contourf(x, y, value, levels=15, cmap="viridis", alpha=0.45)
    lines = ax.contour(x, y, value, levels=15, colors="0.25", linewidths=0.8)
    ax.clabel(lines, fontsize=7, fmt="%.3g")
    figure.colorbar(filled, ax=ax, label=scaled_label("f", scales["value"]))
    sx = max(1, x.size // ARROWS_PER_AXIS)
    sy = max(1, y.size // ARROWS_PER_AXIS)
    gx = samples.derivatives[name_x][::sy, ::sx]
    gy = samples.derivatives[name_y][::sy, ::sx]
    ax.quiver(x[::sx], y[::sy], np.ma.masked_invalid(gx), np.ma.masked_invalid(gy), color="tab:red",
              angles="xy", label=f"gradient (∂f/∂{name_x}, ∂f/∂{name_y})")
    for kind, marker, colour, label in (("kink", ".", "0.1", "not differentiable"), ("pole", ".", "tab:red", "pole"),
                                        ("check failed", "x", "magenta", "check failed")):
        marks = [m.at for m in samples.marks if m.kind == kind]
        if marks:
            ax.plot(*np.array(marks).T, marker, color=colour, markersize=3, linestyle="none", label=label)
    ax.set_xlabel(scaled_label(name_x, scales[name_x]))
    ax.set_ylabel(scaled_label(name_y, scales[name_y]))
    if 1 / 3 <= (y[-1] - y[0]) / (x[-1] - x[0]) <= 3:
        ax.set_aspect("equal")       # circles look round
    ax.legend(loc="upper right", fontsize=8)


def _true_runs(mask):
    """Slices of the runs of True in a 1-D boolean array."""
    edges = np.diff(np.r_[0, np.asarray(mask, dtype=np.int8), 0])
    return [slice(int(a), int(b)) for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1))]


def _padded(low, high):
    pad = 0.05 * (high - low)
    return low - pad, high + pad
