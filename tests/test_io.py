"""Tests of srlib.io.read_image on real files of every kind, made here with Pillow/numpy."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from srlib.io import ImageReadError, image_bits, read_image


def _ramp16(h=4, w=5) -> np.ndarray:
    return (np.arange(h * w, dtype=np.uint32).reshape(h, w) * 3001 % 65536).astype(np.uint16)


def test_16bit_gray_png_keeps_its_content(tmp_path):
    a = _ramp16()
    path = tmp_path / "g16.png"
    Image.fromarray(a).save(path)
    assert Image.open(path).mode == "I;16"
    # Pillow's convert("RGB") would make this all white (255): the old load_hr's bug
    u8 = read_image(path)
    assert u8.shape == (3, 4, 5) and u8.dtype == torch.uint8
    expected = np.floor(a.astype(np.float64) * 255 / 65535 + 0.5).astype(np.uint8)
    assert np.array_equal(u8[0].numpy(), expected) and torch.equal(u8[0], u8[2])
    f = read_image(path, mode="L", dtype=torch.float64)
    assert f.shape == (1, 4, 5)
    np.testing.assert_array_equal(f[0].numpy(), a / 65535)  # full 16-bit precision
    assert image_bits(path) == 16


def test_16bit_big_endian_tiff_and_mode_i(tmp_path):
    a = _ramp16()
    Image.fromarray(a).save(tmp_path / "g16.tif")
    np.testing.assert_array_equal(
        read_image(tmp_path / "g16.tif", mode="keep", dtype=torch.float64)[0].numpy(), a / 65535)
    im = Image.frombytes("I;16B", (5, 4), a.astype(">u2").tobytes())
    assert np.array_equal(np.asarray(im), a)
    i32 = Image.fromarray(a.astype(np.int32))  # mode "I", as some decoders give 16-bit files
    i32.save(tmp_path / "i.tif")
    assert Image.open(tmp_path / "i.tif").mode == "I"
    np.testing.assert_array_equal(
        read_image(tmp_path / "i.tif", mode="L", dtype=torch.float64)[0].numpy(), a / 65535)
    Image.fromarray(np.array([[0, 70000]], dtype=np.int32)).save(tmp_path / "big.tif")
    with pytest.raises(ImageReadError, match=r"big\.tif.*32-bit integer"):
        read_image(tmp_path / "big.tif")


def test_8bit_modes(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    x = read_image(tmp_path / "rgb.png")
    assert np.array_equal(x.permute(1, 2, 0).numpy(), rgb)
    f = read_image(tmp_path / "rgb.png", dtype=torch.float32)
    torch.testing.assert_close(f, x.float() / 255)
    gray = read_image(tmp_path / "rgb.png", mode="L")
    assert np.array_equal(gray[0].numpy(), np.asarray(Image.fromarray(rgb).convert("L")))
    # RGBA: alpha dropped for "RGB", kept for "keep"
    rgba = np.dstack([rgb, np.full((6, 7), 128, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    assert torch.equal(read_image(tmp_path / "rgba.png"), x)
    assert read_image(tmp_path / "rgba.png", mode="keep").shape == (4, 6, 7)
    # LA, 1-bit
    Image.fromarray(rgba[..., [0, 3]], mode="LA").save(tmp_path / "la.png")
    assert read_image(tmp_path / "la.png", mode="keep").shape == (2, 6, 7)
    assert torch.equal(read_image(tmp_path / "la.png", mode="L")[0], torch.from_numpy(rgb[..., 0]))
    Image.fromarray(rgb[..., 0] > 127).save(tmp_path / "bw.png")
    assert Image.open(tmp_path / "bw.png").mode == "1"
    bw = read_image(tmp_path / "bw.png", mode="keep")
    assert bw.shape == (1, 6, 7) and set(bw.unique().tolist()) <= {0, 255}


def test_palette_with_and_without_transparency(tmp_path):
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[:2] = (200, 10, 30)
    rgb[2:] = (5, 90, 250)
    pal = Image.fromarray(rgb).quantize(colors=4)
    pal.save(tmp_path / "p.png")
    assert Image.open(tmp_path / "p.png").mode == "P"
    assert np.array_equal(read_image(tmp_path / "p.png").permute(1, 2, 0).numpy(), rgb)
    pal.save(tmp_path / "pt.png", transparency=0)
    keep = read_image(tmp_path / "pt.png", mode="keep")
    assert keep.shape == (4, 4, 4) and keep[3].min() == 0 and keep[3].max() == 255
    assert np.array_equal(read_image(tmp_path / "pt.png").permute(1, 2, 0).numpy(), rgb)


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_cmyk(tmp_path, fmt):
    path = tmp_path / f"c.{fmt.lower()}"
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(path, format=fmt)  # pure red
    x = read_image(path)
    assert x.shape == (3, 8, 8)
    r, g, b = (x[c].float().mean().item() for c in range(3))
    assert r > 240 and g < 15 and b < 15


def test_exif_orientation_is_applied(tmp_path):
    im = Image.new("RGB", (6, 2), (0, 0, 0))
    im.putpixel((0, 0), (255, 255, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    im.save(tmp_path / "rot.jpg", exif=exif, quality=100)
    x = read_image(tmp_path / "rot.jpg")
    assert x.shape == (3, 6, 2)  # upright: 2 wide, 6 high
    assert x[:, 0, 1].min() > 200  # the white corner is now at the top right


def test_16bit_rgb_png_warns_for_floats(tmp_path):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))

    arr = np.full((2, 3, 3), 0x1280, np.uint16)
    raw = b"".join(b"\0" + row.astype(">u2").tobytes() for row in arr)
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 3, 2, 16, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    (tmp_path / "rgb16.png").write_bytes(png)
    assert read_image(tmp_path / "rgb16.png").shape == (3, 2, 3)
    with pytest.warns(UserWarning, match="16-bit RGB PNG.*8 bits"):
        read_image(tmp_path / "rgb16.png", dtype=torch.float32)


def _png(tmp_path, name="a.png", size=(64, 48)) -> bytes:
    rng = np.random.default_rng(1)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (*size[::-1], 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("case, match", [
    ("missing", "no such file"),
    ("folder", "is a folder"),
    ("text", "not an image file"),
    ("empty", "not an image file"),
    ("truncated", "damaged or truncated"),
    ("bad-crc", "damaged or truncated"),
])
def test_every_failure_names_the_file(tmp_path, case, match):
    path = tmp_path / "x.png"
    blob = _png(tmp_path)
    if case == "folder":
        path.mkdir()
    elif case == "text":
        path.write_text("hello, I am not a PNG\n")
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "truncated":
        path.write_bytes(blob[: len(blob) // 2])
    elif case == "bad-crc":
        i = blob.index(b"IDAT") + 40
        path.write_bytes(blob[:i] + bytes([blob[i] ^ 0xFF]) + blob[i + 1:])
    with pytest.raises(ImageReadError, match=f"{path}.*{match}") as err:
        read_image(path)
    assert isinstance(err.value, ValueError)


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    path = tmp_path / "big.png"
    Image.new("L", (1000, 1000)).save(path)
    with pytest.raises(ImageReadError, match=r"big\.png.*1000x1000.*limit"):
        read_image(path, max_pixels=999_999)
    assert read_image(path, max_pixels=10**6, mode="L").shape == (1, 1000, 1000)


def test_bad_arguments(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(_png(tmp_path))
    with pytest.raises(ValueError, match="mode must be one of"):
        read_image(path, mode="RGBA")
    with pytest.raises(ValueError, match="dtype"):
        read_image(path, dtype=torch.int16)
    assert image_bits(path) == 8


def test_write_atomic_replaces_whole_or_not_at_all(tmp_path):
    from srlib.io import write_atomic

    target = tmp_path / "weights.pt"
    target.write_text("old")
    seen = []

    def fails(tmp):
        seen.append(tmp)
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, fails)
    assert target.read_text() == "old"                     # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["weights.pt"]   # no temporary left
    assert seen[0].parent == tmp_path and seen[0].suffix == ".pt"   # beside it, same suffix
    write_atomic(target, lambda tmp: tmp.write_text("new"))
    assert target.read_text() == "new" and len(list(tmp_path.iterdir())) == 1
