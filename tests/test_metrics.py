"""Tests of srlib.metrics: PSNR and SSIM against kornia, scikit-image and the formulas."""

from __future__ import annotations

import math

import kornia  # reference implementations: both are in requirements.txt
import numpy as np
import pytest
import skimage.data
import skimage.metrics as skimage_metrics
import torch
import torch.nn.functional as F
from scipy import ndimage

from srlib import metrics
from srlib.color import rgb_to_y
from srlib.metrics import gaussian_window, psnr, ssim, ssim_map

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


# ------------------------------------------------------------------------ test images
def smooth_images(
    shape: tuple[int, ...], seed: int = 0, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Smooth random images in [0, 1]: coarse noise upsampled by 8 (blobs and edges)."""
    g = torch.Generator().manual_seed(seed)
    *lead, c, h, w = shape
    coarse = torch.rand(
        math.prod(lead), c, h // 8 + 1, w // 8 + 1, generator=g, dtype=torch.float64
    )
    img = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)
    return img.reshape(shape).to(dtype)


def add_noise(img: torch.Tensor, sigma: float, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(img.shape, generator=g, dtype=torch.float64).to(img.dtype)
    return (img + sigma * noise).clamp(0, 1)


@pytest.fixture(scope="module")
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of 3 RGB 40x52 images and a noisy version of it (float32)."""
    ref = smooth_images((3, 3, 40, 52))
    return add_noise(ref, 0.05), ref


@pytest.fixture(scope="module")
def astronaut() -> torch.Tensor:
    """A real photograph: scikit-image's astronaut, 512x512 RGB, subsampled to 128x128."""
    img = torch.from_numpy(np.ascontiguousarray(skimage.data.astronaut()[::4, ::4]))
    return img.permute(2, 0, 1).float() / 255


def kornia_psnr_per_image(img: torch.Tensor, ref: torch.Tensor, data_range: float = 1.0):
    return torch.stack(
        [kornia.metrics.psnr(a, b, data_range) for a, b in zip(img, ref, strict=True)]
    )


def kornia_ssim(img, ref, window_size=11, data_range=1.0, padding="same"):
    m = kornia.metrics.ssim(img, ref, window_size, max_val=float(data_range), padding=padding)
    return m.mean(dim=(1, 2, 3))


def skimage_ssim(img: torch.Tensor, ref: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """scikit-image's Gaussian SSIM (Wang et al.'s settings), one value per image, float64."""
    values = [
        skimage_metrics.structural_similarity(
            a.double().numpy(),
            b.double().numpy(),
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=data_range,
            channel_axis=0,
        )
        for a, b in zip(img, ref, strict=True)
    ]
    return torch.tensor(values, dtype=torch.float64)


# ---------------------------------------------------------------- PSNR: known values
def test_psnr_known_value():
    ref = torch.full((2, 3, 4, 4), 0.5)
    img = ref.clone()
    img[0] += 0.1  # MSE 0.01 -> 20 dB
    img[1, :, :2] += 0.01  # half the pixels off by 0.01: MSE 5e-5 -> 43.0103 dB
    expected = torch.tensor([20.0, 10 * math.log10(1 / 5e-5)])
    torch.testing.assert_close(psnr(img, ref), expected, atol=1e-4, rtol=0)


def test_psnr_matches_numpy_formula(pair):
    img, ref = pair
    a, b = img.double().numpy(), ref.double().numpy()
    mse = ((a - b) ** 2).reshape(len(a), -1).mean(axis=1)
    expected = torch.from_numpy(10 * np.log10(1.0 / mse))
    torch.testing.assert_close(psnr(img.double(), ref.double()), expected, atol=1e-10, rtol=0)


@pytest.mark.parametrize("dtype, atol", [(torch.float32, 2e-5), (torch.float64, 1e-10)])
def test_psnr_matches_kornia_per_image(pair, dtype, atol):
    img, ref = (x.to(dtype) for x in pair)
    out = psnr(img, ref)
    assert out.shape == (3,) and out.dtype == dtype
    torch.testing.assert_close(out, kornia_psnr_per_image(img, ref), atol=atol, rtol=0)


def test_psnr_is_per_image_not_pooled(pair):
    img, ref = pair
    img = img.clone()
    img[0] = ref[0]  # one perfect image: inf for it, the others unchanged
    out = psnr(img, ref)
    assert math.isinf(out[0]) and out[1:].isfinite().all()
    torch.testing.assert_close(out[1:], psnr(img[1:], ref[1:]))
    assert kornia.metrics.psnr(img, ref, 1.0).isfinite()  # kornia pools the batch


def test_psnr_data_range_255(pair):
    img, ref = (x.double() for x in pair)
    torch.testing.assert_close(psnr(img * 255, ref * 255, data_range=255), psnr(img, ref))


# ---------------------------------------------------------------- SSIM: references
def test_window_matches_scipy_gaussian():
    # skimage's SSIM blurs with scipy.ndimage.gaussian_filter(sigma=1.5, truncate=3.5):
    # radius int(3.5 * 1.5 + 0.5) = 5, so 11 taps of the same normalised sampled Gaussian.
    impulse = np.zeros(31)
    impulse[15] = 1.0
    taps = ndimage.gaussian_filter1d(impulse, 1.5, truncate=3.5)[10:21]
    window = gaussian_window(11, 1.5, dtype=torch.float64)
    np.testing.assert_allclose(window.numpy(), taps, rtol=0, atol=1e-15)
    assert window.sum().item() == pytest.approx(1.0, abs=1e-15)
    assert np.count_nonzero(ndimage.gaussian_filter1d(impulse, 1.5, truncate=3.5)) == 11


@pytest.mark.parametrize("dtype, atol", [(torch.float32, 1e-5), (torch.float64, 1e-8)])
@pytest.mark.parametrize(
    "shape, window_size",
    [((3, 3, 40, 52), 11), ((2, 1, 33, 27), 11), ((2, 3, 24, 24), 7), ((1, 2, 11, 13), 11)],
)
def test_ssim_same_matches_kornia(shape, window_size, dtype, atol):
    # kornia's map with padding="same" (reflect padding), averaged per image.  kornia adds
    # eps=1e-12 to the denominator, hence float64 agrees to ~1e-9 only.
    ref = smooth_images(shape, seed=3, dtype=dtype)
    img = add_noise(ref, 0.08)
    ours = ssim(img, ref, window_size=window_size, padding="same")
    assert ours.shape == (shape[0],) and ours.dtype == dtype
    expected = kornia_ssim(img, ref, window_size, padding="same")
    torch.testing.assert_close(ours, expected, atol=atol, rtol=0)


@pytest.mark.parametrize("dtype, atol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_ssim_valid_matches_skimage(pair, dtype, atol):
    # skimage crops (win_size - 1) // 2 = 5 pixels off its map: the mean over the pixels
    # whose window lies inside the image, i.e. padding="valid".
    img, ref = (x.to(dtype) for x in pair)
    ours = ssim(img, ref)
    torch.testing.assert_close(ours.double(), skimage_ssim(img, ref), atol=atol, rtol=0)
    torch.testing.assert_close(ours, kornia_ssim(img, ref, padding="valid"), atol=1e-5, rtol=0)


def test_ssim_valid_matches_skimage_on_photographs(astronaut):
    ref = astronaut[None]
    img = add_noise(ref, 0.03)
    torch.testing.assert_close(ssim(img, ref).double(), skimage_ssim(img, ref), atol=1e-5, rtol=0)
    # grayscale photograph (skimage without channel_axis)
    gray_ref = rgb_to_y(ref, gray="identity")
    gray_img = add_noise(gray_ref, 0.03)
    expected = skimage_metrics.structural_similarity(
        gray_img[0, 0].double().numpy(),
        gray_ref[0, 0].double().numpy(),
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=1.0,
    )
    assert ssim(gray_img, gray_ref).item() == pytest.approx(expected, abs=1e-5)


def test_ssim_matches_kornia_on_photograph_same(astronaut):
    ref = astronaut[None]
    img = add_noise(ref, 0.03)
    torch.testing.assert_close(
        ssim(img, ref, padding="same"), kornia_ssim(img, ref, padding="same"), atol=1e-5, rtol=0
    )


def test_ssim_data_range_255(pair):
    img, ref = (x.double() for x in pair)
    for padding in ("valid", "same"):
        ours = ssim(img * 255, ref * 255, data_range=255, padding=padding)
        torch.testing.assert_close(ours, ssim(img, ref, padding=padding))
    expected = skimage_ssim(img * 255, ref * 255, data_range=255)
    torch.testing.assert_close(ssim(img * 255, ref * 255, data_range=255), expected)


def test_ssim_map_shapes_and_mean(pair):
    img, ref = pair
    valid = ssim_map(img, ref)
    same = ssim_map(img, ref, padding="same")
    assert valid.shape == (3, 3, 30, 42) and same.shape == (3, 3, 40, 52)
    torch.testing.assert_close(valid.mean(dim=(1, 2, 3)), ssim(img, ref))
    torch.testing.assert_close(same.mean(dim=(1, 2, 3)), ssim(img, ref, padding="same"))
    # the valid map is the interior of the same map (the edges differ by the padding)
    torch.testing.assert_close(same[..., 5:-5, 5:-5], valid, atol=1e-5, rtol=0)
    # Pixel by pixel, float32 SSIM is only good to ~1e-4 in flat bright regions (sigma_xy
    # is a difference of two numbers ~1 that is compared with c2 ~ 1e-3), kornia's too;
    # compare the maps in float64 (and without kornia's eps=1e-12 in the denominator,
    # which moves dark flat pixels, whose denominator is near c1 * c2 ~ 1e-7, by ~1e-5).
    img64, ref64 = img.double(), ref.double()
    kornia_map = kornia.metrics.ssim(img64, ref64, 11, max_val=1.0, eps=0.0, padding="same")
    torch.testing.assert_close(ssim_map(img64, ref64, padding="same"), kornia_map)
    assert (same.double() - kornia_map).abs().max() < 5e-4
    assert ssim_map(img, ref, y_channel=True, crop_border=2).shape == (3, 1, 26, 38)


def test_ssim_map_localises_damage(pair):
    _, ref = pair
    img = ref.clone()
    img[:, :, 20:30, 20:30] = 0.5  # flatten a patch
    m = ssim_map(img, ref)  # m[..., i, j] is centred on pixel (i + 5, j + 5)
    assert torch.equal(m[..., :10, :], torch.ones_like(m[..., :10, :]))  # rows 5..14
    assert torch.equal(m[..., :, :10], torch.ones_like(m[..., :, :10]))  # columns 5..14
    assert m[..., 15:25, 15:25].mean() < 0.5  # centred on the patch


# -------------------------------------------------------------------------- identities
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_identical_images(pair, dtype):
    _, ref = pair
    ref = ref.to(dtype)
    assert torch.isinf(psnr(ref, ref)).all() and (psnr(ref, ref) > 0).all()
    for padding in ("valid", "same"):
        torch.testing.assert_close(ssim(ref, ref, padding=padding), torch.ones(3, dtype=dtype))
    flat = torch.zeros(1, 1, 16, 16, dtype=dtype)  # black: only c1, c2 keep 0/0 away
    assert ssim(flat, flat).item() == pytest.approx(1.0, abs=1e-6)


def test_symmetry(pair):
    img, ref = pair
    torch.testing.assert_close(psnr(img, ref), psnr(ref, img), atol=0, rtol=0)
    for padding in ("valid", "same"):
        a, b = ssim(img, ref, padding=padding), ssim(ref, img, padding=padding)
        torch.testing.assert_close(a, b, atol=1e-7, rtol=0)


def test_ssim_bounds(pair):
    _, ref = pair
    inverted = ssim(1 - ref, ref)
    assert (inverted < 0).all() and (inverted >= -1).all()
    assert (ssim(add_noise(ref, 0.3), ref) < 1).all()


def test_monotonic_in_noise(astronaut):
    ref = torch.stack([astronaut, smooth_images((3, 128, 128), seed=5)])
    sigmas = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2]
    noisy = [add_noise(ref, s, seed=7) for s in sigmas]
    p = torch.stack([psnr(x, ref) for x in noisy])  # (noise level, image)
    s_valid = torch.stack([ssim(x, ref) for x in noisy])
    s_same = torch.stack([ssim(x, ref, padding="same") for x in noisy])
    for values in (p, s_valid, s_same):
        assert (values[1:] < values[:-1]).all(), values
    assert (p[0] > 40).all() and (p[-1] < 16).all()  # ~46 dB and ~14 dB
    assert (s_valid[0] > 0.98).all() and (s_valid[-1] < 0.5).all()


# ----------------------------------------------------------- crop_border and y_channel
def test_crop_border_equals_slicing(pair):
    img, ref = pair
    sl = (..., slice(4, -4), slice(4, -4))
    assert torch.equal(psnr(img, ref, crop_border=4), psnr(img[sl], ref[sl]))
    for padding in ("valid", "same"):
        torch.testing.assert_close(
            ssim(img, ref, crop_border=4, padding=padding),
            ssim(img[sl].contiguous(), ref[sl].contiguous(), padding=padding),
            atol=1e-7,
            rtol=0,
        )


def test_crop_border_ignores_the_border(pair):
    _, ref = pair
    img = ref.clone()
    img[..., :3, :] = 1 - img[..., :3, :]  # damage only the 3 top rows
    assert psnr(img, ref).isfinite().all()
    assert (ssim(img, ref) < 0.99).all()
    assert torch.isinf(psnr(img, ref, crop_border=3)).all()
    torch.testing.assert_close(ssim(img, ref, crop_border=3), torch.ones(3))


def test_y_channel_equals_manual_conversion(pair):
    img, ref = pair
    y_img, y_ref = rgb_to_y(img), rgb_to_y(ref)
    torch.testing.assert_close(psnr(img, ref, y_channel=True), psnr(y_img, y_ref))
    torch.testing.assert_close(ssim(img, ref, y_channel=True), ssim(y_img, y_ref))
    torch.testing.assert_close(
        ssim(img, ref, y_channel=True, padding="same"), ssim(y_img, y_ref, padding="same")
    )
    assert not torch.allclose(psnr(img, ref, y_channel=True), psnr(img, ref))


def test_y_channel_with_data_range_255(pair):
    img, ref = (x.double() for x in pair)
    kw = dict(y_channel=True, crop_border=3)
    torch.testing.assert_close(
        psnr(img * 255, ref * 255, data_range=255, **kw), psnr(img, ref, **kw)
    )
    torch.testing.assert_close(
        ssim(img * 255, ref * 255, data_range=255, **kw), ssim(img, ref, **kw)
    )


def test_y_channel_on_grayscale_uses_gray_values(pair):
    # Like MATLAB's SRCNN code and BasicSR: a one-channel image is its own Y.
    img, ref = (x[:, :1] for x in pair)
    assert torch.equal(psnr(img, ref, y_channel=True), psnr(img, ref))
    assert torch.equal(ssim(img, ref, y_channel=True), ssim(img, ref))
    assert not torch.allclose(psnr(img, ref), psnr(rgb_to_y(img), rgb_to_y(ref)))


# ------------------------------------------------------------ shapes, chunks, dtypes
def test_three_dim_input(pair):
    img, ref = pair
    for fn in (psnr, ssim):
        out = fn(img[1], ref[1])
        assert out.shape == (1,)
        torch.testing.assert_close(out, fn(img, ref)[1:2])


@pytest.mark.parametrize("fn", [psnr, ssim, ssim_map])
def test_batch_chunks_do_not_change_results(pair, fn, monkeypatch):
    # On the CPU the batch is processed a few images at a time; force one image per chunk.
    img, ref = pair
    whole = fn(img, ref)
    monkeypatch.setattr(metrics, "_CPU_CHUNK_SSIM", 1)
    monkeypatch.setattr(metrics, "_CPU_CHUNK_PSNR", 1)
    torch.testing.assert_close(fn(img, ref), whole, atol=1e-7, rtol=0)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_memory_layouts_agree(pair, padding, monkeypatch):
    # float32 on the CPU blurs a channels-last stack, other dtypes and devices an NCHW one.
    img, ref = pair
    assert metrics._channels_last(img) == torch.backends.mkldnn.is_available()
    fast = ssim_map(img, ref, padding=padding)
    monkeypatch.setattr(metrics, "_channels_last", lambda x: False)
    torch.testing.assert_close(ssim_map(img, ref, padding=padding), fast, atol=2e-6, rtol=0)


def test_float16_and_mixed_dtypes(pair):
    img, ref = pair
    half = ssim(img.half(), ref.half())
    assert half.dtype == torch.float16  # computed in float32, rounded to float16 at the end
    expected = ssim(img.half().float(), ref.half().float())
    torch.testing.assert_close(half.float(), expected, atol=1e-3, rtol=0)
    mixed = psnr(img, ref.double())
    assert mixed.dtype == torch.float64
    torch.testing.assert_close(mixed, psnr(img.double(), ref.double()))


def test_non_contiguous_inputs(pair):
    img, ref = pair
    img_t, ref_t = img.transpose(-1, -2), ref.transpose(-1, -2)  # (3, 3, 52, 40) views
    torch.testing.assert_close(ssim(img_t, ref_t), ssim(img_t.contiguous(), ref_t.contiguous()))
    img_cl = img.contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(ssim(img_cl, ref, padding="same"), ssim(img, ref, padding="same"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gpu_matches_cpu(pair, dtype):
    img, ref = (x.to(dtype) for x in pair)
    for fn, kw in [(psnr, {}), (ssim, {}), (ssim, {"padding": "same", "y_channel": True})]:
        gpu = fn(img.cuda(), ref.cuda(), **kw)
        assert gpu.device.type == "cuda" and gpu.dtype == dtype
        torch.testing.assert_close(gpu.cpu(), fn(img, ref, **kw), atol=1e-5, rtol=0)


# ---------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_ssim_loss_backward(pair, padding):
    img, ref = pair
    img = img.clone().requires_grad_()
    loss = 1 - ssim(img, ref, padding=padding).mean()
    loss.backward()
    assert img.grad is not None and img.grad.isfinite().all() and img.grad.abs().sum() > 0
    # a small step against the gradient improves SSIM
    with torch.no_grad():
        better = (img - 0.02 * img.grad / img.grad.abs().max()).clamp(0, 1)
        assert (ssim(better, ref, padding=padding) > ssim(img, ref, padding=padding)).all()


def test_psnr_backward(pair):
    img, ref = pair
    img = img.clone().requires_grad_()
    psnr(img, ref, y_channel=True, crop_border=2).sum().backward()
    assert img.grad.isfinite().all() and img.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "fn, kw",
    [
        (psnr, {}),
        (ssim, {"window_size": 5}),
        (ssim, {"window_size": 5, "padding": "same", "y_channel": True}),
        (ssim_map, {"window_size": 3, "crop_border": 1}),
    ],
)
def test_gradcheck(fn, kw):
    # values kept away from 0 and 1: gradcheck's perturbations must stay in [0, data_range]
    ref = smooth_images((1, 3, 7, 8), seed=2, dtype=torch.float64) * 0.8 + 0.1
    img = add_noise(ref, 0.05).clamp(0.05, 0.95).requires_grad_()
    assert torch.autograd.gradcheck(lambda a: fn(a, ref, **kw), (img,))


# --------------------------------------------------------------------------- bad inputs
def test_different_shapes():
    with pytest.raises(ValueError, match=r"same shape, got \(1, 3, 16, 16\) and \(1, 3, 16, 17\)"):
        psnr(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 17))
    with pytest.raises(ValueError, match=r"same shape, got \(3, 16, 16\) and \(1, 3, 16, 16\)"):
        ssim(torch.rand(3, 16, 16), torch.rand(1, 3, 16, 16))


@pytest.mark.parametrize("fn", [psnr, ssim, ssim_map])
def test_bad_inputs(fn):
    good = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with pytest.raises(TypeError, match="img must be a torch.Tensor, got ndarray"):
        fn(good.numpy(), good)
    with pytest.raises(
        TypeError, match=r"float tensor.*uint8.*ref\.float\(\) / 255.*data_range=255"
    ):
        fn(good, (good * 255).to(torch.uint8))
    with pytest.raises(TypeError, match=r"dtype torch.float8_e4m3fn; .*`img\.float\(\)`"):
        fn(good.to(torch.float8_e4m3fn), good)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\) or \(C, H, W\), got shape \(16, 16\)"):
        fn(good[0, 0], good[0, 0])
    with pytest.raises(ValueError, match=r"\(B, C, H, W\) or \(C, H, W\), got shape \(1, 1, 3"):
        fn(good[None], good[None])
    msg = r"img has values in \[0\.\d+, 254\.\d+\], outside \[0, data_range\] = \[0, 1\]\. Clamp"
    with pytest.raises(ValueError, match=msg):
        fn(good * 255, good)
    with pytest.raises(
        ValueError, match=r"ref has values in \[-0\.4\d+, 0\.4\d+\].*`ref\.clamp\(0, 1\)`"
    ):
        fn(good, good - 0.5)
    with pytest.raises(
        ValueError, match=r"img has values in \[0\.\d+, 1\.49\d+\], outside .* = \[0, 1\.2\]"
    ):
        fn(good * 1.5, good, data_range=1.2)
    with pytest.raises(ValueError, match=r"empty \(shape \(0, 3, 16, 16\)\)"):
        fn(good[:0], good[:0])
    bad = good.clone()
    bad[0, 1, 2, 3] = float("nan")
    with pytest.raises(ValueError, match="img contains NaN"):
        fn(bad, good)
    with pytest.raises(ValueError, match=r"crop_border=8 is too large for 16x16 images"):
        fn(good, good, crop_border=8)
    with pytest.raises(ValueError, match="crop_border must be an int >= 0, got -1"):
        fn(good, good, crop_border=-1)
    with pytest.raises(ValueError, match="crop_border must be an int >= 0, got 1.5"):
        fn(good, good, crop_border=1.5)
    with pytest.raises(ValueError, match="data_range must be a positive number, got 0"):
        fn(good, good, data_range=0)
    four = torch.rand(1, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=r"y_channel=True needs RGB.*got 4 channels"):
        fn(four, four, y_channel=True)


@pytest.mark.parametrize("fn", [ssim, ssim_map])
def test_bad_ssim_arguments(fn):
    good = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=r"12x12 after crop_border=2, smaller than window_size=13"):
        fn(good, good, crop_border=2, window_size=13)
    with pytest.raises(ValueError, match=r"images are 8x16, smaller than window_size=11"):
        fn(good[..., :8, :], good[..., :8, :])
    with pytest.raises(ValueError, match="padding must be one of .*'valid', 'same'.*'full'"):
        fn(good, good, padding="full")
    with pytest.raises(ValueError, match="window_size must be a positive odd int, got 10"):
        fn(good, good, window_size=10)
    with pytest.raises(ValueError, match="sigma must be a positive number, got 0"):
        fn(good, good, sigma=0)


