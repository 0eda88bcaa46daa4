"""vbench's own metric implementations against published data, scikit-image, scipy and pyiqa."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vbench.errors import MetricNotApplicable
from vbench_plugins.metrics import color, filters
from vbench_plugins.metrics.no_reference import niqe
from vbench_plugins.metrics.pairings import MATLAB_GRAY_WEIGHTS, matlab_gray8
from vbench_plugins.metrics.pixel import PSNR, SSIM, SSIMRGB, ciede2000, psnr
from vbench_plugins.metrics.stain import deconvolution as stain

# Sharma, Wu and Dalal, Color Res. Appl. 30(1), 2005, Table 1: (L1, a1, b1, L2, a2, b2, dE00).
SHARMA = [
    (50.0000, 2.6772, -79.7751, 50.0000, 0.0000, -82.7485, 2.0425),
    (50.0000, 3.1571, -77.2803, 50.0000, 0.0000, -82.7485, 2.8615),
    (50.0000, 2.8361, -74.0200, 50.0000, 0.0000, -82.7485, 3.4412),
    (50.0000, -1.3802, -84.2814, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, -1.1848, -84.8006, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, -0.9009, -85.5211, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, 0.0000, 0.0000, 50.0000, -1.0000, 2.0000, 2.3669),
    (50.0000, -1.0000, 2.0000, 50.0000, 0.0000, 0.0000, 2.3669),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0009, 7.1792),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0010, 7.1792),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0011, 7.2195),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0012, 7.2195),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0009, -2.4900, 4.8045),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0010, -2.4900, 4.8045),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0011, -2.4900, 4.7461),
    (50.0000, 2.5000, 0.0000, 50.0000, 0.0000, -2.5000, 4.3065),
    (50.0000, 2.5000, 0.0000, 73.0000, 25.0000, -18.0000, 27.1492),
    (50.0000, 2.5000, 0.0000, 61.0000, -5.0000, 29.0000, 22.8977),
    (50.0000, 2.5000, 0.0000, 56.0000, -27.0000, -3.0000, 31.9030),
    (50.0000, 2.5000, 0.0000, 58.0000, 24.0000, 15.0000, 19.4535),
    (50.0000, 2.5000, 0.0000, 50.0000, 3.1736, 0.5854, 1.0000),
    (50.0000, 2.5000, 0.0000, 50.0000, 3.2972, 0.0000, 1.0000),
    (50.0000, 2.5000, 0.0000, 50.0000, 1.8634, 0.5757, 1.0000),
    (50.0000, 2.5000, 0.0000, 50.0000, 3.2592, 0.3350, 1.0000),
    (60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387, 1.2644),
    (63.0109, -31.0961, -5.8663, 62.8187, -29.7946, -4.0864, 1.2630),
    (61.2901, 3.7196, -5.3901, 61.4292, 2.2480, -4.9620, 1.8731),
    (35.0831, -44.1164, 3.7933, 35.0232, -40.0716, 1.5901, 1.8645),
    (22.7233, 20.0904, -46.6940, 23.0331, 14.9730, -42.5619, 2.0373),
    (36.4612, 47.8580, 18.3852, 36.2715, 50.5065, 21.2231, 1.4146),
    (90.8027, -2.0831, 1.4410, 91.1528, -1.6435, 0.0447, 1.4441),
    (90.9257, -0.5406, -0.9208, 88.6381, -0.8985, -0.7239, 1.5381),
    (6.7747, -0.2908, -2.4247, 5.8714, -0.0985, -2.2286, 0.6377),
    (2.0776, 0.0795, -1.1350, 0.9033, -0.0636, -0.5514, 0.9082),
]


def stain_like(n, size, seed=0):
    """Smooth random RGB tiles with the low-frequency structure of stained tissue."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size // 8, size // 8, generator=g)
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bicubic", align_corners=False)
    x = x + 0.03 * torch.rand(n, 3, size, size, generator=g)
    return (0.35 + 0.6 * x).clamp(0, 1)


def degrade(x, seed=1):
    g = torch.Generator().manual_seed(seed)
    blurred = torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    return (blurred + 0.04 * torch.randn(x.shape, generator=g)).clamp(0, 1)


def test_ciede2000_reproduces_sharma_table_and_is_symmetric():
    data = torch.tensor(SHARMA, dtype=torch.float64)
    got = ciede2000.delta_e00(data[:, :3], data[:, 3:6], dim=1)
    assert torch.allclose(got, data[:, 6], atol=5e-5)
    assert torch.allclose(ciede2000.delta_e00(data[:, 3:6], data[:, :3], dim=1), got, atol=1e-12)


