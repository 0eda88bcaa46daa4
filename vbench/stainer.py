"""Base class of staining methods. Only ``fit`` and ``predict`` are required (see docs/plugins.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from .errors import ConfigError

KINDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text", list: "a list"}


@dataclass(frozen=True)
class Param:
    """What one tunable parameter of a stainer accepts (``Stainer.parameters``): ``--set`` and a
    suite's ``preset[KEY=VALUE]`` are checked against it before any run is created, and
    ``vbench plugins --params NAME`` shows it.

    ``kind``: ``int``, ``float``, ``bool``, ``str`` or ``list`` (one or more of ``item``: ``int`` or
    ``float``; none too with ``empty=True``).
    ``min`` / ``max``: inclusive bounds of a number, or of each item of a list. ``choices``: the only
    values a ``str`` parameter takes. ``help``: what it does, in a few words. ``budget``: a step
    count that scales with the training budget (``steps`` itself, a warm-up, a stage's share, the
    step an average starts at): ``--budgets 4`` multiplies it by 4, so a x4 run is not a x1 run
    continued.
    """

    kind: type
    min: float | None = None
    max: float | None = None
    choices: tuple = ()
    item: type = int
    help: str = ""
    budget: bool = False
    empty: bool = False

    def __post_init__(self):
        if self.kind not in KINDS or (self.kind is list and self.item not in (int, float)):
            raise TypeError(f"Param kind {self.kind!r}: use int, float, bool, str or list (of int or float)")

    def describe(self) -> str:
        """What it accepts in words: ``a whole number in [2, 4096]``, ``one of 'global', 'patch'``."""
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind is list:
            many = "zero or more" if self.empty else "one or more"
            return f"a list of {many} {KINDS[self.item].removeprefix('a ')}s{self._range()}"
        return KINDS[self.kind] + ("" if self.kind in (bool, str) else self._range())

    def _range(self) -> str:
        low, high = _bound(self.min), _bound(self.max)
        if low and high:
            return f" in [{low}, {high}]"
        return f" >= {low}" if low else f" <= {high}" if high else ""

    def accepts(self, value) -> bool:
        if self.kind is list:
            return (
                isinstance(value, (list, tuple))
                and (bool(value) or self.empty)
                and all(self._number(v, self.item) for v in value)
            )
        if self.kind in (int, float):
            return self._number(value, self.kind)
        if self.kind is str:
            return isinstance(value, str) and (not self.choices or value in self.choices)
        return isinstance(value, bool)

    def _number(self, value, kind: type) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
            return False
        return (
            math.isfinite(value) and (self.min is None or value >= self.min) and (self.max is None or value <= self.max)
        )


def _bound(value) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e16 else f"{value:g}"


class Stainer:
    """A virtual staining method.

    Subclasses set ``name`` and ``pairings`` and implement ``fit(train, ctx)`` and
    ``predict(inputs)``. The harness sets ``self.ctx`` before ``fit``.

    Optional class attributes:
    ``presets``: preset name -> keyword parameters; the first one is the default.
        A preset may hold ``steps`` (the training budget) and ``max_seconds`` (a cap).
    ``scales``: the output/input scale factors the stainer can produce (None = any).
    ``stochastic``: True when ``predict`` samples.
    ``repeats``: default number of predictions per test tile (> 1 stores the per-pixel spread).
    ``variants``: evaluation variant name -> attributes set on the *trained* model before
        predicting (``-s name:preset+variant``); runs that differ only in variants reuse one
        trained checkpoint, so create every module in ``__init__`` for it to be restored.
    ``parameters``: parameter name -> :class:`Param` (kind, range, choices, help), which ``--set``
        checks; a parameter not declared takes values of its preset value's kind. Step counts that
        scale with the budget are declared ``Param(int, budget=True)`` (``steps`` always scales).
    ``curve_tiles``: validation tiles scored at each point of the anytime curve (default 8);
        ``curve_crop``: score only their centre ``curve_crop`` input pixels (default 0: whole tiles).
        A stainer whose prediction is slow (an iterative sampler) lowers them to keep the curve cheap.
    """

    name: ClassVar[str] = ""
    pairings: ClassVar[set[str]] = {"paired"}
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    scales: ClassVar[set[int] | None] = None
    stochastic: ClassVar[bool] = False
    repeats: ClassVar[int] = 1
    variants: ClassVar[dict[str, dict[str, Any]]] = {}
    parameters: ClassVar[dict[str, Param]] = {}
    curve_tiles: ClassVar[int] = 8
    curve_crop: ClassVar[int] = 0

    def __init__(self, **params: Any):
        self.params = dict(params)
        for key, value in params.items():
            if key in {"fit", "predict", "ctx", "params", "state_dict", "load_state_dict"}:
                raise ConfigError(f"stainer {self.name!r}: parameter name {key!r} is reserved")
            setattr(self, key, value)
        self.ctx = None

    # --- required ---------------------------------------------------------------------------
    def fit(self, train, ctx) -> None:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.fit")

    def predict(self, inputs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.predict")

    # --- checkpoints ------------------------------------------------------------------------
    def _state_items(self):
        import torch

        for attr, value in vars(self).items():
            if attr in ("ctx", "params") or attr.startswith("_"):
                continue
            if isinstance(value, torch.nn.Module):
                yield attr, value
            elif isinstance(value, torch.Tensor):
                yield attr, value

    def state_dict(self) -> dict:
        """Every tensor attribute and every ``torch.nn.Module`` attribute's state, flat.

        Module entries are named ``attr.param``; plain tensors by their attribute name.
        """
        import torch

        state = {}
        for attr, value in self._state_items():
            if isinstance(value, torch.nn.Module):
                for key, tensor in value.state_dict().items():
                    state[f"{attr}.{key}"] = tensor
            else:
                state[attr] = value
        return state

    def load_state_dict(self, state: dict) -> None:
        import torch

        modules: dict[str, dict] = {}
        for key, tensor in state.items():
            attr, _, rest = key.partition(".")
            if rest:
                modules.setdefault(attr, {})[rest] = tensor
            else:
                setattr(self, attr, tensor.clone())
        for attr, sub in modules.items():
            module = getattr(self, attr, None)
            if not isinstance(module, torch.nn.Module):
                raise ConfigError(
                    f"stainer {self.name!r}: checkpoint has weights for module {attr!r} but the "
                    f"stainer has no such module; create it in __init__ so it can be restored"
                )
            module.load_state_dict(sub)

    def parameter_count(self) -> int:
        return int(sum(t.numel() for t in self.state_dict().values() if t.is_floating_point()))

    def network_evaluations(self) -> int | None:
        """Network evaluations per tile of the last ``predict`` (iterative samplers); None when
        not meaningful. The runner stores it with the run as ``nfe``."""
        return None