# The value checks read each input's bits as integers (srlib.metrics._INT_VIEW): these tests
# hold the integer test to the float one on the values where the two could part.
_EDGE_VALUES = [0.0, -0.0, 1.0, 0.5, 1e-45, float("inf"), -float("inf"), float("nan"),
                -float("nan"), -1e-45, 1.0000001, 0.99999994]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("value", _EDGE_VALUES)
@pytest.mark.parametrize("data_range", [1.0, 255.0, 0.1])
def test_value_check_agrees_with_the_float_definition(dtype, value, data_range):
    good = torch.full((2, 3, 8, 8), 0.5 * data_range, dtype=dtype)
    probe = good.clone()
    probe[1, 2, 7, 7] = value * data_range if math.isfinite(value) else value
    v = probe[1, 2, 7, 7].double()
    valid = bool(v >= 0) and bool(v <= data_range)        # False for NaN
    if valid:
        psnr(probe, good, data_range=data_range)
        psnr(good, probe, data_range=data_range)
    else:
        for args in ((probe, good), (good, probe)):
            with pytest.raises(ValueError, match="NaN" if v.isnan() else "outside"):
                psnr(*args, data_range=data_range)


def test_negative_zero_and_sign_bit_nan():
    ref = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    img = ref.clone()
    img[0, 0, 0, 0] = -0.0                                  # reads as a negative integer
    plus = img.clone()
    plus[0, 0, 0, 0] = 0.0
    torch.testing.assert_close(psnr(img, ref), psnr(plus, ref), atol=0, rtol=0)
    torch.testing.assert_close(ssim(ref, img), ssim(ref, plus), atol=0, rtol=0)
    img[0, 0, 0, 0] = -float("nan")                         # the sign bit set
    assert torch.signbit(img[0, 0, 0, 0])
    with pytest.raises(ValueError, match="img contains NaN"):
        psnr(img, ref)


@pytest.mark.parametrize("fn", [psnr, ssim])
def test_bad_value_in_a_later_chunk_is_found(fn, monkeypatch):
    # psnr checks the batch chunk by chunk; a bad value in the last image must still count
    monkeypatch.setattr(metrics, "_CPU_CHUNK_PSNR", 1)
    ref = torch.rand(5, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    for img, name in ((ref.clone(), "img"), (ref.clone(), "ref")):
        img[4, 1, 3, 3] = 1.5
        args = (img, ref) if name == "img" else (ref, img)
        with pytest.raises(ValueError, match=rf"{name} has values in \[0\.\d+, 1\.5\]"):
            fn(*args)


def test_mixed_dtypes_are_checked_each_in_its_own_bits():
    ref = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(psnr(ref.half(), ref.double()).double(),
                          psnr(ref.half().double(), ref.double()), atol=1e-6)
    bad = ref.double()
    bad[2, 0, 0, 0] = 1 + 1e-12                             # invisible in float32
    with pytest.raises(ValueError, match="ref has values"):
        psnr(ref.half(), bad)
