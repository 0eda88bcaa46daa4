"""pyiqa's metric zoo as vbench metrics (pyiqa is PolyForm-Noncommercial: used as a dependency,
never copied).

The list of pyiqa metrics is read from pyiqa's ``default_model_configs.py`` without importing
pyiqa (which takes seconds), so listing metrics stays fast; pyiqa is imported and the network
built on first use, with downloads blocked (see ``files.no_downloads``). pyiqa metrics whose
names vbench implements itself (psnr, ssim, niqe) are available as ``pyiqa-<name>``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from functools import lru_cache
from pathlib import Path

from vbench.assets import require_all
from vbench.errors import MetricNotApplicable
from vbench.metric import DISTRIBUTION, FULL_REFERENCE, NO_REFERENCE, DistributionMetric, ImageMetric

from .files import assets_for, let_pyiqa_download, no_downloads

RENAMED = {"psnr": "pyiqa-psnr", "ssim": "pyiqa-ssim", "niqe": "pyiqa-niqe"}
DEFAULT_FOR = {"lpips": frozenset({"paired", "misaligned"}), "fid": frozenset({"unpaired"})}
# pyiqa metrics that load no weight or parameter file.
NO_FILES = {
    "psnr",
    "psnry",
    "ssim",
    "ssimc",
    "ms_ssim",
    "cw_ssim",
    "fsim",
    "vif",
    "gmsd",
    "nlpd",
    "mad",
    "vsi",
    "piqe",
    "entropy",
}
# Units of pyiqa's scores, where they have one (the rest are unitless).
UNITS = {"psnr": "dB", "psnry": "dB"}
PIPELINES = {
    "psnr": "pyiqa psnr: RGB float in [0,1] as given, MSE over all 3 channels, peak 1, MSE + 1e-8, no crop",
    "psnry": "pyiqa psnry: YIQ luma (0.299/0.587/0.114) in [0,1], not rounded, peak 1, MSE + 1e-8",
    "ssim": "pyiqa ssim: YIQ luma x 255 rounded to 8 bit, float64, 11x11 Gaussian sigma 1.5, valid, contrast-"
    "structure term clamped at 0, no downsampling",
    "ssimc": "pyiqa ssimc: RGB x 255 rounded to 8 bit, float64, 11x11 Gaussian sigma 1.5, valid, contrast-structure "
    "term clamped at 0, mean over channels, no downsampling",
    "ms_ssim": "pyiqa ms_ssim: YIQ luma x 255 rounded to 8 bit, 5 scales (2x2 average pooling), weights "
    "0.0448/0.2856/0.3001/0.2363/0.1333",
    "fsim": "pyiqa fsim (FSIMc, Zhang et al. 2011): RGB x 255 (not rounded), average-pooled by max(1, round(min(H,W)"
    "/256)), YIQ; phase congruency and gradient similarity with chromatic I/Q terms",
    "gmsd": "pyiqa gmsd (Xue et al. 2014): YIQ luma x 255 rounded to 8 bit, 2x2 average downsampling, 3x3 Prewitt "
    "gradients, T 170, standard deviation of the gradient-magnitude similarity map",
    "vif": "pyiqa vif (Sheikh & Bovik 2006): YIQ luma x 255 rounded to 8 bit, steerable-pyramid VIF",
    "piqe": "pyiqa piqe (Venkatanath et al. 2015): YIQ luma divided by its maximum, x 255 rounded, block-wise "
    "distortion estimate",
    "lpips": "pyiqa lpips (Zhang et al. 2018, v0.1): RGB [0,1] mapped to [-1,1], AlexNet ImageNet features, "
    "learned linear layers, spatial mean",
    "lpips-vgg": "pyiqa lpips-vgg (Zhang et al. 2018, v0.1): RGB [0,1] mapped to [-1,1], VGG16 ImageNet features, "
    "learned linear layers, spatial mean",
    "niqe": "pyiqa niqe: YIQ luma x 255 rounded, NIQE with pyiqa's copy of the pristine model (float32 resize)",
    "fid": "pyiqa fid (clean-fid): predictions and targets written as 8-bit PNGs, Inception-v3 pool features, "
    "Frechet distance between the two sets",
}


@lru_cache(maxsize=1)
def pyiqa_configs() -> dict:
    """pyiqa's DEFAULT_CONFIGS, read from its source file without importing pyiqa ({} if absent)."""
    spec = importlib.util.find_spec("pyiqa")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(list(spec.submodule_search_locations)[0]) / "default_model_configs.py"
    if not path.is_file():
        return {}
    mod_spec = importlib.util.spec_from_file_location("_vbench_pyiqa_configs", path)
    module = importlib.util.module_from_spec(mod_spec)
    try:
        mod_spec.loader.exec_module(module)
    except Exception:  # a future pyiqa may lay this out differently: no zoo rather than no CLI
        return {}
    return dict(getattr(module, "DEFAULT_CONFIGS", {}))


