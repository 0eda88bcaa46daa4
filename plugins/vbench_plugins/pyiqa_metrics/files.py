"""The files pyiqa's metrics load, declared as vbench assets, and the guard that keeps pyiqa from
downloading anything while scoring.

pyiqa keeps its files in ``<torch hub>/pyiqa`` and torchvision its ImageNet weights in
``<torch hub>/checkpoints``. Metrics whose files are not listed here are fetched by pyiqa itself
(``vbench assets fetch METRIC`` runs ``pyiqa.create_metric`` online).
"""

from __future__ import annotations

import contextlib
import os
import sys

from vbench.assets import Asset, location_dir, missing_message
from vbench.errors import AssetMissingError, VbenchError

HF = "https://huggingface.co/chaofengc/IQA-PyTorch-Weights/resolve/main/"
PYIQA_CACHE = "torch-hub/pyiqa"
TORCHVISION = "torch-hub/checkpoints"

# (asset, pyiqa metric names that need it, as vbench registers them)
ROWS: tuple[tuple[Asset, tuple[str, ...]], ...] = (
    (
        Asset(
            "lpips-alex",
            "LPIPS_v0.1_alex-df73285e.pth",
            "LPIPS v0.1 linear calibration layers for AlexNet features",
            PYIQA_CACHE,
            ("pypi:lpips==0.1.4:wheel:lpips/weights/v0.1/alex.pth", HF + "LPIPS_v0.1_alex-df73285e.pth"),
            sha256="df73285e35b22355a2df87cdb6b70b343713b667eddbda73e1977e0c860835c0",
            size=6009,
            licence="BSD-2-Clause (LPIPS)",
        ),
        ("lpips", "lpips+"),
    ),
    (
        Asset(
            "lpips-vgg",
            "LPIPS_v0.1_vgg-a78928a0.pth",
            "LPIPS v0.1 linear calibration layers for VGG16 features",
            PYIQA_CACHE,
            ("pypi:lpips==0.1.4:wheel:lpips/weights/v0.1/vgg.pth", HF + "LPIPS_v0.1_vgg-a78928a0.pth"),
            sha256="a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868",
            size=7289,
            licence="BSD-2-Clause (LPIPS)",
        ),
        ("lpips-vgg", "lpips-vgg+"),
    ),
    (
        Asset(
            "alexnet-imagenet",
            "alexnet-owt-7be5be79.pth",
            "torchvision AlexNet ImageNet weights (the LPIPS backbone)",
            TORCHVISION,
            ("https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",),
            licence="BSD-3-Clause (torchvision)",
        ),
        ("lpips", "lpips+"),
    ),
    (
        Asset(
            "vgg16-imagenet",
            "vgg16-397923af.pth",
            "torchvision VGG16 ImageNet weights (the LPIPS-VGG backbone)",
            TORCHVISION,
            ("https://download.pytorch.org/models/vgg16-397923af.pth",),
            licence="BSD-3-Clause (torchvision)",
        ),
        ("lpips-vgg", "lpips-vgg+"),
    ),
    (
        Asset(
            "fid-inception",
            "pt_inception-2015-12-05-6726825d.pth",
            "Inception-v3 weights of the TensorFlow FID reference, as pyiqa loads them",
            PYIQA_CACHE,
            (HF + "pt_inception-2015-12-05-6726825d.pth",),
            licence="Apache-2.0",
        ),
        ("fid", "sfid"),
    ),
    (
        Asset(
            "brisque-svm",
            "brisque_svm_weights.pth",
            "BRISQUE support vector regression model",
            PYIQA_CACHE,
            (HF + "brisque_svm_weights.pth",),
        ),
        ("brisque",),
    ),
    (
        Asset(
            "pyiqa-niqe-params",
            "niqe_modelparameters.mat",
            "NIQE pristine model as pyiqa loads it (MATLAB .mat)",
            PYIQA_CACHE,
            (HF + "niqe_modelparameters.mat",),
        ),
        ("pyiqa-niqe",),
    ),
    (
        Asset(
            "pyiqa-niqe-matlab-params",
            "niqe_matlab_params.mat",
            "NIQE model of MATLAB's Image Processing Toolbox as pyiqa loads it",
            PYIQA_CACHE,
            (HF + "niqe_matlab_params.mat",),
        ),
        ("niqe_matlab",),
    ),
)


