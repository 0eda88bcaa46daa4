"""Applies a trained run to whole images of any size.

The image is cut into overlapping tiles, each tile is stained by the run's stainer, and the
tiles are blended with a raised-cosine (Hann) ramp over every overlap: a tile's pixels near an
edge it shares with a neighbour fade out while the neighbour's fade in, and the two weights sum to
one. Edge pixels of a tile (where convolution padding makes a network guess) therefore get almost
no weight, and no seam shows. Image borders keep full weight. ``blend="mean"`` averages the
overlapping tiles instead and ``"none"`` lets the later tile win (naive stitching), so seams can be
measured. ``blend_rows`` streams the output tile row by tile row; whole-image evaluation
(:mod:`vbench.whole_image`) uses the same path.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

from . import images
from .context import RunContext
from .errors import ConfigError
from .run import checkpoint
from .run.output_checks import check_output
from .run.progress import Reporter


@dataclass
class LoadedRun:
    run_id: int
    stainer: object
    name: str
    dataset: str
    scale: int
    in_channels: int


def load_run(store, run_id: int, plugins, device: str = "cpu", precision: str | None = None) -> LoadedRun:
    """The run's stainer, constructed with the stored params and restored from its checkpoint
    (for an evaluation variant, the checkpoint of the run that trained it). It predicts in
    ``precision`` (fp32 or bf16 autocast), by default the run's own, as its scores were made."""
    from .run.artifacts import artifacts_root, run_folder
    from .run.options import check_device_available, check_options

    check_options(precision=precision)
    run = store.get_run(run_id)
    if run is None:
        raise ConfigError(f"no run {run_id} in {store.display_url}; `vbench runs` lists them")
    precision = precision or run.precision or "fp32"
    check_device_available(device, precision)
    trainer = store.get_run(run.trained_by) if run.trained_by else run
    if trainer is None:
        raise ConfigError(
            f"run {run_id} evaluated the model of run {run.trained_by}, which is no longer in {store.display_url}"
        )
    folder = Path(trainer.artifacts) if trainer.artifacts else run_folder(artifacts_root(store), trainer.id)
    if not (folder / checkpoint.WEIGHTS).is_file():
        raise ConfigError(
            f"run {run_id} ({run.stainer}, {run.status}) has no checkpoint: {folder / checkpoint.WEIGHTS} does not "
            f"exist. Only runs whose training finished keep one, and only stainers with weights write it."
        )
    config_path = folder / checkpoint.CONFIG
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    if config.get("stainer", run.stainer) != run.stainer:
        raise ConfigError(
            f"the checkpoint in {folder} was written by stainer {config['stainer']!r}, but run {run_id} is "
            f"{run.stainer!r}; refusing to load it"
        )
    cls = plugins.stainers.get(run.stainer)
    scale, in_channels = _data_shape(plugins, run.dataset, config)
    params = run.params_dict
    _check_same_training(cls, params, config, folder, run_id)
    stainer = cls(**params)
    stainer.ctx = RunContext(scale=scale, device=device, seed=run.seed, in_channels=in_channels, precision=precision)
    try:
        checkpoint.load(stainer, folder, device=device)
    except (RuntimeError, KeyError, ValueError, ConfigError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"the checkpoint of run {run_id} does not fit stainer {run.stainer!r} with the run's params "
            f"({first}); was it written by another version of the stainer or another config?"
        ) from None
    return LoadedRun(run_id, stainer, run.stainer, run.dataset, scale, in_channels)


def _check_same_training(cls, params: dict, config: dict, folder: Path, run_id: int) -> None:
    """Refuses a checkpoint trained with other hyper-parameters than the run records (evaluation
    variants' settings may differ: they act on the trained model)."""
    if "params" not in config:
        return
    eval_keys = {k for v in cls.variants.values() for k in v}
    trained = json.loads(json.dumps(config["params"]))  # tuples -> lists, as the run stores them
    differ = sorted(k for k in set(trained) | set(params) if k not in eval_keys and trained.get(k) != params.get(k))
    if differ:
        shown = ", ".join(f"{k}={trained.get(k)!r} (run: {params.get(k)!r})" for k in differ[:4])
        raise ConfigError(
            f"the checkpoint in {folder} was trained with other params than run {run_id} records: {shown}; "
            f"refusing to load it (was the folder overwritten or the database edited?)"
        )


