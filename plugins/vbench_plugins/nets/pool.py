"""The image history buffer of Shrivastava et al. 2017, as CycleGAN uses it."""

from __future__ import annotations

import torch


class ImagePool:
    """Holds up to ``size`` past generated images; for each new one, half the time the
    discriminator sees a stored older image instead (which then gets replaced by the new one).
    This damps oscillation between generator and discriminator."""

    def __init__(self, size: int, seed: int):
        self.size = size
        self.images: list = []
        self.g = torch.Generator().manual_seed(seed)

    def query(self, batch):
        if self.size <= 0:
            return batch
        out = []
        for img in batch.detach():
            if len(self.images) < self.size:
                self.images.append(img)
                out.append(img)
            elif float(torch.rand(1, generator=self.g)) < 0.5:
                k = int(torch.randint(len(self.images), (1,), generator=self.g))
                out.append(self.images[k])
                self.images[k] = img
            else:
                out.append(img)
        return torch.stack(out)
