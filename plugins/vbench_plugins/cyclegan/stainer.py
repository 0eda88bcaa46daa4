"""CycleGAN (Zhu et al. 2017, arXiv 1703.10593), the unpaired baseline.

Follows the reference implementation's defaults (junyanz/pytorch-CycleGAN-and-pix2pix, read in its
options/ and models/cycle_gan_model.py): two ResNet generators (G: label-free -> stain, F: stain ->
label-free; 9 residual blocks at 256 px, width 64), two 70 x 70 PatchGAN discriminators (width 64,
3 stride-2 layers), instance normalisation without affine parameters, no dropout, weights drawn
from N(0, 0.02), LSGAN loss (mean squared error to 1 / 0; the discriminator loss halved), cycle
weight 10 in both directions, identity weight 0.5 (times the cycle weight), image pool of 50 past
fakes per discriminator, Adam lr 2e-4 with beta1 0.5, constant for the first half of training and
decayed linearly to zero over the second half, batch 1, one generator update then one
discriminator update per step, images scaled to [-1, 1] with a tanh output.

Parameter counts of ``paper`` (3-channel input, as the reference's default): each generator
11,378,179 and each discriminator 2,764,737, the reference's exactly (pinned by
tests/test_paper_presets.py); for 1-channel phase input 11,371,907 / 11,371,905 and 2,764,737 /
2,762,689 (stain side / input side).

Deviations (all recorded in the presets, which are stored with every run):
- The identity loss needs input and output with the same channels (the reference asserts
  input_nc == output_nc). For phase (1 channel) and autofluorescence (4 channels) inputs it is
  switched off; the checkpoint records the decision as ``identity_on`` (0 or 1).
- Training steps are fixed by the preset, not by epochs; the reference's 200 epochs of about
  1,000 images are the paper preset's 200,000 steps (flat for 100k, then linear decay).
- Augmentation: random crops with flips and 90-degree rotations (the reference resizes to
  286 px and crops 256 px with horizontal flips).
- Paired and misaligned data are used without their pairing: every target crop comes from an
  independently drawn tile.
- Inputs of super-resolution datasets (scale > 1) are upsampled bicubically first.
- ``quick`` preset (2-core CPU, minutes): width 16, 3 residual blocks on 64 px crops (the
  reference uses 6 blocks below 256 px), discriminator width 16, batch 4; the rest as above.
- ``channels_last`` (memory format) is off: with instance normalisation it was no faster to
  train and 5-20% slower to infer on this project's CPU (benchmarks/train_infer.py); on a GPU
  it may help. Measured and not kept (benchmarks/README.md): the 7x7 image head alone in
  channels-last, and instance norm computed as one-channel group norm (faster, but its float
  rounding moved a three-seed quality bar).

Known behaviour: from phase images (nuclei bright) to H&E (nuclei dark) the unpaired objective
cannot tell the contrast's sign, and the quick runs on qpi-he learn the inverted mapping (bright
nuclei; SSIM below 0), scoring below the mean colour. Supervision (phasestain) resolves it.
"""

from __future__ import annotations

import vbench

from ..parameters import flag, resnet_gan, weight

PAPER = dict(
    steps=200_000,
    tile=256,
    batch=1,
    width=64,
    blocks=9,
    d_width=64,
    d_layers=3,
    norm="instance",
    lr=2e-4,
    beta1=0.5,
    decay_from=0.5,
    cycle_weight=10.0,
    identity_weight=0.5,
    pool_size=50,
    augment=True,
    channels_last=False,
)
QUICK = dict(PAPER, steps=400, tile=64, batch=4, width=16, blocks=3, d_width=16, max_seconds=600)


