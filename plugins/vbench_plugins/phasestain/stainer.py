"""PhaseStain (Rivenson et al. 2018, arXiv 1807.07701; Light Sci. Appl. 8:23, 2019).

A conditional GAN that maps a label-free quantitative phase image (QPI) to the brightfield image of
the same section after histochemical staining, trained on registered pairs.

What the paper describes and this plugin follows:
- Generator: a U-Net with four downsampling and four upsampling levels; each level is a block of
  three 3x3 convolutions with leaky ReLU and a residual connection; average pooling down,
  upsampling back up, skip connections concatenated; widths double per level (64 ... 1024 in the
  paper preset).
- Discriminator: a plain convolutional network (convolution blocks with stride-2 steps, global
  average pooling, two fully connected layers, sigmoid) scoring whole images.
- Losses, least-squares form: D minimises D(G(x))^2 + (1 - D(z))^2; G minimises
  L1(z, G(x)) + tv_weight * TV(G(x)) + adv_weight * (1 - D(G(x)))^2.
- Adam, generator learning rate 1e-4, discriminator 1e-5; 256 px training patches.

How sure these facts are: the search tool returned only the paper's abstract, introduction and
Fig. 1 caption (a GAN trained on pairs of QPI and brightfield images of the same sections after
staining: skin / H&E, kidney / Jones, liver / Masson's trichrome); its methods section could not
be retrieved. The list above is as recalled from the paper and its sibling autofluorescence paper
(Rivenson et al., Nat. Biomed. Eng. 2019). A third-party PyTorch re-implementation that cites the
paper (github.com/JS1028/DeepLearning, "Virtual Staining/PhaseStain", not the authors' code)
agrees on every loss and optimiser figure (least-squares D loss, weights TV 0.02 and adversarial
2000, Adam 1e-4 / 1e-5, 256 px) and on the block structure, but uses transposed convolutions to
upsample, batch normalisation in the blocks, and a 512-channel bottleneck; where the paper stands
on those three is unverified. The paper preset's 100k steps and batch 4 are our choice (no step
count or batch size found).

Parameter counts of ``paper`` (1-channel phase input; pinned by tests/test_paper_presets.py):
generator 48,865,539, global discriminator 41,918,017. No count to check them against: the
authors released no code and the paper gives none; the third-party re-implementation above
differs in layout (batch normalisation, transposed convolutions, a 512-channel bottleneck).

Deviations (all recorded in the presets, which are stored with every run):
- TV is the mean absolute difference of neighbouring pixels (a per-pixel mean, so the weight
  does not depend on tile size).
- The residual connection uses a 1x1 convolution where the width changes; upsampling is bilinear.
- The generator output is linear and clamped to [0, 1] at prediction; inputs are standardised
  per channel with training-set statistics (stored in the checkpoint).
- Inputs of super-resolution datasets (scale > 1) are upsampled bicubically first.
- Flip / 90-degree rotation augmentation of random crops.
- Tensors in channels-last memory format (``channels_last``): on this project's shared 2-core
  CPU, training steps 1.0-2.4x and inference 1.3-1.5x faster (benchmarks/train_infer.py); the
  same numbers up to rounding.
- Model selection (ours): the generator with the lowest L1 on (up to ``val_tiles``) validation
  tiles, checked every ``val_every`` steps, is kept.
- ``quick`` preset (2-core CPU, a few minutes): width 16, 64 px crops, PatchGAN discriminator
  (``disc="patch"``, our choice: 6 x 6 scores of overlapping 70 px windows per crop instead of one),
  learning rates 1e-3 / 1e-4, adversarial weight 0.01. A few hundred steps cannot reach
  the equilibrium in which the paper's dominant adversarial term works: on qpi-he (seed 0,
  8-bit PSNR) the quick run gave 19.6 dB at weight 2000, 23.5 dB at 0.01 and 23.7 dB without
  the adversarial term, so the quick preset keeps L1 leading.
"""

from __future__ import annotations

import vbench

from ..parameters import choice, count, every, flag, rate, side, steps, weight

PAPER = dict(
    steps=100_000,
    tile=256,
    batch=4,
    width=64,
    depth=4,
    disc="global",
    d_width=64,
    d_depth=5,
    lr_g=1e-4,
    lr_d=1e-5,
    l1_weight=1.0,
    tv_weight=0.02,
    adv_weight=2000.0,
    augment=True,
    val_every=1000,
    val_tiles=64,
    channels_last=True,
)
QUICK = dict(
    PAPER,
    steps=500,
    tile=64,
    batch=8,
    width=16,
    disc="patch",
    d_width=16,
    d_depth=3,
    lr_g=1e-3,
    lr_d=1e-4,
    adv_weight=0.01,
    val_every=50,
    val_tiles=16,
    max_seconds=600,
)


