"""Checks a stainer's output before it is scored."""

from __future__ import annotations

from ..errors import OutputError

# Outputs within this distance of [0, 1] are clamped (rounding of a final sigmoid/tanh);
# anything further is a bug in the stainer and fails the run.
RANGE_TOLERANCE = 1e-3


def check_output(out, expected_shape: tuple[int, ...], tile_ids: list[str], stainer: str):
    import torch

    if not isinstance(out, torch.Tensor):
        raise OutputError(
            f"stainer {stainer!r}: predict returned {type(out).__name__}, expected a torch.Tensor "
            f"of shape {tuple(expected_shape)} (N x 3 x h*scale x w*scale)"
        )
    if tuple(out.shape) != tuple(expected_shape):
        raise OutputError(
            f"stainer {stainer!r}: predict returned shape {tuple(out.shape)} for tiles "
            f"{_ids(tile_ids)}; expected {tuple(expected_shape)} (N x 3 x h*scale x w*scale)"
        )
    out = out.detach().to(device="cpu", dtype=torch.float32)
    finite = torch.isfinite(out)
    if not bool(finite.all()):
        bad = [tile_ids[i] for i in range(out.shape[0]) if not bool(finite[i].all())]
        raise OutputError(f"stainer {stainer!r}: predict returned NaN or inf for tiles {_ids(bad)}")
    lo, hi = float(out.min()), float(out.max())
    if lo < -RANGE_TOLERANCE or hi > 1 + RANGE_TOLERANCE:
        raise OutputError(
            f"stainer {stainer!r}: predict returned values in [{lo:.4g}, {hi:.4g}] for tiles "
            f"{_ids(tile_ids)}; outputs must lie in [0, 1] (values within {RANGE_TOLERANCE} are clamped). "
            f"End the network with a sigmoid or clamp the output."
        )
    return out.clamp_(0.0, 1.0)


def _ids(ids: list[str], limit: int = 5) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
