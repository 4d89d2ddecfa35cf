"""An error for people: `error: ...` and, where the error has a column, the source line with a
caret under it. The message is escaped (it may quote input); the picture shows one visible
character per source character.
"""
from .console import escape_text


def caret_picture(source, position, indent="  "):
    """The line of `source` holding 1-based offset `position`, with a caret under it (or None)."""
    if not source or position is None:
        return None
    offset = max(0, min(int(position) - 1, len(source)))
    line_start = source.rfind("\n", 0, offset) + 1
    line_end = source.find("\n", offset)
    line = source[line_start:] if line_end < 0 else source[line_start:line_end]
    column = offset - line_start
    if len(line) > 100:             # keep the caret on screen: a window around it
        start = max(0, column - 50)
        shown = ("..." if start else "") + line[start:start + 100] + ("..." if start + 100 < len(line) else "")
        column = column - start + (3 if start else 0)
        line = shown
    # one visible character per source character, so the caret stays aligned and a control or
    # line-separator character (U+2028, NUL, ...) cannot break the picture into extra lines
    line = "".join(ch if ch.isprintable() else ("·" if ch != "\t" else " ") for ch in line)
    return f"{indent}{line}\n{indent}{' ' * column}^"


def error_text(error):
    """The lines of an error for stderr: `error: ...`, then the caret picture where there is one."""
    lines = [f"error: {escape_text(error)}"]
    picture = caret_picture(getattr(error, "source", None), getattr(error, "position", None))
    if picture:
        lines.append(picture)
    return "\n".join(lines)
