"""Digital staining with knowledge distillation and Learning-to-Align (Xu, Guo, Tsutsui, Zhang,
Kot, Wen; arXiv 2504.09899, "Digital Staining with Knowledge Distillation: A Unified Framework for
Unpaired and Paired-But-Misaligned Data").

Sources. Only the paper's abstract could be retrieved; the methods are read from the authors'
released code (github.com/wwxb2012/digital_staining_knowledge_distillation: trainer/CycTrainer.py,
reg.py, transformer.py, Model/CycleGan.py, Yaml/DSD_U.yaml, DSD_P.yaml; no licence, so nothing is
copied). Where neither says, the choice is ours and marked so.

What it follows
- Teacher, stage 1 (light enhancement): the input's grey level, inverted for tissue on a dark
  background, histogram-matched; a fixed transform (enhance.py). The released code loads it
  precomputed (channel C) and does not say how; matching to the train targets' lightness L*/100
  is ours, and so is a Gaussian smoothing of the grey level first (``enhance_sigma`` 1 px): dim
  inputs are shot-noise limited and matching stretches the noise with the signal. On the
  unstained-he-misaligned val split the enhanced channel's error to the truth's lightness was
  17.7 dB PSNR unsmoothed, 20.5 / 20.3 / 19.4 / 18.4 dB at sigma 0.7 / 1 / 1.5 / 2 px, and the
  teacher's stain 17.6 dB unsmoothed, 20.2 dB at 1 px (26.8 dB given the true lightness).
  Inversion: the dataset's declared modality (``ctx.modality``); when none is declared, the skew
  of the train inputs' grey levels (a dark background gives a right-skewed histogram; test
  targets are never looked at). The decision is logged and stored (``enhance_invert``).
- Teacher, stage 2 (colourisation): Zhang et al.'s SIGGRAPH generator (teacher.py), L in, ab out
  (x110), instance normalisation, trained on the train targets' own L -> ab and frozen while
  the student trains. The released code loads a trained checkpoint; its training (L1 on ab/110,
  Adam betas 0.9/0.99, random crops with flips and rotations, the step count, batch and rate of
  the presets) is ours. Its output is the enhanced lightness with the predicted chroma.
- Student: the CycleGAN ResNet generator (shared ``nets``; 64 filters, 9 blocks in ``paper``) on
  the raw input plus the enhanced channel; half cycle A -> B -> A with a second generator back to
  the raw input channels; LSGAN PatchGAN discriminators on both ends, the input-side one judging
  the reconstruction as the released code does, each scoring the mean of its patch map; image
  pools of 50; the discriminator loss is not halved; PyTorch's default weight initialisation
  (the released trainer applies no other). Weights (released YAMLs): unpaired Adv 1,
  Cyc 80, distillation 5; misaligned Adv 1, Cyc 10, distillation 2, Corr 20, Smooth 10. Adam
  1e-4, betas (0.5, 0.999); constant for 2/3 of training, then linear decay to 0; batch 1, 256 px.
- Learning-to-Align (align.py; position-paired data only, training only): a residual U-Net on
  [student output, target] predicts a 2-channel displacement in pixels from a zero-initialised
  head, applied with grid_sample (bilinear, border padding); Corr = L1(warp(output), target),
  Smooth = mean squared flow differences; trained jointly with the student by its own Adam.
- Distillation: L1 between the student's output and the teacher's output.

Parameter counts of ``paper`` against the released networks (3-channel input as in DSD; pinned
by tests/test_paper_presets.py)
- Student (Generator, 4 channels in: raw + enhanced): 11,381,315, the same. Inverse (3 -> 3):
  11,378,179, the same.
- Discriminators: the released trainer builds Model/CycleGan.py's Discriminator with ndf=64 (the
  class's default 32, 694,241 parameters, is not what it trains), the 70 x 70 PatchGAN with
  non-affine instance norm and the patch map averaged: 2,764,737 each, the same (``d_width``
  64, ``d_layers`` 3).
- Teacher: 34,043,586 against the released SIGGRAPH generator's 34,180,691. The 137,105 more
  are its 529-way classification head (135,953; it never reaches the regression output) and
  the weights of the two all-zero input channels it is fed beside L (1,152); the layers that
  compute the chroma are the same.
- Registration: 3,060,546 (below) against Reg-GAN's ResUnet, 2,059,170 as counted in issue 21
  (its layers.py is not in the released repository; not recounted here).

Where it deviates or the sources are silent (ours)
- Learning-to-Align works in the slide's frame: position-paired crops are cut unrotated and
  each gets its random flip / quarter turn in the training loop; the aligner sees the student's
  output and the target turned back. Adjacent-section misalignment is smooth and consistent in
  the slide's frame (on the bundled set about (3, -3.5) px), so the aligner learns it in a few
  hundred steps, while the student, which cannot tell a crop's orientation, cannot learn the
  shift itself. Measured (val, seed 0, quick): with the aligner seeing augmented crops it had
  barely started to register after 600 steps (corr L1 0.33 -> 0.28); without any augmentation
  it registered within 100 steps but the student learned the shift too (13.4 dB, noalign 17.1).
- Registration network: the shared ``nets.UNet`` (residual blocks, widths doubling per level,
  depth 5 / width 8 in ``paper``, 3,060,546 parameters) instead of Reg-GAN's 7-level network of
  constant width 64 (2,059,170).
- The teacher's output is computed once per training tile after the teacher has trained, then
  cropped and augmented with the input: the same as running it on every crop up to border effects.
- Inputs of super-resolution datasets (scale > 1) are upsampled bicubically first.
- No random-affine "noise" augmentation (the released loader perturbs input and target by 1
  degree / 2 %); flips and 90-degree rotations of crops instead.
- Steps, not epochs: ``paper`` has 167,700 student steps (300 epochs of the 559 released DSD_U
  training images) plus 20,000 teacher steps (our choice). ``steps`` is the total budget
  (teacher then student); ``teacher_steps`` is the teacher's share.
- ``paired`` data uses the misaligned configuration (the aligner then has little to correct).
- NIQE term (off in ``paper``: the released configurations have none; the paper's text was not
  available): ``niqe_weight`` x differentiable NIQE (niqe_loss.py) of the student's output on
  ``niqe_tile`` crops (192 px), every ``niqe_every`` steps; the model is NIQE's pristine one when
  installed, else niqe-stain fitted on the train targets (``niqe_model``: auto, pristine, stain);
  which one was used is logged. The weight is ours.
- ``quick`` (2-core CPU, at most 5 minutes): teacher width 8, 200 steps of batch 8 on 64 px crops,
  lr 1e-3; student width 16 with 3 residual blocks, discriminators width 16, registration U-Net
  width 8 / depth 3, 500 steps of batch 4 on 64 px crops, lr 1e-3. Like phasestain's quick
  preset it keeps the adversarial term small (0.01) and, for unpaired data, the cycle weight at
  the misaligned configuration's 10 instead of 80: a few hundred steps do not reach the
  equilibrium in which those weights work. Val PSNR / SSIM against the aligned truth (seed 0;
  misaligned: the set's earlier, bilinearly resampled section; README has current figures):
  misaligned, Adv 1: 16.5 dB / 0.34; Adv 0.1: 18.4 / 0.48 (noalign 17.7 / 0.52); Adv 0.01:
  18.6 / 0.49 (noalign 16.8 / 0.48); distillation alone (no Adv, Cyc, Corr): 19.4 / 0.59;
  phasestain:quick 14.9 / 0.09. Unpaired, Adv 0.01: Cyc 80: 15.0 / 0.36; Cyc 10: 18.8 / 0.56;
  Cyc 2: 19.0 / 0.58; cyclegan:quick 15.5 / 0.45.
- The teacher's training time and steps are stored in the checkpoint (``teacher_seconds``,
  ``teacher_steps_done``) and logged; the run's train time covers both stages.
"""

