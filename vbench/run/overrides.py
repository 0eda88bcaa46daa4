"""``--set key=value`` on top of a stainer's preset: parsing, checking against the parameters the
stainer knows, and expanding ``key=v1,v2`` into a grid (every combination its own run)."""

from __future__ import annotations

import difflib
import itertools
import json

from ..errors import ConfigError


def parse(items: list[str]) -> dict[str, list]:
    """``["lr=1e-4,2e-4", "width=8"]`` -> ``{"lr": [0.0001, 0.0002], "width": [8]}``. Values read as
    JSON where they parse (numbers, true/false, null), else as text."""
    out: dict[str, list] = {}
    for item in items:
        key, eq, raw = item.partition("=")
        key = key.strip()
        if not eq or not key or not raw.strip():
            raise ConfigError(f"--set {item!r}: write KEY=VALUE, or KEY=V1,V2 for a grid (e.g. --set lr=1e-4,2e-4)")
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


def combinations(stainer: str, presets: dict, preset: str, values: dict[str, list]) -> list[dict]:
    """Every combination of ``values`` as parameter overrides, after checking each key is a parameter
    the stainer's presets set and each value has that parameter's type."""
    if not values:
        return [{}]
    known = {k: v for p in presets.values() for k, v in p.items() if k != "max_seconds"}
    for key, vals in values.items():
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            names = ", ".join(sorted(known)) or "(none: it has no presets)"
            raise ConfigError(f"--set {key}: {stainer} has no parameter {key!r}.{hint} Its parameters: {names}")
        example = presets.get(preset, {}).get(key, known[key])
        for v in vals:
            if not _same_kind(example, v):
                raise ConfigError(
                    f"--set {key}={v!r}: {stainer}'s {key} is {_kind(example)} "
                    f"(preset {preset!r} has {example!r}); give a value of that kind"
                )
    keys = list(values)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(values[k] for k in keys))]


def label(overrides: dict) -> str:
    """How the changed parameters show in a preset's label: ``[lr=0.0002,width=8]``."""
    return "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(overrides.items())) + "]" if overrides else ""


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
        return json.loads(text)
    except json.JSONDecodeError:
        return text


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