class CycleGAN(vbench.Stainer):
    __doc__ = __doc__
    name = "cyclegan"
    pairings = {"paired", "misaligned", "unpaired"}
    presets = {"quick": QUICK, "paper": PAPER}
    bf16 = True  # trains under ctx.autocast(): bf16 by default on CUDA (--precision)
    parameters = dict(
        resnet_gan("channels of the generators' first layer"),
        identity_weight=weight("weight of the identity loss (off where input and stain channels differ)"),
        channels_last=flag("channels-last memory format"),
    )

    def __init__(self, **params):
        super().__init__(**{**QUICK, **params})  # missing parameters: the quick preset's
        self.generator = None  # label-free -> stain (G); the one that predicts
        self.inverse = None  # stain -> label-free (F)
        self.disc_stain = None
        self.disc_input = None

    # --- model -------------------------------------------------------------------------------
    def _build(self):
        import torch

        from vbench_plugins.nets import PatchDiscriminator, ResnetGenerator

        if self.generator is not None:
            return
        c = self.ctx.in_channels
        with torch.random.fork_rng(devices=[]):  # the same seed gives the same initial weights
            torch.manual_seed(self.ctx.seed)
            self.generator = ResnetGenerator(c, 3, self.width, self.blocks, self.norm)
            self.inverse = ResnetGenerator(3, c, self.width, self.blocks, self.norm)
            self.disc_stain = PatchDiscriminator(3, self.d_width, self.d_layers, self.norm)
            self.disc_input = PatchDiscriminator(c, self.d_width, self.d_layers, self.norm)
            for net in self._nets():
                net.apply(_init_normal)
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        for net in self._nets():
            net.to(self.ctx.device, memory_format=fmt)

    def _nets(self):
        return [self.generator, self.inverse, self.disc_stain, self.disc_input]

    def load_state_dict(self, state):
        self._build()
        super().load_state_dict(state)

    def parameter_count(self) -> int:
        """The stainer generator's parameters (the other three networks only train)."""
        return sum(p.numel() for p in self.generator.parameters()) if self.generator is not None else 0

    def _run(self, net, x):
        """A generator pass on [-1, 1] images of any size (padded to the stride, cropped back)."""
        import torch

        from vbench_plugins.nets import pad_to_multiple

        x, (h, w) = pad_to_multiple(x, net.stride)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return net(x)[..., :h, :w]

    # --- vbench API --------------------------------------------------------------------------
    def fit(self, train, ctx):
        import torch
        import torch.nn.functional as F
        from timm.optim import create_optimizer_v2

        from vbench_plugins.nets import (
            CropSampler,
            ImagePool,
            check_finite,
            linear_decay_scheduler,
            upsample,
        )

        self._build()
        dev = torch.device(ctx.device)
        identity = self.identity_weight > 0 and ctx.in_channels == 3
        self.identity_on = torch.tensor(int(identity))
        if self.identity_weight > 0 and not identity:
            ctx.log("cyclegan: identity loss off: the input has %d channel(s), the stain 3", ctx.in_channels)
        inputs = [upsample(s.input.unsqueeze(0), ctx.scale)[0] * 2 - 1 for s in train]
        targets = [s.target * 2 - 1 for s in train]
        sampler = CropSampler(inputs, targets, self.tile, seed=ctx.seed, paired=False, augment=self.augment)
        pool_stain, pool_input = ImagePool(self.pool_size, ctx.seed + 1), ImagePool(self.pool_size, ctx.seed + 2)

        gens = list(self.generator.parameters()) + list(self.inverse.parameters())
        discs = list(self.disc_stain.parameters()) + list(self.disc_input.parameters())
        opt_g = create_optimizer_v2(gens, "adam", lr=self.lr, betas=(self.beta1, 0.999), weight_decay=0.0)
        opt_d = create_optimizer_v2(discs, "adam", lr=self.lr, betas=(self.beta1, 0.999), weight_decay=0.0)
        steps = ctx.budget.steps or self.steps
        sched_g = linear_decay_scheduler(opt_g, steps, self.decay_from)
        sched_d = linear_decay_scheduler(opt_d, steps, self.decay_from)
        hint = f"lower lr ({self.lr})"
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format

        def gan(scores, real: bool):
            scores = scores.float()
            return F.mse_loss(scores, torch.full_like(scores, 1.0 if real else 0.0))

        step = 0
        while True:
            a, b = (t.to(dev, memory_format=fmt) for t in sampler.batch(self.batch))
            for net in self._nets():
                net.train()
            # generators (discriminators frozen: they only pass gradients through)
            for d in (self.disc_stain, self.disc_input):
                d.requires_grad_(False)
            with ctx.autocast():  # forward passes and losses; backward passes outside
                fake_b = self._run(self.generator, a)
                fake_a = self._run(self.inverse, b)
                cycle = F.l1_loss(self._run(self.inverse, fake_b), a) + F.l1_loss(self._run(self.generator, fake_a), b)
                adv = gan(self.disc_stain(fake_b), True) + gan(self.disc_input(fake_a), True)
                loss_g = adv + self.cycle_weight * cycle
                if identity:
                    idt = F.l1_loss(self._run(self.generator, b), b) + F.l1_loss(self._run(self.inverse, a), a)
                    loss_g = loss_g + self.cycle_weight * self.identity_weight * idt
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            # discriminators, on a mix of new and pooled fakes
            for d in (self.disc_stain, self.disc_input):
                d.requires_grad_(True)
            with ctx.autocast():
                loss_d = 0.5 * (gan(self.disc_stain(b), True) + gan(self.disc_stain(pool_stain.query(fake_b)), False))
                loss_d = loss_d + 0.5 * (
                    gan(self.disc_input(a), True) + gan(self.disc_input(pool_input.query(fake_a)), False)
                )
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            step += 1
            sched_g.step_update(num_updates=step)
            sched_d.step_update(num_updates=step)
            losses = {"generator": loss_g.detach(), "discriminator": loss_d.detach(), "cycle": cycle.detach()}
            check_finite(step, losses, hint)
            if not ctx.step(samples=self.batch, **{k: float(v) for k, v in losses.items()}) or step >= steps:
                break
        for net in self._nets():
            net.eval()

    def predict(self, inputs):
        from vbench_plugins.nets import upsample

        self.generator.eval()
        x = upsample(inputs, self.ctx.scale) * 2 - 1
        return ((self._run(self.generator, x) + 1) / 2).clamp(0.0, 1.0)


def _init_normal(module) -> None:
    """The reference's 'normal' init: conv weights N(0, 0.02), biases 0."""
    from torch import nn

    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
