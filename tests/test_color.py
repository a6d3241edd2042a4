"""Tests of srlib.color: MATLAB rgb2ycbcr (BT.601 studio swing) and its inverse."""

from __future__ import annotations

import pytest
import torch

from srlib.color import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb

# MATLAB's coefficients, written out again here (not imported) so that the tests check them.
MATLAB = {
    "y": (16.0, 65.481, 128.553, 24.966),
    "cb": (128.0, -37.797, -74.203, 112.0),
    "cr": (128.0, 112.0, -93.786, -18.214),
}

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def formula(r: float, g: float, b: float) -> list[float]:
    """MATLAB's rgb2ycbcr for one double pixel in [0, 1], on the [0, 1] scale."""
    return [(o + cr * r + cg * g + cb * b) / 255 for o, cr, cg, cb in MATLAB.values()]


def pixel(rgb: tuple[float, float, float], dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.tensor(rgb, dtype=dtype).view(1, 3, 1, 1)


def random_rgb(shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(shape, generator=g, dtype=torch.float64).to(dtype)


# ----------------------------------------------------------------------- known values
@pytest.mark.parametrize(
    "rgb",
    [
        (0.0, 0.0, 0.0),
        (1.0, 1.0, 1.0),
        (1.0, 0.0, 0.0),
        (0.0, 1.0, 0.0),
        (0.0, 0.0, 1.0),
        (0.25, 0.5, 0.75),
    ],
)
def test_rgb_to_ycbcr_matches_matlab_formula(rgb):
    out = rgb_to_ycbcr(pixel(rgb)).flatten()
    torch.testing.assert_close(out, torch.tensor(formula(*rgb), dtype=torch.float64))


def test_black_and_white_are_studio_swing():
    black = rgb_to_ycbcr(torch.zeros(3, 2, 2)) * 255
    white = rgb_to_ycbcr(torch.ones(3, 2, 2)) * 255
    expected_black = torch.tensor([16.0, 128.0, 128.0]).view(3, 1, 1).expand(3, 2, 2)
    expected_white = torch.tensor([235.0, 128.0, 128.0]).view(3, 1, 1).expand(3, 2, 2)
    torch.testing.assert_close(black, expected_black, atol=1e-4, rtol=0)
    torch.testing.assert_close(white, expected_white, atol=1e-4, rtol=0)


def test_primaries_rounded_like_matlab_uint8():
    # MATLAB: rgb2ycbcr(uint8(cat(3, 255, 0, 0))) is [81 90 240], green [145 54 34],
    # blue [41 240 110] (computed in double and rounded).
    rgb = torch.eye(3, dtype=torch.float64).view(3, 3, 1, 1)  # red, green, blue images
    ycc = (rgb_to_ycbcr(rgb) * 255).round().flatten(1)
    expected = torch.tensor([[81, 90, 240], [145, 54, 34], [41, 240, 110]], dtype=torch.float64)
    torch.testing.assert_close(ycc, expected)


def test_y_of_rgb_stays_in_studio_range():
    y = rgb_to_y(random_rgb((4, 3, 16, 16)))
    assert y.min() >= 16 / 255 and y.max() <= 235 / 255
    assert y.max() - y.min() > 0.5  # not a constant


def test_rgb_to_y_is_first_channel_of_ycbcr():
    img = random_rgb((2, 5, 3, 8, 9))  # any leading dims
    y = rgb_to_y(img)
    assert y.shape == (2, 5, 1, 8, 9)
    torch.testing.assert_close(y, rgb_to_ycbcr(img)[..., :1, :, :])


def test_three_dim_input():
    img = random_rgb((3, 7, 5))
    assert rgb_to_ycbcr(img).shape == (3, 7, 5)
    assert rgb_to_y(img).shape == (1, 7, 5)
    torch.testing.assert_close(rgb_to_y(img)[0], rgb_to_ycbcr(img)[0])


# ------------------------------------------------------------------------ round trip
def test_round_trip_float32():
    img = random_rgb((4, 3, 32, 32), torch.float32)
    back = ycbcr_to_rgb(rgb_to_ycbcr(img))
    assert back.dtype == torch.float32
    assert (back - img).abs().max() <= 1e-6


def test_round_trip_float64():
    img = random_rgb((4, 3, 32, 32), torch.float64)
    assert (ycbcr_to_rgb(rgb_to_ycbcr(img)) - img).abs().max() <= 1e-12
    ycc = rgb_to_ycbcr(img)
    assert (rgb_to_ycbcr(ycbcr_to_rgb(ycc)) - ycc).abs().max() <= 1e-12


def test_inverse_of_known_values():
    ycc = torch.tensor(
        [[16.0, 128.0, 128.0], [235.0, 128.0, 128.0], [81.481, 90.203, 240.0]],
        dtype=torch.float64,
    )
    rgb = ycbcr_to_rgb(ycc.view(3, 3, 1, 1) / 255).flatten(1)
    expected = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]).double()
    torch.testing.assert_close(rgb, expected, atol=1e-12, rtol=0)


