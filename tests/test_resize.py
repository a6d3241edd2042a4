"""Tests of srlib.resize: MATLAB-compatible imresize.

The reference is MATLAB itself: the LR images of Set5, Set14 and BSD100 in the project's
hub cache were made with MATLAB's ``imresize(hr, 1/s, 'bicubic')`` on uint8 images, and
``imresize`` must reproduce them exactly.  A slow, loop-by-loop numpy transcription of
MATLAB's algorithm checks the float and uint8 arithmetic on random images.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from srlib import resize
from srlib.resize import KERNELS, contributions, imresize, modcrop, output_size

# ------------------------------------------------------------- naive MATLAB transcription


def _k_cubic(x):
    ax = abs(x)
    if ax <= 1:
        return 1.5 * ax**3 - 2.5 * ax**2 + 1
    if ax <= 2:
        return -0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2
    return 0.0


def _k_linear(x):
    return max(0.0, 1 - abs(x))


def _k_box(x):
    return 1.0 if -0.5 <= x < 0.5 else 0.0


def _k_lanczos(a):
    def k(x):
        if x == 0:
            return 1.0
        if abs(x) >= a:
            return 0.0
        return a * math.sin(math.pi * x) * math.sin(math.pi * x / a) / (math.pi**2 * x**2)

    return k


NAIVE_KERNELS = {
    "cubic": (_k_cubic, 4),
    "linear": (_k_linear, 2),
    "box": (_k_box, 1),
    "lanczos2": (_k_lanczos(2), 4),
    "lanczos3": (_k_lanczos(3), 6),
}


def naive_resize_axis(a, axis, out_len, scale, kernel="cubic", antialias=True, uint8=False,
                      edge="clamp", rounding="half_away"):
    """MATLAB's 1-D resize, one output pixel at a time.

    ``edge="mirror"`` and ``rounding="half_even"`` are the variants that do *not* give
    MATLAB's images (see test_only_matlabs_rules_reproduce_its_images).
    """
    fn, width = NAIVE_KERNELS[kernel]
    if scale < 1 and antialias:
        def h(t):
            return scale * fn(scale * t)

        width = width / scale
    else:
        h = fn
    a = np.moveaxis(np.asarray(a, dtype=np.float64), axis, -1)
    n = a.shape[-1]
    out = np.empty(a.shape[:-1] + (out_len,))
    for i in range(out_len):
        x = i + 1  # MATLAB's 1-based output coordinate
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        js = range(left, left + math.ceil(width) + 2)
        ws = [h(u - j) for j in js]
        total = sum(ws)
        acc = np.zeros(a.shape[:-1])
        for j, w in zip(js, ws, strict=True):
            if edge == "clamp":
                src = min(max(j, 1), n)
            else:  # mirror: aux = [1:n, n:-1:1]; aux(mod(j - 1, 2n) + 1)
                src = (j - 1) % (2 * n) + 1
                src = src if src <= n else 2 * n + 1 - src
            acc = acc + (w / total) * a[..., src - 1]
        out[..., i] = acc
    if uint8:  # MATLAB: clamp, round half away from zero
        out = np.clip(out, 0, 255)
        out = np.floor(out + 0.5) if rounding == "half_away" else np.round(out)
    return np.moveaxis(out, -1, axis)


def naive_imresize(a, scale, out_hw, kernel="cubic", antialias=True, uint8=False,
                   width_first=False, **variant):
    """``a``: (..., H, W) array.  MATLAB order: smaller scale first, height on a tie."""
    scales = (scale, scale) if np.isscalar(scale) else scale
    order = sorted((0, 1), key=lambda d: (scales[d], -d if width_first else d))
    for d in order:
        a = naive_resize_axis(a, a.ndim - 2 + d, out_hw[d], scales[d], kernel, antialias,
                              uint8, **variant)
    return a


# ------------------------------------------------------------------- MATLAB-made data


DATASETS = ["Set5", "Set14", "BSD100"]
SCALES = [2, 3, 4]


def _load(name, scale):
    """The project's loader (HR cropped to a multiple of ``scale``, RGB PIL images)."""
    from srlib.data import load_benchmark

    return load_benchmark(name, scale)


