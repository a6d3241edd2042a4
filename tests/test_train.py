"""Tests of srlib.train: data pipeline, patches, a tiny training, resume, NaN guard, CLI.

The training runs use 3 images of T91 and a few steps, on the CPU with one thread.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from srlib.color import rgb_to_y
from srlib.data import t91_dir
from srlib.models import build, load_pretrained
from srlib.resize import imresize, modcrop
from srlib.train import (
    degrade,
    extract_patches,
    list_images,
    load_hr,
    main,
    make_patches,
    resolve_data_dir,
    split_images,
    train,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def t91() -> Path:
    """T91 as shipped inside srlib (every file checked against its SHA-256 sum)."""
    return t91_dir(verify=True)


@pytest.fixture()
def tiny(t91, tmp_path) -> Path:
    """A folder with 3 small T91 images (1 is held out for validation)."""
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("t1.png", "t10.png", "t11.png"):
        shutil.copy(t91 / name, folder / name)
    return folder


KW = dict(batch_size=32, progress=False, device="cpu")


def test_t91_split(t91):
    files = list_images(t91)
    assert len(files) == 91
    train_files, val_files = split_images(files)
    assert len(val_files) == 10 and len(train_files) == 81
    assert not set(train_files) & set(val_files)
    assert val_files == files[::10]


def test_resolve_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("SRLIB_DATA_DIR", raising=False)
    assert resolve_data_dir() == t91_dir()          # the shipped T91 by default
    monkeypatch.setenv("SRLIB_DATA_DIR", str(tmp_path))
    assert resolve_data_dir() == tmp_path
    assert resolve_data_dir(t91_dir()) == t91_dir()  # an explicit folder wins
    with pytest.raises(FileNotFoundError, match="does not exist.*ships with srlib"):
        resolve_data_dir(tmp_path / "missing")
    monkeypatch.setenv("SRLIB_DATA_DIR", str(tmp_path / "gone"))
    with pytest.raises(FileNotFoundError, match="SRLIB_DATA_DIR"):
        resolve_data_dir()


def test_no_message_points_at_the_project_machines():
    # a reader's machine has no ../shared: no error message may send them there
    for module in ("train", "data", "evaluate", "models"):
        text = (Path(t91_dir()).parent / f"{module}.py").read_text()
        assert "shared/data" not in text, module


def test_t91_verify_finds_a_changed_file(tmp_path, monkeypatch):
    import srlib.data as data

    copy = tmp_path / "srlib"
    shutil.copytree(Path(data.__file__).parent / "T91", copy / "T91")
    monkeypatch.setattr(data, "__file__", str(copy / "data.py"))
    assert data.t91_dir(verify=True) == copy / "T91"
    (copy / "T91" / "t1.png").write_bytes(b"not the image")
    with pytest.raises(ValueError, match="t1.png"):
        data.t91_dir(verify=True)
    (copy / "T91" / "t1.png").unlink()
    with pytest.raises(FileNotFoundError, match="90 of 91"):
        data.t91_dir()


def test_degradation_is_the_resize_path(t91):
    hr = load_hr(t91 / "t1.png")
    assert hr.dtype == torch.uint8 and hr.shape[:2] == (1, 3)
    for scale in (2, 3, 4):
        inp, tgt = degrade(hr, scale)
        hr_c = modcrop(hr, scale)
        lr = imresize(hr_c, 1 / scale)
        assert lr.dtype == torch.uint8
        expected = imresize(rgb_to_y(lr.float() / 255), scale)
        assert inp.shape == tgt.shape == (1, 1, *hr_c.shape[-2:])
        torch.testing.assert_close(inp, expected, atol=1e-6, rtol=0)
        torch.testing.assert_close(tgt, rgb_to_y(hr_c.float() / 255))
        # RGB upscaled then Y gives the same input (both steps are linear)
        torch.testing.assert_close(inp, rgb_to_y(imresize(lr.float() / 255, scale)),
                                   atol=1e-5, rtol=0)


@pytest.mark.parametrize("shrink", [0, 12, 16])
def test_patch_counts_and_alignment(shrink):
    h, w, p, s = 75, 60, 33, 14
    inp = torch.arange(h * w, dtype=torch.float32).view(1, 1, h, w)
    tgt = -inp
    x, y = extract_patches(inp, tgt, p, s, shrink)
    nh, nw = (h - p) // s + 1, (w - p) // s + 1
    assert x.shape == (nh * nw, 1, p, p)
    assert y.shape == (nh * nw, 1, p - shrink, p - shrink)
    lo = shrink // 2
    for k in (0, 1, nw, nh * nw - 1):
        r, c = (k // nw) * s, (k % nw) * s
        assert torch.equal(x[k, 0], inp[0, 0, r:r + p, c:c + p])
        # the target is the centre of the HR patch, where a valid network's output lands
        assert torch.equal(y[k, 0], tgt[0, 0, r + lo:r + p - (shrink - lo),
                                           c + lo:c + p - (shrink - lo)])
    empty_x, empty_y = extract_patches(inp[..., :20, :], tgt[..., :20, :], p, s, shrink)
    assert len(empty_x) == len(empty_y) == 0


def test_make_patches_t91_count(t91):
    files = list_images(t91)[:2]
    x, y = make_patches(files, 3, shrink=16)
    expected = 0
    for f in files:
        h, w = modcrop(load_hr(f), 3).shape[-2:]
        expected += ((h - 33) // 14 + 1) * ((w - 33) // 14 + 1)
    assert x.shape == (expected, 1, 33, 33) and y.shape == (expected, 1, 17, 17)
    # valid model output on the input patch is aligned with the target patch
    assert torch.allclose(x[:, :, 8:25, 8:25].mean(), y.mean(), atol=0.01)


def test_tiny_training_lowers_the_loss(tiny, tmp_path):
    r = train(3, "9-1-5", epochs=3, out_dir=tmp_path / "run", data_dir=tiny,
              lr=1e-3, lr_last_factor=1.0, **KW)
    with open(r["log"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3]
    assert set(rows[0]) == {"epoch", "step", "loss", "val_psnr", "lr", "seconds"}
    losses = [float(row["loss"]) for row in rows]
    assert losses[-1] < losses[0] / 2
    assert r["val_images"] == 1 and r["steps"] == int(rows[-1]["step"])
    assert Path(r["checkpoint"]).is_file()
    model = load_pretrained("srcnn", 3, "9-1-5", path=r["weights"])
    assert model.padding == "valid"
    with pytest.raises(FileExistsError, match="resume"):
        train(3, "9-1-5", epochs=1, out_dir=tmp_path / "run", data_dir=tiny, **KW)


def test_resume_is_bit_identical(tiny, tmp_path):
    kw = dict(data_dir=tiny, lr=1e-3, augment=True, **KW)
    full = train(2, "9-1-5", epochs=3, out_dir=tmp_path / "full", **kw)
    part = train(2, "9-1-5", epochs=1, out_dir=tmp_path / "part", **kw)
    assert part["steps"] * 3 == full["steps"]
    resumed = train(2, "9-1-5", epochs=3, out_dir=tmp_path / "part", resume=True, **kw)
    a = torch.load(full["checkpoint"], weights_only=True)
    b = torch.load(resumed["checkpoint"], weights_only=True)
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    assert resumed["loss"] == full["loss"] and resumed["val_psnr"] == full["val_psnr"]
    with open(resumed["log"]) as fh1, open(full["log"]) as fh2:
        cols = lambda rows: [r.split(",")[:5] for r in rows]  # noqa: E731 (not seconds)
        assert cols(fh1.read().splitlines()) == cols(fh2.read().splitlines())
    with pytest.raises(ValueError, match="batch_size"):
        train(2, "9-1-5", epochs=4, out_dir=tmp_path / "part", resume=True,
              **{**kw, "batch_size": 16})


def test_resume_after_kill(tiny, tmp_path):
    """SIGKILL a CLI training after its first checkpoint; --resume ends where a run that
    was never interrupted ends, with the same weights and log."""
    import signal
    import subprocess
    import sys
    import time

    args = ["--scale", "2", "--config", "9-1-5", "--epochs", "8", "--data", str(tiny),
            "--batch-size", "16", "--augment", "--threads", "1", "--no-progress",
            "--device", "cpu"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "srlib.train", *args, "--out", str(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (killed / "last.pt").exists() and proc.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint after 120 s"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    done = int(torch.load(killed / "last.pt", weights_only=True)["epoch"])
    assert 1 <= done < 8
    main([*args, "--out", str(killed), "--resume"])
    main([*args, "--out", str(tmp_path / "full")])
    a = torch.load(tmp_path / "full" / "last.pt", weights_only=True)
    b = torch.load(killed / "last.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 8
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    cols = lambda f: [r.split(",")[:5] for r in f.read_text().splitlines()]  # noqa: E731
    assert cols(killed / "log.csv") == cols(tmp_path / "full" / "log.csv")
    assert not list(killed.glob("*.tmp*")), "a half-written file was left behind"


@pytest.mark.parametrize("check_every", [1, 4])
def test_nan_guard(tiny, tmp_path, check_every):
    with pytest.raises(FloatingPointError, match=r"step \d+.*lower the learning rate"):
        train(3, "9-1-5", epochs=2, out_dir=tmp_path / "nan", data_dir=tiny, lr=1e10,
              check_every=check_every, **KW)


def test_nan_guard_names_the_first_bad_step(tiny, tmp_path, monkeypatch):
    """A NaN injected into the 3rd batch is reported as step 3, even when checked later."""
    calls = []
    real_mse = torch.nn.functional.mse_loss

    def mse(pred, target):
        calls.append(1)
        loss = real_mse(pred, target)
        return loss * float("nan") if len(calls) == 3 else loss

    monkeypatch.setattr("srlib.train.F", SimpleNamespace(mse_loss=mse))
    with pytest.raises(FloatingPointError, match=r"nan at step 3 \(epoch 1, batch 3\)"):
        train(3, "9-1-5", epochs=1, out_dir=tmp_path / "nan", data_dir=tiny, batch_size=16,
              check_every=5, progress=False, device="cpu")


def test_init_from_weights(tiny, tmp_path):
    torch.manual_seed(5)
    path = tmp_path / "init.pt"
    torch.save(build("9-1-5").state_dict(), path)
    r = train(3, "9-1-5", epochs=1, out_dir=tmp_path / "a", data_dir=tiny, init=path,
              lr=1e-12, **KW)
    trained = torch.load(r["weights"], weights_only=True)
    for k, v in torch.load(path, weights_only=True).items():
        torch.testing.assert_close(trained[k], v, atol=1e-9, rtol=0)
    import json

    meta = json.loads(Path(r["weights"]).with_suffix(".json").read_text())
    assert meta["settings"]["init"] == "init.pt"


def test_cli(tiny, tmp_path, capsys):
    out = tmp_path / "cli"
    main(["--scale", "4", "--config", "9-1-5", "--epochs", "1", "--out", str(out),
          "--data", str(tiny), "--batch-size", "16", "--threads", "1", "--no-progress"])
    text = capsys.readouterr().out
    assert f"checkpoint: {out / 'last.pt'}" in text and "log:" in text
    assert (out / "log.csv").is_file() and (out / "srcnn_9-1-5_x4.json").is_file()


def test_save_every_and_progress_stream(tiny, tmp_path):
    import io

    stream = io.StringIO()
    r = train(3, "9-1-5", epochs=4, out_dir=tmp_path / "run", data_dir=tiny, batch_size=32,
              device="cpu", save_every=2, progress=stream)
    saved = sorted(p.name for p in (tmp_path / "run" / "epochs").iterdir())
    assert saved == ["epoch_0002.pt", "epoch_0004.pt"]
    last = torch.load(r["checkpoint"], weights_only=True)["model"]
    kept = torch.load(tmp_path / "run" / "epochs" / "epoch_0004.pt", weights_only=True)
    assert all(torch.equal(last[k], kept[k]) for k in last)
    assert "SRCNN 9-1-5 x3" in stream.getvalue()
    # on a stream the bar is redrawn every few seconds and per epoch, not every step
    assert stream.getvalue().count("\r") <= 4 + 3, stream.getvalue()


def test_cli_trains_on_the_shipped_t91_without_data(tmp_path):
    # the newcomer's path: no --data, no SRLIB_DATA_DIR, nothing beside the checkout
    env = {k: v for k, v in os.environ.items() if k != "SRLIB_DATA_DIR"}
    env["OMP_NUM_THREADS"] = "1"
    out = tmp_path / "try"
    proc = subprocess.run(
        [sys.executable, "-m", "srlib.train", "--scale", "3", "--epochs", "1",
         "--max-images", "4", "--out", str(out), "--no-progress"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "best validation PSNR" in proc.stdout
    meta = json.loads((out / "srcnn_9-5-5_x3.json").read_text())
    assert meta["settings"]["data_dir"] == "T91"
    assert meta["settings"]["data_files"] == ["t1.png", "t10.png", "t11.png", "t12.png"]


def test_16bit_png_trains_on_its_content_not_white(t91, tmp_path):
    """Pillow's convert("RGB") clips a 16-bit gray PNG to white: load_hr must not."""
    import numpy as np
    from PIL import Image

    gray8 = np.asarray(Image.open(t91 / "t1.png").convert("L")).astype(np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(gray8 * 257).save(path)             # 16-bit, the same levels
    assert Image.open(path).mode == "I;16"
    hr = load_hr(path)
    assert hr.shape[:2] == (1, 3) and hr.dtype == torch.uint8
    assert torch.equal(hr[0, 0], torch.from_numpy(gray8.astype(np.uint8)))
    x, y = degrade(hr, 3)
    assert y.std() > 0.05                                 # not a flat white image
