"""A deterministic batch file that mixes everything a batch meets: JSON and text records, good ones
in every mode, bad ones (invalid JSON, unknown keys, syntax errors, bad bindings, invalid UTF-8),
slow ones (a tenth of a second or more each), blank and comment lines, CRLF line ends, a byte order mark.
Time limits are tested apart: under a machine's load, any wall-clock limit can catch a quick record."""

SLOW_EXPR = "+".join(["sin(x)*x"] * 5000)      # 45 KB of expression: parse + forward + backward take a while

GOOD_TEXT = [
    "x**2 + {i}*x | x={a} --id t{i}",
    "sin(x)*y + exp(-x**2) | x={a} y=-{b} | --wrt x --id 'text {i}'",
    "x**2*y + y**3 | x={a} y={b} | --mode hessian",
    "x**2 + x | x=[{a},{b},3] | --mode jacobian --id j{i}",
    "dot(X, W) + b | X=[1.5,2.5,{a}] W=randn(3) b=0.{b} | --wrt W,b --id lin{i}",
    "z = x*y; w = z + log1p(x) | x={a} y={b}",
    "sum(relu(x)) | x=[-{a},0,{b}] -g 1",
]
GOOD_JSON = [
    '{{"expr": "x**3 - {a}*x", "bindings": {{"x": {b}}}, "id": {i}}}',
    '{{"expr": "x*y", "bindings": {{"x": [1, {a}], "y": 3}}, "mode": "jacobian", "id": ["j", {i}]}}',
    '{{"expr": "sum(x**2)", "bindings": {{"x": "linspace(0,{a},5)"}}, "gradient": 2, "id": {{"n": {i}}}}}',
    '{{"expr": "tanh(x)/(1+x**2)", "bindings": {{"x": 0.{b}}}, "wrt": "x"}}',
]
BAD = [
    '{{"expr": "x**2", "bindings": {{"x": 1}}, "idd": {i}}}',           # unknown key
    '{{"expr": "x**2", "bindings": ',                                     # invalid JSON
    "x** | x=1 --id syntax{i}",                                           # syntax error
    "foo(x) | x=2",                                                       # unknown function
    "x*y | x=1 y=[1,2 --id bracket",                                      # bad binding
    "sqrt(x) | x=-{a}",                                                   # nan: ok with a warning, or not
    '[1, 2, {i}]',                                                        # JSON that is not an object
    "x | x=1 --mode sideways",                                            # bad option value
]


def mixed_lines(records=10_000, slow=3):
    """The file's bytes: `records` records (of which `slow` are slow), plus extras."""
    out = [b"\xef\xbb\xbf# mixed batch for the Dask tests\n"]
    for i in range(records - slow - 1):
        a, b = i % 7 + 1, i % 5 + 1
        if i % 10 == 9:
            template = BAD[(i // 10) % len(BAD)]
        elif i % 3 == 0:
            template = GOOD_JSON[i % len(GOOD_JSON)]
        else:
            template = GOOD_TEXT[i % len(GOOD_TEXT)]
        if i % 997 == 5:
            out.append(b"x**2 | x=\xff\xfe --id notutf8\n")         # invalid UTF-8 (a record too)
            continue
        end = b"\r\n" if i % 13 == 0 else b"\n"
        out.append(template.format(i=i, a=a, b=b).encode() + end)
        if i % 250 == 0:
            out.append(b"\n   \n# a comment line\n")
        if i % 3000 == 1500:
            out.append(f"{SLOW_EXPR} | x=1 --id slow{i}\n".encode())
    out.append(b"x + 1 | x=41 --id last-without-newline")
    return b"".join(out)
