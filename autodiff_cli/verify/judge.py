"""Judge derivative entries one by one: compared within a rounding tolerance, checked against what a
convention allows, or excused (and why). The value is judged too.

An entry is excused, and only that entry, when
  - the engine's value is not finite and neither is the symbolic one, or its terms overflow (a pole,
    a domain edge, an overflow): a nan or inf where the derivative is finite is a mismatch;
  - the symbolic value is not finite (log(0), 0**-1, an overflow), or its terms overflow: nothing to
    compare with;
  - it is at a kink or a tie: one of its switches has more than one branch that the point, within
    rounding, may select (a condition lhs - rhs <=> 0 at 0 decides it), and these branches' values
    differ. A tie that does not decide the result (min(x) at [0.5, 0.5, -0.3]) selects one branch,
    and an entry on which the branches agree is judged as usual. At a kink the engine follows
    PyTorch's convention: its entry must be one of the values a convention may give there (each
    possible branch, or their mean: PyTorch's even split of a tie, sign(0) = 0), or it is a
    mismatch; if it is one, the entry is listed as excused (no derivative exists to compare with).
Every other entry must agree within ROUNDING * eps * (its terms in absolute value, plus those of
the largest entry of the same variable): the scale of the rounding error either side can make,
whatever cancels in the exact result.
"""
import numpy as np

from .report import CheckReport, Excused, VariableCheck

EPS = np.finfo(np.float64).eps
TINY = np.finfo(np.float64).tiny      # the smallest normal number: below it, rounding is absolute
ROUNDING = 256          # eps-multiples of an entry's term magnitude it may be off (~6e-14 relative)
SWITCH_ROUNDING = 16    # a switch within this many eps-multiples of its magnitude is taken to be at 0
BLOCK_FLOOR = 1.0       # an entry may be off by rounding at the scale of the largest of its variable's
                        # (the engine's formulas are not the CAS's: sigmoid(u)' at saturation is 0 there)
MAX_CONVENTIONS = 64    # combinations of kinked switches' values tried for one entry (more: excused)


def reduce_to_worst(engine, owners, reference):
    """One engine number per reference entry, from several reporting it (`owners`): the farthest
    from the reference (nan farthest of all), so that one wrong report is enough to fail."""
    engine, owners = np.asarray(engine, dtype=np.float64), np.asarray(owners, dtype=np.intp)
    with np.errstate(all="ignore"):
        distance = np.abs(engine - reference[owners])
    distance = np.where(np.isnan(distance) | (np.isfinite(reference[owners]) & ~np.isfinite(engine)), np.inf,
                        distance)
    distance = np.where(np.isnan(distance), np.inf, distance)
    order = np.argsort(distance, kind="stable")
    worst = np.array(reference, dtype=np.float64)        # an entry nobody reports is not judged against
    worst[owners[order]] = engine[order]                  # the last (farthest) of each owner stays
    return worst


def judge_entries(engine, at, derivation, reasons, *, values=None):
    """A CheckReport from the engine's and the symbolic entries at a point (`at`, Derivation.evaluate);
    `values`: the engine's output values (flat), judged against the reference's (numpy warnings are
    off: evaluate())."""
    reference, scale = at.reference, at.scale
    finite = np.isfinite(engine) & np.isfinite(reference) & np.isfinite(scale)
    scale = scale + BLOCK_FLOOR * _floors(np.where(finite, scale, 0.0), derivation.blocks, len(scale))
    error = np.abs(engine - reference)
    within = error <= ROUNDING * EPS * scale + ROUNDING * TINY      # subnormal results lose digits
    kinked = _kinked_switches(at, derivation)             # switch -> its possible branches, if at a kink
    at_kink = np.zeros(len(engine), dtype=bool)
    if kinked:
        at_kink = np.array([any(s in kinked for s in switches) for switches in derivation.switches], dtype=bool)
    report = CheckReport("sympy", None, 0.0)
    judged = np.ones(len(engine), dtype=bool)
    values_finite = values is None or bool(np.isfinite(values).all())
    conventions = {}          # a kink's conditions -> [(entry, the choices of branch it agrees with)]
    for i in np.flatnonzero(~finite | at_kink):
        verdict = _suspect(i, engine[i], reference[i], scale[i], kinked if at_kink[i] else {}, at, derivation,
                           reasons, values_finite)
        if verdict[0] == "excused":
            report.excused.append(Excused(derivation.labels[i], verdict[1]))
            judged[i] = False
            if verdict[2] is not None:
                key, choices = verdict[2]
                conventions.setdefault(key, []).append((int(i), choices))
        elif verdict[0] == "wrong":
            error[i], within[i] = verdict[2], False
            report.notes.append(f"{derivation.labels[i]}: {verdict[1]}")
    for i, why in _inconsistent(conventions):
        judged[i], error[i], within[i] = True, np.abs(engine[i] - reference[i]), False
        report.excused = [e for e in report.excused if e.entry != derivation.labels[i]]
        report.notes.append(f"{derivation.labels[i]}: {why}")
    for name, block in derivation.blocks.items():
        mine = np.zeros(len(engine), dtype=bool)
        if block.stop > block.start:
            mine[block] = True
        else:                 # entries of all variables together (jvp's J.t): those that involve this one
            mine[[i for i, v in enumerate(derivation.variables) if name in v]] = True
        mine &= judged
        if mine.any():
            report.per_variable[name] = VariableCheck(float(error[mine].max()), bool(within[mine].all()))
        else:
            report.per_variable[name] = VariableCheck(
                None, None, "every entry excused (kink, tie, pole or non-finite value)")
    report.judged = int(judged.sum())
    report.max_abs_error = float(error[judged].max()) if report.judged else 0.0
    if values is not None:
        report.value_check = judge_values(values, at)
        if report.value_check is not None and report.value_check.passed is False:
            report.notes.append(report.value_check.note)
    report.conclude()
    return report