def assets_for(metric: str) -> tuple[Asset, ...]:
    """The declared files of the pyiqa metric registered as ``metric``."""
    return tuple(a for a, names in ROWS if metric in names)


def known_file(filename: str) -> Asset | None:
    return next((a for a, _ in ROWS if a.filename == filename), None)


def _refusal(metric: str, url, dst) -> AssetMissingError:
    filename = os.path.basename(str(dst)) or os.path.basename(url)
    known = known_file(filename)
    if known is not None:
        return AssetMissingError(missing_message(known, metric))
    return AssetMissingError(
        f"metric {metric!r} needs the file {filename}, which is not in {os.path.dirname(str(dst))} (pyiqa "
        f"would download it from {url}). Run `vbench assets fetch {metric}` where the internet is reachable "
        f"(pyiqa then downloads what the metric needs into its cache), or copy the file into "
        f"{os.path.dirname(str(dst))} (`vbench assets import FILE` installs the files vbench knows)."
    )


@contextlib.contextmanager
def no_downloads(metric: str):
    """While a pyiqa metric is created, turn any download it attempts (pyiqa's and torchvision's
    weights via torch.hub, Hugging Face Hub files) into an AssetMissingError naming the file."""
    import pyiqa.utils.download_util as du
    import torch.hub

    def refuse(url, dst, *args, **kwargs):
        raise _refusal(metric, url, dst)

    saved = [(du, "DEFAULT_CACHE_DIR", du.DEFAULT_CACHE_DIR)]
    du.DEFAULT_CACHE_DIR = str(location_dir(PYIQA_CACHE))
    for mod in (torch.hub, du):
        saved.append((mod, "download_url_to_file", mod.download_url_to_file))
        mod.download_url_to_file = refuse
    env = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update({k: "1" for k in env})
    try:
        yield
    except AssetMissingError:
        raise
    except Exception as exc:
        if looks_like_network(exc):
            raise AssetMissingError(
                f"metric {metric!r} needs files that are not in the local caches and would have to be downloaded "
                f"({type(exc).__name__}: {str(exc)[:200]}). Run `vbench assets fetch {metric}` where the internet "
                f"is reachable."
            ) from None
        raise
    finally:
        for mod, attr, value in reversed(saved):
            setattr(mod, attr, value)
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def let_pyiqa_download(metric: str, pyiqa_name: str, log=lambda m: None) -> None:
    """Creates pyiqa metric ``pyiqa_name`` online, so pyiqa downloads its files into its cache."""
    import pyiqa
    import pyiqa.utils.download_util as du
    import torch

    du.DEFAULT_CACHE_DIR = str(location_dir(PYIQA_CACHE))
    log(f"creating pyiqa metric {pyiqa_name} (pyiqa downloads its files into {du.DEFAULT_CACHE_DIR})")
    try:
        with contextlib.redirect_stdout(sys.stderr):
            pyiqa.create_metric(pyiqa_name, device=torch.device("cpu"))
    except Exception as exc:
        if looks_like_network(exc):
            raise VbenchError(
                f"pyiqa could not download the files of {metric!r} ({type(exc).__name__}: {str(exc)[:200]}). Run "
                f"this where the internet is reachable, then copy {du.DEFAULT_CACHE_DIR} to this machine"
            ) from None
        raise


def looks_like_network(exc: BaseException) -> bool:
    import socket
    import urllib.error

    names = {"LocalEntryNotFoundError", "OfflineModeIsEnabled", "ConnectionError", "HTTPError", "ConnectTimeout"}
    seen = exc
    while seen is not None:
        if isinstance(seen, (urllib.error.URLError, socket.gaierror, ConnectionError, TimeoutError)):
            return True
        if type(seen).__name__ in names or "offline" in str(seen).lower() and "hub" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False
