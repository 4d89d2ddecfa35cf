"""Click, as this CLI needs it: expressions and bindings may start with '-', help shows placeholders
as written, and click's usage errors become one `error: ...` line with exit code 2."""
import re
import sys

import typer
from typer.core import TyperCommand, TyperGroup

try:                       # typer >= 0.20 vendors click as typer._click
    from typer import _click as click
except ImportError:        # pragma: no cover - older typer uses click itself
    import click

from .boundary import ExitCode

_LONG_OPTION = re.compile(r"--[A-Za-z][-A-Za-z0-9]*(=|$)")   # --json, --wrt=x (not "------x")


def positionals_last(command, ctx, args):
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
        plain_coercion(self, ctx)
        return super().parse_args(ctx, positionals_last(self, ctx, list(args)))


# --- typer's value coercion, without Pydantic where there is nothing to coerce -------------------
# typer (>= 0.2x) checks every value of a str, int or Optional[...] parameter with a Pydantic
# TypeAdapter: importing Pydantic and building the adapters is a quarter of a one-shot command's
# CPU time. Every value our commands take is a string, a list of strings, a bool or a bounded
# int; those that are plainly valid are passed through here, and anything else (a bad int, a value
# out of range) goes to typer's own coercion, so its error messages are typer's.

_PLAIN_INT = re.compile(r"-?(0|[1-9][0-9]*)")


class _PlainCoercion:
    """A typer RuntimeParam for str / bool / bounded int / list[str] values, Optional or not, that
    hands every value it does not find plainly valid to typer's own (Pydantic) coercion."""

    def __init__(self, kind, info):
        self.kind, self.info = kind, info

    def coerce(self, value, param, ctx):
        multi = param.multiple or param.nargs == -1
        if value is None:
            return () if multi else None
        done = self._plain(value, multi)
        if done is not _NOT_PLAIN:
            return done
        from typer._coercion import build_runtime_param
        param._runtime_param = build_runtime_param(param.type_descriptor)
        return param._runtime_param.coerce(value, param=param, ctx=ctx)

    def _plain(self, value, multi):
        if multi:
            if self.kind == "list[str]" and isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
                return list(value)
            return _NOT_PLAIN
        if self.kind == "str" and isinstance(value, str):
            return value
        if self.kind == "bool" and isinstance(value, bool):
            return value
        if self.kind == "int" and not isinstance(value, bool):
            if isinstance(value, str) and _PLAIN_INT.fullmatch(value):
                value = int(value)
            if isinstance(value, int) and (self.info.min is None or value >= self.info.min) and (
                    self.info.max is None or value <= self.info.max):
                return value
        return _NOT_PLAIN


_NOT_PLAIN = object()


def _kind(annotation):
    """"str", "int", "bool" or "list[str]" for such an annotation (Optional or not), else None."""
    import typing
    if typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            return None
        annotation = args[0]
    if annotation in (str, int, bool):
        return annotation.__name__
    if typing.get_origin(annotation) is list and typing.get_args(annotation) == (str,):
        return "list[str]"
    return None


def plain_coercion(command, ctx):
    """Give each of the command's parameters whose values need no Pydantic the plain coercion
    (only where typer's parameters are as this module knows them; else typer's own is used)."""
    for param in command.get_params(ctx):
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None or getattr(param, "_runtime_param", False) is not None:
            continue
        info = descriptor.parameter_info
        kind = _kind(descriptor.annotation)
        if kind is None or descriptor.file_annotation is not None or getattr(info, "parser", None) is not None or (
                getattr(info, "clamp", False)) or not all(hasattr(info, a) for a in ("min", "max")):
            continue
        param._runtime_param = _PlainCoercion(kind, info)


def _lower_first(message):
    return message[:1].lower() + message[1:] if message[1:2].islower() else message


class AutodiffGroup(TyperGroup):
    """The top-level group: turns click's usage errors into one `error: ...` line and exit 2."""

    def parse_args(self, ctx, args):
        plain_coercion(self, ctx)
        return super().parse_args(ctx, args)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                standalone_mode=False, **extra)
            code = code if isinstance(code, int) else ExitCode.OK
        except click.exceptions.NoArgsIsHelpError as exc:
            if exc.ctx.parent is None:                    # `autodiff` alone: the help is the answer
                sys.stdout.write(exc.ctx.get_help() + "\n")
                code = ExitCode.OK
            else:                                         # `autodiff grad` alone: EXPR is missing
                sys.stderr.write(exc.ctx.get_help() + "\n")
                code = ExitCode.USAGE
        except click.exceptions.ClickException as exc:
            from ..ui.console import escape_text
            message = escape_text(_lower_first(exc.format_message()))
            lines = [f"error: {message}"]
            if (isinstance(exc, click.exceptions.NoSuchOption)
                    and not exc.option_name.lstrip("-").replace("-", "").replace("_", "").isalnum()):
                lines.append("(an expression that starts with '-' can follow '--': autodiff grad -- \"-x**2\" x=1)")
            ctx = getattr(exc, "ctx", None)
            if ctx is not None:
                lines.append(f"Try '{ctx.command_path} --help' for help.")
            sys.stderr.write("\n".join(lines) + "\n")
            code = ExitCode.USAGE
        except typer.Abort:
            sys.stderr.write("error: aborted\n")
            code = ExitCode.INTERRUPTED
        code = int(code)
        if standalone_mode:
            sys.exit(code)
        return code