def _data_shape(plugins, dataset: str, config: dict) -> tuple[int, int]:
    """(scale, input channels) of the run's dataset: from the registry, else from the config."""
    from .errors import UnknownNameError

    try:
        ds = plugins.datasets.get(dataset)
        return int(ds.scale), int(ds.in_channels)
    except UnknownNameError:
        if config.get("scale") is not None and config.get("in_channels") is not None:
            return int(config["scale"]), int(config["in_channels"])
        raise ConfigError(
            f"dataset {dataset!r} of this run is not registered any more, and the checkpoint config does not "
            f"record its scale and input channels; register the dataset again (`vbench datasets add`)"
        ) from None


def read_image(path: Path):
    """C x H x W float32 in [0, 1]. PNG/TIFF/JPEG (8 or 16 bit; grey is one channel) or a .npy
    array (H x W, C x H x W or H x W x C; floats in [0, 1] or unsigned integers)."""
    import numpy as np
    import torch

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"input {path} does not exist")
    suffixes = images.EXTENSIONS + images.ARRAY_EXTENSIONS
    if path.suffix.lower() not in suffixes:
        raise ConfigError(f"input {path}: unsupported file type; use one of {', '.join(sorted(suffixes))}")
    try:
        arr = images.decode(path)
    except images.UnreadableImage as exc:
        raise ConfigError(f"input {path} cannot be read as an image: {exc.reason}") from None
    except images.ImageInputError as exc:
        raise ConfigError(f"input {exc}") from None
    if arr.ndim == 2:
        arr = arr[None]
    elif arr.ndim == 3:
        if arr.shape[-1] <= 8 and arr.shape[0] > 8:  # H x W x C (the usual file layout)
            arr = arr.transpose(2, 0, 1)
    else:
        raise ConfigError(f"input {path}: expected a 2-D image or a 3-D channel stack, got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.float64) / float(np.iinfo(arr.dtype).max)
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
            raise ConfigError(f"input {path}: floating-point values must lie in [0, 1] (and be finite)")
    elif arr.dtype == bool:
        arr = arr.astype(np.float64)
    else:
        raise ConfigError(f"input {path}: unsupported pixel type {arr.dtype}")
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))


def write_png(tensor, path: Path) -> None:
    import numpy as np
    from PIL import Image

    rgb = (tensor.detach().float().cpu().clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    Image.fromarray(rgb).save(path)


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile origins along one axis: every ``tile - overlap`` pixels, the last flush with the end."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, tile - overlap))
    return starts + [length - tile]


def ramp(n: int, width: int, left: bool, right: bool):
    """Per-pixel weight along one axis of a tile: a raised cosine over ``width`` pixels at each
    side that has a neighbour, 1 elsewhere. A falling and a rising ramp sum to exactly 1."""
    import torch

    w = torch.ones(n, dtype=torch.float64)
    width = min(width, n // 2)
    if width > 0:
        rise = 0.5 - 0.5 * torch.cos(math.pi * (torch.arange(width, dtype=torch.float64) + 0.5) / width)
        if left:
            w[:width] = rise
        if right:
            w[n - width :] = rise.flip(0)
    return w


BLENDS = ("hann", "mean", "none")  # how overlapping tiles are combined: raised-cosine ramps, plain mean, last wins


def check_tiling(tile: int, overlap: int, blend: str = "hann") -> None:
    if overlap < 0 or tile < 1 or 2 * overlap >= tile:
        raise ConfigError(f"tile {tile} and overlap {overlap}: need 0 <= overlap < tile / 2")
    if blend not in BLENDS:
        raise ConfigError(f"blend {blend!r}: use one of {', '.join(BLENDS)}")


def tile_weight(th: int, tw: int, overlap: int, sides: tuple[bool, bool, bool, bool], blend: str):
    """The th x tw weight of a tile in the blend; ``sides``: whether it has a neighbour above,
    below, left and right."""
    import torch

    if blend != "hann":
        return torch.ones(th, tw, dtype=torch.float32)
    wy = ramp(th, overlap, sides[0], sides[1])
    wx = ramp(tw, overlap, sides[2], sides[3])
    return (wy[:, None] * wx[None, :]).float()


def as_float(window):
    """A C x h x w window of an image (tensor or numpy array: unsigned integers scaled by their
    largest value, floats in [0, 1] as they are) as a float32 tensor."""
    import numpy as np
    import torch

    if isinstance(window, torch.Tensor):
        return window.float()
    arr = np.asarray(window)
    if arr.dtype.kind in "ub":
        scale = 1.0 if arr.dtype.kind == "b" else float(np.iinfo(arr.dtype).max)
        return torch.from_numpy(arr.astype(np.float32)) / scale
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))


