"""Tests of srlib.evaluate: the published bicubic rows, the methods, bad input and the CLI."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from srlib.evaluate import METHODS, PAPER_BICUBIC, benchmark_pairs, evaluate

PSNR_TOL = 0.03  # dB
SSIM_TOL = 0.002


@pytest.mark.parametrize("protocol", ["rgb", "y", "matlab"])
@pytest.mark.parametrize(("name", "scale"), list(PAPER_BICUBIC))
def test_bicubic_matches_papers(name, scale, protocol):
    """Mean PSNR/SSIM of bicubic vs the rows of SRCNN (Set5) and VDSR Table 2 (others)."""
    table = evaluate("bicubic", name, scale, protocol=protocol)
    paper_psnr, paper_ssim = PAPER_BICUBIC[name, scale]
    assert table["psnr"].mean() == pytest.approx(paper_psnr, abs=PSNR_TOL)
    assert table["ssim"].mean() == pytest.approx(paper_ssim, abs=SSIM_TOL)


def test_protocols_differ_per_image_but_little():
    rgb = evaluate("bicubic", "Set5", 3, protocol="rgb")
    y = evaluate("bicubic", "Set5", 3, protocol="y")
    diff = (rgb["psnr"] - y["psnr"]).abs()
    assert (diff > 0).any() and (diff < 0.1).all()


def test_lr_is_made_like_the_matlab_made_files():
    from srlib.data import load_benchmark, to_tensor

    ds = load_benchmark("Set5", 4)
    for (name, _, lr, _, _), row in zip(benchmark_pairs("Set5", 4), ds, strict=True):
        assert name == row["name"]
        assert torch.equal((lr * 255).round().to(torch.uint8)[0], to_tensor(row["lr"], torch.uint8))


def test_table_layout():
    table = evaluate("bicubic", "Set5", 2)
    assert list(table.columns) == ["name", "psnr", "ssim"]
    assert list(table["name"]) == ["baby", "bird", "butterfly", "head", "woman"]
    assert table.attrs["protocol"] == "rgb" and table.attrs["crop_border"] == 2


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_shapes_and_range(method):
    lr = torch.rand(2, 3, 7, 9)
    out = METHODS[method](lr, 3)
    assert out.shape == (2, 3, 21, 27)
    assert out.is_floating_point() and out.min() >= 0 and out.max() <= 1


def test_bicubic_beats_nearest_on_every_image():
    bic = evaluate("bicubic", "Set5", 4)
    near = evaluate("nearest", "Set5", 4)
    assert (bic["psnr"] > near["psnr"]).all()
    assert (bic["ssim"] > near["ssim"]).all()


def test_ibp_not_worse_than_bicubic_on_set5_x4():
    bic = evaluate("bicubic", "Set5", 4)
    back = evaluate("ibp", "Set5", 4)
    assert back["psnr"].mean() >= bic["psnr"].mean()
    assert (back["psnr"] >= bic["psnr"] - 1e-9).all()


def test_custom_callable_equals_registry_method():
    def my_nearest(lr, scale):
        return lr.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1)

    mine = evaluate(my_nearest, "Set5", 2)
    ref = evaluate("nearest", "Set5", 2)
    assert mine[["psnr", "ssim"]].equals(ref[["psnr", "ssim"]])
    assert mine.attrs["method"] == "my_nearest"


def test_callable_on_y_protocol_gets_three_equal_channels():
    seen = []

    def spy(lr, scale):
        seen.append(lr)
        return METHODS["bicubic"](lr, scale)

    evaluate(spy, "Set5", 4, protocol="y")
    assert all(x.shape[1] == 3 and torch.equal(x[:, 0], x[:, 2]) for x in seen)


def test_unknown_method_lists_choices():
    with pytest.raises(ValueError, match=r"unknown method 'bicubik'.*nearest, bilinear, bicubic"):
        evaluate("bicubik", "Set5", 2)
    with pytest.raises(TypeError, match="callable"):
        evaluate(42, "Set5", 2)


def test_unknown_dataset_scale_protocol():
    with pytest.raises(ValueError, match="unknown dataset"):
        evaluate("bicubic", "Set6", 2)
    with pytest.raises(ValueError, match="unsupported scale"):
        evaluate("bicubic", "Set5", 8)
    with pytest.raises(ValueError, match="unknown protocol 'cb'"):
        evaluate("bicubic", "Set5", 2, protocol="cb")


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (lambda lr, s: lr, r"returned shape \(1, 3, 256, 256\).*expected a float tensor of "
                           r"shape \(1, 3, 512, 512\)"),
        (lambda lr, s: METHODS["nearest"](lr, s)[:, :1], r"returned shape \(1, 1, 512, 512\)"),
        (lambda lr, s: (METHODS["nearest"](lr, s) * 255).to(torch.uint8),
         r"returned dtype torch.uint8.*x.float\(\) / 255"),
        (lambda lr, s: METHODS["nearest"](lr, s) * 255, r"values in \[.*\].*divide by 255"),
        (lambda lr, s: METHODS["nearest"](lr, s) * 1.1, r"values in.*clamp\(0, 1\)"),
        (lambda lr, s: METHODS["nearest"](lr, s) * float("nan"), "NaN"),
        (lambda lr, s: METHODS["nearest"](lr, s).numpy(), "returned a ndarray"),
    ],
)
def test_bad_callable_output_raises(fn, message):
    with pytest.raises(ValueError, match=message):
        evaluate(fn, "Set5", 2)


def _cli(*args):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "srlib.evaluate", *args],
        capture_output=True, text=True, env=env, timeout=300, check=True,
    ).stdout


def test_cli_table_and_json():
    text = _cli("--method", "bicubic", "--dataset", "Set5", "--scale", "4")
    assert "butterfly" in text and "mean" in text and "28.4" in text
    data = json.loads(_cli("--method", "nearest", "--dataset", "Set5", "--scale", "4", "--json"))
    assert [row["name"] for row in data["images"]][0] == "baby"
    assert data["method"] == "nearest" and data["scale"] == 4
    assert data["mean"]["psnr"] == pytest.approx(
        sum(row["psnr"] for row in data["images"]) / 5
    )


def test_cli_rejects_unknown_method():
    result = subprocess.run(
        [sys.executable, "-m", "srlib.evaluate", "--method", "magic"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode != 0 and "invalid choice" in result.stderr


def test_float_scale_is_refused():
    with pytest.raises(ValueError, match="choose one of 2, 3, 4"):
        evaluate("bicubic", "Set5", 4.0)


@pytest.mark.parametrize("method", list(METHODS))
def test_methods_refuse_0_255_input_instead_of_clamping_to_white(method):
    lr = torch.full((1, 3, 8, 8), 128.0)
    with pytest.raises(ValueError, match="0..255 data: divide it by 255"):
        METHODS[method](lr, 2)
    assert METHODS[method](lr / 255, 2).shape == (1, 3, 16, 16)


# ------------------------------------------------------- protocol "matlab", independently
def _matlab_y(rgb8: np.ndarray) -> np.ndarray:
    """MATLAB's rgb2ycbcr(uint8 image)(:, :, 1): BT.601 studio-swing luma, rounded uint8."""
    rgb = rgb8.astype(np.float64)
    y = 16 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255
    return np.floor(y + 0.5)


