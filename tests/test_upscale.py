"""srlib.upscale (chapter 8): tiles, colour, files, the command line; the registry move.

Everything runs on small images (tens of pixels) so each test takes well under a second.
The networks run with random weights written to a temporary folder, so the tests do not
depend on which weights ship in srlib/weights/; the tests of the shipped chapter-7 weights
skip, saying why, while those files are missing.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

import srlib.evaluate as ev
import srlib.upscalers as up
from srlib import cli
from srlib.io import _unfilter, read_image_info
from srlib.models import COMPACT, ESPCN, FSRCNN, SRCNN, ResidualSR, build, weights_path
from srlib.upscale import (
    _Plan,
    default_tile,
    find_inputs,
    main,
    output_path,
    tiles,
    upscale_image,
    write_png,
)

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]


def _rgb(h=23, w=29, seed=0) -> np.ndarray:
    """A smooth colour image with an edge (so networks and kernels have work to do)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    a = np.stack([xx * 255 / w, yy * 255 / h, (xx > w // 2) * 200.0], -1)
    return np.clip(a + rng.normal(0, 20, a.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory) -> dict:
    """``(name, scale) -> path`` of random weights for every network, as srlib.train saves."""
    folder = tmp_path_factory.mktemp("weights")
    paths = {}
    torch.manual_seed(0)
    for name in up.NETWORKS:
        for scale in (2, 3):
            net = build("9-5-5") if name == "srcnn" else COMPACT[name](scale)
            for p in net.parameters():
                if p.ndim > 1:
                    torch.nn.init.normal_(p, std=0.05)
            meta = dict(name=name, model=net.config, scale=scale)
            if name == "srcnn":
                meta["config"] = "9-5-5"
            path = folder / f"{name}_random_x{scale}.pt"
            torch.save(net.state_dict(), path)
            path.with_suffix(".json").write_text(json.dumps(meta))
            paths[name, scale] = path
    return paths


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.run(main, argv)
    out = capsys.readouterr()
    return code, out.out, out.err


# ------------------------------------------------------------------- the registry move
def test_evaluate_re_exports_the_registry():
    from srlib.evaluate import INTERPOLATORS, METHODS, NETWORKS, bicubic, espcn, ibp, srcnn

    assert METHODS is up.METHODS and NETWORKS is up.NETWORKS
    assert INTERPOLATORS is up.INTERPOLATORS
    assert bicubic is up.bicubic and srcnn is up.srcnn and ibp is up.ibp
    assert espcn is up.espcn and ev.resolve_method("lanczos")[1] is up.lanczos
    assert set(up.METHODS) == set(up.INTERPOLATORS) | set(up.NETWORKS) | set(up.EXAMPLE_BASED)


@pytest.mark.parametrize("module", ["srlib.upscalers", "srlib.upscale", "srlib.evaluate"])
def test_no_import_cycle_and_upscale_does_not_import_the_protocol(module):
    code = (f"import sys, {module}; "
            "print(sorted(m for m in sys.modules if m.startswith('srlib')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    if module != "srlib.evaluate":
        assert "srlib.evaluate" not in proc.stdout
        assert "srlib.metrics" not in proc.stdout and "srlib.data" not in proc.stdout


# ---------------------------------------------------------------- receptive fields
def test_receptive_fields_from_the_layers():
    assert up.receptive_field(SRCNN()) == (17, "hr")          # 9 + 5 + 5 - 2
    assert up.receptive_field(SRCNN(f2=1)) == (13, "hr")
    assert up.receptive_field(ESPCN(3)) == (9, "lr")          # 5 + 3 + 3 - 2
    # FSRCNN(56, 12, 4): 5x5, four 3x3, and the 9x9 deconvolution (2 * ceil(4 / s))
    assert up.receptive_field(FSRCNN(2)) == (1 + 4 + 8 + 4, "lr")
    assert up.receptive_field(FSRCNN(4)) == (1 + 4 + 8 + 2, "lr")
    # head, 8 blocks of two 3x3, body end, the sub-pixel conv: 11 convolutions of 3x3
    assert up.receptive_field(ResidualSR(2)) == (1 + 2 * 19, "lr")
    net = ESPCN(2)
    net.receptive_field = 31                                  # an explicit attribute wins
    assert up.receptive_field(net) == (31, "lr")


def test_halo_covers_kernel_and_network():
    assert up.halo("srcnn", 2) == 4 + 2 + 1 and up.halo("srcnn", 4) == 2 + 2 + 1
    assert up.halo("bicubic", 3) == 3 and up.halo("lanczos", 2) == 4
    assert up.halo("espcn", 2) == 4 + 3


def test_tiles_cover_the_image_once():
    parts = tiles(50, 31, 16, 5)
    seen = np.zeros((50, 31), int)
    for (y0, y1, x0, x1), (a0, a1, b0, b1) in parts:
        seen[y0:y1, x0:x1] += 1
        assert (a0, a1) == (max(0, y0 - 5), min(50, y1 + 5))
        assert (b0, b1) == (max(0, x0 - 5), min(31, x1 + 5))
        assert y1 - y0 <= 16 and x1 - x0 <= 16
    assert (seen == 1).all()
    assert tiles(10, 10, None, 3) == [((0, 10, 0, 10), (0, 10, 0, 10))]
    assert default_tile(100, 100, 2) is None and default_tile(3000, 2000, 2) == 512


# ---------------------------------------------------------------- tiled == untiled
@pytest.mark.parametrize("method", list(up.METHODS))
@pytest.mark.parametrize("scale", [2, 3])
def test_tiled_equals_untiled_for_every_registered_method(method, scale, random_weights):
    weights = random_weights[method, scale] if method in up.NETWORKS else None
    plan = _Plan(method, scale, weights)
    image = Image.fromarray(_rgb(37, 45))
    whole = np.asarray(upscale_image(image, scale, plan, tile=None)).astype(int)
    for tile in (8, 13):
        tiled = np.asarray(upscale_image(image, scale, plan, tile=tile)).astype(int)
        assert tiled.shape == whole.shape == (37 * scale, 45 * scale, 3)
        assert np.abs(tiled - whole).max() <= 1, (method, scale, tile)


def test_a_smaller_margin_would_break_the_tiles(random_weights):
    # the margin matters: without it the tile borders show (here with a real kernel)
    plan = _Plan("lanczos", 2)
    image = Image.fromarray(_rgb(30, 30))
    whole = np.asarray(upscale_image(image, 2, plan, tile=None)).astype(int)
    tiled = np.asarray(upscale_image(image, 2, plan, tile=8, margin=0)).astype(int)
    assert np.abs(tiled - whole).max() > 1
    assert plan.halo == 4                              # the plan itself is unchanged


def test_tiled_equals_untiled_with_gray_and_alpha(random_weights):
    plan = _Plan("srcnn", 2, random_weights["srcnn", 2])
    la = Image.fromarray(np.stack([_rgb()[..., 0], _rgb(seed=1)[..., 1]], -1), "LA")
    whole = np.asarray(upscale_image(la, 2, plan, tile=None)).astype(int)
    tiled = np.asarray(upscale_image(la, 2, plan, tile=7)).astype(int)
    assert np.abs(tiled - whole).max() <= 1


# ------------------------------------------------------------------------- colour
def test_networks_run_on_y_and_match_srlib_models_upscale():
    # the shipped SRCNN x2 weights: the same pipeline as srlib.models.upscale (Y, then
    # Cb/Cr bicubic), whose output chapter 5 scores
    from srlib.models import load_pretrained, upscale

    x = torch.from_numpy(_rgb()).permute(2, 0, 1).float() / 255
    ours = upscale_image(x, 2, "srcnn", tile=None)
    ref = upscale(load_pretrained("srcnn", 2), x[None], 2)[0]
    assert (ours - ref).abs().max() < 1e-5
    gray = x[:1]
    ref_gray = upscale(load_pretrained("srcnn", 2), gray[None], 2)[0]
    assert (upscale_image(gray, 2, "srcnn", tile=None) - ref_gray).abs().max() < 1e-5


def test_gray_stays_one_channel_and_alpha_is_kept():
    gray = Image.fromarray(_rgb()[..., 0])
    assert upscale_image(gray, 2, "bicubic").mode == "L"
    rgba = np.dstack([_rgb(), np.full(_rgb().shape[:2], 128, np.uint8)])
    rgba[:5, :5, 3] = 0
    out = upscale_image(Image.fromarray(rgba, "RGBA"), 2, "bicubic")
    assert out.mode == "RGBA" and out.size == (58, 46)
    alpha = np.asarray(out)[..., 3]
    assert alpha[0, 0] == 0 and alpha[-1, -1] == 128
    # the colour is upscaled as without alpha
    rgb = np.asarray(upscale_image(Image.fromarray(rgba[..., :3]), 2, "bicubic"))
    assert (np.asarray(out)[..., :3] == rgb).all()


def test_tensors_come_back_as_given():
    x = torch.from_numpy(_rgb()).permute(2, 0, 1).contiguous()
    out = upscale_image(x, 3, "bicubic")
    assert out.dtype == torch.uint8 and out.shape == (3, 69, 87)
    f = upscale_image(x[None].float() / 255, 3, "bicubic")
    assert f.dtype == torch.float32 and f.shape == (1, 3, 69, 87)
    assert (f[0] * 255 - out.float()).abs().max() <= 0.5 + 1e-4
    with pytest.raises(ValueError, match="tensor image"):
        upscale_image(torch.rand(5, 8, 8), 2, "bicubic")


def test_palette_and_cmyk_are_converted_and_logged(tmp_path):
    notes = []
    p = Image.fromarray(_rgb()).convert("P")
    assert upscale_image(p, 2, "bicubic", log=notes.append).mode == "RGB"
    Image.fromarray(_rgb()).convert("CMYK").save(tmp_path / "c.jpg")
    out = upscale_image(tmp_path / "c.jpg", 2, "bicubic", log=notes.append)
    assert Image.open(out).mode == "RGB"
    assert any("P image converted" in n for n in notes)
    assert any("CMYK" in n and "c.jpg" in n for n in notes)


# -------------------------------------------------------------------------- files
def test_16_bit_gray_png_round_trip(tmp_path):
    a = (np.arange(20 * 30).reshape(20, 30) * 97 % 65536).astype(np.uint16)
    Image.fromarray(a).save(tmp_path / "g16.png")
    out = upscale_image(tmp_path / "g16.png", 2, "nearest")
    back = Image.open(out)
    assert back.mode.startswith("I")                     # 16-bit gray, not clipped
    b = np.asarray(back).astype(np.uint16)
    assert (b[::2, ::2] == a).all() and b.max() > 255


@pytest.mark.parametrize("channels", [2, 3, 4])
def test_16_bit_colour_png_round_trip(tmp_path, channels):
    rng = np.random.default_rng(channels)
    a = rng.integers(0, 65536, (9, 11, channels), dtype=np.uint16)
    write_png(tmp_path / "c16.png", a)
    x, info = read_image_info(tmp_path / "c16.png")
    assert info["bits"] == 16 and x.shape == (channels, 9, 11)
    assert (np.rint(x.permute(1, 2, 0).double().numpy() * 65535) == a).all()
    out = upscale_image(tmp_path / "c16.png", 2, "nearest")
    y, info2 = read_image_info(out)
    assert info2["bits"] == 16
    colour = channels - (channels in (2, 4))          # alpha is upscaled with bicubic
    assert torch.equal(y[:colour, ::2, ::2], x[:colour])


def _filtered_png16(path: Path, a: np.ndarray) -> None:
    """A 16-bit PNG whose rows use every filter type in turn (None, Sub, Up, Avg, Paeth)."""
    import zlib

    from srlib.upscale import _chunk

    h, w, c = a.shape
    raw = a.astype(">u2").reshape(h, -1).view(np.uint8).astype(np.int64)
    bpp, rows = 2 * c, []
    for r in range(h):
        x = raw[r]
        left = np.concatenate([np.zeros(bpp, np.int64), x[:-bpp]])
        up = raw[r - 1] if r else np.zeros_like(x)
        ul = np.concatenate([np.zeros(bpp, np.int64), up[:-bpp]])
        kind = r % 5
        if kind == 4:
            p = left + up - ul
            pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - ul)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, ul))
        else:
            pred = [np.zeros_like(x), left, up, (left + up) // 2][kind]
        rows.append(bytes([kind]) + ((x - pred) & 255).astype(np.uint8).tobytes())
    colour = {2: 4, 3: 2, 4: 6}[c]
    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([16, colour, 0, 0, 0])
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)
                     + _chunk(b"IDAT", zlib.compress(b"".join(rows))) + _chunk(b"IEND", b""))


@pytest.mark.parametrize("channels", [2, 3, 4])
def test_16_bit_png_with_every_row_filter(tmp_path, channels):
    from srlib.io import _decode_png16, _read_png16

    a = np.random.default_rng(7).integers(0, 65536, (11, 6, channels), dtype=np.uint16)
    _filtered_png16(tmp_path / "f.png", a)
    assert (_read_png16(tmp_path / "f.png") == a).all()      # Pillow, high and low bytes
    assert (_decode_png16(tmp_path / "f.png") == a).all()    # numpy
    x, info = read_image_info(tmp_path / "f.png")
    assert info["bits"] == 16
    assert (np.rint(x.permute(1, 2, 0).double().numpy() * 65535) == a).all()


def test_16_bit_rgb_tiff(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    a = np.random.default_rng(0).integers(0, 65536, (8, 10, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "c16.tif", a, photometric="rgb")
    x, info = read_image_info(tmp_path / "c16.tif")
    assert info["bits"] == 16
    assert (np.rint(x.permute(1, 2, 0).double().numpy() * 65535) == a).all()
    out = upscale_image(tmp_path / "c16.tif", 2, "nearest")
    assert read_image_info(out)[1]["bits"] == 16


def test_png_unfilter_agrees_with_pillow():
    # Pillow's 8-bit PNG uses adaptive filters (Sub, Up, Average, Paeth): undo them by hand
    buf = io.BytesIO()
    a = _rgb(17, 19)
    Image.fromarray(a).save(buf, "PNG")
    data = buf.getvalue()
    import zlib

    pos, idat = 8, b""
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 4], "big")
        if data[pos + 4:pos + 8] == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    raw = zlib.decompress(idat)
    kinds = {raw[r * (19 * 3 + 1)] for r in range(17)}
    flat = _unfilter(raw, 17, 19 * 3, 3)
    assert (flat.reshape(17, 19, 3) == a).all()
    assert len(kinds) >= 1


def test_exif_orientation_icc_and_dpi(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    im = Image.fromarray(_rgb(10, 20))                      # 20 wide, 10 high
    exif = im.getexif()
    exif[0x0112] = 6                                        # shown rotated by 90 degrees
    im.save(tmp_path / "o.png", exif=exif, icc_profile=icc, dpi=(72, 72))
    notes = []
    out = Image.open(upscale_image(tmp_path / "o.png", 2, "bicubic", log=notes.append))
    assert out.size == (20, 40)                             # upright: 10 wide, 20 high, x2
    assert out.info["icc_profile"] == icc
    assert out.info["dpi"] == pytest.approx((144, 144), abs=0.05)
    assert any("orientation 6" in n for n in notes)
    # a PIL image carries them in .info
    pil = upscale_image(Image.open(tmp_path / "o.png"), 2, "bicubic")
    assert pil.size == (20, 40) and pil.info["icc_profile"] == icc


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF", "BMP", "WEBP"])
def test_formats(tmp_path, fmt):
    path = tmp_path / f"a.{fmt.lower()}"
    Image.fromarray(_rgb()).save(path, fmt)
    out = upscale_image(path, 2, "bicubic", out_dir=tmp_path / "o")
    assert out == tmp_path / "o" / "a_x2_bicubic.png"
    assert Image.open(out).size == (58, 46)


# ------------------------------------------------------------------------ the CLI
@pytest.fixture()
def folder(tmp_path) -> Path:
    Image.fromarray(_rgb()).save(tmp_path / "a.png")
    Image.fromarray(_rgb(seed=2)).save(tmp_path / "b.jpg")
    (tmp_path / "notes.png").write_text("not an image")
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])     # truncated
    return tmp_path