def _hwc_to_bchw(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None]


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("name", DATASETS)
def test_reproduces_matlab_lr_images(name, scale):
    """uint8 imresize(hr, 1/s) gives MATLAB's LR PNGs, pixel for pixel."""
    ds = _load(name, scale)
    identical = total = 0
    max_diff = 0
    worst = None
    for row in ds:
        hr = np.asarray(row["hr"])
        lr = np.asarray(row["lr"])
        assert hr.shape[0] % scale == 0 and hr.shape[1] % scale == 0
        out = imresize(_hwc_to_bchw(hr), 1 / scale)
        assert out.dtype == torch.uint8
        out = out[0].permute(1, 2, 0).numpy()
        assert out.shape == lr.shape, row["name"]
        diff = np.abs(out.astype(np.int16) - lr.astype(np.int16))
        identical += int((diff == 0).sum())
        total += diff.size
        if diff.max() > max_diff:
            max_diff, worst = int(diff.max()), row["name"]
    fraction = identical / total
    msg = f"{name} x{scale}: {fraction:.6%} identical, max diff {max_diff} ({worst})"
    assert fraction >= 0.999 and max_diff <= 1, msg  # the project's acceptance target
    assert identical == total, msg  # and what imresize actually achieves: exact


@pytest.mark.parametrize(
    "variant, exact",
    [
        (dict(), True),  # MATLAB's rules
        (dict(edge="mirror"), False),  # the older, mirrored edge handling
        (dict(rounding="half_even"), False),  # torch.round / numpy.round
        (dict(width_first=True), False),  # the other pass order
    ],
)
def test_only_matlabs_rules_reproduce_its_images(variant, exact):
    """The naive transcription, independently of imresize, on Set5 'baby' x2: clamped
    edges, rounding half away from zero after each pass and height first give MATLAB's
    LR image exactly; changing any one of them changes many pixels."""
    ds = _load("Set5", 2)
    row = ds[0]
    hr = np.asarray(row["hr"]).transpose(2, 0, 1).astype(np.float64)
    lr = np.array(row["lr"]).transpose(2, 0, 1)
    out = naive_imresize(hr, 0.5, lr.shape[1:], uint8=True, **variant).astype(np.uint8)
    differ = float((out != lr).mean())
    if exact:
        assert differ == 0
        assert torch.equal(imresize(torch.from_numpy(hr).to(torch.uint8), 0.5),
                           torch.from_numpy(lr))
    else:
        assert differ > 0.001, f"{variant}: only {differ:.4%} of the pixels differ"


# ------------------------------------------------------------------------- kernels


@pytest.mark.parametrize("name", list(KERNELS))
def test_kernels_integrate_to_one_within_their_width(name):
    fn, width = KERNELS[name]
    x = np.linspace(-width / 2 - 1, width / 2 + 1, 400_001)
    f = fn(x)
    assert np.all(f[np.abs(x) > width / 2] == 0), "kernel is non-zero outside its width"
    integral = np.trapezoid(f, x) if hasattr(np, "trapezoid") else np.trapz(f, x)
    # Lanczos kernels are only nearly normalised (imresize normalises the taps anyway);
    # the box's jumps cost the trapezoid rule about one grid step.
    expected = {"lanczos2": 1.00979, "lanczos3": 0.99706}.get(name, 1.0)
    assert integral == pytest.approx(expected, abs=2e-5)


