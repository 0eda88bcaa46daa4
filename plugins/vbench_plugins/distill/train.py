"""The student's training loop: half cycle (A -> B -> A), LSGAN discriminators on both ends,
distillation to the frozen teacher's output, Learning-to-Align on position-paired data, and the
optional NIQE term."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _gan(scores: torch.Tensor, real: bool) -> torch.Tensor:
    """Least-squares GAN loss on the image's mean patch score (the released code pools the
    PatchGAN map to one score per image before the loss)."""
    s = scores.flatten(1).mean(1)
    return F.mse_loss(s, torch.full_like(s, 1.0 if real else 0.0))


def weights(stainer, pairing: str) -> dict:
    """The loss weights of the setting: the released unpaired or misaligned configuration."""
    unpaired = pairing == "unpaired"
    return dict(
        adv=stainer.adv_weight,
        cycle=stainer.unpaired_cycle_weight if unpaired else stainer.cycle_weight,
        distill=stainer.unpaired_distill_weight if unpaired else stainer.distill_weight,
        corr=0.0 if unpaired or not stainer.align else stainer.corr_weight,
        smooth=0.0 if unpaired or not stainer.align else stainer.smooth_weight,
        niqe=stainer.niqe_weight,
    )


def train_student(stainer, data, ctx, steps: int) -> int:
    """Trains ``stainer.student`` for up to ``steps`` steps (fewer when ``ctx.step`` says stop).

    ``data`` holds: ``sampler`` (crops of [input | enhanced | teacher] channels and targets, in
    [-1, 1]), ``channels`` (raw input channels), ``regions`` (NIQE crops, or None) and
    ``niqe_model``. Returns the steps done."""
    from timm.optim import create_optimizer_v2

    from vbench_plugins.nets import ImagePool, check_finite, linear_decay_scheduler

    from .align import align_losses, dihedral
    from .niqe_loss import niqe_score

    w = weights(stainer, ctx.pairing)
    dev = torch.device(ctx.device)
    c = data["channels"]
    g, inv, d_b, d_a = stainer.student, stainer.inverse, stainer.disc_stain, stainer.disc_input
    aligner = stainer.aligner if w["corr"] > 0 else None

    def adam(params):
        return create_optimizer_v2(params, "adam", lr=stainer.lr, betas=(stainer.beta1, 0.999), weight_decay=0.0)

    opt_gen = [adam(list(g.parameters()) + list(inv.parameters()))]  # with the aligner: one backward
    if aligner is not None:
        opt_gen.append(adam(aligner))
    opt_da, opt_db = adam(d_a), adam(d_b)
    scheds = [linear_decay_scheduler(o, steps, stainer.decay_from) for o in [*opt_gen, opt_da, opt_db]]
    pool_a, pool_b = ImagePool(stainer.pool_size, ctx.seed + 1), ImagePool(stainer.pool_size, ctx.seed + 2)
    hint = (
        f"lower lr ({stainer.lr}) or the loss weights (adv {w['adv']}, cycle {w['cycle']}, distill "
        f"{w['distill']}, corr {w['corr']}, niqe {w['niqe']})"
    )
    for net in stainer.training_nets():
        net.train()
    rng = torch.Generator().manual_seed(ctx.seed + 4)
    orient = stainer.augment and ctx.pairing != "unpaired"
    step = 0
    while step < steps:
        x, b = (t.to(dev) for t in data["sampler"].batch(stainer.batch))
        n = x.shape[0]
        ks, flips = torch.randint(4, (n,), generator=rng).tolist(), torch.randint(2, (n,), generator=rng).tolist()
        if orient:  # position-paired crops come in the slide's frame; their orientation is drawn here
            x, b = dihedral(x, ks, flips), dihedral(b, ks, flips)
        a, teacher = x[:, : c + 1], x[:, c + 1 :]
        real_a = a[:, :c]
        for d in (d_a, d_b):
            d.requires_grad_(False)
        with ctx.autocast():  # forward passes and losses; backward passes outside
            fake_b = stainer.run(g, a)
            rec_a = stainer.run(inv, fake_b)
            losses = {
                "adv": w["adv"] * (_gan(d_b(fake_b), True) + _gan(d_a(rec_a), True)),
                "cycle": w["cycle"] * F.l1_loss(rec_a, real_a),
            }
            if w["distill"] > 0:
                losses["distill"] = w["distill"] * F.l1_loss(fake_b, teacher)
            if aligner is not None:
                # registered in the slide's frame, where adjacent-section misalignment is smooth and
                # consistent (the student cannot tell the crop's orientation, so cannot learn a shift)
                moving, fixed = (dihedral(t, ks, flips, inverse=True) for t in (fake_b, b)) if orient else (fake_b, b)
                corr, smooth, _ = align_losses(aligner, moving, fixed)
                losses.update(corr=w["corr"] * corr, smooth=w["smooth"] * smooth)
            if w["niqe"] > 0 and step % stainer.niqe_every == 0:
                big = data["regions"].crop()[None].to(dev)
                out = stainer.run(g, big)
                losses["niqe"] = w["niqe"] * niqe_score((out + 1) / 2, data["niqe_model"]).mean()
            losses = {k: v.float() for k, v in losses.items()}
        total = sum(losses.values())
        # checked before backward: a NaN flow makes grid_sample's backward read out of bounds
        check_finite(
            stainer.teacher_done + step + 1, {k: v.detach() for k, v in {**losses, "student": total}.items()}, hint
        )
        for o in opt_gen:
            o.zero_grad(set_to_none=True)
        total.backward()
        for o in opt_gen:
            o.step()
        for d in (d_a, d_b):
            d.requires_grad_(True)
        with ctx.autocast():
            loss_da = w["adv"] * (_gan(d_a(real_a), True) + _gan(d_a(pool_a.query(rec_a)), False)).float()
            loss_db = w["adv"] * (_gan(d_b(b), True) + _gan(d_b(pool_b.query(fake_b)), False)).float()
        opt_da.zero_grad(set_to_none=True)
        opt_db.zero_grad(set_to_none=True)
        (loss_da + loss_db).backward()
        opt_da.step()
        opt_db.step()
        step += 1
        for s in scheds:
            s.step_update(num_updates=step)
        logs = {k: v.detach() for k, v in losses.items()}
        logs.update(student=total.detach(), discriminators=(loss_da + loss_db).detach())
        check_finite(stainer.teacher_done + step, {"discriminators": logs["discriminators"]}, hint)
        if not ctx.step(samples=stainer.batch, stage="student", **{k: float(v) for k, v in logs.items()}):
            break
    for net in stainer.training_nets():
        net.eval()
    return step
