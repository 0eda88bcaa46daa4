"""``--set key=value`` on top of a stainer's preset: parsing, checking against the parameters the
stainer declares (``Stainer.parameters``: kind and range) or, undeclared, its presets' values, and
expanding ``key=v1,v2`` into a grid (every combination its own run)."""

from __future__ import annotations

import difflib
import itertools
import json
import math

from ..errors import ConfigError
from ..stainer import Param
from ..validation import shown
from ..visible import line

# ``steps`` is the harness's own (the budget it passes as ``ctx.budget.steps``): checked whatever a
# stainer declares about its other parameters.
STEPS = Param(int, min=1, help="training steps: the run's budget")


def parse(items: list[str]) -> dict[str, list]:
    """``["lr=1e-4,2e-4", "width=8"]`` -> ``{"lr": [0.0001, 0.0002], "width": [8]}``. Values read as
    JSON where they parse (numbers, true/false, null), else as text."""
    out: dict[str, list] = {}
    for item in items:
        key, eq, raw = item.partition("=")
        key = key.strip()
        if not eq or not key or not raw.strip():
            raise ConfigError(
                f"--set {shown(item)}: write KEY=VALUE, or KEY=V1,V2 for a grid (e.g. --set lr=1e-4,2e-4)"
            )
        if line(item) != item:
            raise ConfigError(f"--set {shown(item)}: control characters are not allowed in a key or value")
        if key in out:
            raise ConfigError(f"--set names {key!r} twice; give its values once as {key}=V1,V2")
        out[key] = [_value(v.strip()) for v in _split(raw)]
    return out


def split_preset(text: str) -> tuple[str, dict[str, list]]:
    """A preset as labels show it, with changed parameters: ``quick[steps=250,lr=0.001]`` ->
    ``("quick", {"steps": [250], "lr": [0.001]})``, so a suite or ``-s`` can name exactly what a
    leaderboard row shows."""
    preset, bracket, rest = text.partition("[")
    if not bracket:
        return text, {}
    if not rest.endswith("]") or not rest[:-1].strip():
        raise ConfigError(f"preset {text!r}: write NAME[KEY=VALUE,...], e.g. quick[steps=250]")
    out: dict[str, list] = {}
    for item in _split(rest[:-1]):
        one = parse([item.strip()])
        if one.keys() & out.keys():
            raise ConfigError(f"preset {text!r} sets {next(iter(one))!r} twice")
        out.update(one)
    return preset, out


def combinations(
    stainer: str, presets: dict, preset: str, values: dict[str, list], parameters: dict | None = None
) -> list[dict]:
    """Every combination of ``values`` as parameter overrides, after checking each key is a parameter
    the stainer declares (``parameters``: name -> :class:`vbench.Param`) or its presets set, and each
    value is what the declaration accepts (else of the preset value's kind)."""
    if not values:
        return [{}]
    known = {k: v for p in presets.values() for k, v in p.items() if k != "max_seconds"}
    declared = {**({"steps": STEPS} if "steps" in known else {}), **(parameters or {})}
    for key, vals in values.items():
        if key not in known and key not in declared:
            names = sorted(set(known) | set(declared))
            close = difflib.get_close_matches(key, names, n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            listed = ", ".join(names) or "(none: it has no presets)"
            raise ConfigError(f"--set {key}: {stainer} has no parameter {key!r}.{hint} Its parameters: {listed}")
        for v in vals:
            if key in declared:
                param = declared[key]
                if not param.accepts(v):
                    what = f" ({param.help})" if param.help else ""
                    raise ConfigError(
                        f"--set {key}={_json(v)}: {stainer}'s {key} is {param.describe()}{what}; "
                        f"`vbench plugins --params {stainer}` lists its parameters"
                    )
                continue
            example = presets.get(preset, {}).get(key, known[key])
            if not _same_kind(example, v):
                raise ConfigError(
                    f"--set {key}={_json(v)}: {stainer}'s {key} is {_kind(example)} "
                    f"(preset {preset!r} has {example!r}); give a value of that kind"
                )
    keys = list(values)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(values[k] for k in keys))]