def judge_values(values, at):
    """The engine's output values against the reference's: a VariableCheck (None: nothing to judge)."""
    values = np.ravel(np.asarray(values, dtype=np.float64))
    if values.size != at.value.size or values.size == 0:
        return None
    reference, scale = at.value, at.value_scale
    # A non-finite value of the engine is not judged: the CAS simplifies 0/(x-1) to 0, and x*log(x) at 0
    # has no value to compare with; a finite one must be the expression's.
    usable = np.isfinite(reference) & np.isfinite(scale) & np.isfinite(values)
    floor = float(np.max(scale[usable], initial=0.0))
    error = np.abs(values - reference)
    error = np.where(usable & ~np.isfinite(values), np.inf, error)
    ok = (error <= ROUNDING * EPS * (scale + BLOCK_FLOOR * floor)) | ~usable
    if not usable.any():
        return None
    worst = float(error[usable].max())
    if ok.all():
        return VariableCheck(worst, True, "the value agrees with the symbolic one")
    k = int(np.flatnonzero(~ok)[0])
    where = f" (element {k})" if values.size > 1 else ""
    return VariableCheck(worst, False, f"the value{where} is {values[k]:.17g} where the expression's value is "
                                       f"{reference[k]:.17g}: the forward pass is wrong")


def _floors(scale, blocks, n):
    """Per entry, the largest scale of its variable's block (a block may be empty: jvp)."""
    floors = np.zeros(n)
    for block in blocks.values():
        if block.stop > block.start:
            floors[block] = scale[block].max()
    if not any(b.stop > b.start for b in blocks.values()):
        return floors
    covered = np.zeros(n, dtype=bool)
    for block in blocks.values():
        covered[block] = True
    if not covered.all():
        floors[~covered] = scale[~covered].max(initial=0.0)
    return floors


def _kinked_switches(at, derivation):
    """{switch: [its possible branches]} for the switches at a kink here (no switch: {})."""
    kinds = derivation.switch_kinds or []
    if not kinds:
        return {}
    relational_scale = np.where(np.isnan(at.relational_scale), 0.0, at.relational_scale)   # 0*inf in a scale
    uncertain = ~(np.abs(at.relational) > SWITCH_ROUNDING * EPS * relational_scale)        # nan: uncertain
    if not uncertain.any():
        return {}
    kinked = {}
    for s, kind in enumerate(kinds):
        if kind[0] == "jump":
            if uncertain[kind[1]]:
                kinked[s] = None
            continue
        possible, decided = [], False
        for branch, condition in kind[1]:
            truth = _truth(condition, at.relational, uncertain)
            if truth is not False:
                possible.append(branch)
            if truth is True:
                break
        if len(possible) < 2:
            continue
        values = at.branch[possible]
        spread = np.max(np.abs(values - values[0]))
        if not spread <= ROUNDING * EPS * np.max(at.branch_scale[possible]):     # nan: they differ
            kinked[s] = possible
    return kinked


def _truth(tree, relational, uncertain):
    """True, False or None (either, within rounding) for a condition tree (reference._Switches)."""
    kind = tree[0]
    if kind == "const":
        return tree[1]
    if kind == "rel":
        _, op, k = tree
        if uncertain[k]:
            return None
        d = relational[k]
        return bool({"<": d < 0, "<=": d <= 0, ">": d > 0, ">=": d >= 0, "==": d == 0, "!=": d != 0}[op])
    if kind == "not":
        inner = _truth(tree[1], relational, uncertain)
        return None if inner is None else not inner
    if kind in ("and", "or"):
        truths = [_truth(t, relational, uncertain) for t in tree[1]]
        if kind == "and":
            return False if False in truths else (None if None in truths else True)
        return True if True in truths else (None if None in truths else False)
    return None