def pyiqa_version() -> str:
    import importlib.metadata as md

    try:
        return md.version("pyiqa")
    except md.PackageNotFoundError:
        return "?"


def _is_distribution(name: str) -> bool:
    return "fid" in name or name == "inception_score"


class _Pyiqa:
    """What every pyiqa metric shares: its pyiqa name and how its files are fetched."""

    pyiqa_name = ""

    def fetch_library_files(self, log=lambda msg: None) -> bool:
        if self.pyiqa_name in ("psnr", "ssim"):  # pyiqa computes these without any file
            return False
        let_pyiqa_download(self.name, self.pyiqa_name, log)
        return True


class PyiqaMetric(_Pyiqa, ImageMetric):
    """A pyiqa metric, created on first use with downloads blocked."""

    def __init__(self):
        self._net = None

    def setup(self, dataset) -> None:
        super().setup(dataset)
        require_all(self)  # missing declared files are reported before pyiqa is imported

    def net(self, device):
        if self._net is None:
            require_all(self)
            import pyiqa
            import torch

            with no_downloads(self.name), contextlib.redirect_stdout(sys.stderr):
                self._net = pyiqa.create_metric(self.pyiqa_name, as_loss=False, device=torch.device(device))
        return self._net

    def score(self, pred, ref):
        import torch

        net = self.net(pred.device)
        try:
            with torch.no_grad(), contextlib.redirect_stdout(sys.stderr):
                out = net(pred.float(), ref.float()) if self.kind == FULL_REFERENCE else net(pred.float())
        except (RuntimeError, ValueError, AssertionError, IndexError) as exc:
            raise MetricNotApplicable(
                f"pyiqa's {self.pyiqa_name} failed on tiles of {tuple(pred.shape[-2:])} px: {type(exc).__name__}: "
                f"{str(exc)[:300]}"
            ) from None
        return torch.as_tensor(out).reshape(-1)


class PyiqaDistributionMetric(_Pyiqa, DistributionMetric):
    """pyiqa's FID-style metrics: two folders of 8-bit PNGs, one number."""

    def __init__(self):
        self._net = None

    def compute_set(self, preds, targets) -> float:
        import tempfile

        import numpy as np
        import pyiqa
        import torch
        from PIL import Image

        require_all(self)
        with tempfile.TemporaryDirectory(prefix="vbench-fid-") as tmp:
            dirs = []
            for side, batches in (("pred", preds), ("target", targets)):
                folder = Path(tmp) / side
                folder.mkdir()
                k = 0
                for batch in batches:
                    arr = (batch.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1)
                    for img in arr.cpu().numpy():
                        Image.fromarray(np.ascontiguousarray(img)).save(folder / f"{k:06d}.png")
                        k += 1
                dirs.append(str(folder))
            with no_downloads(self.name), contextlib.redirect_stdout(sys.stderr):
                if self._net is None:
                    self._net = pyiqa.create_metric(self.pyiqa_name, device=torch.device("cpu"))
                value = self._net(dirs[0], dirs[1], device=torch.device("cpu"), num_workers=0, verbose=False)
        return float(value)


@lru_cache(maxsize=1)
def metric_classes() -> tuple[type, ...]:
    """One vbench metric class per pyiqa metric (built once per process)."""
    version = pyiqa_version()
    out = []
    for pname, cfg in sorted(pyiqa_configs().items()):
        mode = cfg.get("metric_mode", "NR")
        dist = _is_distribution(pname)
        kind = DISTRIBUTION if dist else (FULL_REFERENCE if mode == "FR" else NO_REFERENCE)
        opts = dict(cfg.get("metric_opts", {}))
        arch = opts.pop("type", "?")
        described = PIPELINES.get(pname) or (
            f"pyiqa {pname} ({arch}{', ' + ', '.join(f'{k}={v}' for k, v in opts.items()) if opts else ''}): takes "
            f"RGB float in [0,1] and applies pyiqa's own conversions"
        )
        name = RENAMED.get(pname, pname)
        base = PyiqaDistributionMetric if dist else PyiqaMetric
        files = assets_for(name)
        out.append(
            type(
                f"Pyiqa_{pname}",
                (base,),
                dict(
                    name=name,
                    pyiqa_name=pname,
                    kind=kind,
                    higher_is_better=not cfg.get("lower_better", False),
                    unit=UNITS.get(pname, ""),
                    default_for=DEFAULT_FOR.get(pname, frozenset()),
                    pipeline=f"{described} [pyiqa {version}]",
                    score_range=cfg.get("score_range", ""),
                    assets=files,
                    assets_note="" if files or pname in NO_FILES else "pyiqa downloads (checked on first use)",
                    __module__=__name__,
                ),
            )
        )
    return tuple(out)
