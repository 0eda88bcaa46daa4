"""A sweep's options, checked before any run is created: seeds, the device and the cap on training
seconds (``--set`` values are checked against the stainer's parameters by ``overrides``)."""

from __future__ import annotations

import math
import re

from ..errors import ConfigError
from ..validation import SEED_LIMIT, shown

DEVICES = "cpu, cuda, cuda:N (N: a GPU's index) or mps"
_DEVICE = re.compile(r"cpu|cuda|cuda:[0-9]{1,3}|mps")


def check_options(
    seeds=(), device: str | None = None, max_seconds: float | None = None, precision: str | None = None
) -> None:
    """One-line :class:`ConfigError` for a seed outside [0, 2^32), a device torch does not name, a
    cap on training seconds that is not a positive finite number, or a precision other than fp32/bf16."""
    if precision is not None and precision not in ("fp32", "bf16"):
        raise ConfigError(f"--precision {shown(precision)}: use fp32 or bf16")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
            raise ConfigError(f"--seed {shown(seed)}: a seed is a whole number in [0, 2^32), e.g. --seed 0")
    if device is not None and not (isinstance(device, str) and _DEVICE.fullmatch(device)):
        raise ConfigError(f"--device {shown(device)}: use {DEVICES}")
    if max_seconds is not None and (
        isinstance(max_seconds, bool)
        or not isinstance(max_seconds, (int, float))
        or not math.isfinite(max_seconds)
        or max_seconds <= 0
    ):
        raise ConfigError(f"--max-seconds {shown(max_seconds)}: give a positive number of seconds, e.g. 600")


def check_device_available(device: str, precision: str | None = None) -> None:
    """Refuses a device this machine does not have (runs executed here; Ray's workers have their own)."""
    import torch

    if device.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(device.partition(":")[2] or 0)
        if index >= count:
            have = f"it has {count} (cuda:0 to cuda:{count - 1})" if count else "it has none torch can use"
            raise ConfigError(f"--device {device}: this machine has no such CUDA device ({have}); use --device cpu")
        if precision == "bf16" and not torch.cuda.is_bf16_supported():
            raise ConfigError(
                f"--precision bf16: {torch.cuda.get_device_name(index)} has no bf16; use --precision fp32"
            )
    elif device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("--device mps: this machine has no Apple GPU torch can use; use --device cpu")
