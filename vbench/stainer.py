"""Base class of staining methods. Only ``fit`` and ``predict`` are required (see docs/plugins.md)."""

from __future__ import annotations

from typing import Any, ClassVar

from .errors import ConfigError


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
    """

    name: ClassVar[str] = ""
    pairings: ClassVar[set[str]] = {"paired"}
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    scales: ClassVar[set[int] | None] = None
    stochastic: ClassVar[bool] = False
    repeats: ClassVar[int] = 1
    variants: ClassVar[dict[str, dict[str, Any]]] = {}

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