def test_kernel_known_values():
    cubic, linear, box = resize.cubic, resize.linear, resize.box
    assert cubic(np.array([0, 0.5, 1, 1.5, 2, 2.5])).tolist() == [
        1, 0.5625, 0, -0.0625, 0, 0]
    assert cubic(np.array([0.25, 0.75, 1.25, 1.75])).tolist() == [
        0.8671875, 0.2265625, -0.0703125, -0.0234375]  # the taps of a x2 upscale
    assert linear(np.array([-1, -0.5, 0, 0.25, 1, 2])).tolist() == [0, 0.5, 1, 0.75, 0, 0]
    assert box(np.array([-0.5, 0, 0.4999, 0.5])).tolist() == [1, 1, 1, 0]
    for lanczos, a in ((resize.lanczos2, 2), (resize.lanczos3, 3)):
        assert lanczos(np.array([0.0]))[0] == 1
        assert np.allclose(lanczos(np.arange(1.0, a + 2)), 0, atol=1e-15)
        x = 0.5
        expected = a * math.sin(math.pi * x) * math.sin(math.pi * x / a) / (math.pi * x) ** 2
        assert lanczos(np.array([x]))[0] == pytest.approx(expected, rel=1e-12)
    assert {k: w for k, (_, w) in KERNELS.items()} == {
        "cubic": 4, "linear": 2, "lanczos2": 4, "lanczos3": 6, "box": 1}


@pytest.mark.parametrize("name", ["cubic", "linear", "box"])
def test_interpolating_kernels_are_partitions_of_unity(name):
    fn, _ = KERNELS[name]
    t = np.linspace(0, 1, 101)[:, None]
    assert np.allclose(fn(t - np.arange(-4, 5)[None]).sum(axis=1), 1, atol=1e-14)


def test_contributions_match_matlab():
    # x2 upscale of 4 pixels: first output pixel sits at u = 0.75 (1-based), taps at input
    # pixels -1, 0, 1, 2 (1-based), clamped to 1, 1, 1, 2.
    w, idx = contributions(4, 8, 2.0)
    assert w.shape == idx.shape == (8, 4)
    assert idx[0].tolist() == [0, 0, 0, 1]
    assert w[0].tolist() == [-0.0234375, 0.2265625, 0.8671875, -0.0703125]
    assert idx.min() == 0 and idx.max() == 3
    # shrinking by 4 with antialiasing: kernel 4 / 0.25 = 16 pixels wide
    w, idx = contributions(40, 10, 0.25)
    assert np.allclose(w.sum(axis=1), 1, atol=1e-15)
    # of ceil(16) + 2 = 18 taps the first and last are zero for every pixel: dropped
    assert w.shape[1] == 16
    assert np.count_nonzero(w[5]) == 16
    assert contributions(40, 10, 0.25) is contributions(40, 10, 0.25)  # cached
    assert not w.flags.writeable


# ------------------------------------------------------------ against the naive version


def _rand(shape, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    if dtype == torch.uint8:
        return torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)
    return torch.rand(shape, generator=g, dtype=torch.float64).to(dtype)


@pytest.mark.parametrize(
    "scale, size",
    [(2.5, None), (3, None), (4, None), (0.3, None), (0.5, None), ((1.7, 0.45), None),
     (None, (7, 29)), (None, (26, 5))],
)
@pytest.mark.parametrize("kernel", list(KERNELS))
def test_float64_matches_naive_matlab(kernel, scale, size):
    x = _rand((2, 3, 13, 17), seed=1)
    out = imresize(x, scale, size=size, kernel=kernel)
    out_hw = tuple(out.shape[-2:])
    scales = scale if scale is not None else (size[0] / 13, size[1] / 17)
    expected = naive_imresize(x.numpy(), scales, out_hw, kernel)
    assert out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("scale", [2, 3, 0.5, 1 / 3, (0.6, 2.2)])