def test_ciede2000_and_lab_agree_with_scikit_image():
    from skimage.color import deltaE_ciede2000, rgb2lab

    rng = np.random.default_rng(0)
    a = rng.uniform([0, -100, -100], [100, 100, 100], (500, 3))
    b = rng.uniform([0, -100, -100], [100, 100, 100], (500, 3))
    ours = ciede2000.delta_e00(torch.from_numpy(a), torch.from_numpy(b), dim=1).numpy()
    assert np.abs(ours - deltaE_ciede2000(a, b)).max() < 1e-9
    rgb = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    sk = rgb2lab(rgb.permute(0, 2, 3, 1).numpy(), channel_axis=-1)
    assert np.abs(color.srgb_to_lab(rgb).permute(0, 2, 3, 1).numpy() - sk).max() < 1e-3  # CIE vs rounded constants


def test_stain_density_matches_scikit_image_deconvolution():
    from skimage.color import rgb2hed

    rgb = torch.rand(1, 3, 8, 8, dtype=torch.float64) * 0.9 + 0.05
    ours = stain.stain_density(rgb)[0].permute(1, 2, 0).numpy()
    sk = np.maximum(rgb2hed(rgb[0].permute(1, 2, 0).numpy()), 0)
    # scikit-image scales optical density by 1/ln(1e6) instead of 1/ln(10): a factor of 6
    assert np.allclose(ours, 6.0 * sk, atol=1e-9)
    assert stain.stains_of_task("qpi->he") == ("h", "e") and stain.stains_of_task("brightfield->ihc") == ("h", "dab")
    assert stain.stains_of_task("af->masson") is None
    corr, mae = stain.agreement(rgb.float(), rgb.float(), ("h", "dab"))
    assert torch.allclose(corr, torch.ones_like(corr)) and float(mae.max()) == 0.0


def test_filters_match_scipy_and_fspecial():
    from scipy.ndimage import correlate

    taps = filters.gaussian_taps(11, 1.5)
    window = np.outer(taps, taps)
    x = torch.rand(3, 40, 37, dtype=torch.float64) * 255
    valid = np.stack([correlate(a, window, mode="constant")[5:-5, 5:-5] for a in x.numpy()])
    assert np.abs(filters.correlate_valid(x, taps).numpy() - valid).max() < 1e-9
    taps7 = filters.gaussian_taps(7, 7 / 6)
    rep = np.stack([correlate(a, np.outer(taps7, taps7), mode="nearest") for a in x.numpy()])
    assert np.abs(filters.correlate_replicate(x, taps7).numpy() - rep).max() < 1e-9


def test_imresize_is_matlab_bicubic_with_antialiasing():
    from pyiqa.matlab_utils import imresize as pyiqa_imresize  # a float32 port of MATLAB's imresize

    x = torch.rand(2, 64, 50, dtype=torch.float64)
    ours = filters.imresize(x, 0.5)
    theirs = pyiqa_imresize(x[:, None], scale=0.5, antialiasing=True)[:, 0].double()
    assert ours.shape == (2, 32, 25) and (ours - theirs).abs().max() < 1e-5
    flat = torch.full((1, 20, 20), 7.0, dtype=torch.float64)
    assert torch.allclose(filters.imresize(flat, 0.5), torch.full((1, 10, 10), 7.0, dtype=torch.float64))


def test_psnr_and_ssim_equal_pyiqa_batched_and_per_image():
    import pyiqa

    pred, ref = degrade(stain_like(6, 64)), stain_like(6, 64)
    with torch.no_grad():
        p_psnr = pyiqa.create_metric("psnr", device="cpu")(pred, ref).double()
        p_ssim = pyiqa.create_metric("ssim", device="cpu")
        p_ssimc = pyiqa.create_metric("ssimc", device="cpu")(pred, ref).double()
        # the same grey levels in, the same SSIM out (pyiqa rounds 1-channel input x 255 as given)
        grey = p_ssim((color.luma8(pred) / 255)[:, None].float(), (color.luma8(ref) / 255)[:, None].float()).double()
        rgb = p_ssim(pred, ref).double()
    assert (PSNR().compute(pred, ref) - p_psnr).abs().max() < 1e-5  # pyiqa sums in float32
    ours = SSIM().compute(pred, ref)
    assert (ours - grey).abs().max() < 1e-6
    # from RGB, pyiqa's luma weights (0.299/0.587/0.114 vs MATLAB's rgb2gray) move a few grey levels
    assert (ours - rgb).abs().max() < 2e-4
    assert (SSIMRGB().compute(pred, ref) - p_ssimc).abs().max() < 1e-5  # pyiqa clamps negative terms
    one_by_one = torch.cat([SSIM().compute(pred[i : i + 1], ref[i : i + 1]) for i in range(6)])
    assert torch.equal(ours, one_by_one)
    assert float(PSNR().compute(ref, ref)[0]) == pytest.approx(80.0)
    assert torch.allclose(SSIM().compute(ref, ref), torch.ones(6, dtype=torch.float64))


def matlab_luma8_numpy(rgb: torch.Tensor) -> np.ndarray:
    """MATLAB rgb2gray of an 8-bit image, written independently of vbench's colour module."""
    weights = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])
    return np.floor(np.einsum("nchw,c->nhw", rgb.double().numpy(), weights) * 255.0 + 0.5)


