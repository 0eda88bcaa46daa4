"""A run evaluated on whole images (``vbench run --eval whole``): the trained stainer stains each of
the dataset's whole-image test regions through ``vbench predict``'s tiled, blended path and each
region is scored whole (:mod:`vbench.whole_image`). Per-region scores are stored as the run's
per-"tile" scores (one row per region), so leaderboards, intervals and exports read them as they
read tile scores; the board keeps whole-image runs in their own section."""

from __future__ import annotations

import logging

from ..dataset import whole_regions
from ..errors import VbenchError
from ..scoring import default_metrics
from ..whole_image import evaluate_region, summarize_regions
from .fit import StainerFailure

log = logging.getLogger("vbench.run")

PREVIEW_SIDE = 1024  # px: the longest side of the stored preview of the first region


def evaluate_whole(spec, plugins, dataset, stainer, reporter, artifacts):
    """(per-region scores, summaries, run fields) of ``spec``'s whole-image evaluation."""
    regions = whole_regions(dataset)
    if not regions:
        raise VbenchError(f"dataset {spec.dataset!r} declares no whole-image test regions; nothing to score")
    names = spec.metrics or default_metrics(plugins.metrics, dataset.pairing, has_reference=True)
    metrics = [(n, plugins.metrics.get(n)) for n in names]
    results = []
    with reporter.task(f"whole images {spec.label}", total=len(regions)) as advance:
        for i, region in enumerate(regions):
            try:
                result = evaluate_region(
                    stainer,
                    region,
                    metrics,
                    scale=dataset.scale,
                    batch_size=spec.batch_size,
                    dataset=dataset,
                    seed=spec.seed,
                    **spec.whole,
                )
            except (KeyboardInterrupt, VbenchError):
                raise
            except Exception as exc:
                raise StainerFailure(
                    f"stainer {spec.stainer!r} raised while staining whole region {region.id!r}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            if i == 0:
                save_preview(artifacts / "samples.png", result)
            results.append(result)
            advance(i + 1)
    scores = [(m, r.region, v) for r in results for m, v in r.values.items()]
    return scores, summarize_regions(results, seed=spec.seed), dict(n_test_tiles=len(results))


def save_preview(path, result) -> None:
    """The first region's output, at most ``PREVIEW_SIDE`` px, with the tile grid it was predicted
    on drawn faintly: what the HTML page shows for the row."""
    import numpy as np
    from PIL import Image, ImageDraw

    try:
        arr = np.asarray(result.output).transpose(1, 2, 0)
        step = max(1, int(np.ceil(max(arr.shape[:2]) / PREVIEW_SIDE)))
        image = Image.fromarray(np.ascontiguousarray(arr[::step, ::step])).convert("RGBA")
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        stride = (result.tile - result.overlap) * result.scale
        for pos in range(stride, max(result.height, result.width), stride):
            x = y = pos // step
            if pos < result.width:
                draw.line([(x, 0), (x, image.height)], fill=(0, 170, 255, 110))
            if pos < result.height:
                draw.line([(0, y), (image.width, y)], fill=(0, 170, 255, 110))
        Image.alpha_composite(image, overlay).convert("RGB").save(path)
    except OSError as exc:
        log.warning("could not write the whole-image preview: %s", exc)
