"""The BBDM training loop: random paired crops, the bridge objective, timm optimiser, LR schedule and EMA."""

from __future__ import annotations

import torch
import torch.nn.functional as F


class Crops:
    """Random aligned crops of paired tiles: ``crop`` output pixels, ``crop / scale`` input pixels."""

    def __init__(self, samples, scale: int, crop: int, device, augment: bool, generator: torch.Generator):
        if not samples:
            raise ValueError("bbdm needs at least one training tile")
        self.inputs = [s.input.float().to(device) for s in samples]
        self.targets = [s.target.float().to(device) for s in samples]
        smallest = min(min(x.shape[-2:]) for x in self.inputs)
        self.size = max(1, min(crop // scale, smallest))  # input pixels per crop
        self.scale, self.augment, self.g = scale, augment, generator

    def _randint(self, high: int) -> int:
        return int(torch.randint(high, (1,), generator=self.g))

    def batch(self, n: int):
        xs, ys = [], []
        c, s = self.size, self.scale
        for _ in range(n):
            i = self._randint(len(self.inputs))
            x, y = self.inputs[i], self.targets[i]
            top, left = self._randint(x.shape[-2] - c + 1), self._randint(x.shape[-1] - c + 1)
            x = x[:, top : top + c, left : left + c]
            y = y[:, top * s : (top + c) * s, left * s : (left + c) * s]
            if self.augment:  # the dihedral group: staining does not depend on orientation
                k, flip = self._randint(4), self._randint(2)
                x, y = torch.rot90(x, k, (1, 2)), torch.rot90(y, k, (1, 2))
                if flip:
                    x, y = x.flip(-1), y.flip(-1)
            xs.append(x)
            ys.append(y)
        return torch.stack(xs) * 2 - 1, torch.stack(ys) * 2 - 1  # data in [-1, 1]


@torch.no_grad()
def init_color_map(match, samples, scale: int) -> None:
    """Least-squares fit of the dimension-matching net's linear colour path (bicubic upsampled
    input -> target, in [-1, 1]), so y starts as the per-pixel linear regression estimate."""
    xtx = xty = None
    for s in samples:
        x = s.input.double()[None] * 2 - 1
        if scale > 1:
            x = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
        rows = torch.cat([x[0].flatten(1), torch.ones(1, x[0][0].numel(), dtype=x.dtype)]).T
        target = (s.target.double() * 2 - 1).flatten(1).T
        xtx = rows.T @ rows if xtx is None else xtx + rows.T @ rows
        xty = rows.T @ target if xty is None else xty + rows.T @ target
    solution = torch.linalg.lstsq(xtx, xty).solution.T.float()  # 3 x (C + 1)
    match.color.weight.copy_(solution[:, :-1, None, None])
    match.color.bias.copy_(solution[:, -1])


def _scheduler(stainer, optimizer, steps: int):
    if stainer.schedule == "cosine":
        from timm.scheduler import CosineLRScheduler

        return CosineLRScheduler(
            optimizer,
            t_initial=max(1, steps),
            lr_min=stainer.lr * 0.01,
            warmup_t=stainer.warmup,
            warmup_lr_init=stainer.lr * 0.01,
            t_in_epochs=False,
        )
    if stainer.schedule == "plateau":  # the reference code's: torch's ReduceLROnPlateau on the loss, per step
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=0.5, patience=3000, threshold=1e-4, cooldown=3000, min_lr=5e-7
        )
    from vbench.errors import ConfigError

    raise ConfigError(f"bbdm: unknown schedule {stainer.schedule!r}; use 'cosine' or 'plateau'")


def train_bridge(stainer, samples, ctx) -> None:
    from timm.optim import create_optimizer_v2

    from vbench_plugins.nets import check_finite

    from .bridge import objective_target

    net, ema, bridge = stainer.net, stainer.ema, stainer.bridge
    device = ctx.device
    g = torch.Generator().manual_seed(ctx.seed)
    crops = Crops(samples, ctx.scale, stainer.crop, device, stainer.augment, g)
    if stainer.init_color:
        init_color_map(net.match, samples, ctx.scale)
    optimizer = create_optimizer_v2(net, "adam", lr=stainer.lr, weight_decay=0.0)
    steps = ctx.budget.steps or stainer.steps
    schedule = _scheduler(stainer, optimizer, steps)
    net.train()
    step, running = 0, None
    while True:
        x, x0 = crops.batch(stainer.batch_size)
        n = x.shape[0]
        t = torch.randint(1, bridge.T + 1, (n,), generator=g).to(device)
        noise = torch.randn(x0.shape, generator=g).to(device)
        with ctx.autocast():  # forward passes and the loss; the backward pass outside
            y = net.match(x).float()
            x_t = bridge.marginal(x0, y, t, noise)
            pred = net.unet(torch.cat([x_t, y], dim=1), t).float()
            loss = F.l1_loss(pred, objective_target(stainer.objective, x_t, x0, y))
            if stainer.match_weight:
                loss = loss + stainer.match_weight * F.l1_loss(y, x0)
        value = float(loss.detach())
        check_finite(step + 1, {"bridge": value}, "lower lr or check the training tiles for NaN/inf")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        running = value if running is None else 0.98 * running + 0.02 * value
        if step >= stainer.ema_start and step % stainer.ema_every == 0:
            ema.update(net, step=step)
        elif step < stainer.ema_start:
            ema.set(net)  # the EMA starts from the current weights, not the random init
        if stainer.schedule == "plateau":
            schedule.step(running)
        else:
            schedule.step_update(step)
        if not ctx.step(samples=n, loss=value) or step >= steps:
            break
    net.eval()
