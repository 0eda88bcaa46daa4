"""`bbdm`: pixel super-resolved virtual staining with a Brownian bridge diffusion model.

What it follows
- BBDM (Li, Xue, Zhang, Pu; CVPR 2023) and its reference code (github.com/xuekt98/BBDM): the
  bridge x_t = (1 - m_t) x0 + m_t y + sqrt(d_t) eps with m_t linear and d_t = 2 s (m_t - m_t^2),
  s = 1 (`max_var`), T = 1000; the network regresses the 'grad' objective m_t (y - x0) +
  sqrt(d_t) eps (so x0 = x_t - output) with an L1 loss; the reverse step is the posterior
  q(x_s | x_t, x0, y) with eta = 1; x0 estimates are clipped to the data range (clip_denoised);
  the U-Net sees [x_t | y] (conditioning by concatenation); skip sampling (200 steps in BBDM);
  an EMA of the weights (timm ModelEmaV3; 0.995, every 8 steps from step 30k in the reference);
  Adam, lr 1e-4, no weight decay, torch's ReduceLROnPlateau on the training loss (factor 0.5,
  patience and cooldown 3000 steps, min 5e-7; timm's plateau scheduler is deprecated); data
  scaled to [-1, 1].
- Pixel super-resolved virtual staining (Zhang, Huang, Pillar, Li, Chen, Ozcan; arXiv 2410.20073),
  as summarised in the issue (the full text was not available to us): a shallow CNN matches the
  input's channels and resolution to the output and its output is the bridge's end y; `mean`
  sampling is stochastic down to the exit point t_e = 50 of 1000 and adds no posterior noise
  after it; `mean-skip` skips the steps after the exit point and returns the x0 estimate there;
  post-sampling averaging of N samples (`n_avg`).

Where it deviates (and why)
- Time grid: T + 1 levels with m_t = t / T, so m_0 = 0 and m_T = 1 pin the ends exactly (the
  paper's definition); the interior t = 1..T-1 spans 0.001..0.999 like the reference code's
  linspace(0.001, 0.999, T). Training draws t from 1..T, so the first reverse step (x_T = y) is
  in the training distribution. Skip grids are evenly spaced from T to 0 (the reference code's
  'linear' grid ends 1, 0). The reverse step uses the closed forms c = m_s / m_t and
  var = 2 s m_s (m_t - m_s) / m_t of the posterior (equal to the paper's for s = t - 1; tested).
- The dimension-matching CNN (a linear colour map of the bicubically upsampled input plus a
  PixelShuffle detail branch) is trained jointly with the U-Net and also regressed onto the target
  (L1, `match_weight`), so y is a stain estimate; the paper's layer sizes and losses were not
  available to us. `init_color` (quick) starts the colour map at the least-squares fit.
- U-Net: our own ADM-style layout (GroupNorm, scale-shift time conditioning, attention in the
  middle and at the levels in `attention`). `paper` has the reference configuration
  (configs/Template-BBDM.yaml: width 128, multipliers 1-4-8, 2 blocks, 64-channel heads,
  residual-block resampling `updown="resblock"`; its attention_resolutions 32/16/8 never match
  the downsampling factors 1/2/4 of three levels, so attention is in the middle only), the
  reference optimiser, LR schedule and EMA: the U-Net has 237,094,787 parameters, the
  reference's count for 6 input channels exactly (computed from guided-diffusion's UNetModel
  arithmetic; tests/test_paper_presets.py pins it). The dimension-matching CNN (67,007
  parameters for 4 channels at scale 4) has no reference counterpart (BBDM's SpatialRescaler
  has none for equal channels). Its 200k steps are our choice (the papers' iteration counts were
  not available to us). `quick` keeps strided convolutions and attention at its lowest level.
- `quick` is a CPU model that trains in minutes: width 32, patch 2 (pixels folded into channels,
  so the U-Net runs at half resolution), Adam 1e-3 with cosine decay, EMA 0.99 from step 50,
  flips and 90-degree rotations, the reference code's 'ysubx' objective (y - x0; better than
  'grad' at this budget on af-he-x4) and least-squares colour initialisation. Its default
  sampler is `mean-skip` on a 20-step grid with t_e = 500: on the af-he-x4 val split the
  5-minute model loses PSNR with every stochastic step (t_e = 50: 19.2 dB, 500: 20.2 dB,
  one step: 20.7 dB), and 500 is the latest exit within 0.5 dB of one step. The paper's t_e = 50
  is one variant away (`+mean`, `+mean-skip`, `+te50`).
"""

from __future__ import annotations

import vbench
from vbench import Param
from vbench.errors import ConfigError

from ..parameters import choice, count, every, flag, fraction, rate, schedule_steps, side, steps, weight

SAMPLERS = ("vanilla", "skip", "mean", "mean-skip")


