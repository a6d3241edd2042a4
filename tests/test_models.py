"""Tests of srlib.models: SRCNN shapes, parameter counts, upscale, load_pretrained."""

from __future__ import annotations

import pytest
import torch

from srlib.color import rgb_to_ycbcr
from srlib.models import (
    CONFIGS,
    SRCNN,
    bicubic_y,
    build,
    count_parameters,
    load_pretrained,
    upscale,
    weights_path,
)
from srlib.papers import paper_value
from srlib.resize import imresize

torch.set_num_threads(1)


def _formula(f1=9, f2=5, f3=5, n1=64, n2=32, c=1):
    """Weights + biases of the three layers."""
    return (c * n1 * f1 * f1 + n1) + (n1 * n2 * f2 * f2 + n2) + (n2 * c * f3 * f3 + c)


@pytest.mark.parametrize("config,expected", [("9-1-5", 8129), ("9-5-5", 57281)])
def test_parameter_counts(config, expected):
    model = build(config)
    assert count_parameters(model) == expected == _formula(**CONFIGS[config])
    assert count_parameters(SRCNN(n1=16, n2=8, f3=3)) == _formula(n1=16, n2=8, f3=3)


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("padding", ["valid", "same"])
def test_shapes(config, padding):
    model = build(config, padding=padding)
    shrink = 9 + CONFIGS[config]["f2"] + 5 - 3 if padding == "valid" else 0
    assert model.shrink == shrink
    x = torch.rand(2, 1, 33, 40)
    assert model(x).shape == (2, 1, 33 - shrink, 40 - shrink)
    if padding == "valid":
        assert model(x).shape[-1] == {"9-1-5": 28, "9-5-5": 24}[config]


def test_valid_patch_sizes_of_the_paper():
    assert build("9-1-5")(torch.zeros(1, 1, 33, 33)).shape[-1] == 21
    assert build("9-5-5")(torch.zeros(1, 1, 33, 33)).shape[-1] == 17


def test_valid_output_is_the_centre_of_same_output_away_from_borders():
    torch.manual_seed(0)
    valid = build("9-5-5")
    same = build("9-5-5", padding="same")
    same.load_state_dict(valid.state_dict())
    x = torch.rand(1, 1, 40, 40)
    s = valid.shrink // 2
    torch.testing.assert_close(valid(x), same(x)[..., s:40 - s, s:40 - s], atol=1e-6, rtol=0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="odd"):
        SRCNN(f2=2)
    with pytest.raises(ValueError, match="padding"):
        SRCNN(padding="reflect")
    with pytest.raises(ValueError, match="config"):
        build("9-3-5")
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        build()(torch.zeros(1, 3, 33, 33))
    with pytest.raises(ValueError, match="too small"):
        build()(torch.zeros(1, 1, 16, 40))


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_upscale_shape_range_dtype(padding):
    torch.manual_seed(0)
    model = build("9-1-5", padding=padding)
    lr = torch.rand(2, 3, 11, 13)
    out = upscale(model, lr, 3)
    assert out.shape == (2, 3, 33, 39) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    assert model.training  # mode restored
    assert upscale(model, lr[:, :1], 2).shape == (2, 1, 22, 26)
    assert upscale(model, lr.double(), 2).dtype == torch.float64


def _identity_srcnn(config="9-5-5", padding="valid") -> SRCNN:
    """An SRCNN that returns its input: centre taps pass Y through the ReLUs (Y >= 0)."""
    model = build(config, padding=padding)
    with torch.no_grad():
        for conv in (model.conv1, model.conv2, model.conv3):
            conv.weight.zero_()
            conv.bias.zero_()
            c = conv.kernel_size[0] // 2
            conv.weight[0, 0, c, c] = 1.0
    return model


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_upscale_constant_image_stays_constant(padding):
    model = _identity_srcnn(padding=padding)
    lr = torch.empty(1, 3, 12, 10)
    lr[:, 0], lr[:, 1], lr[:, 2] = 0.2, 0.5, 0.7
    out = upscale(model, lr, 3)
    expected = lr[:, :, :1, :1].expand(1, 3, 36, 30)
    # "valid": replicate padding keeps every pixel; "same" zero-pads, only the inside is kept
    inner = slice(None) if padding == "valid" else slice(8, -8)
    torch.testing.assert_close(out[..., inner, inner], expected[..., inner, inner],
                               atol=1e-5, rtol=0)


