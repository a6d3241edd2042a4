"""Tests of srlib.data against the real hub cache (offline), plus hand-made bad archives."""

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import huggingface_hub.constants
import numpy as np
import pytest
import torch
from PIL import Image

from srlib import data
from srlib.data import (
    CorruptArchiveError,
    DataNotAvailableError,
    UnsafeArchiveError,
    extract_archive,
    load_benchmark,
)

COUNTS = {"Set5": 5, "Set14": 14, "BSD100": 100}


@pytest.fixture(scope="module")
def set5_x4():
    return load_benchmark("Set5", 4)


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("name", ["Set5", "Set14", "BSD100"])
def test_load_benchmark_pairs_every_image(name, scale):
    ds = load_benchmark(name, scale)
    assert len(ds) == COUNTS[name]
    assert ds.column_names == ["name", "hr", "lr", "grayscale"]
    assert ds["name"] == sorted(ds["name"])
    for row in ds:
        hr, lr = row["hr"], row["lr"]
        assert hr.mode == lr.mode == "RGB"
        assert hr.size == (lr.width * scale, lr.height * scale), row["name"]


def test_set5_names_and_sizes(set5_x4):
    assert set5_x4["name"] == ["baby", "bird", "butterfly", "head", "woman"]
    sizes = {r["name"]: r["hr"].size for r in set5_x4}
    assert sizes == {"baby": (512, 512), "bird": (288, 288), "butterfly": (256, 256),
                     "head": (280, 280), "woman": (228, 344)}


def test_hr_is_top_left_crop_of_original():
    ds = load_benchmark("Set14", 3)
    hr_folder, _ = data.benchmark_folders("Set14", 3)
    row = ds[ds["name"].index("baboon")]
    original = np.asarray(Image.open(hr_folder / "baboon.png").convert("RGB"))
    cropped = np.asarray(row["hr"])
    assert original.shape[:2] == (480, 500)  # not a multiple of 3: it must be cropped
    assert cropped.shape[:2] == (480, 498)
    np.testing.assert_array_equal(cropped, original[:480, :498])


def test_grayscale_is_flagged_and_decoded_as_equal_channels():
    ds = load_benchmark("Set14", 4)
    flagged = [r["name"] for r in ds if r["grayscale"]]
    assert flagged == ["bridge"]
    index = list(ds["name"]).index("bridge")
    ds.set_format("torch", columns=["hr", "lr"])
    row = ds[index]
    for key in ("hr", "lr"):
        img = row[key]
        assert torch.equal(img[0], img[1]) and torch.equal(img[1], img[2])


def test_torch_format_gives_uint8_channels_first(set5_x4):
    ds = set5_x4.with_format("torch", columns=["hr", "lr"])
    row = ds[0]
    assert set(row) == {"hr", "lr"}
    assert row["hr"].dtype == torch.uint8
    assert row["hr"].shape == (3, 512, 512) and row["lr"].shape == (3, 128, 128)
    assert ds.format["type"] == "torch"


@pytest.mark.parametrize("name, scale, match", [
    ("Set6", 4, "choose one of Set5, Set14, BSD100"),
    ("set5", 4, "unknown dataset 'set5'"),
    ("Set5", 8, "choose one of 2, 3, 4"),
    ("Set5", True, "unsupported scale"),
])
def test_bad_name_or_scale(name, scale, match):
    with pytest.raises(ValueError, match=match):
        load_benchmark(name, scale)


