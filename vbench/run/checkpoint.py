"""Saves and restores a stainer's state as safetensors plus its config."""

from __future__ import annotations

import json
from pathlib import Path

WEIGHTS = "model.safetensors"
CONFIG = "config.json"


def save(stainer, folder: Path, spec) -> bool:
    """Writes the stainer's state; returns False when it has none (nothing to restore)."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous().clone() for k, v in stainer.state_dict().items()}
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "stainer": spec.stainer,
        "preset": spec.preset,
        "params": spec.params,
        "dataset": spec.dataset,
        "seed": spec.seed,
    }
    ctx = getattr(stainer, "ctx", None)
    if ctx is not None:  # lets `vbench predict` use the model after its dataset is unregistered
        config.update(scale=ctx.scale, in_channels=ctx.in_channels)
    (folder / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True, default=str))
    if not state:
        return False
    save_file(state, str(folder / WEIGHTS))
    return True


def load(stainer, folder: Path, device: str = "cpu"):
    from safetensors.torch import load_file

    stainer.load_state_dict(load_file(str(Path(folder) / WEIGHTS), device=device))
    return stainer