from __future__ import annotations

import time

import vbench
from vbench import Param
from vbench.errors import ConfigError

from ..parameters import choice, count, every, flag, rate, resnet_gan, schedule_steps, side, weight

PAPER = dict(
    steps=187_700,
    teacher_steps=20_000,
    teacher_tile=256,
    teacher_batch=16,
    teacher_width=64,
    teacher_lr=1e-4,
    tile=256,
    batch=1,
    width=64,
    blocks=9,
    d_width=64,
    d_layers=3,
    norm="instance",
    lr=1e-4,
    beta1=0.5,
    decay_from=2 / 3,
    pool_size=50,
    adv_weight=1.0,
    cycle_weight=10.0,
    distill_weight=2.0,
    corr_weight=20.0,
    smooth_weight=10.0,
    unpaired_cycle_weight=80.0,
    unpaired_distill_weight=5.0,
    align=True,
    align_width=8,
    align_depth=5,
    niqe_weight=0.0,
    niqe_tile=192,
    niqe_every=1,
    niqe_model="auto",
    match_levels=256,
    enhance_sigma=1.0,
    augment=True,
)
QUICK = dict(
    PAPER,
    steps=700,
    teacher_steps=200,
    teacher_tile=64,
    teacher_batch=8,
    teacher_width=8,
    teacher_lr=1e-3,
    tile=64,
    batch=4,
    width=16,
    blocks=3,
    d_width=16,
    lr=1e-3,
    adv_weight=0.01,
    unpaired_cycle_weight=10.0,
    align_width=8,
    align_depth=3,
    max_seconds=600,
)