# ------------------------------------------------------------------------- grayscale
def test_gray_bt601_is_gray_replicated_to_rgb():
    gray = random_rgb((2, 1, 6, 6), torch.float64)
    y = rgb_to_y(gray)
    torch.testing.assert_close(y, (16 + 219 * gray) / 255)
    torch.testing.assert_close(y, rgb_to_y(gray.expand(2, 3, 6, 6)))


def test_gray_identity_returns_a_copy():
    gray = random_rgb((2, 1, 6, 6))
    y = rgb_to_y(gray, gray="identity")
    torch.testing.assert_close(y, gray, atol=0, rtol=0)
    y.add_(1)  # a copy: the input is untouched
    assert gray.max() <= 1


def test_gray_mode_validated():
    with pytest.raises(ValueError, match="gray must be one of"):
        rgb_to_y(torch.rand(1, 3, 2, 2), gray="luma")


def test_ycbcr_of_gray_raises():
    with pytest.raises(ValueError, match=r"must have 3 channels.*\(1, 1, 4, 4\)"):
        rgb_to_ycbcr(torch.rand(1, 1, 4, 4))
    with pytest.raises(ValueError, match="must have 3 channels"):
        ycbcr_to_rgb(torch.rand(1, 1, 4, 4))


# --------------------------------------------------------------- dtype, device, grads
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("fn", [rgb_to_ycbcr, ycbcr_to_rgb, rgb_to_y])
def test_dtype_and_device_kept(fn, dtype, device):
    img = random_rgb((2, 3, 4, 4), dtype).to(device)
    out = fn(img)
    assert out.dtype == dtype and out.device.type == device
    gray = rgb_to_y(img[:, :1])
    assert gray.dtype == dtype and gray.device.type == device


@pytest.mark.parametrize("fn", [rgb_to_ycbcr, ycbcr_to_rgb, rgb_to_y])
def test_differentiable(fn):
    img = random_rgb((1, 3, 3, 3), torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(fn, (img,))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_matches_cpu():
    img = random_rgb((2, 3, 16, 16))
    for fn in (rgb_to_ycbcr, ycbcr_to_rgb, rgb_to_y):
        torch.testing.assert_close(fn(img.cuda()).cpu(), fn(img))


# ------------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize("fn", [rgb_to_ycbcr, ycbcr_to_rgb, rgb_to_y])
def test_bad_inputs(fn):
    with pytest.raises(TypeError, match=r"float tensor.*uint8.*img\.float\(\) / 255"):
        fn(torch.zeros(1, 3, 4, 4, dtype=torch.uint8))
    with pytest.raises(TypeError, match="must be a torch.Tensor, got list"):
        fn([[[0.0]], [[0.0]], [[0.0]]])
    with pytest.raises(ValueError, match=r"at least 3 dims, got shape \(3, 4\)"):
        fn(torch.rand(3, 4))
    with pytest.raises(ValueError, match=r"channels in dim -3.*\(2, 4, 5, 5\) \(4 channels\)"):
        fn(torch.rand(2, 4, 5, 5))


@pytest.mark.parametrize("fn", [rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb])
def test_0_255_floats_are_refused_not_converted(fn):
    white = torch.full((1, 3, 2, 2), 255.0)
    with pytest.raises(ValueError, match="0..255 data: divide it by 255"):
        fn(white)
    with pytest.raises(ValueError, match=r"\[-40, 1\]"):
        fn(torch.tensor([-40.0, 0.5, 1.0]).view(1, 3, 1, 1))
    with pytest.raises(ValueError, match="NaN"):
        fn(torch.full((1, 3, 1, 1), float("nan")))


def test_bicubic_overshoot_is_accepted():
    from srlib.resize import imresize

    x = torch.zeros(1, 3, 8, 8)
    x[..., 4:] = 1.0                        # a hard edge: bicubic over- and undershoots
    up = imresize(imresize(x, 4), 0.5)
    assert up.max() > 1 or up.min() < 0
    rgb_to_y(up)
    rgb_to_y(torch.full((1, 1, 2, 2), 1.9)) # within the documented [-1, 2]
    rgb_to_y(torch.empty(0, 3, 2, 2))