def blend_rows(
    predict,
    image,
    *,
    scale: int,
    tile: int,
    overlap: int,
    blend: str = "hann",
    batch_size: int = 4,
    device: str = "cpu",
    name: str = "stainer",
    reporter: Reporter | None = None,
    label: str = "stain",
    autocast=contextlib.nullcontext,
):
    """Stains a C x H x W image (tensor or array) tile row by tile row and yields ``(y, rows)``:
    finished output rows ``y .. y + n`` (3 x n x W*scale float32 in [0, 1], on the CPU), top to
    bottom. Only one tile row of output is held, so memory does not grow with the image's height.
    ``predict`` is the stainer's ``predict``; every batch is checked as in a run, and runs inside
    ``autocast()`` (a stainer's ``ctx.autocast``: its run's precision) where one is given."""
    import torch

    check_tiling(tile, overlap, blend)
    _, h, w = image.shape
    s = scale
    ys, xs = tile_starts(h, tile, overlap), tile_starts(w, tile, overlap)
    th, tw = min(tile, h), min(tile, w)
    reporter = reporter or Reporter(False)
    acc = torch.zeros(3, th * s, w * s)  # output rows lo .. lo + filled, one tile row at most
    weight = torch.zeros(th * s, w * s)
    lo = filled = done = 0
    with reporter.task(label, total=len(ys) * len(xs)) as advance, torch.inference_mode():
        for y in ys:
            if y * s > lo:  # rows above this tile row are final
                n, keep = y * s - lo, filled - (y * s - lo)
                yield lo, acc[:, :n] / weight[:n]
                acc[:, :keep], weight[:keep] = acc[:, n:filled].clone(), weight[n:filled].clone()
                acc[:, keep:], weight[keep:] = 0, 0
                lo, filled = y * s, keep
            filled = max(filled, (y + th) * s - lo)
            for i in range(0, len(xs), batch_size):
                chunk = xs[i : i + batch_size]
                x_in = torch.stack([as_float(image[:, y : y + th, x : x + tw]) for x in chunk]).to(device)
                with autocast():
                    pred = predict(x_in)
                pred = check_output(pred, (len(chunk), 3, th * s, tw * s), [f"{label}@y{y}x{x}" for x in chunk], name)
                r0, r1 = y * s - lo, (y + th) * s - lo
                for x, p in zip(chunk, pred):
                    wt = tile_weight(th * s, tw * s, overlap * s, (y > 0, y + th < h, x > 0, x + tw < w), blend)
                    cols = slice(x * s, (x + tw) * s)
                    if blend == "none":
                        acc[:, r0:r1, cols] = p
                        weight[r0:r1, cols] = wt
                    else:
                        acc[:, r0:r1, cols] += p * wt
                        weight[r0:r1, cols] += wt
                done += len(chunk)
                advance(done)
        yield lo, acc[:, :filled] / weight[:filled]