class PhaseStain(vbench.Stainer):
    __doc__ = __doc__
    name = "phasestain"
    pairings = {"paired", "misaligned"}
    presets = {"quick": QUICK, "paper": PAPER}
    bf16 = True  # trains under ctx.autocast(): bf16 by default on CUDA (--precision)
    parameters = dict(
        steps=steps(),
        tile=side(),
        batch=count("crops per training step"),
        width=count("channels of the U-Net's first level"),
        depth=count("down-sampling levels of the U-Net", max=8),
        disc=choice("discriminator: one score per crop (global) or a PatchGAN map (patch)", "global", "patch"),
        d_width=count("channels of the discriminator's first layer"),
        d_depth=count("layers of the discriminator", max=8),
        lr_g=rate("generator learning rate"),
        lr_d=rate("discriminator learning rate"),
        l1_weight=weight("weight of the L1 loss"),
        tv_weight=weight("weight of the total-variation loss"),
        adv_weight=weight("weight of the adversarial loss (0: none)"),
        augment=flag("random flips and quarter turns of the crops"),
        val_every=every("steps between validations (model selection)"),
        val_tiles=count("validation tiles scored for model selection (0: none)", min=0, max=1_000_000),
        channels_last=flag("channels-last memory format"),
    )

    def __init__(self, **params):
        super().__init__(**{**QUICK, **params})  # missing parameters: the quick preset's
        self.generator = None
        self.discriminator = None

    # --- model -------------------------------------------------------------------------------
    def _build(self):
        import torch

        from vbench_plugins.nets import GlobalDiscriminator, PatchDiscriminator, UNet

        if self.generator is not None:
            return
        with torch.random.fork_rng(devices=[]):  # the same seed gives the same initial weights
            torch.manual_seed(self.ctx.seed)
            self.generator = UNet(self.ctx.in_channels, 3, self.width, self.depth)
            if self.disc == "global":
                self.discriminator = GlobalDiscriminator(3, self.d_width, self.d_depth)
            elif self.disc == "patch":
                self.discriminator = PatchDiscriminator(3, self.d_width, self.d_depth, norm="none", sigmoid=True)
            else:
                raise ValueError(f"phasestain: unknown disc {self.disc!r}; use global or patch")
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        self.generator.to(self.ctx.device, memory_format=fmt)
        self.discriminator.to(self.ctx.device, memory_format=fmt)

    def load_state_dict(self, state):
        self._build()
        super().load_state_dict(state)

    def parameter_count(self) -> int:
        """The generator's parameters: the network that stains (the discriminator only trains)."""
        return sum(p.numel() for p in self.generator.parameters()) if self.generator is not None else 0

    def _stain(self, x):
        """Normalised generator pass on inputs already at target resolution."""
        import torch

        from vbench_plugins.nets import pad_to_multiple

        stats = self.in_stats.to(x.device)
        x = (x - stats[0].view(1, -1, 1, 1)) / stats[1].view(1, -1, 1, 1)
        x, (h, w) = pad_to_multiple(x, self.generator.stride)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.generator(x)[..., :h, :w]

    # --- vbench API --------------------------------------------------------------------------
    def fit(self, train, ctx):
        import torch
        from timm.optim import create_optimizer_v2

        from vbench_plugins.nets import CropSampler, check_finite, upsample

        self._build()
        dev = torch.device(ctx.device)
        inputs = [upsample(s.input.unsqueeze(0), ctx.scale)[0] for s in train]
        targets = [s.target for s in train]
        flat = torch.cat([t.flatten(1) for t in inputs], dim=1).double()
        self.in_stats = torch.stack([flat.mean(dim=1), flat.std(dim=1).clamp_min(1e-6)]).float()
        sampler = CropSampler(inputs, targets, self.tile, seed=ctx.seed, paired=True, augment=self.augment)
        val = [(s.input.unsqueeze(0).to(dev), s.target.unsqueeze(0).to(dev)) for s in list(ctx.val)[: self.val_tiles]]

        g, d = self.generator, self.discriminator
        opt_g = create_optimizer_v2(g, "adam", lr=self.lr_g, weight_decay=0.0)
        opt_d = create_optimizer_v2(d, "adam", lr=self.lr_d, weight_decay=0.0)
        hint = f"lower lr_g ({self.lr_g}) / lr_d ({self.lr_d}) or adv_weight ({self.adv_weight})"
        best, best_l1, step = None, float("inf"), 0
        steps = ctx.budget.steps or self.steps  # a context without a step budget trains the preset's steps
        while True:
            x, y = sampler.batch(self.batch)
            x, y = x.to(dev), y.to(dev)
            g.train()
            with ctx.autocast():  # forward passes and losses; backward passes outside
                fake = self._stain(x).float()
            losses = {}
            if self.adv_weight > 0:
                d.requires_grad_(True)
                with ctx.autocast():
                    loss_d = (d(fake.detach()).float() ** 2).mean() + ((1 - d(y).float()) ** 2).mean()
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
                losses["discriminator"] = loss_d.detach()
                d.requires_grad_(False)  # the generator step needs D's gradient w.r.t. its input only
            l1 = (fake - y).abs().mean()
            loss_g = self.l1_weight * l1 + self.tv_weight * _total_variation(fake)
            if self.adv_weight > 0:
                with ctx.autocast():
                    loss_g = loss_g + self.adv_weight * ((1 - d(fake).float()) ** 2).mean()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            step += 1
            losses.update(generator=loss_g.detach(), l1=l1.detach())
            check_finite(step, losses, hint)
            go_on = ctx.step(samples=self.batch, **{k: float(v) for k, v in losses.items()}) and step < steps
            if val and (step % self.val_every == 0 or not go_on):
                score = self._val_l1(val, ctx.scale)
                if score < best_l1:
                    best_l1, best = score, {k: v.detach().clone() for k, v in g.state_dict().items()}
                    self.best_step = torch.tensor(step)
            if not go_on:
                break
        if best is not None:
            g.load_state_dict(best)
            ctx.log("phasestain: kept the generator of step %d (val L1 %.4f)", int(self.best_step), best_l1)
        g.eval()

    def _val_l1(self, val, scale: int) -> float:
        import torch

        from vbench_plugins.nets import upsample

        self.generator.eval()
        with torch.no_grad():
            errs = [(self._stain(upsample(x, scale)).clamp(0, 1) - y).abs().mean().item() for x, y in val]
        return sum(errs) / len(errs)

    def predict(self, inputs):
        from vbench_plugins.nets import upsample

        self.generator.eval()
        return self._stain(upsample(inputs, self.ctx.scale)).clamp(0.0, 1.0)


def _total_variation(x):
    """Mean absolute difference between vertically and horizontally neighbouring pixels."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()