@pytest.mark.parametrize("kernel", ["cubic", "lanczos3", "linear"])
def test_uint8_matches_naive_matlab(kernel, scale):
    x = _rand((1, 2, 19, 14), seed=2, dtype=torch.uint8)
    out = imresize(x, scale, kernel=kernel)
    expected = naive_imresize(x.numpy(), scale, tuple(out.shape[-2:]), kernel, uint8=True)
    assert out.dtype == torch.uint8
    assert np.array_equal(out.numpy(), expected.astype(np.uint8))


def test_uint8_rounds_half_away_from_zero():
    # A x2 upscale along the width only: weights are multiples of 1/128, so sums of
    # integers often land exactly on .5, where round-half-to-even would differ.
    x = _rand((1, 1, 1, 2000), seed=3, dtype=torch.uint8)
    exact = imresize(x.double(), (1, 2))
    frac = exact - exact.floor()
    ties = (frac == 0.5) & (exact > 0) & (exact < 255)
    assert ties.sum() > 5, "test needs exact ties"
    out = imresize(x, (1, 2))
    expected = (exact.clamp(0, 255) + 0.5).floor()
    assert torch.equal(out.double(), expected)
    assert not torch.equal(out.double(), exact.clamp(0, 255).round())  # half to even


def test_uint8_order_follows_matlab_smaller_scale_first():
    x = _rand((1, 3, 24, 30), seed=4, dtype=torch.uint8)
    out = imresize(x, (2.0, 0.5))
    width_first = imresize(imresize(x, (1, 0.5)), (2.0, 1))
    height_first = imresize(imresize(x, (2.0, 1)), (1, 0.5))
    assert torch.equal(out, width_first)
    assert not torch.equal(out, height_first)


def test_float_result_does_not_depend_on_pass_order():
    x = _rand((1, 3, 24, 30), seed=5)
    for scale in [(2.0, 0.5), (0.5, 3.0), 4]:
        out = imresize(x, scale)
        sh, sw = scale if isinstance(scale, tuple) else (scale, scale)
        a = imresize(imresize(x, (1, sw)), (sh, 1))
        b = imresize(imresize(x, (sh, 1)), (1, sw))
        torch.testing.assert_close(out, a, rtol=0, atol=1e-12)
        torch.testing.assert_close(out, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dim", [-2, -1])
@pytest.mark.parametrize("in_len, out_len, scale", [(70, 175, 2.5), (90, 30, 1 / 3)])
def test_every_block_size_gives_the_same_result(in_len, out_len, scale, dim):
    """Long axes are resized in blocks of the banded weight matrix; the block size is
    chosen by a cost model, so check every candidate on both axes."""
    shape = (2, 2, in_len, 5) if dim == -2 else (2, 2, 5, in_len)
    x = _rand(shape, seed=6)
    key = (in_len, out_len, scale, "cubic", True)
    expected = naive_resize_axis(x.numpy(), x.ndim + dim, out_len, scale)
    sizes = [b for b in (out_len, *resize._BLOCK_SIZES) if b <= out_len]
    assert len(sizes) > 2
    for block in sizes:
        out = resize._resize_axis(x, dim, key, block)
        np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=1e-10, err_msg=str(block))
    big = _rand((1, 1, 6, 700), seed=6)  # a wide image does use blocks
    assert resize._best_block((700, 1750, 2.5, "cubic", True), 6, "cols")[0] < 1750
    assert resize._best_block((700, 1750, 2.5, "cubic", True), 6, "rows")[0] < 1750
    np.testing.assert_allclose(imresize(big, (1, 2.5)).numpy(),
                               naive_resize_axis(big.numpy(), 3, 1750, 2.5), rtol=0, atol=1e-10)


# ---------------------------------------------------------------- dtypes and values


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_scale_one_is_identity(kernel):
    x = _rand((2, 3, 9, 11), seed=7, dtype=torch.float32)
    out = imresize(x, 1, kernel=kernel)
    torch.testing.assert_close(out, x, rtol=0, atol=1e-6)
    assert out is not x
    u8 = _rand((2, 3, 9, 11), seed=7, dtype=torch.uint8)
    assert torch.equal(imresize(u8, 1, kernel=kernel), u8)
    assert torch.equal(imresize(u8, size=(9, 11), kernel=kernel), u8)