def stain_image(
    loaded: LoadedRun,
    image,
    *,
    tile: int = 512,
    overlap: int = 64,
    blend: str = "hann",
    batch_size: int = 4,
    reporter: Reporter | None = None,
    label: str = "stain",
):
    """Stains a C x H x W image of any size; returns 3 x H*scale x W*scale in [0, 1] (on the CPU)."""
    import torch

    check_tiling(tile, overlap, blend)
    c = image.shape[0]
    if c != loaded.in_channels:
        raise ConfigError(
            f"{label}: the image has {c} channel(s), but run {loaded.run_id} ({loaded.name}, trained on "
            f"{loaded.dataset}) takes {loaded.in_channels}-channel input"
        )
    rows = blend_rows(
        loaded.stainer.predict,
        image,
        scale=loaded.scale,
        tile=tile,
        overlap=overlap,
        blend=blend,
        batch_size=batch_size,
        device=loaded.stainer.ctx.device,
        autocast=loaded.stainer.ctx.autocast,
        name=loaded.name,
        reporter=reporter,
        label=label,
    )
    return torch.cat([band for _, band in rows], dim=1)


def default_tiling(scale: int) -> tuple[int, int]:
    """(tile, overlap) in input pixels: output tiles of about 512 px whatever the scale (a 4x
    stainer on 512 px input tiles would run its network on 2048 px), overlaps of 1/8 tile."""
    tile = max(32, 512 // max(1, scale))
    return tile, tile // 8


def predict_files(
    loaded: LoadedRun,
    inputs: list[Path],
    out_dir: Path,
    *,
    tile: int | None = None,
    overlap: int | None = None,
    blend: str = "hann",
    batch_size: int = 4,
    seed: int | None = None,
    overwrite: bool = False,
    reporter: Reporter | None = None,
) -> list[Path]:
    """Stains every input file and writes ``OUT_DIR/<input stem>.png``; returns the written paths.
    Every input and output is checked before any work; existing outputs are kept unless
    ``overwrite``. A stochastic stainer is seeded (the run's seed by default) before each image,
    so the same command gives the same images."""
    from .seeding import seed_everything

    default_tile, default_overlap = default_tiling(loaded.scale)
    tile = default_tile if tile is None else tile
    overlap = min(default_overlap, tile // 2 - 1) if overlap is None else overlap
    check_tiling(tile, overlap, blend)
    inputs = [Path(p) for p in inputs]
    stems = [p.stem for p in inputs]
    clash = sorted({s for s in stems if stems.count(s) > 1})
    if clash:
        raise ConfigError(f"inputs share a file name stem ({', '.join(clash)}); outputs would overwrite each other")
    images = [read_image(p) for p in inputs]  # every input checked before any work is done
    for p, img in zip(inputs, images):
        if img.shape[0] != loaded.in_channels:
            raise ConfigError(
                f"input {p}: {img.shape[0]} channel(s), but run {loaded.run_id} ({loaded.name}, trained on "
                f"{loaded.dataset}) takes {loaded.in_channels}-channel input"
            )
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"output folder {out_dir} is a file; name a folder with -o")
    targets = [out_dir / f"{p.stem}.png" for p in inputs]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not overwrite:
        raise ConfigError(
            f"{', '.join(existing[:3])}{' ...' if len(existing) > 3 else ''} already exist(s); "
            f"choose another -o folder or pass --overwrite"
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create output folder {out_dir}: {exc.strerror or exc}") from None
    written = []
    for p, img, target in zip(inputs, images, targets):
        seed_everything(loaded.stainer.ctx.seed if seed is None else seed)
        stained = stain_image(
            loaded,
            img,
            tile=tile,
            overlap=overlap,
            blend=blend,
            batch_size=batch_size,
            reporter=reporter,
            label=f"stain {p.name}",
        )
        try:
            write_png(stained, target)
        except OSError as exc:
            raise ConfigError(f"cannot write {target}: {exc.strerror or exc}") from None
        written.append(target)
    return written