def test_cli_one_file(folder, capsys):
    code, out, err = _run([str(folder / "a.png"), "--scale", "2", "--model", "bicubic",
                           "--quiet"], capsys)
    assert code == 0 and err == ""
    assert Image.open(folder / "a_x2_bicubic.png").size == (58, 46)


@pytest.mark.parametrize("name, what", [("notes.png", "not an image"),
                                        ("cut.png", "truncated")])
def test_cli_bad_file_is_one_line_naming_it(folder, capsys, name, what):
    code, out, err = _run([str(folder / name), "--scale", "2", "--model", "bicubic"], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error:") and name in err and what in err
    assert "Traceback" not in err
    assert not list(folder.glob("*_x2_*"))


def test_cli_unknown_model_lists_the_choices(folder, capsys):
    with pytest.raises(SystemExit) as exc:
        main([str(folder / "a.png"), "--scale", "2", "--model", "edsr"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1
    assert "edsr" in err and all(m in err for m in up.METHODS)


def test_cli_scale_without_weights(folder, capsys):
    code, out, err = _run([str(folder / "a.png"), "--scale", "5", "--model", "srcnn"], capsys)
    assert code == 2 and err.count("\n") == 1 and "scales 2, 3 and 4" in err


def test_cli_network_without_weights_file(folder, capsys, tmp_path):
    code, out, err = _run([str(folder / "a.png"), "--scale", "2", "--model", "espcn",
                           "--weights", str(tmp_path / "none.pt")], capsys)
    assert code == 2 and err.count("\n") == 1 and "none.pt" in err


def test_cli_as_a_process_has_no_traceback(folder):
    proc = subprocess.run([sys.executable, "-m", "srlib.upscale", str(folder / "notes.png"),
                           "--scale", "2"], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "notes.png" in proc.stderr


def test_cli_refuses_an_existing_output_without_overwrite(folder, capsys):
    argv = [str(folder / "a.png"), "--scale", "2", "--model", "bicubic", "--quiet"]
    assert _run(argv, capsys)[0] == 0
    dst = folder / "a_x2_bicubic.png"
    dst.write_bytes(b"mine")
    code, out, err = _run(argv, capsys)
    assert code == 2 and "exists" in err and "--overwrite" in err
    assert dst.read_bytes() == b"mine"
    assert _run(argv + ["--overwrite"], capsys)[0] == 0
    assert Image.open(dst).size == (58, 46)


def test_cli_never_overwrites_an_input(folder, capsys):
    victim = folder / "a_x2_bicubic.png"            # an input with an output's name
    Image.fromarray(_rgb(seed=5)).save(victim)
    before = victim.read_bytes()
    code, out, err = _run([str(folder / "a.png"), str(victim), "--scale", "2", "--model",
                           "bicubic", "--overwrite", "--quiet"], capsys)
    assert code == 1 and "is an input" in err
    assert victim.read_bytes() == before


def test_cli_writes_atomically(folder, capsys, monkeypatch):
    import srlib.upscale as us

    def dies_halfway(path, array, **kw):
        Path(path).write_bytes(b"\x89PNG half")
        raise KeyboardInterrupt

    monkeypatch.setattr(us, "write_png", dies_halfway)
    code, out, err = _run([str(folder / "a.png"), "--scale", "2", "--model", "bicubic",
                           "--out", str(folder / "o"), "--quiet"], capsys)
    assert code == 130
    assert list((folder / "o").iterdir()) == []      # neither the PNG nor a temporary file


def test_cli_folder_with_bad_files(folder, capsys):
    code, out, err = _run([str(folder), "--scale", "2", "--model", "bicubic", "--out",
                           str(folder / "o")], capsys)
    assert code == 1
    assert sorted(p.name for p in (folder / "o").iterdir()) == ["a_x2_bicubic.png",
                                                                "b_x2_bicubic.png"]
    summary = err[err.index("2 of 4 images failed"):]
    assert "cut.png" in summary and "notes.png" in summary and "Traceback" not in err
    assert "a.png ->" in out and "b.jpg ->" in out


def test_folder_listing_skips_earlier_outputs(folder):
    Image.fromarray(_rgb()).save(folder / "a_x2_srcnn.png")
    names = [p.name for p in find_inputs([folder])]
    assert "a_x2_srcnn.png" not in names and "a.png" in names
    assert output_path(folder / "a.png", 3, "espcn").name == "a_x3_espcn.png"


def test_help_documents_every_option_with_its_default(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--scale", "--model", "--out", "--tile", "--device", "--weights",
                   "--overwrite", "--quiet", "--debug"):
        part = text[text.index(option + " ", text.index("options:")):]
        nxt = min((part.find(" --", 3) % 10**6, 10**6))
        assert "default" in part[:nxt] or "required" in part[:nxt], option


def test_tqdm_bar_over_tiles_goes_to_the_given_stream():
    stream = io.StringIO()
    upscale_image(Image.fromarray(_rgb(40, 40)), 2, "bicubic", tile=16, progress=stream)
    assert "tile" in stream.getvalue()


# -------------------------------------------------------- the shipped chapter-7 weights
@pytest.mark.parametrize("name", ["fsrcnn", "espcn", "residual"])
def test_shipped_weights_upscale_tiled(name):
    if not weights_path(name, 2).is_file():
        pytest.skip(f"srlib/weights/{name}_x2.pt is not shipped yet (chapter 7 trains it)")
    image = Image.fromarray(_rgb(40, 44))
    whole = np.asarray(upscale_image(image, 2, name, tile=None)).astype(int)
    tiled = np.asarray(upscale_image(image, 2, name, tile=16)).astype(int)
    assert np.abs(whole - tiled).max() <= 1