def _suspect(i, engine, reference, scale, kinked, at, derivation, reasons, values_finite=True):
    """("excused", why, its convention group or None) | ("wrong", why, error) | ("judged",) for an entry
    that is not finite or at a kink."""
    mine = {s: kinked[s] for s in derivation.switches[i] if s in kinked}
    allowed = _conventions(i, mine, at, derivation) if mine else None
    if allowed is not None and np.isfinite(allowed).all() and \
            np.ptp(allowed) <= ROUNDING * EPS * np.fmax(scale, float(np.max(np.abs(allowed)))):
        mine = {}                 # the branches give this entry one value (a tangent of 0, a factor 0): judged
    if not np.isfinite(engine):
        if not np.isfinite(reference) or not np.isfinite(scale):
            return ("excused", f"the engine's value is {_name(engine)} here, and so is the symbolic derivative's "
                               f"(a pole, a domain edge or an overflow)", None)
        if not (np.isfinite(at.value).all() and np.isfinite(at.value_scale).all() and values_finite):
            return ("excused", f"the engine's value is {_name(engine)} here, and the expression's value is not "
                               f"finite either (the CAS, which simplifies 0/(x-1) to 0, cannot be trusted there)", None)
        if mine:
            return ("excused", _kink_why(i, mine, derivation, reasons), None)
        if at.slopes is not None and not np.isfinite(at.slopes).all():
            return ("excused", f"the engine's value is {_name(engine)} here, where a local derivative or an "
                               f"intermediate value is not finite (PyTorch's chain rule gives nan where a zero "
                               f"meets an infinity)", None)
        return ("wrong", f"the engine's value is {_name(engine)} where the derivative is finite ({reference:.17g}) "
                         f"and every local derivative and intermediate value is finite", np.inf)
    if mine:
        if allowed is None:
            return ("excused", _kink_why(i, mine, derivation, reasons), None)
        distance = np.abs(allowed - engine)
        agrees = distance <= ROUNDING * EPS * np.fmax(scale, np.abs(allowed))
        if agrees.any():
            group = None
            if len(mine) == 1:        # one kink: the branch it agrees with is compared across entries
                (s, _), = mine.items()
                group = (_conditions(derivation.switch_kinds[s]), frozenset(np.flatnonzero(agrees).tolist()))
            return ("excused", _kink_why(i, mine, derivation, reasons), group)
        shown = ", ".join(f"{v:.6g}" for v in sorted(set(np.round(allowed[np.isfinite(allowed)], 12)))[:6])
        return ("wrong", f"at a kink or tie the engine's value {engine:.17g} is none of the values a convention "
                         f"may give there ({shown})", float(np.min(distance)))
    if not np.isfinite(reference):
        return ("excused", f"the symbolic derivative is {_name(reference)} here (a pole, 0**y or an overflow)", None)
    if not np.isfinite(scale):
        return ("excused", "the derivative's terms overflow float64 here", None)
    return ("judged",)


def _conditions(kind):
    """What identifies a kink across entries: its pieces' conditions (d/dx and d/dy of max(x, y) are
    different Piecewise expressions with the same conditions: one convention decides both)."""
    return repr([condition for _, condition in kind[1]])


def _inconsistent(conventions):
    """[(entry, why)] for entries at one kink whose values follow different conventions (each branch,
    or the mean, taken for all of them): a tie rule that gives both of max(x, y)'s arguments the whole
    gradient agrees with a branch in each entry, but not with the same one."""
    out = []
    for members in conventions.values():
        if len(members) < 2 or frozenset.intersection(*[c for _, c in members]):
            continue
        counts = {}
        for _, choices in members:
            for c in choices:
                counts[c] = counts.get(c, 0) + 1
        best = max(counts, key=lambda c: (counts[c], -c))
        out += [(i, "at a tie its value follows a different convention than the other entries at the same tie "
                    "(each on its own is a branch's, together they are no one branch's nor the even split)")
                for i, choices in members if best not in choices]
    return out


def _conventions(i, kinked, at, derivation):
    """The values entry i may take at its kinks: each kinked switch replaced by each of its possible
    branches or by their mean (an even split), in every combination; None if that cannot be said
    (a jump, too many combinations, the CAS cannot evaluate them)."""
    if any(possible is None for possible in kinked.values()) or derivation.expressions is None:
        return None
    if np.prod([len(p) + 1 for p in kinked.values()]) > MAX_CONVENTIONS:
        return None
    branches = derivation.branch_exprs
    choices = {}
    for s, possible in kinked.items():
        options = [branches[b] for b in possible]
        choices[s] = options + [sum(options[1:], options[0]) / len(options)]
    values = derivation.convention_values(i, choices, at.arguments)
    if values is None or not np.isfinite(values).all():     # a branch the CAS cannot evaluate here (0/0
        return None                                          # from x**(2*tag) / x**2 at 0): cannot say
    return values


def _kink_why(i, kinked, derivation, reasons):
    kinks = reasons.kinks_reaching(derivation.variables[i])
    if kinks:
        return "; ".join(kinks)
    texts = [derivation.switch_text[s] for s in list(kinked)[:2]]
    return f"the derivative is piecewise and {' and '.join(texts)} is 0 here (a kink or a tie)"


def _name(value):
    return "nan" if np.isnan(value) else "inf" if value > 0 else "-inf"