class BBDM(vbench.Stainer):
    """Brownian bridge diffusion from the dimension-matched input to the stained target."""

    name = "bbdm"
    pairings = {"paired"}
    scales = {1, 2, 4, 5}
    stochastic = True
    repeats = 5
    bf16 = True  # trains under ctx.autocast(): bf16 by default on CUDA (--precision)
    presets = {
        "quick": dict(
            steps=800,
            batch_size=16,
            crop=64,
            lr=1e-3,
            warmup=30,
            schedule="cosine",
            width=32,
            mult=(1, 2, 2),
            blocks=1,
            attention=(2,),
            head_channels=32,
            updown="conv",
            patch=2,
            match_width=32,
            match_weight=1.0,
            init_color=True,
            objective="ysubx",
            ema_decay=0.99,
            ema_start=50,
            ema_every=1,
            augment=True,
            timesteps=1000,
            max_var=1.0,
            dropout=0.0,
            clip=True,
            use_ema=True,
            sampler="mean-skip",
            sample_steps=20,
            exit_t=500,
            n_avg=1,
            max_seconds=900,
        ),
        "paper": dict(
            steps=200_000,
            batch_size=8,
            crop=256,
            lr=1e-4,
            warmup=0,
            schedule="plateau",
            width=128,
            mult=(1, 4, 8),
            blocks=2,
            attention=(),
            head_channels=64,
            updown="resblock",
            patch=1,
            match_width=64,
            match_weight=1.0,
            init_color=False,
            objective="grad",
            ema_decay=0.995,
            ema_start=30_000,
            ema_every=8,
            augment=False,
            timesteps=1000,
            max_var=1.0,
            dropout=0.0,
            clip=True,
            use_ema=True,
            sampler="mean",
            sample_steps=1000,
            exit_t=50,
            n_avg=1,
        ),
    }
    # 20-step sampling costs about 2 s per 64 px tile on 2 CPU cores: the anytime curve scores the
    # centre 32 px of 2 validation tiles, to stay within 10% of the quick preset's training time
    curve_tiles = 2
    curve_crop = 32
    parameters = dict(
        steps=steps(),
        batch_size=count("crops per training step"),
        crop=side(),
        lr=rate(),
        warmup=schedule_steps("steps of linear learning-rate warm-up"),
        schedule=choice("learning-rate schedule", "cosine", "plateau"),
        width=count("channels of the U-Net's first level"),
        mult=Param(list, min=1, max=64, help="channel multiplier of each U-Net level"),
        blocks=count("residual blocks per level", max=64),
        attention=Param(list, min=0, max=16, empty=True, help="levels with self-attention (none: the middle only)"),
        updown=choice("resampling between levels: strided convolutions or residual blocks", "conv", "resblock"),
        head_channels=count("channels per attention head"),
        patch=count("pixels folded into channels before the U-Net", max=16),
        match_width=count("channels of the dimension-matching network"),
        match_weight=weight("weight of the dimension-matching loss"),
        init_color=flag("start the matching network from the mean colour"),
        objective=choice("what the network regresses", "grad", "ysubx"),
        ema_decay=fraction("decay of the weights' moving average"),
        ema_start=schedule_steps("step from which the moving average is kept"),
        ema_every=every("steps between moving-average updates"),
        augment=flag("random flips and quarter turns of the crops"),
        timesteps=count("diffusion steps of the bridge", max=100_000),
        max_var=Param(float, min=1e-6, max=100.0, help="the bridge's largest variance"),
        dropout=fraction("dropout in the residual blocks", max=0.99),
        clip=flag("clip x0 estimates to the data range while sampling"),
        use_ema=flag("sample with the moving-average weights"),
        sampler=choice("sampling strategy", *SAMPLERS),
        sample_steps=count("sampling steps (at most timesteps)", max=100_000),
        exit_t=count("step at which the mean samplers exit", min=0, max=100_000),
        n_avg=count("samples averaged per prediction", max=100),
    )

    # Sampling strategies are evaluation variants of one trained model (``bbdm:quick+mean+avg3``).
    variants = {
        "vanilla": {"sampler": "vanilla", "sample_steps": 1000},
        "skip": {"sampler": "skip", "sample_steps": 200},
        "skip200": {"sampler": "skip", "sample_steps": 200},
        "skip20": {"sampler": "skip", "sample_steps": 20},
        "mean": {"sampler": "mean", "sample_steps": 1000, "exit_t": 50},
        "mean-skip": {"sampler": "mean-skip", "sample_steps": 1000, "exit_t": 50},
        **{f"steps{k}": {"sample_steps": k} for k in (1, 5, 10, 20, 50, 100, 200, 1000)},
        **{f"te{k}": {"exit_t": k} for k in (20, 50, 100, 200, 500, 800, 1000)},
        **{f"avg{k}": {"n_avg": k} for k in (1, 3, 5, 10)},
    }

    def __init__(self, **params):
        # Defaults first; the preset's and the variants' values override them.
        self.timesteps, self.max_var, self.objective = 1000, 1.0, "grad"
        self.sampler, self.sample_steps, self.exit_t, self.n_avg = "mean", 1000, 50, 1
        self.clip, self.use_ema = True, True
        self.batch_size, self.crop, self.lr, self.warmup, self.schedule = 8, 64, 1e-4, 0, "cosine"
        self.width, self.mult, self.blocks, self.attention = 32, (1, 2, 2), 1, (2,)
        self.head_channels, self.patch, self.dropout, self.updown = 32, 1, 0.0, "conv"
        self.match_width, self.match_weight, self.init_color = 32, 1.0, False
        self.ema_decay, self.ema_start, self.ema_every, self.augment = 0.995, 0, 1, False
        self.last_nfe = 0
        super().__init__(**params)
        self.net = None
        self.ema = None

    # --- model --------------------------------------------------------------------------------
    def network(self, in_channels: int, scale: int):
        """The bridge's networks for these settings (on torch's current default device)."""
        from .diffusion_unet import BridgeNet

        if scale not in self.scales:
            raise ConfigError(
                f"bbdm produces output/input scales {sorted(self.scales)}, this dataset needs {scale}. "
                f"Choose a dataset with one of those scales."
            )
        return BridgeNet(
            in_channels,
            scale,
            self.match_width,
            width=self.width,
            mult=tuple(self.mult),
            blocks=self.blocks,
            attention=tuple(self.attention),
            head_channels=self.head_channels,
            dropout=self.dropout,
            patch=self.patch,
            updown=self.updown,
        )

    def _build(self, in_channels: int, scale: int, device: str = "cpu") -> None:
        from timm.utils import ModelEmaV3

        self.net = self.network(in_channels, scale).to(device)
        self.ema = ModelEmaV3(self.net, decay=self.ema_decay)

    def load_state_dict(self, state: dict) -> None:
        # The networks' shapes depend on the dataset (input channels, scale), known from ctx.
        if self.net is None:
            self._build(self.ctx.in_channels, self.ctx.scale, self.ctx.device)
        super().load_state_dict(state)

    @property
    def bridge(self):
        from .bridge import Bridge

        if getattr(self, "_bridge", None) is None or self._bridge.T != self.timesteps:
            self._bridge = Bridge(self.timesteps, self.max_var)
        return self._bridge

    # --- training -----------------------------------------------------------------------------
    def fit(self, train, ctx):
        from .train import train_bridge

        self._check_sampler()
        self._build(ctx.in_channels, ctx.scale, ctx.device)
        train_bridge(self, list(train), ctx)

    # --- sampling -----------------------------------------------------------------------------
    def _check_sampler(self) -> None:
        from .bridge import OBJECTIVES

        if self.objective not in OBJECTIVES:
            raise ConfigError(f"bbdm: unknown objective {self.objective!r}; use one of {', '.join(OBJECTIVES)}")
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"bbdm: unknown sampler {self.sampler!r}; use one of {', '.join(SAMPLERS)}")
        if not 1 <= int(self.sample_steps) <= self.timesteps:
            raise ConfigError(f"bbdm: sample_steps must be 1..{self.timesteps}, got {self.sample_steps}")
        if int(self.n_avg) < 1:
            raise ConfigError(f"bbdm: n_avg must be at least 1, got {self.n_avg}")

    def _plan(self):
        exit_t = int(self.exit_t) if self.sampler in ("mean", "mean-skip") else 0
        return self.bridge.plan(int(self.sample_steps), exit_t, jump=self.sampler == "mean-skip")

    @property
    def nfe(self) -> int:
        """Network evaluations per tile for the current sampling settings."""
        return len(self._plan()) * int(self.n_avg)

    def network_evaluations(self) -> int | None:
        return self.last_nfe or None

    def predict(self, inputs, generator=None):
        import torch

        from .bridge import sample

        self._check_sampler()
        net = self.ema.module if self.use_ema else self.net
        device = inputs.device
        net.to(device).eval()
        n, k = inputs.shape[0], int(self.n_avg)
        with torch.inference_mode():
            y = net.match(inputs * 2 - 1)
            if k > 1:  # N samples per tile in one batched reverse process, then averaged
                y = y.repeat(k, 1, 1, 1)
            t_buf = torch.empty(y.shape[0], dtype=torch.long, device=device)

            def eps(inp, t):
                return net.unet(inp, t_buf.fill_(t))

            exit_t = int(self.exit_t) if self.sampler in ("mean", "mean-skip") else 0
            x0 = sample(
                eps,
                y,
                self.bridge,
                int(self.sample_steps),
                exit_t,
                jump=self.sampler == "mean-skip",
                generator=generator,
                clip=1.0 if self.clip else None,
                objective=self.objective,
            )
            if k > 1:
                x0 = x0.view(k, n, *x0.shape[1:]).mean(dim=0)
        self.last_nfe = self.nfe
        return ((x0 + 1) / 2).clamp(0, 1)