def _matlab_bicubic_psnr(hr8: np.ndarray, scale: int, gray: bool) -> float:
    """The MATLAB route in numpy: uint8 imresize down and up, uint8 Y, shave, PSNR."""
    from test_resize import naive_imresize  # MATLAB's imresize, one output pixel at a time

    h, w = hr8.shape[0] // scale * scale, hr8.shape[1] // scale * scale
    hr8 = hr8[:h, :w]
    chw = np.moveaxis(hr8, -1, 0)
    lr = naive_imresize(chw, 1 / scale, (h // scale, w // scale), uint8=True)
    sr = np.moveaxis(naive_imresize(lr, scale, (h, w), uint8=True), 0, -1)
    if gray:
        a, b = sr[..., 0], hr8[..., 0].astype(np.float64)
    else:
        a, b = _matlab_y(sr), _matlab_y(hr8)
    a, b = a[scale:-scale, scale:-scale], b[scale:-scale, scale:-scale]
    return float(10 * np.log10(255**2 / np.mean((a - b) ** 2)))


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("name", ["Set5", "Set14"])
def test_matlab_protocol_matches_an_independent_matlab_route(name, scale):
    from srlib.data import load_benchmark

    table = evaluate("bicubic", name, scale, protocol="matlab")
    ds = load_benchmark(name, scale)
    for row, ours in zip(ds, table.itertuples(), strict=True):
        expected = _matlab_bicubic_psnr(np.asarray(row["hr"]), scale, row["grayscale"])
        assert ours.psnr == pytest.approx(expected, abs=0.005), row["name"]


def test_matlab_protocol_rounds_y_and_differs_from_rgb():
    rgb = evaluate("bicubic", "Set5", 2, protocol="rgb")
    matlab = evaluate("bicubic", "Set5", 2, protocol="matlab")
    diff = (rgb["psnr"] - matlab["psnr"]).abs()
    assert diff.max() > 0.01          # uint8 Y and uint8 upscaling move the score
    with pytest.raises(ValueError, match="quantize_output"):
        evaluate("bicubic", "Set5", 2, protocol="matlab", quantize_output=False)
    with pytest.raises(ValueError, match="test_y_channel"):
        evaluate("bicubic", "Set5", 2, protocol="matlab", test_y_channel=False)