def test_ssim_keeps_negative_structure_terms_unlike_pyiqa():
    from skimage.metrics import structural_similarity

    ref = stain_like(1, 48)
    anti = 1.0 - ref  # locally anti-correlated everywhere
    ours = float(SSIM().compute(anti, ref)[0])
    # scikit-image with Wang et al.'s settings (Gaussian sigma 1.5, population covariance,
    # border cropped to the valid region) keeps negative terms too.
    expected = structural_similarity(
        matlab_luma8_numpy(anti)[0],
        matlab_luma8_numpy(ref)[0],
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
    )
    assert ours < 0.0 and ours == pytest.approx(expected, abs=1e-9)


def test_psnr_luma_is_rounded_matlab_luma():
    from skimage.metrics import peak_signal_noise_ratio

    pred, ref = stain_like(2, 32, 3), stain_like(2, 32, 4)
    y1, y2 = matlab_luma8_numpy(pred), matlab_luma8_numpy(ref)
    expected = torch.tensor([peak_signal_noise_ratio(y2[i], y1[i], data_range=255) for i in range(2)])
    assert torch.allclose(psnr.psnr_luma(pred, ref).double(), expected.double(), atol=1e-5)
    assert torch.equal(color.luma8(pred), torch.from_numpy(y1))


def test_metrics_reject_bad_batches():
    x = torch.rand(2, 3, 16, 16)
    with pytest.raises(ValueError, match="differ in shape"):
        PSNR().compute(x, torch.rand(2, 3, 16, 15))
    with pytest.raises(ValueError, match="N x 3 x H x W"):
        PSNR().compute(torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16))
    with pytest.raises(MetricNotApplicable, match="at least 11"):
        SSIM().compute(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))
    with pytest.raises(MetricNotApplicable, match="full-reference"):
        PSNR().compute(x, None)


def random_model(seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(36, 36)) * 0.1
    return niqe.NiqeModel(mu=rng.normal(1.0, 0.3, 36), cov=a @ a.T + 0.05 * np.eye(36))


def test_niqe_equals_pyiqa_on_the_same_grey_image_and_model(tmp_path):
    import scipy.io
    from pyiqa.archs.niqe_arch import NIQE as PyiqaNIQE

    model = random_model()
    path = tmp_path / "params.mat"
    scipy.io.savemat(path, {"mu_prisparam": model.mu[None], "cov_prisparam": model.cov})
    theirs = PyiqaNIQE(pretrained_model_path=str(path))
    rgb = stain_like(3, 192, 5)
    grey = matlab_gray8(rgb)
    ours = niqe.niqe(grey, model)
    with torch.no_grad():
        ref = theirs((grey / 255.0)[:, None].float()).reshape(-1).double()
    assert torch.allclose(ours, ref, rtol=1e-4, atol=1e-4)  # pyiqa resizes in float32


def test_niqe_features_handle_flat_blocks_like_matlab():
    grey = torch.zeros(1, 192, 192, dtype=torch.float64)  # exactly flat (no rounding residue)
    feats, sharp = niqe.features(grey)
    assert feats.shape == (1, 4, 36) and torch.all(sharp == 0)
    # MATLAB: no negative/positive values -> NaN scales and the first grid shape (0.2)
    assert torch.all(feats[0, :, 0] == 0.2) and torch.isnan(feats[0, :, 1]).all()
    assert torch.isnan(niqe.score(feats, random_model())).all()


def test_niqe_fit_and_overlapping_blocks():
    grey = matlab_gray8(stain_like(1, 256, 7))[0]
    f_grid, s_grid = niqe.features(grey[None, :192, :192])
    f_strided, s_strided = niqe.strided_features(grey[:192, :192], None, stride=96)
    order = torch.tensor([0, 2, 1, 3])  # grid order runs down the columns first
    assert torch.allclose(f_strided, f_grid[0][order]) and torch.allclose(s_strided, s_grid[0][order])
    keep = torch.ones_like(grey, dtype=torch.bool)
    keep[100:110, :] = False
    f_holes, _ = niqe.strided_features(grey, keep, stride=32)
    assert 0 < len(f_holes) < len(niqe.strided_features(grey, None, stride=32)[0])
    model = niqe.fit([grey], stride=32)
    assert model.n_patches > 0 and model.cov.shape == (36, 36) and np.isfinite(model.mu).all()


def test_matlab_gray_weights():
    assert sum(MATLAB_GRAY_WEIGHTS) == pytest.approx(1.0, abs=1e-12)
    white = torch.ones(1, 3, 2, 2)
    assert torch.all(matlab_gray8(white) == 255)


def test_resize_weights_cached_while_scoring_still_work_under_autograd():
    # Scoring runs in inference mode and fills the weight cache first; a differentiable user of
    # the same resize (the distill plugin's NIQE loss) must not get inference tensors back.
    filters.resize_weights.cache_clear()
    with torch.inference_mode():
        filters.imresize(torch.rand(1, 40, 40, dtype=torch.float64), 0.5)
    x = torch.rand(1, 40, 40, dtype=torch.float64, requires_grad=True)
    filters.imresize(x, 0.5).sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