def test_upscale_is_bicubic_for_an_identity_network():
    model = _identity_srcnn()
    torch.manual_seed(1)
    lr = torch.rand(1, 3, 16, 16) * 0.6 + 0.2
    expected = imresize(lr, 3).clamp(0, 1)
    torch.testing.assert_close(upscale(model, lr, 3), expected, atol=1e-5, rtol=0)
    y = rgb_to_ycbcr(imresize(lr, 3))[:, :1]
    torch.testing.assert_close(bicubic_y(lr, 3), y, atol=1e-6, rtol=0)


def test_upscale_bad_input():
    model = build()
    with pytest.raises(TypeError, match="float"):
        upscale(model, torch.zeros(1, 3, 8, 8, dtype=torch.uint8), 3)
    with pytest.raises(ValueError, match="shape"):
        upscale(model, torch.zeros(3, 8, 8), 3)
    with pytest.raises(ValueError, match="scale"):
        upscale(model, torch.zeros(1, 3, 8, 8), 1.5)


def test_load_pretrained_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"srcnn_9-5-5_x3\.pt.*python -m srlib\.train"):
        load_pretrained("srcnn", 3, "9-5-5", path=tmp_path / "srcnn_9-5-5_x3.pt")
    assert weights_path("srcnn", 4, "9-1-5").name == "srcnn_9-1-5_x4.pt"
    with pytest.raises(ValueError, match="srcnn"):
        load_pretrained("vdsr", 3)


def test_load_pretrained_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build("9-1-5")
    path = tmp_path / "srcnn_9-1-5_x2.pt"
    torch.save(model.state_dict(), path)
    loaded = load_pretrained("srcnn", 2, "9-1-5", path=path)
    assert not loaded.training
    x = torch.rand(1, 1, 30, 30)
    torch.testing.assert_close(loaded(x), model(x))
    torch.save({"model": model.state_dict(), "epoch": 3}, path)  # a training checkpoint
    torch.testing.assert_close(load_pretrained("srcnn", 2, "9-1-5", path=path)(x), model(x))


def test_upscale_grayscale_rgb_is_run_as_y():
    """Equal channels (a gray image, or protocol 'y') go through the network as Y."""
    model = _identity_srcnn()
    with torch.no_grad():
        model.conv3.weight *= 0.5          # the network halves its input
    torch.manual_seed(0)
    gray = torch.rand(1, 1, 10, 12) * 0.6 + 0.2
    out = upscale(model, gray.expand(-1, 3, -1, -1), 2)
    assert out.shape == (1, 3, 20, 24)
    half = (0.5 * imresize(gray, 2)).expand(-1, 3, -1, -1)
    torch.testing.assert_close(out, half, atol=1e-5, rtol=0)
    torch.testing.assert_close(upscale(model, gray, 2), half[:, :1], atol=1e-5, rtol=0)
    color = gray.repeat(1, 3, 1, 1)
    color[:, 1] += 0.01                     # not gray: Y of YCbCr is halved, not R, G, B
    assert (upscale(model, color, 2)[:, 0] - out[:, 0]).abs().max() > 0.01


# The floor: Dong et al., ECCV 2014 (SRCNN 9-1-5, 91 images), Table 1, Set5 PSNR (dB), from
# the book's table of published results
SRCNN_FLOOR = {s: paper_value("SRCNN (ECCV)", "Set5", s) for s in (2, 3, 4)}


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_shipped_weights_meet_the_paper_floor_on_set5(scale):
    from srlib.evaluate import evaluate

    model = load_pretrained("srcnn", scale)
    assert model.padding == "valid" and count_parameters(model) == 57281
    table = evaluate("srcnn", "Set5", scale)
    bicubic = evaluate("bicubic", "Set5", scale)
    assert table["psnr"].mean() >= SRCNN_FLOOR[scale]
    assert (table["psnr"] > bicubic["psnr"]).all()
    assert (table["ssim"] > bicubic["ssim"]).all()


# --- issue 11 -----------------------------------------------------------------------------
def test_upscale_refuses_0_255_input():
    model = build("9-1-5")
    for lr in (torch.full((1, 3, 8, 8), 200.0), torch.full((1, 1, 8, 8), 200.0)):
        with pytest.raises(ValueError, match="0..255 data: divide it by 255"):
            upscale(model, lr, 3)
    with pytest.raises(ValueError, match="0..255"):
        bicubic_y(torch.full((1, 1, 8, 8), 80.0), 2)