@pytest.mark.parametrize("scale", [4, 2.5, 1.3, 0.5, 0.3, (3, 0.7)])
@pytest.mark.parametrize("kernel", list(KERNELS))
def test_constant_image_stays_constant(kernel, scale):
    x = torch.full((1, 3, 10, 13), 0.7)
    out = imresize(x, scale, kernel=kernel)
    torch.testing.assert_close(out, torch.full_like(out, 0.7), rtol=0, atol=1e-6)
    u8 = torch.full((1, 3, 10, 13), 200, dtype=torch.uint8)
    assert torch.all(imresize(u8, scale, kernel=kernel) == 200)


def test_float_path_is_not_rounded_or_clamped():
    step = torch.zeros(1, 1, 8, 8)
    step[..., 4:] = 1
    out = imresize(step, 4)
    assert out.min() < 0 and out.max() > 1  # cubic overshoot kept
    assert not torch.equal(out, out.round())
    u8 = imresize((step * 255).to(torch.uint8), 4)
    assert u8.dtype == torch.uint8 and u8.min() == 0 and u8.max() == 255


def test_uint8_close_to_float_on_smooth_image():
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(40.0), indexing="ij")
    img = (60 + 3 * yy + 2 * xx + 10 * torch.sin(xx / 3))[None, None].round()
    u8 = img.to(torch.uint8)
    for scale in [0.5, 1 / 3, 2, 3.5]:
        ref = imresize(img.double(), scale)
        out = imresize(u8, scale)
        assert (out.double() - ref).abs().max() <= 1.0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_computed_in_float32(dtype):
    x = _rand((1, 3, 12, 12), seed=8, dtype=torch.float32)
    out = imresize(x.to(dtype), 2.5)
    assert out.dtype == dtype
    ref = imresize(x.to(dtype).float(), 2.5).to(dtype)
    assert torch.equal(out, ref)


def test_float32_close_to_float64():
    x = _rand((1, 3, 20, 15), seed=9)
    out32 = imresize(x.float(), 0.37)
    assert out32.dtype == torch.float32
    torch.testing.assert_close(out32.double(), imresize(x, 0.37), rtol=0, atol=1e-6)


def test_batch_and_three_dim_input():
    x = _rand((4, 3, 16, 20), seed=10, dtype=torch.float32)
    out = imresize(x, 0.5)
    assert out.shape == (4, 3, 8, 10)
    for i in range(4):
        single = imresize(x[i], 0.5)
        assert single.shape == (3, 8, 10)
        torch.testing.assert_close(single, out[i], rtol=0, atol=1e-6)
    u8 = _rand((2, 1, 16, 20), seed=10, dtype=torch.uint8)
    assert torch.equal(imresize(u8, 3)[1], imresize(u8[1], 3))


def test_non_contiguous_input():
    x = _rand((1, 3, 20, 16), seed=11, dtype=torch.float32)
    xt = x.transpose(-1, -2)  # (1, 3, 16, 20), not contiguous
    torch.testing.assert_close(imresize(xt, 2.5), imresize(xt.contiguous(), 2.5))