def declarations(cls) -> dict[str, Param]:
    """What a stainer class declares about its parameters (``parameters``: name -> Param). Not a
    dict (a ``parameters`` method inherited from elsewhere, say): nothing declared."""
    declared = getattr(cls, "parameters", None)
    if not isinstance(declared, dict):
        return {}
    for key, param in declared.items():
        if not isinstance(param, Param):
            raise ConfigError(
                f"stainer {getattr(cls, 'name', cls)!r} declares its parameter {shown(key)} as {shown(param)}, "
                f"not a vbench.Param; fix its `parameters` (see docs/plugins.md)"
            )
    return dict(declared)


def described(cls) -> dict[str, tuple[str, str]]:
    """A stainer's parameters as ``vbench plugins --params`` shows them: name -> (what it accepts,
    help). Declared ones (``cls.parameters``) first, then those only its presets set (accepting
    values of the preset value's kind)."""
    out = {name: (p.describe(), p.help) for name, p in declarations(cls).items()}
    for preset in (getattr(cls, "presets", {}) or {}).values():
        for key, value in preset.items():
            if key != "max_seconds" and key not in out:
                out[key] = (f"{_kind(value)} (not declared: the preset value's kind)", "")
    return out


def scaled(params: dict, multiple: float | None, parameters: dict[str, Param]) -> dict:
    """``params`` at ``multiple`` of their step budget: ``steps`` and every parameter declared
    ``Param(budget=True)`` (a warm-up, a stage's share) multiplied and rounded, never below the
    declaration's minimum (``steps``: 1)."""
    if multiple is None:
        return dict(params)
    out = dict(params)
    for key, value in params.items():
        param = parameters.get(key) or (STEPS if key == "steps" else None)
        if param is None or not (param.budget or key == "steps") or isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            out[key] = max(int(round(value * multiple)), int(param.min or 0))
    return out


def label(overrides: dict) -> str:
    """How the changed parameters show in a preset's label: ``[lr=0.0002,width=8]``."""
    return "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(overrides.items())) + "]" if overrides else ""


def _json(value) -> str:
    """A value as it is written after ``--set KEY=`` (ASCII: no control character comes through)."""
    return shown(value) if isinstance(value, str) else json.dumps(value)


def _split(raw: str) -> list[str]:
    """Split on commas outside brackets, so a list value (``mult=[1,2],[1,2,4]``) stays whole."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(raw):
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            parts.append(raw[start:i])
            start = i + 1
    return parts + [raw[start:]]


def _value(text: str):
    try:
        return json.loads(text, parse_constant=_not_finite, parse_float=_finite)
    except json.JSONDecodeError:
        return text


def _finite(text: str) -> float:
    value = float(text)
    return value if math.isfinite(value) else _not_finite(text)


def _not_finite(word: str):
    # json reads NaN, Infinity and 1e999; a parameter is never one (it would be stored as one, too).
    raise ConfigError(f"--set value {shown(word)}: parameters are finite numbers")


def _kind(example) -> str:
    for t, word in (
        (bool, "true or false"),
        (int, "a whole number"),
        (float, "a number"),
        (str, "text"),
        ((list, tuple), "a list"),
    ):
        if isinstance(example, t):
            return word
    return f"a {type(example).__name__}"


def _same_kind(example, value) -> bool:
    if isinstance(example, bool) or isinstance(value, bool):
        return isinstance(example, bool) and isinstance(value, bool)
    if isinstance(example, (int, float)):
        return isinstance(value, (int, float)) and (isinstance(example, float) or isinstance(value, int))
    if isinstance(example, (list, tuple)):
        return isinstance(value, list)
    return example is None or isinstance(value, type(example))