def _shipped_copy(tmp_path, scale=2):
    import shutil

    from srlib.models import WEIGHTS_DIR

    for suffix in (".pt", ".json"):
        shutil.copy(WEIGHTS_DIR / f"srcnn_9-5-5_x{scale}{suffix}",
                    tmp_path / f"w{suffix}")
    return tmp_path / "w.pt"


def test_load_pretrained_checks_the_json_against_what_was_asked(tmp_path):
    path = _shipped_copy(tmp_path, 2)                       # x2 weights, renamed
    assert load_pretrained("srcnn", 2, path=path).padding == "valid"
    with pytest.raises(ValueError, match=r"w\.json.*for scale 2, not 3"):
        load_pretrained("srcnn", 3, path=path)
    with pytest.raises(ValueError, match=r"w\.json.*SRCNN '9-5-5', not '9-1-5'"):
        load_pretrained("srcnn", 2, "9-1-5", path=path)
    # a file named for another scale, without a JSON
    named = tmp_path / "srcnn_9-5-5_x2.pt"
    path.rename(named)
    with pytest.raises(ValueError, match="file name says 9-5-5 x2, but 9-5-5 x4"):
        load_pretrained("srcnn", 4, path=named)


@pytest.mark.parametrize("field, value, match", [
    ("n1", 50_000_000, "n1=50000000 is not valid"),
    ("n1", 64.0, "n1=64.0 is not valid"),
    ("f1", 8, "odd int"),
    ("channels", 2, "1 or 3"),
    ("padding", "reflect", "padding must be one of"),
    ("evil", 1, "unknown model fields"),
])
def test_load_pretrained_validates_the_json_before_building(tmp_path, field, value, match,
                                                            monkeypatch):
    import json

    path = _shipped_copy(tmp_path, 3)
    meta = json.loads(path.with_suffix(".json").read_text())
    meta["model"][field] = value
    path.with_suffix(".json").write_text(json.dumps(meta))
    built = []
    monkeypatch.setattr("srlib.models.nn.Conv2d", lambda *a, **k: built.append(a))
    with pytest.raises(ValueError, match=rf"w\.json.*{match}"):
        load_pretrained("srcnn", 3, path=path)
    assert built == []                                      # refused before any allocation


def test_load_pretrained_names_a_file_that_is_not_weights(tmp_path):
    path = tmp_path / "w.pt"
    for blob in (b"", b"garbage", b"PK\x03\x04broken"):
        path.write_bytes(blob)
        with pytest.raises(ValueError, match=r"w\.pt: not SRCNN 9-5-5 weights"):
            load_pretrained("srcnn", 3, path=path)
    path.with_suffix(".json").write_text("{not json")
    with pytest.raises(ValueError, match=r"w\.json: not a readable JSON"):
        load_pretrained("srcnn", 3, path=path)
    path.with_suffix(".json").unlink()
    torch.save(build("9-1-5").state_dict(), path)           # 9-1-5 weights asked as 9-5-5
    with pytest.raises(ValueError, match="not SRCNN 9-5-5 weights that fit"):
        load_pretrained("srcnn", 3, path=path)


def test_load_pretrained_of_a_scale_without_shipped_weights():
    with pytest.raises(ValueError, match="scales 2, 3 and 4 only"):
        load_pretrained("srcnn", 5)


def test_the_srcnn_written_in_chapter_5_is_srlibs():
    """Chapter 5 writes SRCNN in plain PyTorch first: it must stay srlib's network."""
    import json
    from pathlib import Path

    import torch.nn as nn

    nb = Path(__file__).resolve().parents[1] / "notebooks" / "05_srcnn.ipynb"
    cells = ["".join(c["source"]) for c in json.loads(nb.read_text())["cells"]
             if c["cell_type"] == "code"]
    (source,) = [c for c in cells if "class PageSRCNN(nn.Module):" in c]
    namespace = {"torch": torch, "nn": nn, "print": lambda *a: None}
    exec(source, namespace)
    page = namespace["PageSRCNN"]()
    ours = load_pretrained("srcnn", 3)
    assert count_parameters(page) == count_parameters(ours) == 57281
    assert [(n, tuple(p.shape)) for n, p in page.named_parameters()] == [
        (n, tuple(p.shape)) for n, p in ours.named_parameters()]
    page.load_state_dict(ours.state_dict())
    x = torch.rand(2, 1, 40, 37, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(page(x), ours(x))
    assert tuple(page(x).shape) == (2, 1, 24, 21)