def test_float_input_is_differentiable():
    x = _rand((1, 1, 6, 6), seed=12).requires_grad_()
    imresize(x, 2).sum().backward()
    # each input pixel's weights sum to (out / in) per axis for an interior pixel
    assert x.grad is not None and x.grad.shape == x.shape
    assert x.grad[0, 0, 3, 3].item() == pytest.approx(4.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    x = _rand((2, 3, 33, 47), seed=13, dtype=torch.uint8)
    assert torch.equal(imresize(x.cuda(), 1 / 3).cpu(), imresize(x, 1 / 3))
    f = x.float() / 255
    torch.testing.assert_close(imresize(f.cuda(), 2.5).cpu(), imresize(f, 2.5))


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    "hw, scale, size, expected",
    [
        ((321, 481), 1 / 3, None, (107, 161)),
        ((321, 481), 1 / 4, None, (81, 121)),  # ceil, not floor
        ((10, 10), 0.35, None, (4, 4)),
        ((5, 7), 1.5, None, (8, 11)),
        ((5, 7), (2, 0.5), None, (10, 4)),
        ((300, 400), None, (150, None), (150, 200)),
        ((300, 400), None, (None, 100), (75, 100)),
        ((300, 401), None, (150, None), (150, 201)),  # MATLAB: ceil(150 * 401 / 300)
        ((30, 40), 0.5, (15, 20), (15, 20)),  # both given, consistent
        ((31, 40), 0.5, (16, 20), (16, 20)),
    ],
)
def test_output_size_rules(hw, scale, size, expected):
    assert output_size(*hw, scale=scale, size=size) == expected
    x = torch.zeros(1, 1, *hw)
    assert imresize(x, scale, size=size).shape[-2:] == expected


def test_size_with_one_none_uses_that_dimension_scale():
    x = _rand((1, 1, 30, 41), seed=14)
    out = imresize(x, size=(60, None))
    assert out.shape[-2:] == (60, 82)  # ceil(60 * 41 / 30)
    # MATLAB takes the scale of the given dimension for both axes: 2, not 82 / 41
    torch.testing.assert_close(out, imresize(x, 2), rtol=0, atol=0)


def test_both_scale_and_size_use_scale_for_coordinates():
    x = _rand((1, 1, 31, 40), seed=15)
    a = imresize(x, 1 / 3, size=(11, 14))
    b = imresize(x, 1 / 3)
    c = imresize(x, size=(11, 14))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)  # scale 11/31 instead of 1/3 moves the samples


# ------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(), ValueError, "give either scale"),
        (dict(scale=-2), ValueError, "positive"),
        (dict(scale=0), ValueError, "positive"),
        (dict(scale=float("nan")), ValueError, "positive and finite"),
        (dict(scale=float("inf")), ValueError, "positive and finite"),
        (dict(scale=(0.5, -1)), ValueError, "positive"),
        (dict(scale=(1, 2, 3)), ValueError, "pair"),
        (dict(scale="2"), TypeError, "positive number"),
        (dict(scale=True), TypeError, "positive number"),
        (dict(size=(0, 10)), ValueError, "positive integers"),
        (dict(size=(10.5, 10)), ValueError, "positive integers"),
        (dict(size=(10, 10, 3)), ValueError, "pair"),
        (dict(size=10), ValueError, "pair"),
        (dict(size=(None, None)), ValueError, "at least one"),
        (dict(scale=0.5, size=(10, 10)), ValueError, "disagree"),
        (dict(scale=2, kernel="bicubic-ish"), ValueError, "unknown kernel.*'cubic'.*'lanczos3'"),
        (dict(scale=2, kernel="nearest"), ValueError, "choose one of"),
    ],
)
def test_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        imresize(torch.zeros(1, 3, 8, 8), **kwargs)


@pytest.mark.parametrize(
    "img, exc, match",
    [
        (torch.zeros(8, 8), ValueError, r"\(B, C, H, W\) or \(C, H, W\).*img\[None\]"),
        (torch.zeros(1, 1, 1, 8, 8), ValueError, "got 5 dims"),
        (torch.zeros(1, 3, 0, 8), ValueError, "empty"),
        (torch.zeros(1, 3, 8, 8, dtype=torch.int64), TypeError, "convert to float.*uint8"),
        (torch.zeros(1, 3, 8, 8, dtype=torch.bool), TypeError, "unsupported dtype"),
        (torch.zeros(1, 3, 8, 8, dtype=torch.complex64), TypeError, "unsupported dtype"),
        (np.zeros((1, 3, 8, 8)), TypeError, "torch.Tensor"),
    ],
)
def test_bad_images(img, exc, match):
    with pytest.raises(exc, match=match):
        imresize(img, 2)