def test_offline_without_cache_names_repo_and_file(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("SRLIB_CACHE", str(tmp_path / "srlib"))
    with pytest.raises(DataNotAvailableError, match=r"data/Set5_HR\.tar\.gz.*eugenesiow/Set5"):
        load_benchmark("Set5", 2)
    assert not (tmp_path / "srlib").exists() or not any((tmp_path / "srlib").rglob("*.png"))


# --- hand-made archives -------------------------------------------------------------------

def _tar_gz(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, payload in members:
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return path


def _file(name: str, payload: bytes = b"x" * 64) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    return info, payload


def _png_bytes(size=(8, 6), color=(10, 20, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def _no_leftovers(folder: Path) -> list[Path]:
    return list(folder.iterdir()) if folder.exists() else []


def test_extract_good_archive_once(tmp_path):
    archive = _tar_gz(tmp_path / "ok.tar.gz", [_file("Toy_HR/a.png", _png_bytes())])
    target = tmp_path / "cache" / "Toy_HR"
    assert extract_archive(archive, target) == target
    assert [p.name for p in target.iterdir()] == ["a.png"]
    archive.unlink()  # a second call must not need the archive again
    assert extract_archive(archive, target) == target
    assert _no_leftovers(tmp_path / "cache") == [target]


def test_truncated_archive_leaves_nothing(tmp_path):
    payload = np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8).tobytes()
    archive = _tar_gz(tmp_path / "full.tar.gz",
                      [_file("Toy_HR/a.png", payload), _file("Toy_HR/b.png", payload)])
    blob = archive.read_bytes()
    archive.write_bytes(blob[: len(blob) * 2 // 3])
    cache = tmp_path / "cache"
    with pytest.raises(CorruptArchiveError, match="corrupt or truncated"):
        extract_archive(archive, cache / "Toy_HR")
    assert _no_leftovers(cache) == []


def test_garbage_archive_is_reported(tmp_path):
    archive = tmp_path / "junk.tar.gz"
    archive.write_bytes(b"<html>rate limited</html>")
    with pytest.raises(CorruptArchiveError, match="junk.tar.gz"):
        extract_archive(archive, tmp_path / "cache" / "Toy_HR")
    assert _no_leftovers(tmp_path / "cache") == []


def _symlink(name, target):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info, None


def _hardlink(name, target):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.LNKTYPE, target
    return info, None


@pytest.mark.parametrize("bad", [
    lambda d: _file(str(d / "escaped.png")),                   # absolute path
    lambda d: _file("Toy_HR/../../escaped.png"),               # climbs out with ..
    lambda d: _file("../escaped.png"),
    lambda d: _symlink("Toy_HR/link.png", str(d / "escaped.png")),
    lambda d: _hardlink("Toy_HR/hard.png", "/etc/passwd"),
], ids=["absolute", "dotdot-inside", "dotdot", "symlink", "hardlink"])
def test_unsafe_members_are_refused(tmp_path, bad):
    outside = tmp_path / "outside"
    outside.mkdir()
    # the good member comes first: nothing at all may be written, not even it
    archive = _tar_gz(tmp_path / "evil.tar.gz",
                      [_file("Toy_HR/a.png", _png_bytes()), bad(outside)])
    cache = tmp_path / "deep" / "cache"
    with pytest.raises(UnsafeArchiveError, match="refusing|nothing was extracted"):
        extract_archive(archive, cache / "Toy_HR")
    assert _no_leftovers(outside) == []
    assert _no_leftovers(cache) == []
    assert not (tmp_path / "deep" / "escaped.png").exists()


def test_archive_without_expected_folder(tmp_path):
    archive = _tar_gz(tmp_path / "other.tar.gz", [_file("Other_HR/a.png", _png_bytes())])
    with pytest.raises(CorruptArchiveError, match="does not contain the folder Toy_HR"):
        extract_archive(archive, tmp_path / "cache" / "Toy_HR")
    assert _no_leftovers(tmp_path / "cache") == []


def _fake_hub(tmp_path: Path, name: str, files: dict[str, bytes]) -> Path:
    """A hub cache in the standard layout holding the given files of eugenesiow/<name>."""
    hub = tmp_path / "hub"
    repo = hub / f"datasets--eugenesiow--{name}"
    rev = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(rev)
    snap = repo / "snapshots" / rev / "data"
    snap.mkdir(parents=True)
    for filename, blob in files.items():
        (snap / filename).write_bytes(blob)
    return hub


@pytest.fixture
def use_hub(tmp_path, monkeypatch):
    """Point the hub client (offline) and srlib's cache at a fake hub holding given files."""

    def use(files: dict[str, bytes]) -> None:
        hub = _fake_hub(tmp_path, "Set5", files)
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
        monkeypatch.setenv("SRLIB_CACHE", str(tmp_path / "srlib"))

    return use


def _real_archive(name: str) -> bytes:
    return data.fetch_archive(*name.split(":")).read_bytes()


def test_corrupt_download_in_hub_cache(tmp_path, use_hub):
    hr = _real_archive("Set5:Set5_HR")
    lr = _real_archive("Set5:Set5_LR_x2")
    use_hub({"Set5_HR.tar.gz": hr[: len(hr) // 2], "Set5_LR_x2.tar.gz": lr})
    with pytest.raises(CorruptArchiveError, match="Set5_HR.tar.gz.*--force-download"):
        load_benchmark("Set5", 2)
    leftovers = [p for p in (tmp_path / "srlib").rglob("*") if "HR" in p.name]
    assert leftovers == []


def test_hr_and_lr_archives_that_do_not_pair(tmp_path, use_hub):
    hr = _tar_gz(tmp_path / "hr.tar.gz", [_file("Set5_HR/a.png", _png_bytes((8, 8))),
                                          _file("Set5_HR/b.png", _png_bytes((8, 8)))])
    lr = _tar_gz(tmp_path / "lr.tar.gz", [_file("Set5_LR_x2/a.png", _png_bytes((3, 4)))])
    use_hub({"Set5_HR.tar.gz": hr.read_bytes(), "Set5_LR_x2.tar.gz": lr.read_bytes()})
    with pytest.raises(ValueError, match=r"only HR: \['b'\]"):
        load_benchmark("Set5", 2)


def test_sizes_that_do_not_pair(tmp_path, use_hub):
    hr = _tar_gz(tmp_path / "hr.tar.gz", [_file("Set5_HR/a.png", _png_bytes((8, 8)))])
    lr = _tar_gz(tmp_path / "lr.tar.gz", [_file("Set5_LR_x2/a.png", _png_bytes((3, 4)))])
    use_hub({"Set5_HR.tar.gz": hr.read_bytes(), "Set5_LR_x2.tar.gz": lr.read_bytes()})
    with pytest.raises(ValueError, match=r"does not pair with LR \(3, 4\)"):
        load_benchmark("Set5", 2)


def test_cache_dir_follows_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SRLIB_CACHE", str(tmp_path / "mine"))
    assert data.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("SRLIB_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.cache_dir() == tmp_path / "xdg" / "srlib"


def test_tensor_round_trip(set5_x4):
    img = set5_x4[1]["lr"]
    t = data.to_tensor(img)
    assert t.shape == (3, img.height, img.width) and t.dtype == torch.float32
    assert 0 <= t.min() and t.max() <= 1
    assert np.array_equal(np.asarray(data.to_pil(t)), np.asarray(img))
    assert torch.equal(data.to_tensor(img, torch.uint8), (t * 255).round().to(torch.uint8))
    with pytest.raises(ValueError, match="expected a \\(C, H, W\\) tensor"):
        data.to_pil(t[None])


def test_cli_prints_summary():
    out = subprocess.run([sys.executable, "-m", "srlib.data", "Set5", "--scale", "4"],
                         capture_output=True, text=True, check=True, env=os.environ.copy())
    assert "Set5 x4: 5 images from eugenesiow/Set5" in out.stdout
    assert "butterfly       256        256        64         64" in out.stdout


def test_cli_offline_error(tmp_path):
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "empty"), "HF_HUB_OFFLINE": "1",
           "SRLIB_CACHE": str(tmp_path / "srlib")}
    out = subprocess.run([sys.executable, "-m", "srlib.data", "Set14", "--scale", "2"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 2                      # a user's problem: one line, exit 2
    assert "data/Set14_HR.tar.gz" in out.stderr and "eugenesiow/Set14" in out.stderr
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1


# --- issue 11: the cache never serves a wrong image; errors name what to fix --------------
def test_float_scale_is_refused_clearly():
    for scale in (4.0, 2.5, "4"):
        with pytest.raises(ValueError, match=r"unsupported scale .*choose one of 2, 3, 4 \(.*int"):
            load_benchmark("Set5", scale)


def _png_file(name: str, size, color) -> tuple[tarfile.TarInfo, bytes]:
    return _file(name, _png_bytes(size, color))


def _toy_set5(tmp_path, color=(10, 20, 30), hr_size=(9, 9), name="v1"):
    """A fake Set5 at x2: one 9x9 HR image (cropped to 8x8) and its 4x4 LR image."""
    hr = _tar_gz(tmp_path / f"hr-{name}.tar.gz", [_png_file("Set5_HR/a.png", hr_size, color)])
    lr = _tar_gz(tmp_path / f"lr-{name}.tar.gz", [_png_file("Set5_LR_x2/a.png", (4, 4), color)])
    return {"Set5_HR.tar.gz": hr.read_bytes(), "Set5_LR_x2.tar.gz": lr.read_bytes()}


def _hr_pixel(ds) -> tuple:
    return ds[0]["hr"].getpixel((0, 0))


def test_undecodable_image_in_archive_is_named_and_nothing_published(tmp_path):
    good = _png_bytes((8, 8))
    archive = _tar_gz(tmp_path / "a.tar.gz", [_file("Toy_HR/a.png", good),
                                              _file("Toy_HR/b.png", good[: len(good) // 2]),
                                              _file("Toy_HR/c.png", b"not an image at all")])
    cache = tmp_path / "cache"
    with pytest.raises(CorruptArchiveError, match=r"a\.tar\.gz holds Toy_HR/b\.png, which is "
                       r"not a readable image"):
        extract_archive(archive, cache / "Toy_HR")
    assert _no_leftovers(cache) == []


def test_replaced_archive_is_extracted_afresh(tmp_path, use_hub):
    use_hub(_toy_set5(tmp_path, (10, 20, 30)))
    assert _hr_pixel(load_benchmark("Set5", 2)) == (10, 20, 30)
    # the same hub revision, another archive (a corrupt download fetched again, say)
    snap = next((tmp_path / "hub").rglob("snapshots/*/data"))
    for filename, blob in _toy_set5(tmp_path, (200, 100, 50), name="v2").items():
        (snap / filename).write_bytes(blob)
    assert _hr_pixel(load_benchmark("Set5", 2)) == (200, 100, 50)


def test_force_download_rebuilds_the_crops_too(tmp_path, use_hub, monkeypatch):
    use_hub(_toy_set5(tmp_path))
    ds = load_benchmark("Set5", 2)
    (cropped,) = (tmp_path / "srlib").rglob("Set5_HR_modcrop_x2/a.png")
    assert cropped.parent.name == "Set5_HR_modcrop_x2" and _hr_pixel(ds) == (10, 20, 30)
    Image.new("RGB", (8, 8), (0, 255, 0)).save(cropped)           # a bad crop in the cache
    assert _hr_pixel(load_benchmark("Set5", 2)) == (0, 255, 0)      # served as it is ...
    with pytest.warns(UserWarning, match="HF_HUB_OFFLINE.*extracted again"):  # offline
        assert _hr_pixel(load_benchmark("Set5", 2, force_download=True)) == (10, 20, 30)


def test_stale_partial_folders_are_cleaned(tmp_path):
    cache = tmp_path / "cache"
    stale, fresh = cache / ".Toy_HR-old.partial", cache / ".Toy_HR-busy.partial"
    for folder in (stale, fresh):
        (folder / "Toy_HR").mkdir(parents=True)
    hour_ago = __import__("time").time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    archive = _tar_gz(tmp_path / "ok.tar.gz", [_file("Toy_HR/a.png", _png_bytes())])
    extract_archive(archive, cache / "Toy_HR")
    assert not stale.exists()
    assert fresh.is_dir()            # may belong to a process that is extracting right now


@pytest.mark.parametrize("where", ["file", "unwritable"])
def test_bad_srlib_cache_is_named(tmp_path, use_hub, monkeypatch, where):
    use_hub(_toy_set5(tmp_path))
    if where == "file":
        bad = tmp_path / "a-file"
        bad.write_text("x")
    else:
        bad = Path("/proc/self/srlib-cache")
    monkeypatch.setenv("SRLIB_CACHE", str(bad))
    with pytest.raises(data.CacheDirError, match=r"srlib's cache folder .*SRLIB_CACHE.*writable"):
        load_benchmark("Set5", 2)


def test_damaged_cached_image_is_named(tmp_path, use_hub):
    use_hub(_toy_set5(tmp_path))
    hr_folder, _ = data.benchmark_folders("Set5", 2)
    blob = (hr_folder / "a.png").read_bytes()
    (hr_folder / "a.png").write_bytes(blob[: len(blob) - 30])       # damaged after extraction
    with pytest.raises(CorruptArchiveError, match=r"cached image .*a\.png is damaged.*"
                       r"force_download"):
        load_benchmark("Set5", 2)


def test_to_tensor_reads_every_mode_right():
    gray16 = Image.fromarray(np.array([[0, 65535, 32896]], dtype=np.uint16))
    assert gray16.mode == "I;16"
    torch.testing.assert_close(data.to_tensor(gray16),
                               torch.tensor([[[0.0, 1.0, 32896 / 65535]]]))
    assert data.to_tensor(gray16, torch.uint8).tolist() == [[[0, 255, 128]]]
    pal = Image.new("RGB", (2, 1), (200, 10, 30)).quantize(colors=2)
    assert data.to_tensor(pal, torch.uint8)[:, 0, 0].tolist() == [200, 10, 30]  # not indices
    bw = Image.new("1", (2, 1), 1)
    assert data.to_tensor(bw).flatten().tolist() == [1.0, 1.0]                 # not 1/255


def test_to_pil_refuses_0_255_floats():
    with pytest.raises(ValueError, match="0..255 data"):
        data.to_pil(torch.full((3, 2, 2), 200.0))
    slight = torch.full((3, 2, 2), 1.05)                         # bicubic overshoot: clamped
    assert np.asarray(data.to_pil(slight)).max() == 255


def test_concurrent_fills_agree_and_leave_no_partials(tmp_path, use_hub):
    """Threads filling one empty cache at once (the publish race) all get the same data."""
    from concurrent.futures import ThreadPoolExecutor

    use_hub(_toy_set5(tmp_path, (40, 50, 60)))
    with ThreadPoolExecutor(4) as pool:
        pixels = list(pool.map(lambda _: _hr_pixel(load_benchmark("Set5", 2)), range(4)))
    assert pixels == [(40, 50, 60)] * 4
    assert not list((tmp_path / "srlib").rglob("*.partial"))
