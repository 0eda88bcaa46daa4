"""Random training crops with flips and 90-degree rotations."""

from __future__ import annotations

import torch


class CropSampler:
    """Batches of random crops from training tiles.

    ``inputs`` and ``targets`` are lists of C x H x W tensors at the same pixel size. Paired: the
    target crop is cut at the input crop's position and transformed alike. Unpaired: it comes
    from an independently drawn tile, position and transform (which is also how paired data
    trains an unpaired method). ``size`` shrinks to the smallest tile side when tiles are smaller.
    """

    def __init__(self, inputs, targets, size: int, seed: int, paired: bool = True, augment: bool = True):
        if not inputs or not targets:
            raise ValueError("no training tiles")
        self.inputs, self.targets, self.paired, self.augment = inputs, targets, paired, augment
        self.size = min([size] + [min(t.shape[-2:]) for t in inputs + targets])
        self.g = torch.Generator().manual_seed(seed)

    def _int(self, high: int) -> int:
        return int(torch.randint(high, (1,), generator=self.g))

    def _cut(self, t, pos=None):
        s = self.size
        if pos is None:
            pos = (self._int(t.shape[-2] - s + 1), self._int(t.shape[-1] - s + 1))
        i, j = pos
        return t[:, i : i + s, j : j + s], pos

    def _transform(self, t, k: int, flip: int):
        if flip:
            t = t.flip(-1)
        return torch.rot90(t, k, dims=(-2, -1)) if k else t

    def batch(self, n: int):
        xs, ys = [], []
        for _ in range(n):
            a = self._int(len(self.inputs))
            x, pos = self._cut(self.inputs[a])
            if self.paired:
                y, _ = self._cut(self.targets[a], pos)
            else:
                y, _ = self._cut(self.targets[self._int(len(self.targets))])
            if self.augment:
                k, flip = self._int(4), self._int(2)
                x = self._transform(x, k, flip)
                if not self.paired:
                    k, flip = self._int(4), self._int(2)
                y = self._transform(y, k, flip)
            xs.append(x)
            ys.append(y)
        return torch.stack(xs), torch.stack(ys)