def test_aliases_are_matlab_names():
    x = _rand((1, 1, 9, 9), seed=16)
    assert torch.equal(imresize(x, 2, kernel="bicubic"), imresize(x, 2))
    assert torch.equal(imresize(x, 2, kernel="bilinear"), imresize(x, 2, kernel="linear"))
    assert torch.equal(imresize(x, 2, kernel="triangle"), imresize(x, 2, kernel="linear"))


def test_antialias_flag():
    x = _rand((1, 1, 40, 40), seed=17)
    aa, no_aa = imresize(x, 0.25), imresize(x, 0.25, antialias=False)
    assert aa.shape == no_aa.shape == (1, 1, 10, 10)
    assert no_aa.std() > 1.5 * aa.std()  # without widening the noise is not averaged out
    assert torch.equal(imresize(x, 2, antialias=False), imresize(x, 2))  # only when shrinking


# ------------------------------------------------------------------------- modcrop


def test_modcrop():
    assert modcrop(torch.zeros(3, 10, 7), 3).shape == (3, 9, 6)
    assert modcrop(torch.zeros(2, 3, 481, 321), 4).shape == (2, 3, 480, 320)
    assert modcrop(np.zeros((10, 7)), 2).shape == (10, 6)
    x = torch.arange(35.0).reshape(5, 7)
    assert torch.equal(modcrop(x, 2), x[:4, :6])  # top-left kept
    with pytest.raises(ValueError, match="positive integer"):
        modcrop(x, 0)
    with pytest.raises(ValueError, match="positive integer"):
        modcrop(x, 2.0)
    with pytest.raises(ValueError, match="at least 2 dims"):
        modcrop(torch.zeros(5), 2)


# --- issue 11: resource limits, checked before anything is allocated ----------------------
@pytest.mark.parametrize("kwargs, match", [
    (dict(scale=1e6), "more than imresize's limit"),
    (dict(scale=1e300), "output side"),
    (dict(size=(200000, 200000)), "200000 x 200000 pixels"),
    (dict(scale=(1.0, 5e7)), "more than"),
    (dict(scale=(1.0, 2e6)), "16,000,000 output pixels.*tiles"),
    (dict(scale=1e-8), "kernel taps.*MAX_TAP_ENTRIES"),
    (dict(scale=1e-8, kernel="lanczos3"), "kernel taps"),
])
def test_huge_resizes_fail_fast(kwargs, match):
    import time

    x = torch.rand(1, 3, 8, 8)
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=match):
        imresize(x, **kwargs)
    assert time.perf_counter() - t0 < 0.5


def test_limits_leave_normal_sizes_alone():
    x = torch.rand(1, 1, 40, 30)
    assert imresize(x, 1 / 4).shape == (1, 1, 10, 8)
    assert imresize(x, 8).shape == (1, 1, 320, 240)
    assert imresize(x, 1e-3).shape == (1, 1, 1, 1)            # 4,002 taps: fine
    assert imresize(x, size=(4096, 3072)).shape == (1, 1, 4096, 3072)
    with pytest.raises(ValueError, match="kernel taps"):
        contributions(8, 1, 1e-8)


def test_a_long_axis_is_not_one_dense_matrix():
    # 3000 -> 6000 pixels: one dense block would be 18 M weights; blocks are used instead
    key = (3000, 6000, 2.0, "cubic", True)
    sizes = [b for b, *_ in resize._block_costs(key, "cols")]
    assert 6000 not in sizes and max(sizes) == 2048
    x = torch.rand(1, 1, 2, 3000, dtype=torch.float64)
    ref = imresize(x[..., :1, :], size=(1, 6000))
    torch.testing.assert_close(imresize(x, size=(2, 6000))[..., :1, :], ref)
