"""Registered scoring (``psnr@reg``, ``ssim@reg``): validation where the aligned truth is known, and
its cost.

Run:  .venv/bin/python benchmarks/registered_scoring.py [--split test] [--dataset NAME ...]
          [--stainer baseline-linear ...] [--seed 0] [--timing-only]

Validation. For each misaligned bundled dataset (default: ``unstained-he-misaligned`` and
``darkfield-he-misaligned``) and each stainer (default: the three baselines; ``phasestain:quick``,
``cyclegan:quick`` take minutes each on 2 cores), the stainer is trained in this process with its
preset's step budget and seed, its test predictions are scored through the scoring engine three
ways: ``psnr``/``ssim`` against the raw (misaligned) target, ``psnr@reg``/``ssim@reg`` (against the
target registered to the prediction) and ``psnr``/``ssim`` against the aligned truth. The bar, per
stainer and metric on the means: |reg - truth| <= 1/4 |raw - truth|.

A fourth column scores against the *aligned target*: the adjacent section with its stain change
but without the warp, i.e. what a perfect registration would return. Its distance from the truth is
the part of |raw - truth| that no registration can remove (the section's stronger H, weaker E and
thickness); ``reg ratio`` = |reg - aligned| / |raw - aligned| is the registration's own error.
A flat prediction (``baseline-mean``) is never moved by registration (the gaming guard), so its
|raw - truth| is all stain change and its truth ratio is 1 by construction. ``output offset`` is
the largest displacement registering the truth to the output finds, averaged over tiles: an
output drawn away from its input's position (a stainer that learned the section's shift from
misaligned pairs) is registered onto by the target too, so ``@reg`` cannot see that offset, while
the truth does; such a stainer misses the bar by construction.

Gaming. For each dataset, every test tile's target scored against the aligned truth of another test
tile (a prediction of the wrong tile): the PSNR it gains from registration, mean and largest (the
limit is 0.3 dB; a flat prediction is the baseline-mean row, which registration never moves).

Cost. On the first dataset's 256 px test tiles (a prediction: the linear baseline's), the time per
tile of psnr + ssim without registration, of registration alone (caches cleared), and of psnr@reg +
ssim@reg (one registration shared by both); printed with their ratio.

Tune on ``--split val`` only; the test split is for the figures.
"""

from __future__ import annotations

import argparse
import time

DATASETS = ("unstained-he-misaligned", "darkfield-he-misaligned")
STAINERS = ("baseline-mean", "baseline-linear", "baseline-colormap")
BAR = 0.25


def predictions(plugins, stainer: str, dataset, split: str, seed: int) -> dict:
    """Tile id -> prediction of ``stainer`` (``name[:preset]``) trained in this process."""
    import torch

    from vbench import Budget, RunContext
    from vbench.run import plan
    from vbench.seeding import seed_everything

    (spec,) = plan(plugins, [stainer], [dataset.name], [seed], strict=True)
    seed_everything(seed)
    model = plugins.stainers.get(spec.stainer)(**spec.params)
    model.ctx = RunContext(
        scale=dataset.scale,
        seed=seed,
        val=dataset.samples("val"),
        budget=Budget(steps=spec.params.get("steps")),
        pairing=dataset.pairing,
        in_channels=dataset.in_channels,
        modality=dataset.modality,
        stain=dataset.stain,
    )
    model.fit(dataset.samples("train"), model.ctx)
    seed_everything(seed)
    out = {}
    with torch.inference_mode():
        for s in dataset.samples(split):
            out[s.id] = model.predict(s.input[None])[0].clamp(0, 1).float()
    return out


def items(samples, outputs, against: str, aligned: dict | None = None):
    from vbench.scoring import Item

    refs = {"truth": lambda s: s.truth, "target": lambda s: s.target, "aligned": lambda s: aligned[s.id]}[against]
    return [
        Item(
            s.id,
            (lambda o=outputs[s.id]: o),
            reference=(lambda r=refs(s): r.float()),
            target=(lambda t=s.target: t.float()),
            shape=tuple(outputs[s.id].shape),
        )
        for s in samples
    ]


def aligned_targets(dataset, split: str) -> dict:
    """Tile id -> the adjacent section's tile without the warp (same stain change and thickness)."""
    from dataclasses import replace

    still = replace(dataset.section, elastic_px=0.0, rotation_deg=0.0, shift_px=(0.0, 0.0))
    variant = type(
        f"{type(dataset).__name__}Unwarped", (type(dataset),), {"name": f"{dataset.name}-unwarped", "section": still}
    )
    return {s.id: s.target for s in variant(**dataset.tiles).samples(split)}


def means(plugins, names, its, dataset=None) -> dict:
    from vbench.scoring import score

    result = score([(n, plugins.metrics.get(n)) for n in names], its, dataset=dataset, explicit=True)
    return {s["metric"]: s["mean"] for s in result.summaries}