class Distill(vbench.Stainer):
    __doc__ = __doc__
    name = "distill"
    pairings = {"paired", "misaligned", "unpaired"}
    bf16 = True  # trains under ctx.autocast(): bf16 by default on CUDA (--precision)
    presets = {
        "quick": QUICK,
        "paper": PAPER,
        "quick-noalign": dict(QUICK, align=False),
        "quick-nodistill": dict(
            QUICK,
            steps=QUICK["steps"] - QUICK["teacher_steps"],
            teacher_steps=0,
            distill_weight=0.0,
            unpaired_distill_weight=0.0,
        ),
        "quick-niqe": dict(QUICK, niqe_weight=0.05),
    }
    parameters = dict(
        resnet_gan("channels of the student's first layer"),
        teacher_steps=schedule_steps("the teacher's share of the steps (0: no teacher)"),
        teacher_tile=side("side of the teacher's training crops in pixels"),
        teacher_batch=count("crops per teacher step"),
        teacher_width=count("channels of the teacher's first layer"),
        teacher_lr=rate("the teacher's learning rate"),
        adv_weight=weight("weight of the adversarial losses"),
        distill_weight=weight("weight of the distillation loss (position-paired data)"),
        corr_weight=weight("weight of the registered L1 loss (Learning-to-Align)"),
        smooth_weight=weight("weight of the aligner's smoothness loss"),
        unpaired_cycle_weight=weight("cycle weight on unpaired data"),
        unpaired_distill_weight=weight("distillation weight on unpaired data"),
        align=flag("Learning-to-Align on position-paired data"),
        align_width=count("channels of the aligner's first level"),
        align_depth=count("levels of the aligner", max=8),
        niqe_weight=weight("weight of the differentiable NIQE loss (0: none)"),
        niqe_tile=side("side of the NIQE loss's regions in pixels"),
        niqe_every=every("steps between NIQE loss terms"),
        niqe_model=choice("NIQE model of the loss", "auto", "pristine", "stain"),
        match_levels=count("histogram levels of the enhancement's matching", min=2, max=65536),
        enhance_sigma=Param(float, min=0.0, max=100.0, help="blur of the enhanced channel in pixels"),
    )

    def __init__(self, **params):
        super().__init__(**{**QUICK, **params})  # missing parameters: the quick preset's
        self.student = self.inverse = self.disc_stain = self.disc_input = self.aligner = self.teacher = None
        self.teacher_done = 0

    # --- model -------------------------------------------------------------------------------
    @property
    def uses_teacher(self) -> bool:
        return (self.unpaired_distill_weight if self.ctx.pairing == "unpaired" else self.distill_weight) > 0

    def _build(self, training: bool = True):
        import torch

        from vbench_plugins.nets import PatchDiscriminator, ResnetGenerator

        from .align import Aligner
        from .teacher import Colorizer

        if self.student is not None:
            return
        c = self.ctx.in_channels
        with torch.random.fork_rng(devices=[]):  # the same seed gives the same initial weights
            torch.manual_seed(self.ctx.seed)
            self.student = ResnetGenerator(c + 1, 3, self.width, self.blocks, self.norm)
            if training:  # networks that only train are not restored from checkpoints
                self.inverse = ResnetGenerator(3, c, self.width, self.blocks, self.norm)
                self.disc_stain = PatchDiscriminator(3, self.d_width, self.d_layers, self.norm)
                self.disc_input = PatchDiscriminator(c, self.d_width, self.d_layers, self.norm)
            if self.align and self.ctx.pairing != "unpaired":
                self.aligner = Aligner(3, self.align_width, self.align_depth)
            if self.uses_teacher:
                self.teacher = Colorizer(self.teacher_width)
        for net in self.training_nets() + [self.teacher]:
            if net is not None:
                net.to(self.ctx.device)

    def training_nets(self):
        nets = (self.student, self.inverse, self.disc_stain, self.disc_input, self.aligner)
        return [n for n in nets if n is not None]

    def load_state_dict(self, state):
        self._build(training=False)
        super().load_state_dict(state)

    def parameter_count(self) -> int:
        """The student's parameters: the only network that stains."""
        return sum(p.numel() for p in self.student.parameters()) if self.student is not None else 0

    def run(self, net, x):
        """A generator pass on [-1, 1] images of any size (padded to the stride, cropped back)."""
        from vbench_plugins.nets import pad_to_multiple

        x, (h, w) = pad_to_multiple(x, net.stride)
        return net(x)[..., :h, :w]

    def student_input(self, raw):
        """[raw | enhanced] in [-1, 1] from raw inputs in [0, 1] already at target resolution."""
        import torch

        from .enhance import enhance

        c = enhance(raw, bool(self.enhance_invert), self.enhance_src, self.enhance_dst, self.enhance_sigma)
        return torch.cat([raw, c], dim=1) * 2 - 1

    # --- vbench API --------------------------------------------------------------------------
    def fit(self, train, ctx):
        import torch

        from vbench_plugins.nets import CropSampler, upsample

        from .enhance import decide_inversion, fit_matching
        from .teacher import colorize, lab_of
        from .train import train_student

        train = list(train)
        if not train:
            raise ConfigError("distill: no training tiles")
        if int(self.steps) <= int(self.teacher_steps):
            raise ConfigError(
                f"distill: steps ({self.steps}) is the teacher's and the student's budget together "
                f"and must exceed teacher_steps ({self.teacher_steps})"
            )
        self._build()
        raw = [upsample(s.input.unsqueeze(0).float(), ctx.scale)[0] for s in train]
        labs = [lab_of(s.target) for s in train]
        invert, why = decide_inversion(ctx.modality, [s.input for s in train])
        ctx.log("distill: light enhancement: %s", why)
        self.enhance_invert = torch.tensor(int(invert))
        self.enhance_src, self.enhance_dst = fit_matching(
            raw, [t[:1] / 100 for t in labs], invert, self.match_levels, self.enhance_sigma
        )

        budget = ctx.budget.steps or self.steps  # without a runner: the preset's steps
        self.teacher_done, started = 0, time.perf_counter()
        if self.teacher is not None:
            from .teacher import train_colorizer

            self.teacher_done = train_colorizer(self.teacher, labs, self, ctx, ctx.seed)
            self.teacher.requires_grad_(False)
        self.teacher_seconds = torch.tensor(time.perf_counter() - started)
        self.teacher_steps_done = torch.tensor(self.teacher_done)
        if self.teacher is not None:
            ctx.log("distill: teacher trained for %d steps in %.1f s", self.teacher_done, float(self.teacher_seconds))

        inputs = [self.student_input(r[None])[0] for r in raw]
        if self.teacher is not None:
            inputs = [torch.cat([a, colorize(self.teacher, (a[-1:] + 1) / 2) * 2 - 1]) for a in inputs]
        else:  # no teacher: placeholder channels keep one sampler layout
            inputs = [torch.cat([a, torch.zeros(3, *a.shape[1:])]) for a in inputs]
        targets = [s.target.float() * 2 - 1 for s in train]
        paired = ctx.pairing != "unpaired"
        # position-paired crops are oriented by the training loop (see train.py), unpaired ones here
        sampler = CropSampler(
            inputs, targets, self.tile, seed=ctx.seed, paired=paired, augment=self.augment and not paired
        )
        data = dict(channels=ctx.in_channels, regions=None, niqe_model=None, sampler=sampler)
        if self.niqe_weight > 0:
            data.update(self._niqe_setup(train, inputs, ctx))
        if paired and self.aligner is None:
            ctx.log("distill: Learning-to-Align off (align=False)")
        elif not paired and self.align:
            ctx.log("distill: Learning-to-Align off: unpaired data has no position correspondence")
        if self.teacher_done < budget:
            train_student(self, data, ctx, int(self.steps) - int(self.teacher_steps))
        for attr in ("inverse", "disc_stain", "disc_input"):  # training-only networks are not kept
            setattr(self, attr, None)
        if self.aligner is not None:
            self.aligner.eval()
        self.student.eval()

    def _niqe_setup(self, train, inputs, ctx) -> dict:
        from .niqe_loss import Regions, load_model

        model, what = load_model(self.niqe_model, train)
        c = ctx.in_channels + 1
        regions = Regions([a[:c] for a in inputs], [s.meta for s in train], self.niqe_tile, ctx.seed + 3)
        where = "stitched train regions" if regions.stitched else "mosaics of train tiles (no region is large enough)"
        ctx.log(
            "distill: NIQE term weight %g on %d px crops from %s; model: %s",
            self.niqe_weight,
            self.niqe_tile,
            where,
            what,
        )
        return dict(regions=regions, niqe_model=model)

    def predict(self, inputs):
        from vbench_plugins.nets import upsample

        self.student.eval()
        x = self.student_input(upsample(inputs.float(), self.ctx.scale))
        return ((self.run(self.student, x) + 1) / 2).clamp(0.0, 1.0)
