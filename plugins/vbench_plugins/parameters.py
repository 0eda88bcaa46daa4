"""What the bundled stainers' parameters accept (``vbench.Param``), for their ``parameters``
declarations: the kinds of parameter they share (training budgets, crop sides, batch sizes,
widths, learning rates, loss weights) with the same ranges everywhere. Light: no torch."""

from __future__ import annotations

from vbench import Param

LIMIT = 100_000_000  # steps and counts of steps: far beyond any budget, short of nonsense


def steps(help: str = "training steps: the run's budget") -> Param:
    return Param(int, min=1, max=LIMIT, help=help, budget=True)


def schedule_steps(help: str) -> Param:
    """A step count of a schedule (a warm-up, a stage's share): it scales with ``--budgets``."""
    return Param(int, min=0, max=LIMIT, help=help, budget=True)


def every(help: str) -> Param:
    return Param(int, min=1, max=LIMIT, help=help)


def side(help: str = "side of the training crops in pixels") -> Param:
    return Param(int, min=16, max=4096, help=help)


def count(help: str, min: int = 1, max: int = 4096) -> Param:
    return Param(int, min=min, max=max, help=help)


def rate(help: str = "learning rate") -> Param:
    return Param(float, min=1e-9, max=1.0, help=help)


def weight(help: str) -> Param:
    return Param(float, min=0.0, max=1e6, help=help)


def fraction(help: str, max: float = 1.0) -> Param:
    return Param(float, min=0.0, max=max, help=help)


def flag(help: str) -> Param:
    return Param(bool, help=help)


def choice(help: str, *choices: str) -> Param:
    return Param(str, choices=choices, help=help)


def resnet_gan(width: str) -> dict[str, Param]:
    """The parameters of a CycleGAN-style generator and discriminators (cyclegan, distill)."""
    return dict(
        steps=steps(),
        tile=side(),
        batch=count("crops per training step"),
        width=count(width),
        blocks=count("residual blocks of the generator", max=64),
        d_width=count("channels of the discriminators' first layer"),
        d_layers=count("layers of the PatchGAN discriminators", max=8),
        norm=choice("normalisation layers", "instance", "batch", "none"),
        lr=rate(),
        beta1=fraction("Adam's beta1", max=0.999),
        decay_from=fraction("fraction of the steps after which the learning rate decays linearly to 0"),
        pool_size=count("images in each discriminator's history pool", min=0, max=10_000),
        cycle_weight=weight("weight of the cycle-consistency loss"),
        augment=flag("random flips and quarter turns of the crops"),
    )