def validate(plugins, datasets, stainers, split: str, seed: int) -> bool:
    from vbench_plugins.metrics.registration import estimate as registration

    print(
        "| dataset | stainer | metric | raw | @reg | aligned target | truth | truth ratio | reg ratio | bar "
        "| output offset px |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    ok = True
    for name in datasets:
        ds = plugins.datasets.get(name)
        samples = [s for s in ds.samples(split) if s.truth is not None]
        aligned = aligned_targets(ds, split)
        for stainer in stainers:
            outputs = predictions(plugins, stainer, ds, split, seed)
            raw = means(plugins, ["psnr", "ssim"], items(samples, outputs, "target"))  # no dataset: target as reference
            truth = means(plugins, ["psnr", "ssim"], items(samples, outputs, "truth"))
            still = means(plugins, ["psnr", "ssim"], items(samples, outputs, "aligned", aligned))
            reg = means(plugins, ["psnr@reg", "ssim@reg"], items(samples, outputs, "target"), dataset=ds)
            # How far the output sits from its input's position: the truth registered to it.
            settings = registration.Settings(max_px=ds.max_displacement_px)
            offset = sum(
                registration.register(outputs[s.id], s.truth.float(), settings).max_shift for s in samples
            ) / len(samples)
            for m in ("psnr", "ssim"):
                r = reg[f"{m}@reg"]
                ratio = abs(r - truth[m]) / abs(raw[m] - truth[m]) if raw[m] != truth[m] else float("inf")
                own = abs(r - still[m]) / abs(raw[m] - still[m]) if raw[m] != still[m] else float("inf")
                passed = ratio <= BAR
                ok &= passed
                d = 2 if m == "psnr" else 3
                print(
                    f"| {name} | {stainer} | {m} | {raw[m]:.{d}f} | {r:.{d}f} | {still[m]:.{d}f} | {truth[m]:.{d}f} "
                    f"| {ratio:.2f} | {own:.2f} | {'met' if passed else 'MISSED'} | {offset:.1f} |",
                    flush=True,
                )
    return ok


def gaming(plugins, datasets, split: str) -> None:
    import numpy as np

    print()
    for name in datasets:
        ds = plugins.datasets.get(name)
        samples = [s for s in ds.samples(split) if s.truth is not None]
        n = len(samples)
        outputs = {s.id: samples[(i + n // 2) % n].truth for i, s in enumerate(samples)}
        its = items(samples, outputs, "target")
        from vbench.scoring import score

        raw = score([("psnr", plugins.metrics.get("psnr"))], its, explicit=True).values["psnr"]
        reg = score([("psnr@reg", plugins.metrics.get("psnr@reg"))], its, dataset=ds, explicit=True).values["psnr@reg"]
        gains = np.array([reg[k] - raw[k] for k in raw])
        print(
            f"another tile's stain as prediction, {name} ({n} tiles): PSNR gain from registration mean "
            f"{gains.mean():.3f} dB, largest {gains.max():.3f} dB (limit 0.3)"
        )


def timing(plugins, dataset_name: str, seed: int, repeats: int = 2) -> None:
    from vbench.scoring import score
    from vbench_plugins.metrics.cells import nuclei
    from vbench_plugins.metrics.registration import estimate as registration

    ds = plugins.datasets.get(dataset_name)
    samples = ds.samples("test")
    outputs = predictions(plugins, "baseline-linear", ds, "test", seed)
    its = items(samples, outputs, "target")
    size = tuple(samples[0].target.shape[-2:])
    settings = registration.Settings(max_px=ds.max_displacement_px)

    def per_tile(fn) -> float:
        best = float("inf")
        for _ in range(repeats):
            registration.clear_cache()
            nuclei.clear_cache()
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
        return best / len(samples) * 1000

    plain = per_tile(lambda: score([(n, plugins.metrics.get(n)) for n in ("psnr", "ssim")], its))
    alone = per_tile(lambda: [registration.register(outputs[s.id], s.target, settings) for s in samples])
    registered = per_tile(
        lambda: score([(n, plugins.metrics.get(n)) for n in ("psnr@reg", "ssim@reg")], its, dataset=ds)
    )
    print(f"\n{len(samples)} test tiles of {size[0]} x {size[1]} px ({dataset_name}), best of {repeats}, ms per tile:")
    print(f"  psnr + ssim, no registration     {plain:8.1f}")
    print(f"  registration alone               {alone:8.1f}")
    print(f"  psnr@reg + ssim@reg (one reg.)   {registered:8.1f}   ratio to no registration: {registered / plain:.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="test", choices=("val", "test"))
    parser.add_argument("--dataset", action="append", help="misaligned dataset(s) with the aligned truth")
    parser.add_argument("--stainer", action="append", help="name[:preset] (repeatable)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timing-only", action="store_true")
    args = parser.parse_args()

    from vbench.plugins import load_plugins

    plugins = load_plugins()
    datasets = args.dataset or list(DATASETS)
    if not args.timing_only:
        ok = validate(plugins, datasets, args.stainer or list(STAINERS), args.split, args.seed)
        print(f"\nbar |reg - truth| <= {BAR} x |raw - truth| on every row: {'met' if ok else 'MISSED'}")
        gaming(plugins, datasets, args.split)
    timing(plugins, datasets[0], args.seed)


if __name__ == "__main__":
    main()
